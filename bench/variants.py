"""Tracker-store variants that `python -m bench.fixes` measures (loaded through a copy of endpoints.yml)."""

from __future__ import annotations

from typing import Any

from addons.stores import EnvSQLTrackerStore


class OrmSaveTrackerStore(EnvSQLTrackerStore):
    """The project's store with Rasa's own save (one ORM object per event), for
    ``python -m bench.fixes --variants orm_save``: what the multi-row INSERT saves."""

    async def _append_new_events(self, tracker: Any) -> None:
        from rasa.core.tracker_store import SQLTrackerStore

        await SQLTrackerStore.save(self, tracker)
