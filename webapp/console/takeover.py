"""Taking a conversation over: a staff member chats with the visitor in place of the assistant.

From a conversation's transcript page a staff member takes the conversation over. The
console then talks to the Rasa server through its HTTP API, with the token from the
environment (``RASA_AUTH_TOKEN``), always ``POST /conversations/{id}/tracker/events``
with ``execute_side_effects=true&output_channel=live`` (see ``addons/takeover.py``):

* take over: ``ConversationPaused`` (the assistant stops answering; crisis language is
  still answered with the crisis reply), the callback form stopped if it was running,
  and the approved notice "<first name> from the clinic has joined";
* each staff message: a bot event with content id ``staff_message`` and the staff
  member's name in its metadata, so the transcript shows who said what; plain text,
  at most ``max_staff_message_chars`` (content/staffing.yml), shown literally;
* hand back or close: ``ConversationResumed`` and the approved notice; the assistant
  answers the next message;
* nobody took a waiting visitor in time: the approved notice, then the callback form
  (``POST /conversations/{id}/execute`` with ``callback_form``, then ``action_listen``).

A takeover nobody writes in for ``hand_back_after_minutes`` is handed back by the
worker (every web app runs one; the database decides which one acts), and the visitor
is told; a visitor waiting for a person that nobody takes within
``answer_within_minutes`` is offered the callback form. Every takeover, staff message
(its length, not its text: the text is in the tracker) and hand-back is audited.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import urllib.parse
from typing import Any, Dict, List, Optional, Tuple

import aiohttp
from sanic import Blueprint, response
from sanic.request import Request

from clinic import content, live_chat, settings
from clinic.live_chat import Chat
from webapp.console import audit

logger = logging.getLogger(__name__)

WORKER_SECONDS = 2.0
PURGE_SECONDS = 600.0
AUDIT_ACTIONS = {
    "handed_back": "takeover_hand_back",
    "closed": "takeover_close",
    "timeout": "takeover_timeout",
    "unanswered": "live_chat_unanswered",
    "failed": "takeover_failed",
}
ACTIONS = ("takeover_start", "takeover_message", "takeover_hand_back", "takeover_close", "takeover_timeout",
           "takeover_failed", "live_chat_unanswered", "live_availability")


class RasaError(RuntimeError):
    """The Rasa server could not be told (down, refused, or an error)."""


class RasaAPI:
    """The few calls of Rasa's HTTP API the console makes."""

    def __init__(self, url: Optional[str] = None, token: Optional[str] = None, timeout: float = 10.0) -> None:
        self.url = (url or settings.get("RASA_URL")).rstrip("/")
        self.token = token if token is not None else settings.get("RASA_AUTH_TOKEN")
        self.timeout = timeout

    async def append(self, sender_id: str, events: List[Dict[str, Any]]) -> None:
        """Append ``events`` to the conversation and send its bot messages to the visitor."""
        await self._post(sender_id, "tracker/events", {"execute_side_effects": "true"}, events)

    async def execute(self, sender_id: str, action: str) -> None:
        """Run one action of the assistant (the callback form) for the conversation, then listen."""
        await self._post(sender_id, "execute", {}, {"name": action})
        await self.append(sender_id, [{"event": "action", "name": "action_listen"}])

    async def _post(self, sender_id: str, path: str, params: Dict[str, str], body: Any) -> None:
        if not self.token:
            raise RasaError("RASA_AUTH_TOKEN is not set for the web app")
        query = urllib.parse.urlencode({**params, "output_channel": "live", "token": self.token})
        url = f"{self.url}/conversations/{urllib.parse.quote(sender_id, safe='')}/{path}?{query}"
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session:
                async with session.post(url, json=body) as r:
                    if r.status >= 300:
                        raise RasaError(f"the Rasa server answered {r.status}")
                    await r.read()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
            raise RasaError(f"the Rasa server could not be reached ({type(e).__name__})") from e


def bot_event(content_id: str, values: Optional[Dict[str, str]] = None,
              metadata: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """A bot event with approved wording, its content id and version (as the assistant's own)."""
    message = content.current().render(content_id, values)
    event: Dict[str, Any] = {"event": "bot", "text": message.text,
                             "metadata": {"content_id": message.content_id,
                                          "content_version": message.content_version, **(metadata or {})}}
    if message.buttons:
        event["data"] = {"buttons": [dict(b) for b in message.buttons]}
    return event


def staff_event(text: str, name: str, username: str) -> Dict[str, Any]:
    return {"event": "bot", "text": text,
            "metadata": {"content_id": live_chat.STAFF_MESSAGE, "staff_name": name, "staff_user": username}}


def end_events(chat: Chat) -> List[Dict[str, Any]]:
    """What the Rasa server is told when a live chat ends, by its reason."""
    notice = bot_event(live_chat.NOTICE_FOR_REASON[chat.ended_reason or "handed_back"],
                       {"staff_name": chat.staff_name or "Our team member"})
    if chat.ended_reason == "unanswered":
        return [notice]  # never paused; the callback form follows (Takeovers.finish)
    return [{"event": "resume"}, notice]


class Takeovers:
    """Starts, feeds and ends takeovers; runs the timeout worker."""

    def __init__(self, state: Any, rasa: Optional[RasaAPI] = None) -> None:
        self.state = state
        self.rasa = rasa or RasaAPI()
        self._task: Optional[asyncio.Task] = None
        self._stopping = False

    @property
    def url(self) -> Optional[str]:
        return self.state.clinic_url

    def _audit(self, actor: str, action: str, sender_id: str, detail: Dict[str, Any], ip: str = "",
               role: str = "") -> None:
        audit.record(actor, action, f"conversation:{sender_id}", detail, ip=ip, role=role, url=self.url)

    async def start(self, sender_id: str, username: str, role: str, ip: str) -> Tuple[int, Dict[str, Any]]:
        presence = await asyncio.to_thread(live_chat.presence_of, username, self.url)
        result = await asyncio.to_thread(live_chat.take, sender_id, username, presence.display_name, self.url)
        if not result.won:
            who = result.holder_name or "Someone"
            return 409, {"error": f"{who} ({result.holder_user}) already has this conversation.",
                         "holder": result.holder_user, "holder_name": result.holder_name,
                         "chat": result.chat.as_json()}
        if result.already:
            return 200, {"chat": result.chat.as_json()}
        chat = result.chat
        events: List[Dict[str, Any]] = [{"event": "active_loop", "name": None},
                  {"event": "slot", "name": "requested_slot", "value": None},
                  {"event": "pause"},
                  bot_event(live_chat.JOINED, {"staff_name": chat.staff_name or ""},
                            {"staff_name": chat.staff_name, "staff_user": username})]
        try:
            await self.rasa.append(sender_id, events)
        except RasaError as e:
            await asyncio.to_thread(live_chat.undo_take, chat, self.url)
            logger.error("Takeover of %s failed: %s", sender_id, e)
            return 502, {"error": f"The assistant could not be reached, so the conversation was not taken over "
                                  f"({e}). Try again in a moment."}
        waited = None
        if chat.requested_at and chat.started_at:
            waited = round((chat.started_at - chat.requested_at).total_seconds())
        await asyncio.to_thread(self._audit, username, "takeover_start", sender_id,
                                {"staff_name": chat.staff_name, "waited_seconds": waited}, ip, role)
        return 200, {"chat": chat.as_json()}

    async def send(self, sender_id: str, text: str, username: str, role: str, ip: str) -> Tuple[int, Dict[str, Any]]:
        config = live_chat.staffing()
        try:
            cleaned = live_chat.clean_staff_text(text, config.max_message_chars)
        except ValueError as e:
            return 400, {"error": f"Not sent: {e}. Shorten it and send it again."}
        if cleaned is None:
            return 400, {"error": "Not sent: the message is empty."}
        chat = await asyncio.to_thread(live_chat.touch, sender_id, username, self.url)
        if chat is None:
            current = await asyncio.to_thread(live_chat.get, sender_id, self.url)
            why = "it is not taken over"
            if current is not None and current.state == "active":
                why = f"{current.staff_name} ({current.staff_user}) has it"
            elif current is not None and current.ended_reason == "timeout":
                why = "it was handed back to the assistant after the time without messages"
            elif current is not None and current.state in ("ending", "ended"):
                why = "it was handed back to the assistant"
            return 409, {"error": f"Not sent: {why}.", "chat": current.as_json() if current else None}
        try:
            await self.rasa.append(sender_id, [staff_event(cleaned, chat.staff_name or "", username)])
        except RasaError as e:
            return 502, {"error": f"Not sent: the assistant could not be reached ({e}). Send it again."}
        await asyncio.to_thread(self._audit, username, "takeover_message", sender_id, {"chars": len(cleaned)},
                                ip, role)
        return 200, {"chat": chat.as_json()}

    async def end(self, sender_id: str, reason: str, username: str, role: str, ip: str) -> Tuple[int, Dict[str, Any]]:
        only = None if role == "admin" else username
        chat = await asyncio.to_thread(live_chat.begin_end, sender_id, reason, username, self.url, only)
        if chat is None:
            current = await asyncio.to_thread(live_chat.get, sender_id, self.url)
            return 409, {"error": "This conversation is not taken over by you (any more).",
                         "chat": current.as_json() if current else None}
        done = await self.finish(chat, ip=ip, role=role)
        if not done:
            return 502, {"error": "The assistant could not be reached; the hand-back is retried automatically "
                                  "in a few seconds.", "chat": chat.as_json()}
        fresh = await asyncio.to_thread(live_chat.get, sender_id, self.url)
        return 200, {"chat": fresh.as_json() if fresh else None}

    async def finish(self, chat: Chat, ip: str = "", role: str = "") -> bool:
        """Tell the Rasa server a live chat ended; mark it ended; audit it. False: retried later."""
        try:
            await self.rasa.append(chat.sender_id, end_events(chat))
            if chat.ended_reason == "unanswered":
                await self.rasa.execute(chat.sender_id, "callback_form")  # the callback form, as without live chat
        except RasaError as e:
            logger.error("Live chat of %s not ended yet (%s): retried shortly", chat.sender_id, e)
            return False
        await asyncio.to_thread(live_chat.finish_end, chat, self.url)
        detail: Dict[str, Any] = {"staff_name": chat.staff_name or "", "staff_user": chat.staff_user or ""}
        if chat.started_at and chat.ended_reason != "unanswered":
            detail["minutes"] = round((live_chat.utcnow() - chat.started_at).total_seconds() / 60, 1)
        await asyncio.to_thread(self._audit, chat.ended_by or "system", AUDIT_ACTIONS[chat.ended_reason or "failed"],
                                chat.sender_id, detail, ip, role if chat.ended_by != "system" else "")
        return True

    # --- the worker ----------------------------------------------------------------------
    def start_worker(self) -> None:
        self._task = asyncio.get_event_loop().create_task(self._work())

    async def stop_worker(self) -> None:
        self._stopping = True
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass

    async def run_due(self) -> int:
        chats = await asyncio.to_thread(live_chat.due, None, self.url)
        for chat in chats:
            await self.finish(chat)
        return len(chats)

    def purge(self) -> None:
        """Forget live chats, callback attempts and their notes past the retention period
        (``RETENTION_DAYS``), as the retention job does with conversations and callback requests."""
        from webapp.console import frontdesk

        days = settings.get_int("RETENTION_DAYS", minimum=1)
        live_chat.purge(live_chat.utcnow() - dt.timedelta(days=days), self.url)
        frontdesk.purge_orphans(self.url)

    async def _work(self) -> None:
        purged = 0.0
        while not self._stopping:
            try:
                await self.run_due()
                if time.monotonic() - purged > PURGE_SECONDS:
                    purged = time.monotonic()
                    await asyncio.to_thread(self.purge)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the database is down: try again next round
                logger.error("Live chat timeouts not checked (%s)", type(e).__name__)
            await asyncio.sleep(WORKER_SECONDS)


def _form(request: Request) -> Dict[str, str]:
    if request.form:
        return {k: (request.form.get(k) or "") for k in request.form}
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = request.json
        except Exception:
            data = None
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if isinstance(v, str)}
    return {}


def build_blueprint(state: Any, takeovers: Takeovers) -> Blueprint:
    bp = Blueprint("staff_takeover", url_prefix="/staff")

    def who(request: Request) -> Tuple[str, str, str]:
        return request.ctx.account.username, request.ctx.account.role, str(request.remote_addr or request.ip or "")

    def conversation_id(form: Dict[str, str]) -> str:
        return (form.get("id") or "")[:255]

    async def exists(sender_id: str) -> bool:
        hub = getattr(state, "live_hub", None)
        if hub is None:
            return bool(sender_id)
        return await asyncio.to_thread(hub.conversation_exists, sender_id)

    @bp.post("/takeover/start")
    async def takeover_start(request: Request):
        form = _form(request)
        sender_id = conversation_id(form)
        if not sender_id or not await exists(sender_id):
            return response.json({"error": "There is no such conversation."}, status=404)
        user, role, ip = who(request)
        status, body = await takeovers.start(sender_id, user, role, ip)
        return response.json(body, status=status)

    @bp.post("/takeover/send")
    async def takeover_send(request: Request):
        form = _form(request)
        user, role, ip = who(request)
        status, body = await takeovers.send(conversation_id(form), form.get("text") or "", user, role, ip)
        return response.json(body, status=status)

    @bp.post("/takeover/end")
    async def takeover_end(request: Request):
        form = _form(request)
        reason = "closed" if form.get("how") == "close" else "handed_back"
        user, role, ip = who(request)
        status, body = await takeovers.end(conversation_id(form), reason, user, role, ip)
        return response.json(body, status=status)

    @bp.post("/live/availability")
    async def availability(request: Request):
        form = _form(request)
        user, role, ip = who(request)
        available = form.get("available") in ("1", "on", "true", "yes")
        raw_name = (form.get("name") or "").strip()
        name = live_chat.clean_display_name(raw_name) if raw_name else None
        wants_json = "application/json" in request.headers.get("accept", "")
        if raw_name and name is None:
            error = "Write your first name as visitors should see it (letters only)."
            if wants_json:
                return response.json({"error": error}, status=400)
            return state.render(request, "error.html", status=400, title="Not changed", detail=error)
        presence = await asyncio.to_thread(live_chat.set_availability, user, available, name, state.clinic_url)
        await asyncio.to_thread(audit.record, user, "live_availability", f"account:{user}",
                                {"available": available, "name": presence.display_name}, ip=ip, role=role,
                                url=state.clinic_url)
        if wants_json:
            return response.json({"available": presence.available, "name": presence.display_name})
        back = form.get("back") or "/staff/conversations"
        if not back.startswith("/staff/") or back.startswith("//"):
            back = "/staff/conversations"
        return response.redirect(back, status=303)

    return bp
