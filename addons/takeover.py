"""Live chat inside the Rasa server: what the staff console sends reaches the visitor's widget,
crisis language is still answered while a person has the conversation, and the widget learns
which approved entry (or which person) each message is.

Registered as a channel in ``credentials.yml``::

    addons.takeover.LiveChatInput:

Three pieces, each written against Rasa 3.6.21 (:func:`install` refuses to run on another
version, naming the piece):

1. **Crisis while paused.** When a staff member takes a conversation over, the console sends
   Rasa's ``ConversationPaused`` (``{"event": "pause"}``) through the HTTP API, and Rasa stops
   predicting actions for it (``MessageProcessor._should_handle_message``): the bot is silent,
   the visitor's messages are still understood and stored. The patched check also lets through
   a message understood as ``crisis``, so the rules answer it with the crisis reply (safety
   rule 1: "whatever else is going on, ... while a person from the clinic is chatting") and
   nothing else; the conversation stays paused.
2. **What the widget is told.** ``SocketIOOutput.send_response`` sends each message as one
   ``bot_uttered`` event ``{text, quick_replies, content_id, staff_name}``. Rasa's own splits a
   text at blank lines and drops the metadata, so the widget could not tell the crisis reply
   (shown with tappable 988/911 links) or a staff member's message (shown as a person's, with
   their name) from any other.
3. **The ``live`` output channel.** The console sends "<name> from the clinic has joined", the
   staff member's messages and the hand-back notice as bot events through Rasa's HTTP API
   (``POST /conversations/{id}/tracker/events?execute_side_effects=true&output_channel=live``):
   Rasa stores them in the tracker under the conversation's lock and hands them to this
   channel, which emits them to the visitor's Socket.IO room. The visitor's socket may be held
   by another Rasa server: with ``REDIS_URL`` set, each message is also published on Redis
   (channel ``<REDIS_LOCK_PREFIX>:live-delivery``) and every Rasa server emits it to the sockets
   of that conversation it holds. Only these few messages go through Redis; the assistant's own
   replies go straight to the socket as before, so a Redis outage never silences the assistant.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Text

import rasa
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOOutput
from rasa.core.processor import MessageProcessor
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Blueprint, response
from sanic.request import Request

from clinic import settings

logger = logging.getLogger(__name__)

RASA_VERSION = "3.6.21"
# Understood while a person has the conversation: answered by the rules all the same.
ANSWERED_WHILE_PAUSED = frozenset({"crisis"})
STAFF_MESSAGE = "staff_message"
# Messages that carry the staff member's name to the widget.
NAMED = frozenset({STAFF_MESSAGE, "live_chat_joined"})
MAX_REPLIES = 10
MAX_STAFF_NAME = 40
CHANNEL_NAME = "live"

_installed = False


class PatchError(RuntimeError):
    """A patch of Rasa internals does not fit the installed Rasa."""


def install() -> None:
    """Put pieces 1 and 2 in place (once; refuses another Rasa version)."""
    global _installed
    if _installed:
        return
    if rasa.__version__ != RASA_VERSION:
        raise PatchError(f"addons/takeover.py patches MessageProcessor._should_handle_message and "
                         f"SocketIOOutput.send_response of Rasa {RASA_VERSION}; this is Rasa "
                         f"{rasa.__version__}: check both against it, then update RASA_VERSION")
    original = MessageProcessor.__dict__.get("_should_handle_message")
    if not isinstance(original, staticmethod):
        raise PatchError("MessageProcessor._should_handle_message is no longer a static method")
    MessageProcessor._should_handle_message = staticmethod(_handles_crisis_when_paused(original.__func__))
    SocketIOOutput.send_response = _send_widget_response  # type: ignore[assignment]
    _installed = True


def _handles_crisis_when_paused(original: Callable[[DialogueStateTracker], bool]
                                ) -> Callable[[DialogueStateTracker], bool]:
    def should_handle_message(tracker: DialogueStateTracker) -> bool:
        if original(tracker):
            return True
        latest = tracker.latest_message
        return latest is not None and (latest.intent or {}).get("name") in ANSWERED_WHILE_PAUSED

    should_handle_message.__wrapped__ = original  # type: ignore[attr-defined]
    return should_handle_message


def widget_payload(message: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """The ``bot_uttered`` data for one bot message, or None when the widget shows nothing of it.

    Only text, quick replies (title + payload), the content id and a staff member's name: an
    image or a carousel is never sent, so a reply can never make the browser contact another host.
    """
    text = message.get("text")
    text = text if isinstance(text, str) else ""
    replies = []
    for button in (message.get("quick_replies") or message.get("buttons") or [])[:MAX_REPLIES]:
        if isinstance(button, dict) and isinstance(button.get("title"), str) and isinstance(button.get("payload"), str):
            replies.append({"title": button["title"], "payload": button["payload"]})
    if not text.strip() and not replies:
        return None
    payload: Dict[str, Any] = {"text": text}
    if replies:
        payload["quick_replies"] = replies
    content_id = message.get("content_id")
    if isinstance(content_id, str) and content_id:
        payload["content_id"] = content_id
        name = message.get("staff_name")
        if content_id in NAMED and isinstance(name, str) and name.strip():
            payload["staff_name"] = name.strip()[:MAX_STAFF_NAME]
    return payload


async def _send_widget_response(self: SocketIOOutput, recipient_id: Text, message: Dict[Text, Any]) -> None:
    payload = widget_payload(message)
    if payload is not None:
        await self._send_message(recipient_id, payload)


class Relay:
    """Delivers a message to the sockets of one conversation, on every Rasa server."""

    def __init__(self) -> None:
        self.server_id = uuid.uuid4().hex
        self.sio: Any = None
        self.event = "bot_uttered"
        self.namespace: Optional[str] = None
        self.redis: Any = None  # publishes (short timeouts: a turn never waits long on Redis)
        self.redis_url = ""
        self.channel = f"{settings.get('REDIS_LOCK_PREFIX')}:live-delivery"
        self._task: Optional[asyncio.Task] = None

    def attach(self, input_channels: List[InputChannel]) -> None:
        """Find the widget's Socket.IO server among the channels Rasa started."""
        for channel in input_channels:
            if getattr(channel, "sio", None) is not None:
                self.sio = channel.sio
                self.event = getattr(channel, "bot_message_evt", None) or "bot_uttered"
                self.namespace = getattr(channel, "namespace", None)
                return
        logger.warning("Live chat: no Socket.IO channel is configured; staff messages reach no widget")

    async def start(self, input_channels: List[InputChannel]) -> None:
        self.attach(input_channels)
        url = settings.get("REDIS_URL")
        if url:
            import redis.asyncio as aioredis

            self.redis_url = url
            self.redis = aioredis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
            self._task = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        if self.redis is not None:
            try:
                await self.redis.close()
            except Exception:
                pass

    async def deliver(self, recipient_id: str, payload: Dict[str, Any]) -> None:
        await self._emit_local(recipient_id, payload)
        if self.redis is None:
            return
        body = json.dumps({"from": self.server_id, "to": recipient_id, "payload": payload})
        try:
            await self.redis.publish(self.channel, body)
        except Exception as e:  # never the message itself in a log line
            logger.warning("Live chat: could not publish a message to the other Rasa servers (%s); "
                           "it reached this server's sockets only", type(e).__name__)

    async def _emit_local(self, recipient_id: str, payload: Dict[str, Any]) -> None:
        if self.sio is None:
            return
        kwargs = {"room": recipient_id}
        if self.namespace:
            kwargs["namespace"] = self.namespace
        await self.sio.emit(self.event, payload, **kwargs)

    async def _listen(self) -> None:
        """Emit what the other Rasa servers publish; a lost connection is made again (with back-off)."""
        import redis.asyncio as aioredis

        delay = 0.5
        while True:
            # Its own connection, with no read timeout (it waits for messages) but health checks.
            subscriber = aioredis.Redis.from_url(self.redis_url, socket_connect_timeout=3, health_check_interval=15)
            try:
                pubsub = subscriber.pubsub()
                await pubsub.subscribe(self.channel)
                delay = 0.5
                async for item in pubsub.listen():
                    if item.get("type") != "message":
                        continue
                    try:
                        data = json.loads(item["data"])
                    except (ValueError, TypeError):
                        continue
                    if not isinstance(data, dict) or data.get("from") == self.server_id:
                        continue
                    if isinstance(data.get("to"), str) and isinstance(data.get("payload"), dict):
                        await self._emit_local(data["to"], data["payload"])
            except asyncio.CancelledError:
                raise
            except Exception as e:
                logger.warning("Live chat: Redis subscription lost (%s); retrying in %.1f s", type(e).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            finally:
                try:
                    await subscriber.close()
                except Exception:
                    pass


class RelayOutput(OutputChannel):
    """The ``live`` output channel: every bot message to the conversation's sockets, on any server."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    @classmethod
    def name(cls) -> Text:
        return CHANNEL_NAME

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        payload = widget_payload(message)
        if payload is not None:
            await self.relay.deliver(recipient_id, payload)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text, **kwargs})


class LiveChatInput(InputChannel):
    """Takes no visitor messages: it installs the patches and provides the ``live`` output channel."""

    def __init__(self) -> None:
        install()
        self.relay = Relay()

    @classmethod
    def name(cls) -> Text:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "LiveChatInput":
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("clinic_live_chat", __name__)
        relay = self.relay

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> Any:
            return response.json({"status": "ok", "redis": relay.redis is not None, "widget": relay.sio is not None})

        @bp.listener("after_server_start")
        async def start_relay(app: Any, _loop: Any) -> None:
            await relay.start(getattr(app.ctx, "input_channels", None) or [])

        @bp.listener("before_server_stop")
        async def stop_relay(_app: Any, _loop: Any) -> None:
            await relay.stop()

        return bp

    def get_output_channel(self) -> Optional[OutputChannel]:
        return RelayOutput(self.relay)
