"""Tracker and lock stores chosen by environment variables, so one ``endpoints.yml`` serves both profiles.

* ``TRACKER_DB_URL``: a SQLAlchemy URL for conversations. Default: the SQLite
  file ``var/rasa.db``, so conversations survive a restart.
* ``REDIS_URL``: when set (``redis://host:6379/1``), conversation locks live in
  Redis and several Rasa servers can share the conversations; when unset, an
  in-memory lock store serves a single server.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Optional, Text

from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TRACKER_DB_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'rasa.db'}"


def tracker_db_url() -> str:
    return os.environ.get("TRACKER_DB_URL") or DEFAULT_TRACKER_DB_URL


class EnvSQLTrackerStore(SQLTrackerStore):
    """Rasa's SQL tracker store, pointed at ``TRACKER_DB_URL``."""

    def __init__(self, host: Optional[Text] = None, domain: Any = None, event_broker: Any = None,
                 **kwargs: Any) -> None:
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


class EnvLockStore:
    """Factory: a Redis lock store when ``REDIS_URL`` is set, else an in-memory one."""

    def __new__(cls, endpoint_config: Any = None) -> LockStore:  # type: ignore[misc]
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            return InMemoryLockStore()
        url = make_url(redis_url)
        return RedisLockStore(
            host=url.host or "localhost",
            port=url.port or 6379,
            db=int(url.database or 1),
            password=url.password,
            key_prefix=os.environ.get("REDIS_LOCK_PREFIX", "clinic"),
        )
