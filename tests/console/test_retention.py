"""Retention deletes only what is old: whole conversations whose latest event is
older than N days, callback requests made before then, and their review notes;
it records the counts in the audit log."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path


from tests.conftest import ROOT
from tests.console.conftest import base_env, bot, seed_tracker, user

DAY = 86400.0


def insert_events(db: Path, sender: str, days_ago: float, texts=("hello",)) -> None:
    """Rows as Rasa's SQLTrackerStore writes them, with old timestamps."""
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, "
                     "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), "
                     "action_name VARCHAR(255), data TEXT)")
        ts = time.time() - days_ago * DAY
        for i, text in enumerate(texts):
            for event in (user(text, "greeting", ts=ts + i), bot("Hi!", "greeting", ts=ts + i + 0.5)):
                data = event.as_dict()
                conn.execute("INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
                             "VALUES (?, ?, ?, ?, ?, ?)",
                             (sender, event.type_name, data["timestamp"],
                              (data.get("parse_data") or {}).get("intent", {}).get("name"), data.get("name"),
                              json.dumps(data)))


def senders(db: Path) -> dict:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT sender_id, COUNT(*) FROM events GROUP BY sender_id"))


def callback(clinic_url: str, conversation: str, days_ago: float) -> None:
    from actions.callback_store import save_request
    from clinic.models import CallbackRequest, utcnow

    assert save_request(CallbackRequest(conversation_id=conversation, reason="r", content_id="staff_handoff",
                                        name="N", contact="n@example.com", contact_kind="email",
                                        created_at=utcnow() - dt.timedelta(days=days_ago)), url=clinic_url)


def review(clinic_url: str, sender: str) -> None:
    from clinic.models import ConversationReview, session_factory

    with session_factory(clinic_url)() as s:
        s.add(ConversationReview(sender_id=sender, status="reviewed", note="n"))
        s.commit()


def run(env: dict, *args: str) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "webapp.console.retention", *args], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r


def test_retention_command_deletes_only_what_is_old(tmp_path):
    from webapp.console import audit
    from clinic.models import ConversationReview, session_factory
    from clinic.models import CallbackRequest

    env = base_env(tmp_path)
    db = tmp_path / "rasa.db"
    clinic = env["CLINIC_DB_URL"]
    insert_events(db, "old-200", 200, texts=("a", "b"))
    insert_events(db, "old-400", 400)
    insert_events(db, "mixed", 200)           # an old start ...
    insert_events(db, "mixed", 10)            # ... but active recently: kept whole
    insert_events(db, "recent", 5)
    insert_events(db, "edge-179", 179)
    before = senders(db)
    for conversation, age in (("old-200", 200), ("cb-181", 181), ("cb-179", 179), ("recent", 5)):
        callback(clinic, conversation, age)
    review(clinic, "old-200")
    review(clinic, "recent")

    dry = run(env, "--days", "180", "--dry-run")
    assert "Would delete 2 conversation(s) (6 events), 2 callback request(s)" in dry.stdout
    assert senders(db) == before

    # RETENTION_DAYS is the default when --days is not given
    first = run({**env, "RETENTION_DAYS": "365"})
    assert "Deleted 1 conversation(s) (2 events), 0 callback request(s)" in first.stdout
    assert set(senders(db)) == {"old-200", "mixed", "recent", "edge-179"}

    second = run(env, "--days", "180")
    assert "Deleted 1 conversation(s) (4 events), 2 callback request(s) and 1 review note(s)" in second.stdout
    after = senders(db)
    assert after == {"mixed": before["mixed"], "recent": before["recent"], "edge-179": before["edge-179"]}

    with session_factory(clinic)() as s:
        assert sorted(c.conversation_id for c in s.query(CallbackRequest)) == ["cb-179", "recent"]
        assert [r.sender_id for r in s.query(ConversationReview)] == ["recent"]

    purges = audit.query(audit.AuditFilter(action="purge"), url=clinic)[0]
    assert len(purges) == 2  # the dry run is not a purge
    latest = audit.detail_of(purges[0])
    assert latest["days"] == 180 and latest["conversations"] == 1 and latest["events"] == 4
    assert latest["callback_requests"] == 2 and latest["reviews"] == 1
    assert purges[0].actor.startswith("cli:")

    assert "Deleted 0 conversation(s)" in run(env, "--days", "180").stdout  # nothing left to do


def test_retention_without_a_tracker_store_yet(tmp_path):
    env = base_env(tmp_path)
    assert "Deleted 0 conversation(s)" in run(env).stdout
    assert not (tmp_path / "rasa.db").exists()  # never creates one


def test_admin_purge_from_the_console(console):
    from webapp.console import audit

    seed_tracker(console.tracker_path, {"purge-me": [user("old words", "greeting", ts=time.time() - 300 * DAY),
                                                     bot("hi", "greeting", ts=time.time() - 300 * DAY + 1)],
                                        "keep-me": [user("new words", "greeting"), bot("hi", "greeting")]})
    callback(console.clinic_url, "purge-me", 300)
    admin = console.signed_in("ada")
    assert "purge-me" in admin.senders()
    page = admin.get("/staff/purge?days=200").text
    assert "<b>1</b>" in page  # the preview counts the old conversation
    assert admin.post("/staff/purge", {"days": "200"}).status_code == 400  # not confirmed
    assert admin.post("/staff/purge", {"days": "0", "confirm": "yes"}).status_code == 400
    done = admin.post("/staff/purge", {"days": "200", "confirm": "yes"})
    assert done.status_code == 200 and "Deleted 1 conversation(s)" in done.text
    assert "1 callback request(s)" in done.text
    remaining = admin.senders()
    assert "purge-me" not in remaining and "keep-me" in remaining
    entry = audit.query(audit.AuditFilter(action="purge", actor="ada"), url=console.clinic_url)[0][0]
    assert audit.detail_of(entry)["conversations"] == 1 and entry.role == "admin"
