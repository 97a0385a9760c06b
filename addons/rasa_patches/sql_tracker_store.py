"""Two changes to Rasa 3.6.21's ``SQLTrackerStore``: its engine, and how ``save`` writes its rows.

* :func:`rebuild_engine`: Rasa builds the store's SQLAlchemy engine itself, with
  no way to pass pool options. The store (addons/stores.py) disposes of it and
  builds one for the same URL with its own options: ``pool_pre_ping`` and a
  connect timeout on PostgreSQL; one kept-open connection in WAL mode on
  SQLite (docs/PERFORMANCE.md). Rasa's ``sessionmaker`` is rebound to it.
* :func:`append_new_events`: Rasa's ``save`` adds one ORM object per new event;
  this writes the same rows (:func:`event_row`, the columns Rasa fills, from
  the same ``event.as_dict()``) with one multi-row INSERT, a tenth of the
  server's CPU per message under load. tests/test_stores.py checks the rows
  are byte for byte the ones Rasa's own store writes.

Both use Rasa internals (``engine``, ``sessionmaker``, ``SQLEvent``,
``_additional_events``, ``stream_events``) as they are in 3.6.21;
:func:`check` refuses another Rasa.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Text

import sqlalchemy as sa

from addons.rasa_patches import require


def check() -> None:
    require("sql_tracker_store")


def rebuild_engine(store: Any, **engine_kwargs: Any) -> None:
    """Rasa's engine for the same URL, built again with ``engine_kwargs``.

    ``hide_parameters``: an error's message then never carries the statement's values (the
    visitor's messages, in the events' JSON), wherever it is logged (Rasa's own
    ``FailSafeTrackerStore`` logs the whole error).
    """
    check()
    url = store.engine.url
    store.engine.dispose()
    store.engine = sa.create_engine(url, hide_parameters=True, **engine_kwargs)
    store.sessionmaker = sa.orm.session.sessionmaker(bind=store.engine)


def event_row(sender_id: Text, event: Any) -> Dict[str, Any]:
    """The ``events`` row Rasa's ``SQLTrackerStore.save`` writes for ``event``."""
    data = event.as_dict()
    return {
        "sender_id": sender_id,
        "type_name": event.type_name,
        "timestamp": data.get("timestamp"),
        "intent_name": data.get("parse_data", {}).get("intent", {}).get("name"),
        "action_name": data.get("name"),
        "data": json.dumps(data),
    }


async def append_new_events(store: Any, tracker: Any) -> None:
    """Rasa's ``SQLTrackerStore.save``, with one multi-row INSERT instead of one ORM object per event."""
    await store.stream_events(tracker)
    with store.session_scope() as session:
        rows = [event_row(tracker.sender_id, event) for event in store._additional_events(session, tracker)]
        if rows:
            session.execute(store.SQLEvent.__table__.insert(), rows)
        session.commit()
