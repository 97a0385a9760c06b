"""What ``addons/stores.py`` would be with the changes docs/PERFORMANCE.md proposes, for checking them.

``python -m bench.fixes --variants as_proposed`` loads it through a copy of
endpoints.yml (``tracker_store: type: bench.stores_with_fixes.Store``), the way
the lead would apply the changes: the two ``install()`` calls run when the
tracker store's module is imported, which in a Rasa server happens before the
model is loaded; the store is the project's with the SQLite settings on.
"""

from __future__ import annotations

import os

from addons import action_calls, fast_skops

action_calls.install()
fast_skops.install()

os.environ.setdefault("BENCH_SQLITE_WAL", "1")
os.environ.setdefault("BENCH_SQLITE_SYNC", "NORMAL")
os.environ.setdefault("BENCH_SQLITE_POOL", "1")

from bench.variants import TunedSQLTrackerStore as Store  # noqa: E402

__all__ = ["Store"]
