"""Signed widget session tokens: the server issues every conversation id, and only the browser it
was issued to can use it.

A token is ``<conversation id>.<issued, hex seconds>.<signature>``: 32 random hex characters (the
conversation id Rasa stores and staff see), when it was issued, and an HMAC-SHA256 of both with
``WIDGET_SESSION_SECRET`` (shared by every Rasa server). Why: the Socket.IO channel used to take
any 8-64 character id from the browser, so a second socket that sent visitor A's id (seen in a
log, a transcript link, an export) received A's replies and could write into A's conversation.
Now an id the server did not sign, signed with another secret or older than
``WIDGET_SESSION_MAX_HOURS`` is refused, and the conversation id alone (all that is ever logged
or shown) is no longer enough.

Without ``WIDGET_SESSION_SECRET`` a process makes up a secret of its own (tokens then work only
on that one server, fine for ``make run``); the production profile refuses to start without it.
Standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
import time
from typing import Optional

from clinic import settings

logger = logging.getLogger(__name__)

MIN_SECRET = 32
TOKEN = re.compile(r"^([0-9a-f]{32})\.([0-9a-f]{1,12})\.([A-Za-z0-9_-]{32})$")
_ephemeral: Optional[bytes] = None


class TokenConfigError(RuntimeError):
    """The tokens cannot be signed safely with this configuration."""


def _key() -> bytes:
    global _ephemeral
    secret = settings.get("WIDGET_SESSION_SECRET")
    if secret:
        if len(secret) < MIN_SECRET:
            raise TokenConfigError(f"WIDGET_SESSION_SECRET must be at least {MIN_SECRET} characters")
        return secret.encode("utf-8")
    if settings.get("CLINIC_PROFILE") == "production":
        raise TokenConfigError("WIDGET_SESSION_SECRET is not set: every Rasa server must sign the widget's "
                               "session ids with the same secret")
    if _ephemeral is None:
        logger.warning("WIDGET_SESSION_SECRET is not set: widget sessions are signed with a secret of this "
                       "process only (they end when it restarts and work on no other Rasa server)")
        _ephemeral = secrets.token_bytes(32)
    return _ephemeral


def check_config() -> None:
    """Raise :class:`TokenConfigError` now (at start-up) rather than on the first visitor."""
    _key()


def _signature(conversation_id: str, issued: str) -> str:
    mac = hmac.new(_key(), f"widget-session|{conversation_id}|{issued}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:24]).decode().rstrip("=")


def issue(now: Optional[float] = None) -> str:
    """A new conversation id with its signature: what ``session_confirm`` sends the browser."""
    conversation_id = secrets.token_hex(16)
    issued = format(int(now if now is not None else time.time()), "x")
    return f"{conversation_id}.{issued}.{_signature(conversation_id, issued)}"


def verify(token: object, now: Optional[float] = None) -> Optional[str]:
    """The conversation id of a token this deployment issued and that has not expired, else None."""
    if not isinstance(token, str):
        return None
    match = TOKEN.match(token)
    if not match:
        return None
    conversation_id, issued, signature = match.groups()
    if not hmac.compare_digest(signature, _signature(conversation_id, issued)):
        return None
    age = (now if now is not None else time.time()) - int(issued, 16)
    max_age = settings.get_float("WIDGET_SESSION_MAX_HOURS") * 3600
    if age > max_age or age < -300:  # expired, or from the future (clock skew beyond 5 minutes)
        return None
    return conversation_id


def conversation_of(token: str) -> str:
    """The conversation id part of a token (no check): what Rasa's tracker is stored under."""
    return token.split(".", 1)[0]
