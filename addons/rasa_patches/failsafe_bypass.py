"""An exception that passes Rasa 3.6.21's ``FailSafeTrackerStore`` on purpose.

Rasa wraps every tracker store in ``FailSafeTrackerStore``, whose ``retrieve``
catches any ``Exception`` and returns ``None``: Rasa then handles the message
as the first of a new, unsaved conversation (addons/outage.py says why that is
wrong for a visitor). :class:`MessageAborted` is a ``BaseException``, like
``asyncio.CancelledError``, so that wrapper lets it through to the channel's
handler (addons/outage.py ``guarded``), which catches it and replies politely.

This relies on ``FailSafeTrackerStore`` catching ``Exception`` and nothing
wider, as in 3.6.21 (tests/test_rasa_patches.py checks it still does);
:func:`check` refuses another Rasa.
"""

from __future__ import annotations

from addons.rasa_patches import require


def check() -> None:
    require("failsafe_bypass")


class MessageAborted(BaseException):
    """Raised instead of an ordinary error while a channel handles a visitor's message.

    A ``BaseException`` on purpose: it must pass ``FailSafeTrackerStore`` (which
    catches ``Exception``). Only ``addons.outage.guarded`` opens the scope in
    which it can occur, and it catches it.
    """

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause
