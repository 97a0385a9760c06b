"""After a purge nothing of a deleted visitor is left in the SQLite files (the review found a
purged email in rasa.db-wal), the purge runs daily under `make run`/`make run-prod`, and the
Retention page says who runs it."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.conftest import ROOT
from tests.console.conftest import base_env

DAY = 86400.0
EVENTS = ("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, "
          "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), "
          "data TEXT)")


def rasa_like_writer(db: Path) -> sqlite3.Connection:
    """A kept-open WAL connection, as the Rasa server's tracker store holds one."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")  # everything it writes stays in the -wal file
    conn.execute(EVENTS)
    return conn


def add_turn(conn: sqlite3.Connection, sender: str, text: str, days_ago: float) -> None:
    ts = time.time() - days_ago * DAY
    conn.execute("INSERT INTO events (sender_id, type_name, timestamp, intent_name, data) VALUES (?, 'user', ?, "
                 "'inform', ?)", (sender, ts, json.dumps({"event": "user", "text": text, "timestamp": ts})))


def all_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal"), Path(f"{db}-journal")) if p.exists())


def test_a_purged_email_is_gone_from_the_database_and_its_write_ahead_log(tmp_path):
    from actions.callback_store import save_request
    from clinic.models import CallbackRequest, utcnow
    from webapp.console import retention
    import datetime as dt

    old_email = f"purged-{uuid.uuid4().hex[:8]}@example.com"
    kept_email = f"kept-{uuid.uuid4().hex[:8]}@example.com"
    db = tmp_path / "rasa.db"
    writer = rasa_like_writer(db)
    add_turn(writer, "old-visitor", f"my email is {old_email} and I take lithium", 400)
    add_turn(writer, "new-visitor", f"my email is {kept_email}", 1)
    assert old_email.encode() in Path(f"{db}-wal").read_bytes()  # where the review found it
    clinic_url = f"sqlite:///{tmp_path / 'clinic.db'}"
    assert save_request(CallbackRequest(conversation_id="old-visitor", name="Old Visitor", contact=old_email,
                                        contact_kind="email", created_at=utcnow() - dt.timedelta(days=400)),
                        url=clinic_url)
    try:
        result = retention.purge(180, "test", tracker_url=f"sqlite:///{db}", clinic_url=clinic_url)
        assert result.conversations == 1 and result.callback_requests == 1
        assert old_email.encode() not in all_bytes(db), "the purged email is still in rasa.db or rasa.db-wal"
        assert old_email.encode() not in all_bytes(tmp_path / "clinic.db")
        assert kept_email.encode() in all_bytes(db)  # the rest is intact
        rows = writer.execute("SELECT sender_id FROM events").fetchall()
        assert rows == [("new-visitor",)]  # and Rasa's open connection goes on reading it
    finally:
        writer.close()


def test_make_run_and_run_prod_supervise_a_daily_purge():
    from scripts.supervise import dev_profile, prod_profile

    for profile in (dev_profile, prod_profile):
        programs, _banner = profile({"NGINX": "off"})
        retention = [p for p in programs if p.name == "retention"]
        assert len(retention) == 1, [p.name for p in programs]
        argv = retention[0].argv
        assert argv[1:4] == ["-m", "webapp.console.retention", "--every-hours"] and float(argv[4]) == 24


def test_the_schedule_purges_again_and_again_and_survives_a_bad_moment(tmp_path):
    from webapp.console import audit

    env = base_env(tmp_path, RETENTION_DAYS="180")
    db = tmp_path / "rasa.db"
    writer = rasa_like_writer(db)
    add_turn(writer, "ancient", "hello", 500)
    writer.close()
    log = tmp_path / "retention.log"
    proc = subprocess.Popen([sys.executable, "-m", "webapp.console.retention", "--every-hours", "0.0005",
                             "--first-after-seconds", "0"], cwd=ROOT, env=env, stdout=open(log, "wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            entries = audit.query(audit.AuditFilter(action="purge"), url=env["CLINIC_DB_URL"])[0]
            if len(entries) >= 2:
                break
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        assert {e.actor for e in entries} == {"retention-schedule"}
        assert audit.detail_of(entries[-1])["conversations"] == 1  # the first run purged it
        assert "hello" not in log.read_text()  # counts only, never what visitors wrote
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=20) == 0  # stops cleanly on SIGTERM (the supervisor's Ctrl-C)


def test_the_retention_page_says_who_runs_the_purge(console):
    admin = console.signed_in("ada")
    page = admin.get("/staff/purge").text
    assert "make run" in page and "retention-schedule" in page and "cron" in page
    assert "on a schedule.</p>" not in page  # the old, untrue sentence
