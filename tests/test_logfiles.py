"""Log files (clinic/logfiles.py): owner-only, rotated by day and size, rotated files purged by age."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta

from clinic.logfiles import RotatingLog, purge


def test_a_log_is_owner_only_and_rotates_when_it_passes_its_size(tmp_path):
    log = RotatingLog(tmp_path / "rasa.log", max_bytes=100)
    for i in range(10):
        log.write(f"line {i} " + "x" * 30)
    log.close()
    files = sorted(tmp_path.iterdir())
    assert len(files) >= 3 and (tmp_path / "rasa.log") in files
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in files)
    text = "".join(f.read_text() for f in files)
    assert all(f"line {i} " in text for i in range(10))  # nothing lost in a rotation
    assert all(f.stat().st_size <= 100 + 40 for f in files)


def test_a_log_left_from_an_earlier_day_is_rotated_on_the_first_write(tmp_path):
    old = tmp_path / "web.log"
    old.write_text("yesterday's line\n")
    os.chmod(old, 0o644)  # as an older version left it
    yesterday = time.time() - 86400
    os.utime(old, (yesterday, yesterday))
    log = RotatingLog(old)
    assert old.stat().st_mode & 0o777 == 0o600
    log.write("today's line")
    log.close()
    assert old.read_text() == "today's line\n"
    rotated = [f for f in tmp_path.iterdir() if f.name.startswith("web.log.")]
    assert len(rotated) == 1 and rotated[0].read_text() == "yesterday's line\n"


def test_purge_deletes_only_rotated_files_older_than_the_retention(tmp_path):
    live = tmp_path / "rasa.log"
    old_rotated = tmp_path / "rasa.log.20240101-000000"
    recent_rotated = tmp_path / "rasa.log.20990101-000000"
    other = tmp_path / "notes.txt"
    for f in (live, old_rotated, recent_rotated, other):
        f.write_text("x")
    long_ago = (datetime.now() - timedelta(days=40)).timestamp()
    for f in (live, old_rotated, other):
        os.utime(f, (long_ago, long_ago))
    assert purge(tmp_path, 30) == [old_rotated]
    assert live.exists() and recent_rotated.exists() and other.exists() and not old_rotated.exists()
    assert purge(tmp_path / "missing", 30) == []


def test_the_retention_job_deletes_rotated_logs_past_their_retention(tmp_path, monkeypatch):
    from webapp.console import retention

    logs = tmp_path / "log"
    logs.mkdir()
    old, recent, live = logs / "rasa.log.20240101-000000", logs / "rasa.log.20990101-000000", logs / "rasa.log"
    for f in (old, recent, live):
        f.write_text("x")
    long_ago = (datetime.now() - timedelta(days=31)).timestamp()
    os.utime(old, (long_ago, long_ago))
    monkeypatch.setenv("LOG_DIR", str(logs))
    monkeypatch.setenv("LOG_RETENTION_DAYS", "30")
    retention.purge(days=180, actor="test", tracker_url=f"sqlite:///{tmp_path / 'none.db'}",
                    clinic_url=f"sqlite:///{tmp_path / 'clinic.db'}")
    assert not old.exists() and recent.exists() and live.exists()
    retention.purge(days=180, actor="test", dry_run=True, tracker_url=f"sqlite:///{tmp_path / 'none.db'}",
                    clinic_url=f"sqlite:///{tmp_path / 'clinic.db'}")  # a dry run deletes nothing
    assert recent.exists()
