"""The live console: conversations, crisis, hand-offs and callback requests appear on open
console pages without a reload.

Each web-app process runs one :class:`Hub`. While at least one console page is connected,
it looks at the shared databases once a second: new rows of Rasa's ``events`` table (the
tracker store, read-only), new callback requests and changed live chats (the clinic
database). What it finds goes to every connected page as Server-Sent Events
(``GET /staff/live/stream``): one connection per page, behind the console's sign-in like
every ``/staff`` path; a page whose session ends is told so and disconnected, and an open
page does not keep a session alive.

Why the shared databases and not Redis pub/sub or Rasa's event broker: every Rasa server
already writes each turn to the tracker store and every web app already reads it, so a
change stored by any Rasa server reaches the consoles of every web app, with no new
service, the same on one machine (SQLite) and in production (PostgreSQL); a console that
reconnects (to the same or another web app) asks for what it missed by the tracker's own
event ids; and a console can never slow the Rasa servers (the cost is one indexed query a
second per web-app process, whatever the number of pages). Redis pub/sub loses what is
published while a subscriber reconnects and does not exist in the one-machine profile;
Rasa's event broker would need Kafka or RabbitMQ, or a second copy of every event.

What a page receives (JSON in ``data:``):

``message``       a visitor, assistant or staff message of the conversation the page shows
``conversation``  a conversation's row for the list (first visitor message, flags, callback name)
``alert``         crisis / handoff / waiting / callback, with the conversation id only (no visitor
                  text, so a browser notification never shows health information)
``live``          a live chat's state changed (waiting, taken over, handed back)
``counts``        the numbers in the navigation
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, List, Optional, Set, Tuple

from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sqlalchemy import bindparam, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from clinic import live_chat, routing
from clinic.models import CallbackRequest, StaffSession, session_factory, utcnow
from webapp.console import audit, frontdesk
from webapp.console.conversations import ConversationFilter, Summary, _loads, read_only_engine, visitor_text

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
# Rows of another transaction may be committed after rows with higher ids (PostgreSQL):
# the events of the last GRACE seconds are looked at again (and skipped when already seen).
GRACE_SECONDS = 5.0
MAX_SUMMARIES = 5000
QUEUE_SIZE = 2000
COUNTS_SECONDS = 5.0
CRISIS_COUNT_SECONDS = 30.0
SUMMARY_TYPES = ("user", "bot", "slot", "active_loop")


def sse(event: Dict[str, Any], event_id: Optional[int] = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return head + "data: " + json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n\n"


@dataclass(eq=False)
class Subscriber:
    username: str
    conversation: Optional[str]
    queue: "asyncio.Queue[Dict[str, Any]]" = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: bool = False

    def offer(self, event: Dict[str, Any]) -> None:
        if event.get("type") == "message" and event.get("sender") != self.conversation:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:  # a page that stopped reading: it reloads what it missed
            self.overflowed = True


class Hub:
    """Polls the shared databases and fans what changed out to this process's console pages."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self.subscribers: Set[Subscriber] = set()
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.stopping = False
        self._task: Optional[asyncio.Task] = None
        self._engine: Optional[Engine] = None
        self._lock = threading.Lock()
        # tracker store
        self._cursor: Optional[int] = None
        self._marks: Deque[Tuple[float, int]] = collections.deque()
        self._seen: Dict[int, float] = {}
        self._summaries: "collections.OrderedDict[str, Summary]" = collections.OrderedDict()
        self._alerted: Dict[Tuple[str, str], float] = {}
        # clinic database
        self._callback_cursor: Optional[int] = None
        self._callbacks_seen: Set[int] = set()
        self._live_since: Optional[dt.datetime] = None
        self._live_versions: Dict[str, int] = {}
        # navigation counts
        self.counts: Dict[str, int] = {}
        self._counts_at = 0.0
        self._crisis_at = 0.0

    # --- lifecycle --------------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._task = loop.create_task(self._run())

    async def stop(self) -> None:
        self.stopping = True
        for sub in list(self.subscribers):
            sub.offer({"type": "bye"})
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass

    def subscribe(self, username: str, conversation: Optional[str]) -> Subscriber:
        sub = Subscriber(username, conversation)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def publish(self, event: Dict[str, Any]) -> None:
        for sub in list(self.subscribers):
            sub.offer(event)

    async def _run(self) -> None:
        while not self.stopping:
            started = time.monotonic()
            if self.subscribers:
                try:
                    for event in await asyncio.to_thread(self.poll):
                        self.publish(event)
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # a store is down: the pages keep what they have
                    logger.error("Live console: could not read the stores (%s)", type(e).__name__)
            else:
                self._cursor = None  # nobody watching: start from "now" when someone is again
                self._callback_cursor = None
                self._live_since = None
            await asyncio.sleep(max(0.05, POLL_SECONDS - (time.monotonic() - started)))

    # --- the tracker store --------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = read_only_engine(self.state.reader.url)
        return self._engine

    def _rows(self, sql: str, **params: Any) -> List[Tuple]:
        stmt = text(sql)
        if "ids" in params:
            stmt = stmt.bindparams(bindparam("ids", expanding=True))
        try:
            with self.engine.connect() as conn:
                return list(conn.execute(stmt, params))
        except SQLAlchemyError as e:
            message = str(e).lower()
            if "no such table" in message or "does not exist" in message or "unable to open" in message:
                return []  # Rasa has stored nothing yet
            raise

    def conversation_exists(self, sender_id: str) -> bool:
        return bool(self._rows("SELECT 1 FROM events WHERE sender_id = :s LIMIT 1", s=sender_id))

    def messages(self, sender_id: str, after: int = 0) -> List[Dict[str, Any]]:
        """The messages of one conversation after tracker event ``after`` (a page that reconnected)."""
        rows = self._rows("SELECT id, sender_id, type_name, timestamp, intent_name, data FROM events "
                          "WHERE sender_id = :s AND id > :after ORDER BY id", s=sender_id, after=after)
        buttons: Dict[str, str] = {}
        if after and rows:
            last_bot = self._rows("SELECT data FROM events WHERE sender_id = :s AND id <= :after AND "
                                  "type_name = 'bot' ORDER BY id DESC LIMIT 1", s=sender_id, after=after)
            buttons = _buttons(_loads(last_bot[0][0])) if last_bot else {}
        out = []
        for event_id, _s, type_name, ts, intent, raw in rows:
            if type_name in ("user", "bot"):
                data = _loads(raw)
                message = _message(sender_id, int(event_id), type_name, ts, intent, data, buttons)
                if type_name == "bot":
                    buttons = _buttons(data)
                out.append(message)
        return out

    def _summary(self, sender_id: str, before_id: int) -> Tuple[Summary, bool]:
        """This conversation's summary up to (not including) event ``before_id``; True when new to the hub."""
        summary = self._summaries.get(sender_id)
        if summary is not None:
            self._summaries.move_to_end(sender_id)
            return summary, False
        summary = Summary(sender_id)
        now = time.monotonic()
        for event_id, type_name, ts, intent, raw in self._rows(
                "SELECT id, type_name, timestamp, intent_name, data FROM events WHERE sender_id = :s AND id < :b "
                "ORDER BY id", s=sender_id, b=before_id):
            summary.add(type_name, ts, intent, _loads(raw) if type_name in SUMMARY_TYPES else {})
            self._seen[int(event_id)] = now  # counted now: not again when the poll reaches it
        self._summaries[sender_id] = summary
        while len(self._summaries) > MAX_SUMMARIES:
            self._summaries.popitem(last=False)
        return summary, True

    def _poll_tracker(self, now: float) -> List[Dict[str, Any]]:
        if self._cursor is None:
            highest = self._rows("SELECT MAX(id) FROM events")
            self._cursor = int(highest[0][0] or 0) if highest else 0
            self._marks = collections.deque([(now, self._cursor)])
            self._seen = {}
            return []
        floor = self._cursor
        for at, mark in self._marks:
            if at <= now - GRACE_SECONDS:
                floor = mark
        ids = [int(i) for i, in self._rows("SELECT id FROM events WHERE id > :f ORDER BY id LIMIT 5000", f=floor)]
        new = [i for i in ids if i not in self._seen]
        events: List[Dict[str, Any]] = []
        if new:
            rows = self._rows("SELECT id, sender_id, type_name, timestamp, intent_name, data FROM events "
                              "WHERE id IN :ids ORDER BY id", ids=new)
            changed: Dict[str, Summary] = {}
            fresh: Set[str] = set()
            for event_id, sender_id, type_name, ts, intent, raw in rows:
                if int(event_id) in self._seen:  # counted when its conversation's summary was read
                    continue
                self._seen[int(event_id)] = now
                summary, _ = self._summary(sender_id, int(event_id))
                had_users, was_crisis = summary.user_messages, summary.crisis
                buttons = dict(summary.buttons)
                data = _loads(raw) if type_name in SUMMARY_TYPES else {}
                summary.add(type_name, ts, intent, data)
                if type_name in ("user", "bot"):
                    events.append(_message(sender_id, int(event_id), type_name, ts, intent, data, buttons))
                if summary.user_messages and not had_users:
                    fresh.add(sender_id)  # its first visitor message: a new conversation
                changed[sender_id] = summary
                if summary.crisis and not was_crisis:
                    events += self._alert("crisis", sender_id)
                if type_name == "bot":
                    content_id = (data.get("metadata") or {}).get("content_id")
                    if content_id in _handoff_ids():
                        events += self._alert("handoff", sender_id)
            for sender_id, summary in changed.items():
                if summary.user_messages:
                    events.append(self._row(summary, new_conversation=sender_id in fresh))
        self._cursor = max([self._cursor] + ids)
        self._marks.append((now, self._cursor))
        while len(self._marks) > 1 and self._marks[1][0] <= now - GRACE_SECONDS:
            self._marks.popleft()
        self._seen = {i: at for i, at in self._seen.items() if i > floor}
        return events

    def _alert(self, kind: str, sender_id: str, **extra: Any) -> List[Dict[str, Any]]:
        key, now = (kind, sender_id), time.monotonic()
        if now - self._alerted.get(key, -1e9) < 60:
            return []  # one alert a minute per conversation and kind
        self._alerted[key] = now
        if len(self._alerted) > 10000:
            self._alerted = {k: v for k, v in self._alerted.items() if now - v < 60}
        self._counts_at = 0.0  # counts may have changed
        if kind == "crisis":
            self._crisis_at = 0.0
        return [{"type": "alert", "kind": kind, "sender": sender_id, "at": time.time(), **extra}]

    def _row(self, s: Summary, new_conversation: bool) -> Dict[str, Any]:
        callback = frontdesk.callbacks_by_conversation(self.state.clinic_url).get(s.sender_id)
        has_callback = s.callback_slot or callback is not None
        flags = frontdesk.flags_of(s.content_ids, has_callback)
        flags.update({"crisis": s.crisis, "callback": has_callback, "fallback": s.fallback})
        return {"type": "conversation", "sender": s.sender_id, "new": new_conversation, "first_ts": s.first_ts,
                "last_ts": s.last_ts, "last": self.state.fmt_ts(s.last_ts), "preview": s.preview,
                "user_messages": s.user_messages, "flags": flags,
                "callback_name": callback.name if callback else ""}

    # --- the clinic database ------------------------------------------------------------
    def _poll_clinic(self) -> List[Dict[str, Any]]:
        url = self.state.clinic_url
        events: List[Dict[str, Any]] = []
        with session_factory(url)() as s:
            first_look = self._callback_cursor is None
            floor = max(0, (self._callback_cursor or 0) - 50)  # requests committed late, out of id order
            rows = (s.query(CallbackRequest.id, CallbackRequest.conversation_id, CallbackRequest.crisis)
                    .filter(CallbackRequest.id > floor).order_by(CallbackRequest.id).all())
        for rid, conversation, crisis in rows:
            if rid in self._callbacks_seen:
                continue
            self._callbacks_seen.add(rid)
            if not first_look:
                events += self._alert("callback", conversation, crisis=bool(crisis))
        cursor = max([self._callback_cursor or 0] + [int(r[0]) for r in rows])
        self._callback_cursor = cursor
        self._callbacks_seen = {i for i in self._callbacks_seen if i > cursor - 50}
        now = utcnow()
        since = (self._live_since or now) - dt.timedelta(seconds=GRACE_SECONDS)
        first = self._live_since is None
        self._live_since = now
        for chat in live_chat.changed_since(since, url):
            if self._live_versions.get(chat.sender_id) == chat.version:
                continue
            self._live_versions[chat.sender_id] = chat.version
            if first:
                continue
            events.append({"type": "live", "chat": chat.as_json()})
            if chat.state == "waiting":
                events += self._alert("waiting", chat.sender_id)
            self._counts_at = 0.0
        if len(self._live_versions) > 10000:
            self._live_versions = {}
        return events

    def compute_counts(self, force_crisis: bool = False) -> Dict[str, int]:
        url = self.state.clinic_url
        chats = live_chat.counts(url)
        with session_factory(url)() as s:
            new_callbacks = s.query(CallbackRequest).filter(CallbackRequest.status == "new").count()
        counts = {"waiting": chats.get("waiting", 0), "active": chats.get("active", 0), "callbacks": new_callbacks,
                  "crisis": self.counts.get("crisis", 0)}
        now = time.monotonic()
        if force_crisis or now - self._crisis_at > CRISIS_COUNT_SECONDS:
            self._crisis_at = now
            counts["crisis"] = self.crisis_count()
        return counts

    def crisis_count(self) -> int:
        """Crisis conversations not yet reviewed (as the list's banner counts them)."""
        from webapp.console.views import _reviews  # the list's own way of reading reviews

        rows = self.state.reader.search(ConversationFilter(crisis=True, status="new"), set(),
                                        _reviews(self.state.clinic_url))
        return len(rows)

    def poll(self) -> List[Dict[str, Any]]:
        with self._lock:
            now = time.monotonic()
            events = self._poll_tracker(now) + self._poll_clinic()
            if now - self._counts_at > COUNTS_SECONDS:
                self._counts_at = now
                counts = self.compute_counts()
                if counts != self.counts:
                    self.counts = counts
                    events.append({"type": "counts", "counts": counts})
            return events

    def hello(self, username: str) -> Dict[str, Any]:
        """What a page gets when it connects: counts, open live chats, the staff member's availability."""
        with self._lock:
            if not self.counts:
                self.counts = self.compute_counts(force_crisis=True)
            counts = dict(self.counts)
        presence = live_chat.presence_of(username, self.state.clinic_url)
        config = live_chat.staffing()
        return {"type": "hello", "counts": counts, "chats": [c.as_json() for c in live_chat.open_chats(
                    self.state.clinic_url)],
                "me": {"username": username, "name": presence.display_name, "available": presence.available},
                "open_now": config.enabled and config.is_open(),
                "hand_back_seconds": config.hand_back_after.total_seconds(),
                "max_message_chars": config.max_message_chars}


def _handoff_ids() -> Set[str]:
    ids = {r.content for r in routing.current().handoffs()}
    ids.add(live_chat.OFFER)
    return ids


def _buttons(data: Dict[str, Any]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for b in ((data.get("data") or {}).get("buttons") or []):
        if isinstance(b, dict) and isinstance(b.get("payload"), str) and b.get("title"):
            out[b["payload"]] = str(b["title"])
    return out


def _message(sender_id: str, event_id: int, type_name: str, ts: Optional[float], intent: Optional[str],
             data: Dict[str, Any], buttons: Dict[str, str]) -> Dict[str, Any]:
    out: Dict[str, Any] = {"type": "message", "sender": sender_id, "event_id": event_id, "ts": ts}
    if type_name == "user":
        parse = (data.get("parse_data") or {}).get("intent") or {}
        sent = str(data.get("text") or "")
        title = visitor_text(sent, buttons) if sent.startswith("/") else None
        confidence = parse.get("confidence")
        out.update(kind="user", text=title or sent, payload=sent if title else "",
                   intent=str(intent or parse.get("name") or ""),
                   confidence=float(confidence) if isinstance(confidence, (int, float)) else None)
    else:
        meta = data.get("metadata") or {}
        content_id = str(meta.get("content_id") or "")
        version = meta.get("content_version")
        out.update(kind="staff" if content_id == live_chat.STAFF_MESSAGE else "bot", text=str(data.get("text") or ""),
                   content_id=content_id, content_version=version if isinstance(version, int) else None,
                   staff_name=str(meta.get("staff_name") or ""),
                   buttons=[str(b.get("title", "")) for b in ((data.get("data") or {}).get("buttons") or [])
                            if isinstance(b, dict)])
    return out


# --- routes ----------------------------------------------------------------------------

def _session_still_valid(state: Any, session_id: str) -> bool:
    """The page's session is still signed in (without extending it, as a request would)."""
    config = state.auth.config
    now = utcnow()
    with session_factory(state.clinic_url)() as s:
        row = s.get(StaffSession, session_id)
        return bool(row and now - row.last_seen_at <= config.idle and now - row.created_at <= config.max_age)


def build_blueprint(state: Any, hub: Hub) -> Blueprint:
    bp = Blueprint("staff_live", url_prefix="/staff/live")

    @bp.get("/stream")
    async def stream(request: Request):
        username = request.ctx.account.username
        session_id = request.ctx.staff_session.id
        conversation = (request.args.get("conversation") or "")[:255] or None
        if conversation:
            await asyncio.to_thread(audit.record, username, "conversation_live_view", f"conversation:{conversation}",
                                    {}, ip=str(request.remote_addr or request.ip or ""),
                                    role=request.ctx.account.role, url=state.clinic_url)
        sub = hub.subscribe(username, conversation)
        resp = await request.respond(content_type="text/event-stream; charset=utf-8",
                                     headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        try:
            await asyncio.to_thread(live_chat.heartbeat, username, state.clinic_url)
            await resp.send("retry: 3000\n\n")
            await resp.send(sse(await asyncio.to_thread(hub.hello, username)))
            checked = time.monotonic()
            while not hub.stopping and not sub.overflowed:
                try:
                    event: Optional[Dict[str, Any]] = await asyncio.wait_for(sub.queue.get(), HEARTBEAT_SECONDS)
                except asyncio.TimeoutError:
                    event = None
                if time.monotonic() - checked >= HEARTBEAT_SECONDS:
                    checked = time.monotonic()
                    if not await asyncio.to_thread(_session_still_valid, state, session_id):
                        await resp.send(sse({"type": "signed_out"}))
                        break
                    await asyncio.to_thread(live_chat.heartbeat, username, state.clinic_url)
                if event is None:
                    await resp.send(": ping\n\n")
                elif event.get("type") == "bye":
                    break
                else:
                    await resp.send(sse(event))
            if sub.overflowed:
                await resp.send(sse({"type": "resync"}))
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception as e:  # the page went away mid-write, a store failed: the page reconnects
            logger.debug("Live stream ended: %s", type(e).__name__)
        finally:
            hub.unsubscribe(sub)
        try:
            await resp.eof()
        except Exception:
            pass
        return None

    @bp.get("/messages")
    async def messages(request: Request):
        sender_id = (request.args.get("id") or "")[:255]
        try:
            after = max(0, int(request.args.get("after") or 0))
        except ValueError:
            return response.json({"error": "after must be a tracker event id"}, status=400)
        if not sender_id:
            return response.json({"error": "id is required"}, status=400)
        items = await asyncio.to_thread(hub.messages, sender_id, after)
        chat = await asyncio.to_thread(live_chat.get, sender_id, state.clinic_url)
        return response.json({"messages": items, "chat": chat.as_json() if chat else None})

    @bp.get("/state")
    async def live_state(request: Request):
        return response.json(await asyncio.to_thread(hub.hello, request.ctx.account.username))

    return bp


def register(app: Sanic, state: Any) -> None:
    """The live console, the takeover routes, the front-desk routes and their template helpers."""
    from webapp.console import takeover

    hub = Hub(state)
    takeovers = takeover.Takeovers(state)
    state.live_hub = hub
    state.takeovers = takeovers
    app.blueprint(build_blueprint(state, hub))
    app.blueprint(takeover.build_blueprint(state, takeovers))
    app.blueprint(frontdesk.build_blueprint(state))
    frontdesk.install(state)
    env = state.env
    env.globals["live_chat_of"] = lambda sender_id: live_chat.get(sender_id, state.clinic_url)
    env.globals["live_presence"] = lambda username: live_chat.presence_of(username, state.clinic_url)
    env.globals["live_staffing"] = live_chat.staffing
    env.globals["live_counts"] = lambda: dict(hub.counts)
    for action in takeover.ACTIONS + ("callback_attempt", "callback_assign", "conversation_live_view"):
        if action not in audit.ACTIONS:
            audit.ACTIONS = (*audit.ACTIONS, action)  # type: ignore[assignment]  # the audit page's filter

    @app.listener("after_server_start")
    async def start_live(app_: Sanic, loop: asyncio.AbstractEventLoop) -> None:
        hub.start(loop)
        takeovers.start_worker()

    @app.listener("before_server_stop")
    async def stop_live(app_: Sanic, loop: asyncio.AbstractEventLoop) -> None:
        await hub.stop()
        await takeovers.stop_worker()
