"""Every change this project makes to Rasa's own code, in one place, each pinned to the Rasa it was read against.

A patch replaces or works around a piece of Rasa's internals, so it is only
right for the Rasa source it was written against. Each module here names that
version; :func:`require` refuses to put a patch in place on any other Rasa
(the server does not start, and the message names the patch), so an upgrade
makes someone re-read each patch instead of silently running it on code it
was not written for. Each has a test that it gives Rasa's own result
(tests/test_rasa_patches.py and the tests named in each module).

==========================  ===========================================================
``speedups``                two per-message lookups computed once (graph schema, event types)
``skops_import``            skops' slow trusted-type scan at start-up, answered from an index
``action_calls``            the action-reply validator built once; kept-alive action-server calls
``sql_tracker_store``       the tracker store's engine rebuilt (pooling, WAL); one INSERT per save
``failsafe_bypass``         an outage exception that passes ``FailSafeTrackerStore`` on purpose
``socketio_rooms``          Rasa 3.6.21's Socket.IO ``session_request`` without its missing ``await``
``socketio_websocket_end``  no HTTP response written onto an ended WebSocket (``is_closing`` tracebacks)
``warm_start``              the model warmed up before the server opens its port (first message: 23 s cold)
``redis_lock_store``        Rasa's Redis ticket lock with each change one transaction (no ticket issued twice)
==========================  ===========================================================

Standard library only at import: importing this package imports no Rasa.
"""

from __future__ import annotations

import importlib.metadata
from functools import lru_cache

# The Rasa every patch here was read against (requirements.txt pins it).
WRITTEN_FOR = "3.6.21"


class RasaVersionError(RuntimeError):
    """A patch was asked to run on a Rasa it was not written for."""


@lru_cache(maxsize=None)
def installed_rasa() -> str:
    """The installed Rasa's version, read from its package metadata (without importing Rasa)."""
    return importlib.metadata.version("rasa")


def require(patch: str, written_for: str = WRITTEN_FOR) -> None:
    """Refuse to apply ``patch`` (its module name here) on a Rasa other than ``written_for``."""
    found = installed_rasa()
    if found != written_for:
        raise RasaVersionError(
            f"Rasa patch '{patch}' (addons/rasa_patches/{patch}.py) was written for Rasa {written_for}, "
            f"but Rasa {found} is installed. Read the patch against the new Rasa's source, adapt it "
            "(or delete it if the new Rasa no longer needs it), run its test, then raise WRITTEN_FOR "
            "in addons/rasa_patches/__init__.py.")
