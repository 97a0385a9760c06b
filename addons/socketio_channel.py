"""Socket.IO channel for the website widget: Rasa 3.6.21's own, with its room bug fixed and its input checked.

Rasa's ``SocketIOInput.blueprint`` builds the Socket.IO server and its
handlers; this subclass calls it and then changes only what it must:

* the server issues every session id, signed (``clinic/session_tokens.py``):
  ``session_request`` answers with a new signed id unless the browser sent one this
  deployment signed, and only then joins that conversation's room (with the ``await``
  Rasa 3.6.21 forgets, ``addons/rasa_patches/socketio_rooms.py``); an unsigned, foreign
  or expired id never reaches a conversation, so a second socket that sends visitor A's
  conversation id gets neither A's replies nor a place in A's conversation;
* before Rasa's ``user_uttered`` handler runs, the browser's data is checked (a
  dict, a signed session id, text cleaned as on the REST channel:
  ``addons/channel_input.py``); anything else gets an ``error`` event; Rasa gets the
  conversation id, never the signature;
* per client address, at most ``WIDGET_MAX_CONNECTIONS_PER_ADDRESS`` open sockets and
  ``WIDGET_MESSAGES_PER_MINUTE`` messages (``addons/client_limits.py``);
* connections are accepted only from the clinic's site origins
  (``ALLOWED_ORIGINS``), in packets of at most 64 KB;
* a store outage gets the polite reply (``addons/outage.py``);
* no HTTP response is written onto a WebSocket that has ended
  (``addons/rasa_patches/socketio_websocket_end.py``: the ``is_closing`` tracebacks).

Rasa's ``connect`` handler (``jwt_key``, called after the connection limit), its
``metadata_key`` handling and its message handling are its own.

``credentials.yml``::

    addons.socketio_channel.ClinicSocketIOInput:
      session_persistence: true
"""

from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint
from socketio.exceptions import ConnectionRefusedError

from addons import client_limits, outage
from addons.channel_input import clean_text, payload_problem
from addons.rasa_patches import socketio_rooms, socketio_websocket_end
from clinic import session_tokens, settings

logger = logging.getLogger(__name__)

MAX_PACKET_BYTES = 64 * 1024
TOO_MANY = "too many messages from this address: wait a minute"


def allowed_origins() -> List[str]:
    """The site origins allowed to open the widget's connection (``ALLOWED_ORIGINS``)."""
    return settings.get_list("ALLOWED_ORIGINS")


def message_problem(data: Any, metadata_key: Optional[Text], session_persistence: bool) -> Optional[str]:
    """Why the data of a ``user_uttered`` event is refused, or None."""
    if not isinstance(data, dict) or not isinstance(data.get("message"), str):
        return "message must be non-empty text"
    if session_persistence and session_tokens.verify(data.get("session_id")) is None:
        return "session_request first"  # no id, or one this deployment did not sign
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
        session_tokens.check_config()  # no shared secret in production: the server does not start
        webhook = super().blueprint(outage.guarded(on_new_message))
        sio = self.sio
        assert sio is not None  # set by Rasa's blueprint()
        # Rasa passes cors_allowed_origins=[] (any origin); the widget's origins only, and small packets.
        sio.eio.cors_allowed_origins = allowed_origins()
        sio.eio.max_http_buffer_size = MAX_PACKET_BYTES
        socketio_websocket_end.install(sio)  # before Rasa's blueprint attaches sio to the app

        namespace = self.namespace or "/"
        rasa_handle_message = sio.handlers[namespace][self.user_message_evt]
        rasa_connect = sio.handlers[namespace]["connect"]
        rasa_disconnect = sio.handlers[namespace].get("disconnect")
        connections, rate = client_limits.from_settings()
        address_of_sid: Dict[str, str] = {}

        async def connect(sid: Text, environ: Any, auth: Any = None) -> Any:
            address = client_limits.address_of_environ(environ)
            if not connections.acquire(address):
                logger.warning("Socket.IO connection refused: %d already open from %s", connections.limit, address)
                raise ConnectionRefusedError("too many connections from this address")
            try:
                accepted = await rasa_connect(sid, environ, auth)
            except BaseException:
                connections.release(address)
                raise
            if accepted is False:
                connections.release(address)
                return False
            address_of_sid[sid] = address
            return accepted

        connect.__wrapped__ = rasa_connect  # type: ignore[attr-defined]

        async def disconnect(sid: Text, *_reason: Any) -> None:
            address = address_of_sid.pop(sid, None)
            if address is not None:
                connections.release(address)
            if rasa_disconnect is not None:
                await rasa_disconnect(sid)

        async def too_many(sid: Text) -> bool:
            address = address_of_sid.get(sid, "unknown")
            if rate.allow(address):
                return False
            logger.warning("Socket.IO message refused: over %d a minute from %s", rate.per_minute, address)
            await sio.emit("error", {"error": TOO_MANY}, room=sid)
            return True

        async def session_request(sid: Text, data: Any = None) -> None:  # None: an emit without data
            if await too_many(sid):
                return
            token = data.get("session_id") if isinstance(data, dict) else None
            conversation_id = session_tokens.verify(token)
            if conversation_id is None:
                if token:
                    logger.info("Socket.IO session id refused (not signed here, or expired): a new one issued")
                token = session_tokens.issue()
                conversation_id = session_tokens.conversation_of(token)
            if self.session_persistence:
                await sio.enter_room(sid, conversation_id)  # awaited: Rasa 3.6.21 forgets (socketio_rooms)
            await sio.emit("session_confirm", token, room=sid)

        async def handle_message(sid: Text, data: Any = None) -> None:  # None: an emit without data
            if await too_many(sid):
                return
            problem = message_problem(data, self.metadata_key, self.session_persistence)
            if problem:
                await sio.emit("error", {"error": problem}, room=sid)
                return
            data = {**data, "message": clean_text(data["message"])}
            if self.session_persistence:
                conversation_id = session_tokens.verify(data["session_id"])
                if conversation_id not in sio.rooms(sid, namespace=self.namespace):
                    await sio.enter_room(sid, conversation_id)  # a reconnected browser that skipped session_request
                data["session_id"] = conversation_id  # Rasa stores and answers the conversation id only
            await rasa_handle_message(sid, data)

        sio.on("connect", namespace=self.namespace)(connect)
        sio.on("disconnect", namespace=self.namespace)(disconnect)
        sio.on(socketio_rooms.EVENT, namespace=self.namespace)(session_request)
        sio.on(self.user_message_evt, namespace=self.namespace)(handle_message)
        return webhook
