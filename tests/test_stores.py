"""The stores addons/stores.py picks: SQLite in var/ (kept-open connection, WAL, nothing lost), locks."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from addons.stores import EnvSQLTrackerStore
from tests.conftest import run_coroutine

DOMAIN = Domain.load(str(Path(__file__).resolve().parent.parent / "domain.yml"))


@pytest.fixture
def db(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "conversations" / "rasa.db"
    monkeypatch.setenv("TRACKER_DB_URL", f"sqlite:///{path}")
    return path


def conversation(sender: str, turns: int) -> DialogueStateTracker:
    events = [ActionExecuted("action_listen")]
    for i in range(turns):
        events += [UserUttered(f"question {i}", {"name": "dose", "confidence": 1.0}),
                   ActionExecuted("utter_answer"), BotUttered(f"answer {i}", metadata={"content_id": "dose"}),
                   ActionExecuted("action_listen")]
    return DialogueStateTracker.from_events(sender, events, DOMAIN.slots)


def test_sqlite_runs_in_wal_mode_with_one_kept_open_connection(db):
    store = EnvSQLTrackerStore(domain=DOMAIN)
    run_coroutine(store.save(conversation("a", 1)))
    assert db.exists()
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    assert store.engine.pool.__class__.__name__ == "QueuePool"


def test_every_turn_is_kept_and_read_back_by_a_new_server(db):
    store = EnvSQLTrackerStore(domain=DOMAIN)
    for turns in range(1, 6):  # saved after every turn, as the Rasa server does
        run_coroutine(store.save(conversation("visitor", turns)))
    store.engine.dispose()
    again = EnvSQLTrackerStore(domain=DOMAIN)
    tracker = run_coroutine(again.retrieve("visitor"))
    assert [e.text for e in tracker.events if isinstance(e, UserUttered)] == [f"question {i}" for i in range(5)]
    # another reader (the staff console) sees the committed turns while the server runs
    with sqlite3.connect(db) as reader:
        assert reader.execute("SELECT count(*) FROM events WHERE type_name = 'user'").fetchone()[0] == 5


def test_saved_rows_are_the_ones_rasas_own_store_writes(tmp_path, monkeypatch):
    from rasa.core.tracker_store import SQLTrackerStore

    rows = {}
    saves = [conversation("same", 3)]  # one conversation, saved after each of its turns
    saves = [DialogueStateTracker.from_events("same", list(saves[0].events)[:1 + 4 * t], DOMAIN.slots) for t in (1, 2, 3)]
    for name in ("rasa", "ours"):
        path = tmp_path / f"{name}.db"
        if name == "rasa":
            store = SQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(path))
        else:
            monkeypatch.setenv("TRACKER_DB_URL", f"sqlite:///{path}")
            store = EnvSQLTrackerStore(domain=DOMAIN)
        for tracker in saves:
            run_coroutine(store.save(tracker))
        store.engine.dispose()
        with sqlite3.connect(path) as db:
            rows[name] = db.execute("SELECT sender_id, type_name, timestamp, intent_name, action_name, data "
                                    "FROM events ORDER BY id").fetchall()
    assert len(rows["ours"]) == 1 + 3 * 4
    assert rows["ours"] == rows["rasa"]


def test_several_workers_without_shared_locks_are_refused(monkeypatch):
    from rasa.utils.endpoints import EndpointConfig

    from addons.stores import EnvLockStore

    endpoint = EndpointConfig(type="addons.stores.EnvLockStore")  # as endpoints.yml makes Rasa pass it
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("SANIC_WORKERS", "2")
    with pytest.raises(ValueError, match="SANIC_WORKERS > 1 needs REDIS_URL"):
        EnvLockStore(endpoint_config=endpoint)
    for workers in ("1", "two"):  # Rasa itself runs one worker for a value it cannot read
        monkeypatch.setenv("SANIC_WORKERS", workers)
        assert type(EnvLockStore(endpoint_config=endpoint)).__name__ == "InMemoryLockStore"
