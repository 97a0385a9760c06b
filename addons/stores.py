"""Tracker and lock stores chosen by environment variables, so one ``endpoints.yml`` serves both profiles.

* ``TRACKER_DB_URL``: a SQLAlchemy URL for conversations. Default: the SQLite
  file ``var/rasa.db``, so conversations survive a restart.
* ``REDIS_URL``: when set (``redis://host:6379/1``), conversation locks live in
  Redis and several Rasa servers can share the conversations; when unset, an
  in-memory lock store serves a single server.

Production hardening (docs/PRODUCTION.md):

* On SQLite (the default), one kept-open connection in WAL mode with
  ``synchronous=NORMAL``: a commit costs one write, not several fsyncs.
* The tracker store checks pooled connections before use (a restarted
  PostgreSQL is picked up at once), retries a failed read or write for up to
  ``TRACKER_DB_RETRY_SECONDS`` (default 2) and then gives up with
  :func:`addons.outage.unavailable`: the visitor gets the approved "try again"
  reply instead of an out-of-context answer (see ``addons/outage.py``). After
  giving up it fails fast for a second, so an unreachable database does not
  stall the server message after message.
* With Redis, the lock store is :class:`~addons.rasa_patches.redis_lock_store.AtomicRedisLockStore`:
  Rasa's ``RedisLockStore`` with each ticket change made one Redis transaction
  (two servers taking a ticket at the same moment could otherwise both get it).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional, Text, TypeVar

import sqlalchemy as sa
import sqlalchemy.exc
from rasa.core.lock_store import InMemoryLockStore, LockStore
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.core.utils import number_of_sanic_workers
from sqlalchemy.engine import make_url

from addons import outage
from addons.rasa_patches import sql_tracker_store
from addons.rasa_patches.redis_lock_store import AtomicRedisLockStore
from clinic import settings
from clinic.logfiles import error_summary

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Errors that mean "the database cannot be reached right now" (not a bug in a query).
UNREACHABLE = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError,
               sqlalchemy.exc.DisconnectionError, sqlalchemy.exc.TimeoutError)


# Conversations whose retrieve failed in this request (HTTP API only: a channel
# aborts the message instead). Rasa then works on a fresh, empty tracker; saving
# it would append a wrong slice of events to the stored conversation.
_failed_retrieve: contextvars.ContextVar[frozenset] = contextvars.ContextVar("clinic_failed_retrieve",
                                                                            default=frozenset())


def tracker_db_url() -> str:
    return settings.get("TRACKER_DB_URL")


def _retry_seconds() -> float:
    return settings.get_float("TRACKER_DB_RETRY_SECONDS")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL: readers (the staff console) never block the writer, one fsync per checkpoint.

    ``synchronous=NORMAL`` in WAL mode can lose the last commits on a power cut or OS
    crash, never on a crash of the server; it holds conversations only (callback
    requests live in the action server's database). Production uses PostgreSQL.
    """
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class EnvSQLTrackerStore(SQLTrackerStore):
    """Rasa's SQL tracker store, pointed at ``TRACKER_DB_URL``, that rides out short outages."""

    def __init__(self, host: Optional[Text] = None, domain: Any = None, event_broker: Any = None,
                 **kwargs: Any) -> None:
        sql_tracker_store.check()
        url = make_url(tracker_db_url())
        if url.drivername.startswith("sqlite"):
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        super().__init__(
            domain=domain,
            dialect=url.drivername,
            host=url.host,
            port=url.port,
            db=url.database,
            username=url.username,
            password=url.password,
            event_broker=event_broker,
            query=dict(url.query),
            **kwargs,
        )
        if self.engine.dialect.name == "postgresql":
            # Rasa's engine does not test pooled connections: after a PostgreSQL
            # restart the first use of each would fail. A bounded connect timeout
            # keeps an unreachable host from blocking the server for long.
            engine_kwargs = create_engine_kwargs(self.engine.url)
            connect_args = dict(engine_kwargs.pop("connect_args", {}))
            connect_args.setdefault("connect_timeout", settings.get_int("TRACKER_DB_CONNECT_TIMEOUT"))
            sql_tracker_store.rebuild_engine(self, pool_pre_ping=True, connect_args=connect_args, **engine_kwargs)
        elif self.engine.dialect.name == "sqlite":
            # SQLAlchemy 1.4 gives file SQLite a NullPool (a new connection for every
            # read and write) and the rollback journal fsyncs several times per commit,
            # inside the event loop: 22 ms per message. One kept-open connection in WAL
            # mode with synchronous=NORMAL: 3 ms (docs/PERFORMANCE.md). Only the event
            # loop's thread uses the store, so check_same_thread=False is safe.
            sql_tracker_store.rebuild_engine(self, poolclass=sa.pool.QueuePool, pool_size=1, max_overflow=4,
                                             connect_args={"check_same_thread": False})
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._fail_fast_until = 0.0

    async def _retrying(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run ``attempt`` until it succeeds or the retry budget is spent."""
        deadline = time.monotonic() + _retry_seconds()
        delay = 0.1
        while True:
            if time.monotonic() < self._fail_fast_until:
                raise outage.unavailable(RuntimeError(f"tracker store unavailable ({what}); failing fast"))
            try:
                return await attempt()
            except UNREACHABLE as e:
                if time.monotonic() + delay > deadline:
                    self._fail_fast_until = time.monotonic() + 1.0
                    logger.error("Tracker store unreachable (%s), giving up: %s", what, error_summary(e))
                    raise outage.unavailable(e) from e
                logger.warning("Tracker store unreachable (%s), retrying in %.1fs", what, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.8)

    async def retrieve(self, sender_id: Text) -> Any:
        try:
            return await self._retrying("retrieve", lambda: super(EnvSQLTrackerStore, self).retrieve(sender_id))
        except outage.StoreUnavailable:
            _failed_retrieve.set(_failed_retrieve.get() | {sender_id})
            raise

    async def retrieve_full_tracker(self, conversation_id: Text) -> Any:
        try:
            return await self._retrying(
                "retrieve", lambda: super(EnvSQLTrackerStore, self).retrieve_full_tracker(conversation_id))
        except outage.StoreUnavailable:
            _failed_retrieve.set(_failed_retrieve.get() | {conversation_id})
            raise

    async def keys(self) -> Any:
        return await self._retrying("keys", lambda: super(EnvSQLTrackerStore, self).keys())

    async def save(self, tracker: Any) -> None:
        if tracker.sender_id in _failed_retrieve.get():
            raise outage.StoreUnavailable(f"not saving '{tracker.sender_id}': it could not be read in this request")
        # Safe to repeat: a save appends only the events the database does not have yet.
        # Rasa's save, one INSERT for the new rows (addons/rasa_patches/sql_tracker_store.py).
        await self._retrying("save", lambda: sql_tracker_store.append_new_events(self, tracker))


# --- locks ------------------------------------------------------------------------------------

class EnvLockStore:
    """Factory: an atomic Redis lock store when ``REDIS_URL`` is set, else an in-memory one."""

    def __new__(cls, endpoint_config: Any = None) -> LockStore:  # type: ignore[misc]
        redis_url = settings.get("REDIS_URL")
        if not redis_url:
            if number_of_sanic_workers(endpoint_config) > 1:
                # Rasa accepts several workers with any custom lock store; in-memory locks
                # would let two workers answer the same conversation at once.
                raise ValueError("SANIC_WORKERS > 1 needs REDIS_URL: conversation locks must be "
                                 "shared by the workers (docs/PRODUCTION.md).")
            return InMemoryLockStore()
        url = make_url(redis_url)
        return AtomicRedisLockStore(
            host=url.host or "localhost",
            port=url.port or 6379,
            db=int(url.database or 1),
            username=url.username,
            password=url.password,
            use_ssl=url.drivername == "rediss",
            key_prefix=settings.get("REDIS_LOCK_PREFIX"),
        )
