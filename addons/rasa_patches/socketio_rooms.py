"""Rasa 3.6.21's Socket.IO ``session_request`` handler, with the ``await`` it forgets.

In ``rasa/core/channels/socketio.py`` (3.6.21) the handler calls
``sio.enter_room(sid, session_id)`` without ``await``; with python-socketio
5.10 and newer that is a coroutine, so it never runs: the browser never joins
its session's room and, with ``session_persistence: true``, every bot reply
(sent to the room) is lost. :func:`install` registers, in place of Rasa's, the
same handler with the ``await`` (and a session id checked to be a short token:
it becomes the conversation id). Rasa's other handlers (``connect`` with
``jwt_key``, ``user_uttered`` with ``metadata_key``) are left as they are.

tests/test_rasa_patches.py shows Rasa's handler never joins the room and this
one does; :func:`check` refuses another Rasa.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Text

from addons.rasa_patches import require

EVENT = "session_request"
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def check() -> None:
    require("socketio_rooms")


def valid_session_id(value: Any) -> bool:
    return isinstance(value, str) and bool(SESSION_ID.match(value))


def install(channel: Any, sio: Any) -> None:
    """Replace the ``session_request`` handler Rasa's ``SocketIOInput.blueprint`` registered on ``sio``."""
    check()

    async def session_request(sid: Text, data: Any = None) -> None:  # None: an emit without data
        session_id = data.get("session_id") if isinstance(data, dict) else None
        if not valid_session_id(session_id):
            session_id = uuid.uuid4().hex
        if channel.session_persistence:
            await sio.enter_room(sid, session_id)  # the fix: Rasa 3.6.21 forgets this `await`
        await sio.emit("session_confirm", session_id, room=sid)

    sio.on(EVENT, namespace=channel.namespace)(session_request)
