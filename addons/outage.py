"""What a visitor gets when the conversation store (PostgreSQL) or the lock store (Redis) is down.

Without this, Rasa 3.6 does one of two bad things when the tracker store
cannot be reached:

* Rasa wraps every tracker store in ``FailSafeTrackerStore``, which catches any
  ``Exception`` on ``retrieve`` and returns ``None``. Rasa then handles the
  message as the first of a brand-new, unsaved conversation: a visitor in the
  middle of the callback form gets "I didn't understand", staff never see the
  turn, and when the database comes back between reading and saving, the save
  (which appends "the events not stored yet", counted by position) can write a
  wrong slice of events into the real conversation.
* Any other failure (Redis down: ``LockError``) is swallowed by the REST
  channel, which answers ``200 []``: silence.

So the channels (``addons.rest_channel``, ``addons.socketio_channel``) handle a
visitor's message through :func:`guarded`. Inside it, the tracker store
(``addons.stores.EnvSQLTrackerStore``), after retrying briefly, raises
:class:`MessageAborted`, a ``BaseException`` like ``asyncio.CancelledError``,
so that ``FailSafeTrackerStore`` cannot turn it into a fresh conversation (the
Rasa patch ``addons/rasa_patches/failsafe_bypass.py``). The
message is not handled at all (nothing is guessed, nothing half-saved) and the
visitor gets the approved ``action_unavailable`` reply (try again, the
clinic's phone and e-mail, 988 and 911). Outside a channel (the HTTP API) the
store raises the ordinary :class:`StoreUnavailable` and Rasa's own handling
applies.
"""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, Optional

from rasa.core.channels.channel import UserMessage

from addons.rasa_patches import failsafe_bypass
from addons.rasa_patches.failsafe_bypass import MessageAborted
from clinic.logfiles import error_summary, where

logger = logging.getLogger(__name__)


class StoreUnavailable(Exception):
    """The conversation store could not be reached, even after brief retries."""


@dataclass
class _Scope:
    active: bool = True


_scope: contextvars.ContextVar[Optional[_Scope]] = contextvars.ContextVar("clinic_message_scope", default=None)


def in_message_scope() -> bool:
    """True while a channel's :func:`guarded` handler runs (also in tasks it started meanwhile)."""
    scope = _scope.get()
    return scope is not None and scope.active


def unavailable(cause: BaseException) -> BaseException:
    """The exception a store raises when it gives up: see the module docstring."""
    return MessageAborted(cause) if in_message_scope() else StoreUnavailable(str(cause))


def polite_text() -> str:
    """The approved ``action_unavailable`` text, from the content this process loaded at start.

    ``clinic.content.current()`` reads the file once (on the first call, which
    :func:`guarded` makes when a channel starts) and never again by itself: like
    every approved text, a changed wording is served only after it was validated,
    here from the next start of the Rasa server.
    """
    from clinic import content, routing

    return content.current().render(routing.current().role("unavailable")).text


def _is_lock_failure(error: BaseException) -> bool:
    from rasa.core.lock_store import LockError

    try:
        from redis.exceptions import RedisError
    except ImportError:  # pragma: no cover - redis is a Rasa dependency
        RedisError = LockError  # type: ignore[misc,assignment]
    return isinstance(error, (LockError, RedisError))


def guarded(
    on_new_message: Callable[[UserMessage], Awaitable[Any]]
) -> Callable[[UserMessage], Awaitable[Optional[Dict[str, Any]]]]:
    """Wrap a channel's ``on_new_message``: on a store failure, reply politely instead.

    The wrapped handler returns ``None`` when the message was handled, else the
    polite reply it sent to the message's output channel, with a ``status``:
    503 (a store is unavailable: try again) or 500 (an unexpected error, logged).
    """

    failsafe_bypass.check()  # a channel starts: refuse a Rasa the bypass was not written for
    try:
        polite_text()  # load it now: an outage is no time to find a broken file
    except Exception:  # the response generator reports a broken content file at model load
        logger.exception("The approved 'action_unavailable' reply could not be loaded")

    async def handle(message: UserMessage) -> Optional[Dict[str, Any]]:
        scope = _Scope()
        token = _scope.set(scope)
        try:
            await on_new_message(message)
            return None
        except MessageAborted as e:
            logger.warning("Conversation store unavailable; message from %s not handled: %s",
                           message.sender_id, error_summary(e.cause))
            status = 503
        except Exception as e:
            if _is_lock_failure(e):
                logger.warning("Lock store unavailable; message from %s not handled: %s", message.sender_id,
                               error_summary(e))
                status = 503
            else:
                logger.error("Message from %s failed: %s\n%s", message.sender_id, error_summary(e), where(e))
                status = 500
        finally:
            scope.active = False
            _scope.reset(token)
        text = polite_text()
        try:
            await message.output_channel.send_text_message(message.sender_id, text)
        except Exception as e:  # the visitor's connection is gone: nothing more to do
            logger.error("Could not send the polite reply to %s: %s", message.sender_id, error_summary(e))
        return {"recipient_id": message.sender_id, "text": text, "status": status}

    return handle
