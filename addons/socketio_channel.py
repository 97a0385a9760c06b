"""Socket.IO channel for the website widget: Rasa 3.6.21's own, with its room bug fixed and its input checked.

Rasa's ``SocketIOInput.blueprint`` builds the Socket.IO server and its
handlers; this subclass calls it and then changes only what it must:

* the ``session_request`` handler gets the ``await`` Rasa 3.6.21 forgets
  (``addons/rasa_patches/socketio_rooms.py``), without which every bot reply
  is lost when ``session_persistence`` is on;
* before Rasa's ``user_uttered`` handler runs, the browser's data is checked (a
  dict, a session id that is a short token, text cleaned as on the REST channel:
  ``addons/channel_input.py``); anything else gets an ``error`` event;
* connections are accepted only from the clinic's site origins
  (``ALLOWED_ORIGINS``), in packets of at most 64 KB;
* a store outage gets the polite reply (``addons/outage.py``);
* no HTTP response is written onto a WebSocket that has ended
  (``addons/rasa_patches/socketio_websocket_end.py``: the ``is_closing`` tracebacks).

Rasa's ``connect`` handler (``jwt_key``), its ``metadata_key`` handling and its
message handling are its own.

``credentials.yml``::

    addons.socketio_channel.ClinicSocketIOInput:
      session_persistence: true
"""

from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable, List, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

from addons import outage
from addons.channel_input import clean_text, payload_problem
from addons.rasa_patches import socketio_rooms, socketio_websocket_end
from clinic import settings

logger = logging.getLogger(__name__)

MAX_PACKET_BYTES = 64 * 1024


def allowed_origins() -> List[str]:
    """The site origins allowed to open the widget's connection (``ALLOWED_ORIGINS``)."""
    return settings.get_list("ALLOWED_ORIGINS")


def message_problem(data: Any, metadata_key: Optional[Text], session_persistence: bool) -> Optional[str]:
    """Why the data of a ``user_uttered`` event is refused, or None."""
    if not isinstance(data, dict) or not isinstance(data.get("message"), str):
        return "message must be non-empty text"
    if session_persistence and not socketio_rooms.valid_session_id(data.get("session_id")):
        return "session_request first"
    metadata = data.get(metadata_key) if metadata_key else None
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            return f"{metadata_key} must be a JSON object"
    if metadata is not None and not isinstance(metadata, dict):
        return f"{metadata_key} must be a JSON object"
    if not clean_text(data["message"]):
        return "message must be non-empty text"
    return payload_problem(clean_text(data["message"]))


class ClinicSocketIOInput(SocketIOInput):
    """Rasa's Socket.IO channel, fixed and checked: see the module docstring."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        socketio_rooms.check()
        socketio_websocket_end.check()
        webhook = super().blueprint(outage.guarded(on_new_message))
        sio = self.sio
        assert sio is not None  # set by Rasa's blueprint()
        # Rasa passes cors_allowed_origins=[] (any origin); the widget's origins only, and small packets.
        sio.eio.cors_allowed_origins = allowed_origins()
        sio.eio.max_http_buffer_size = MAX_PACKET_BYTES
        socketio_rooms.install(self, sio)
        socketio_websocket_end.install(sio)  # before Rasa's blueprint attaches sio to the app

        namespace = self.namespace or "/"
        rasa_handle_message = sio.handlers[namespace][self.user_message_evt]

        async def handle_message(sid: Text, data: Any = None) -> None:  # None: an emit without data
            problem = message_problem(data, self.metadata_key, self.session_persistence)
            if problem:
                await sio.emit("error", {"error": problem}, room=sid)
                return
            if self.session_persistence and data["session_id"] not in sio.rooms(sid, namespace=self.namespace):
                await sio.enter_room(sid, data["session_id"])  # a reconnected browser that skipped session_request
            await rasa_handle_message(sid, {**data, "message": clean_text(data["message"])})

        sio.on(self.user_message_evt, namespace=self.namespace)(handle_message)
        return webhook
