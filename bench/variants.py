"""Tracker-store variants that `python -m bench.fixes` measures (loaded through a copy of endpoints.yml).

``TunedSQLTrackerStore`` is the project's ``EnvSQLTrackerStore`` with the SQLite
changes proposed in docs/PERFORMANCE.md, switched by environment variables so
each can be measured alone:

  BENCH_SQLITE_WAL=1        PRAGMA journal_mode=WAL (one fsync per commit instead of the
                            rollback journal's several; readers never block the writer)
  BENCH_SQLITE_SYNC=NORMAL  PRAGMA synchronous=NORMAL (with WAL: no fsync at commit, only at
                            checkpoints; a power cut can lose the last commits, a crash cannot)
  BENCH_SQLITE_POOL=1       keep the connection open (SQLAlchemy 1.4 gives file SQLite a
                            NullPool: a new sqlite3 connection for every tracker read and write)

Only the three together pay: with NullPool, closing the last connection checkpoints
the WAL back into the database (an fsync again), and a kept-open connection in the
rollback-journal mode still fsyncs the journal at every commit.
"""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import QueuePool

from addons.stores import EnvSQLTrackerStore


def _sqlite_pragmas(wal: bool, synchronous: str):
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
        if synchronous:
            cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    return on_connect


class TunedSQLTrackerStore(EnvSQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name != "sqlite":
            return
        wal = os.environ.get("BENCH_SQLITE_WAL") == "1"
        synchronous = os.environ.get("BENCH_SQLITE_SYNC", "")
        if os.environ.get("BENCH_SQLITE_POOL") == "1":
            url = self.engine.url
            self.engine.dispose()
            # the Rasa server uses the store from its event-loop thread only
            self.engine = sa.create_engine(url, poolclass=QueuePool, pool_size=1, max_overflow=4,
                                           connect_args={"check_same_thread": False})
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        if wal or synchronous:
            event.listen(self.engine, "connect", _sqlite_pragmas(wal, synchronous))
            self.engine.dispose()


class OrmSaveTrackerStore(EnvSQLTrackerStore):
    """The project's store with Rasa's own save (one ORM object per event), for
    ``python -m bench.fixes --variants orm_save``: what the multi-row INSERT saves."""

    async def _append_new_events(self, tracker: Any) -> None:
        from rasa.core.tracker_store import SQLTrackerStore

        await SQLTrackerStore.save(self, tracker)
