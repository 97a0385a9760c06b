"""Socket.IO channel for the website widget, with Rasa 3.6.21's persistence bug fixed.

Rasa 3.6.21 calls ``sio.enter_room(...)`` without ``await``; with
python-socketio 5.10 and newer that is a coroutine, so the browser never joins
its session's room and every bot reply is lost when ``session_persistence`` is
on. This subclass awaits it. It also checks what a browser sends (a message
must be text of a sensible length, the session id a short token), and only
accepts connections from the clinic's own site origins.

``credentials.yml``::

    addons.socketio_channel.ClinicSocketIOInput:
      session_persistence: true
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from socketio import AsyncServer

from addons import outage
from addons.rest_channel import payload_problem

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = int(os.environ.get("MAX_MESSAGE_CHARS", 2000))
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
DEFAULT_ORIGINS = "http://localhost:8080,http://127.0.0.1:8080"


def allowed_origins() -> List[str]:
    """The site origins allowed to open the widget's connection (``ALLOWED_ORIGINS``)."""
    raw = os.environ.get("ALLOWED_ORIGINS", DEFAULT_ORIGINS)
    return [o.strip().rstrip("/") for o in raw.split(",") if o.strip()]


def clean_message(data: Any) -> Optional[str]:
    """The visitor's text if ``data`` is a well-formed message, else None."""
    if not isinstance(data, dict):
        return None
    text = data.get("message")
    if not isinstance(text, str):
        return None
    text = "".join(ch for ch in text if ch.isprintable() or ch in "\n\t").strip()
    return text[:MAX_MESSAGE_CHARS]


class ClinicSocketIOInput(SocketIOInput):
    """Rasa's Socket.IO channel, fixed and hardened: see the module docstring."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=allowed_origins(),
                          max_http_buffer_size=64 * 1024)
        webhook = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        self.sio = sio
        guarded_on_new_message = outage.guarded(on_new_message)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> Any:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            return True

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Any = None) -> None:  # None: an emit without data
            session_id = data.get("session_id") if isinstance(data, dict) else None
            if not isinstance(session_id, str) or not SESSION_ID.match(session_id):
                session_id = uuid.uuid4().hex
            if self.session_persistence:
                await sio.enter_room(sid, session_id)  # the fix: Rasa 3.6.21 forgets `await`
            await sio.emit("session_confirm", session_id, room=sid)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any = None) -> None:  # None: an emit without data
            output = SocketIOOutput(sio, self.bot_message_evt)
            if self.session_persistence:
                session_id = data.get("session_id") if isinstance(data, dict) else None
                if not isinstance(session_id, str) or not SESSION_ID.match(session_id):
                    await sio.emit("error", {"error": "session_request first"}, room=sid)
                    return
                if session_id not in sio.rooms(sid, namespace=self.namespace):
                    await sio.enter_room(sid, session_id)
                sender_id = session_id
            else:
                sender_id = sid
            text = clean_message(data)
            if not text:
                await sio.emit("error", {"error": "message must be non-empty text"}, room=sid)
                return
            if payload_problem(text):  # Rasa's /restart, /back, /intent{...}: see addons/rest_channel.py
                await sio.emit("error", {"error": payload_problem(text)}, room=sid)
                return
            message = UserMessage(text, output, sender_id, input_channel=self.name(), metadata={})
            # A polite reply instead of silence when a store is down (addons/outage.py).
            await guarded_on_new_message(message)

        return webhook
