"""No log line carries visitor text or contact details (issue 14, "High"): the store-failure and
callback paths of `make run`, with marker strings in the visitor's message, name, e-mail and preferred
time, then every log file (and the terminal output) searched for them.

The failures are real: the conversations database (SQLite) and the clinic database are locked by
another connection while the visitor writes, as in the security review (there the message "my email
is ... and I take lithium" appeared verbatim in var/rasa.log, inside the SQL error's parameters).
"""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List

import pytest

from tests.conftest import MODEL
from tests.prod.phrases import MEDICAL
from tests.run_script import RunScript

TAG = uuid.uuid4().hex[:10]
LETTERS = "".join(chr(ord("a") + int(c, 16)) for c in TAG)  # a name has no digits
TEXT_MARKER = f"zebrafinch{TAG}"
EMAIL = f"quill.{TAG}@example.com"
NAME = f"Odalys {LETTERS.capitalize()}"
TIME_MARKER = f"tuesdays after {LETTERS[:6]}"
MARKERS = [TEXT_MARKER, EMAIL, NAME, TAG, LETTERS]


@contextmanager
def locked(db: Path) -> Iterator[None]:
    """Another writer holds ``db`` (as the staff console's purge or a backup would): writes fail."""
    conn = sqlite3.connect(db, timeout=0, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def post(run: RunScript, sender: str, text: str) -> tuple:
    req = urllib.request.Request(f"{run.env['RASA_URL']}/webhooks/rest/webhook",
                                 data=json.dumps({"sender": sender, "message": text}).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"[]")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"[]")


def every_log(run: RunScript) -> List[Path]:
    logs = Path(run.env["LOG_DIR"])
    return sorted(p for p in logs.iterdir() if p.is_file()) + [run.out]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Iterator[RunScript]:
    assert MODEL.exists(), "make test trains the model first"
    tmp = tmp_path_factory.mktemp("privacy")
    # INFO, the profile's level; DEBUG is refused in production (tests/test_closed_setup.py).
    script = RunScript.dev(tmp, LOG_LEVEL="INFO", TRACKER_DB_RETRY_SECONDS="1")
    try:
        script.wait_ready()
        yield script
    finally:
        script.stop()


def test_a_failed_store_and_the_callback_form_leave_no_visitor_text_in_any_log(run):
    sender = "privacy-" + uuid.uuid4().hex[:8]
    assert post(run, sender, "hello")[0] == 200  # the conversation exists

    # 1. The conversations database refuses the write of a message with contact details.
    with locked(Path(run.tmp / "rasa.db")):
        status, reply = post(run, sender, f"my email is {EMAIL} and I take lithium {TEXT_MARKER}")
    assert status == 503 and reply, (status, reply)  # the polite reply, not a crash
    time.sleep(1.5)  # the store fails fast for a second after giving up

    # 2. The callback form, with contact details, stored.
    filled = "privacy-form-" + uuid.uuid4().hex[:8]
    assert run.turn(run.env["RASA_URL"], filled, MEDICAL[0]) == MEDICAL[1]
    for text in ("yes", NAME, EMAIL, TIME_MARKER):
        run.say(run.env["RASA_URL"], filled, text)
    stored = [e for e in run.tracker(run.env["RASA_URL"], filled)["events"] if e["event"] == "bot"]
    assert any((e.get("metadata") or {}).get("content_id") == "callback_confirmed" for e in stored), stored

    # 3. The clinic database refuses the callback request itself.
    refused = "privacy-refused-" + uuid.uuid4().hex[:8]
    assert run.turn(run.env["RASA_URL"], refused, MEDICAL[0]) == MEDICAL[1]
    for text in ("yes", NAME, EMAIL):
        run.say(run.env["RASA_URL"], refused, text)
    with locked(Path(run.tmp / "clinic.db")):
        run.say(run.env["RASA_URL"], refused, TIME_MARKER)
    time.sleep(1)  # the pumps write the last lines

    logs = {p.name: p.read_text(errors="replace") for p in every_log(run)}
    everything = "\n".join(logs.values())
    # the failures did happen, and were logged (without what the visitor wrote)
    assert "locked" in logs["rasa.log"], "the conversations database never refused the write"
    assert "locked" in logs["actions.log"], "the clinic database never refused the callback request"
    for marker in MARKERS:
        found = [name for name, text in logs.items() if marker in text]
        assert not found, f"{marker!r} (visitor text or contact details) is in {found}"
    assert "lithium" not in everything


def test_every_engine_hides_the_parameters_of_a_failed_statement(tmp_path, monkeypatch):
    """SQLAlchemy puts a failed statement's values (messages, names, phone numbers) into the error's
    message unless the engine was built with hide_parameters: every engine of the project is."""
    import sqlalchemy as sa

    from addons.stores import EnvSQLTrackerStore
    from clinic import models
    from webapp.console import conversations

    tracker_url = f"sqlite:///{tmp_path / 'rasa.db'}"
    monkeypatch.setenv("TRACKER_DB_URL", tracker_url)
    store = EnvSQLTrackerStore()
    clinic_engine = models.engine(f"sqlite:///{tmp_path / 'clinic.db'}")
    console_engine = conversations.read_only_engine(tracker_url)
    for name, engine in (("tracker store", store.engine), ("clinic database", clinic_engine),
                         ("staff console", console_engine)):
        assert engine.hide_parameters, name
        with pytest.raises(sa.exc.SQLAlchemyError) as failed:
            with engine.connect() as conn:
                conn.execute(sa.text("INSERT INTO no_such_table VALUES (:v)"), {"v": EMAIL})
        assert EMAIL not in str(failed.value), name


def test_retention_builds_its_engine_with_hidden_parameters(tmp_path, monkeypatch):
    import sqlite3

    from webapp.console import retention

    built = []
    real = retention.create_engine
    monkeypatch.setattr(retention, "create_engine", lambda *a, **kw: built.append(kw) or real(*a, **kw))
    tracker = tmp_path / "rasa.db"
    sqlite3.connect(tracker).close()
    monkeypatch.setenv("LOG_DIR", str(tmp_path / "log"))
    retention.purge(days=180, actor="test", tracker_url=f"sqlite:///{tracker}",
                    clinic_url=f"sqlite:///{tmp_path / 'clinic.db'}")
    assert built and all(kw.get("hide_parameters") for kw in built)


def test_an_error_is_summed_up_by_its_first_line():
    import sqlalchemy as sa

    from clinic.logfiles import error_summary

    error = sa.exc.OperationalError("INSERT INTO events VALUES (?)", (f"my email is {EMAIL}",),
                                    Exception("database is locked"))
    assert EMAIL in str(error)  # what SQLAlchemy says without hide_parameters
    assert error_summary(error) == "OperationalError: (builtins.Exception) database is locked"
    assert error_summary(ValueError("")) == "ValueError"
    assert len(error_summary(ValueError("x" * 1000))) < 220
