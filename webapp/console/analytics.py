"""How the assistant is doing: figures per day and per week, for the console's analytics page.

Where the figures come from (measured, docs/ANALYTICS.md): **queries on the
tracker store**, read-only, from the web app's process, not Rasa's event
broker. Rasa's SQL event broker publishes inside the Rasa server's event loop,
one blocking commit per event, after reading the whole conversation back
(``TrackerStore.stream_events``): it made every save of a turn several times
slower, and Kafka or RabbitMQ would add a service and a consumer to run. The
tracker store already holds every event of every Rasa server (several Rasa
servers must share it anyway), so reading it costs the Rasa servers nothing but
a reader beside their writer (WAL on SQLite, a read-only transaction on
PostgreSQL).

The reader is incremental (:class:`EventScanner`): Rasa only appends events, so
each look reads the rows added since the last one (by id) and folds them into
one small record per conversation; the page then adds up those records. Rows
committed out of id order (several Rasa servers on PostgreSQL) are picked up
from the gaps they leave; rows deleted (retention) make it start again.

Every figure is defined in one sentence in docs/ANALYTICS.md; the code below
follows those sentences and nothing else.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Sequence, Tuple, TypeVar

from sanic import Blueprint, response
from sanic.request import Request
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from clinic import routing, settings
from clinic.models import AuditEntry, CallbackRequest, session_factory
from webapp.console import audit, charts, export
from webapp.console.conversations import read_only_engine, tracker_db_url
from webapp.console.scrub import scrub

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Slots the conversation flags come from (domain.yml).
CRISIS_SLOT = "crisis_flag"
CALLBACK_SLOT = "callback_requested"
# Content ids of the live takeover (clinic/live_chat.py): a staff member joined or wrote
# (a person is involved), and the offer of a live chat (an offer of a person).
STAFF_CONTENT = frozenset({"staff_message", "live_chat_joined"})
PERSON_OFFERS = frozenset({"live_chat_offer"})
FALLBACK_INTENTS = frozenset({"nlu_fallback", "out_of_scope"})
# Event types the figures need; the data of other rows is not even fetched.
WITH_DATA = ("user", "bot", "slot", "active_loop")
MAX_RANGE_DAYS = 800
TOP_N = 20
# A row id missing below the highest one seen is looked for again this long
# (a transaction of another Rasa server still committing), then forgotten.
GAP_SECONDS = 600.0
MAX_GAPS = 5000
CHUNK = 20_000
COUNT_SECONDS = 60.0


def setting(name: str, default: str) -> str:
    """A setting of this module (clinic.settings lists it with its default)."""
    return settings.get(name) or default


def idle_seconds() -> float:
    """A conversation with no event for this long is over (Rasa's session expiry, domain.yml: 60 min)."""
    try:
        return max(1.0, float(setting("ANALYTICS_IDLE_MINUTES", "60"))) * 60.0
    except ValueError:
        return 3600.0


def low_confidence() -> float:
    """Below this intent confidence a message goes to the learning inbox."""
    try:
        return float(setting("INBOX_LOW_CONFIDENCE", "0.6"))
    except ValueError:
        return 0.6


# --- what the content ids mean (the routing table) ---------------------------------

@dataclass(frozen=True)
class Roles:
    """The content ids each figure looks for, read from content/routing.yml."""

    topics: Tuple[str, ...]
    handoff: FrozenSet[str]
    not_understood: FrozenSet[str]
    repeat: str
    crisis: str
    not_a_turn: FrozenSet[str]

    @property
    def abandon_after(self) -> FrozenSet[str]:
        """Leaving right after one of these is abandonment: not understood, or offered a person."""
        return self.not_understood | self.handoff | {self.repeat} | PERSON_OFFERS

    @classmethod
    def current(cls) -> "Roles":
        table = routing.current()
        topics = tuple(dict.fromkeys(r.content for r in table if r.category == "article_topic"))
        return cls(topics=topics,
                   handoff=frozenset(r.content for r in table.handoffs()),
                   not_understood=frozenset(table.not_understood),
                   repeat=table.repeat_content,
                   crisis=table.content_for("crisis"),
                   not_a_turn=frozenset(table.not_a_turn))


# --- one record per conversation ------------------------------------------------------

@dataclass(eq=False)
class Message:
    """A visitor's message and the assistant's first reply to it."""

    sender_id: str
    ts: float
    text: str
    intent: str
    confidence: Optional[float]
    reply: str = ""
    unanswered: bool = False  # the reply was "not understood" (fallback, out of scope)
    in_inbox: bool = False


@dataclass(eq=False)
class Conversation:
    """One Rasa session of one sender, from its session start to the next one."""

    sender_id: str
    started: float = 0.0  # the first visitor message (0: none yet, not a conversation)
    last: float = 0.0  # the latest event of any kind
    visitor_messages: int = 0
    shown: Counter = field(default_factory=Counter)  # content id -> times shown
    crisis: bool = False
    handoff: bool = False
    fallback: bool = False
    callback: bool = False
    staff: bool = False
    last_bot: str = ""  # content id of the assistant's latest message
    visitor_last: bool = False  # the visitor wrote after the assistant's latest message
    closed: bool = False  # a later session of the same sender began
    in_form: bool = False
    pending: Optional[Message] = None
    unanswered: List[Message] = field(default_factory=list)

    @property
    def contained(self) -> bool:
        return not (self.handoff or self.crisis or self.callback or self.staff)

    def ended(self, now: float, idle: float) -> bool:
        return self.closed or now - self.last >= idle

    def abandoned(self, roles: Roles, now: float, idle: float) -> bool:
        return (self.ended(now, idle) and not self.visitor_last and self.last_bot in roles.abandon_after)


def _loads(raw: Optional[str]) -> Dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class EventScanner:
    """Every conversation of one tracker store, kept up to date incrementally. Thread-safe."""

    def __init__(self, url: Optional[str] = None, roles: Optional[Roles] = None) -> None:
        self.url = url or tracker_db_url()
        self._roles = roles
        self._engine: Optional[Engine] = None
        self._lock = threading.RLock()
        self.rebuilds = 0  # full readings after rows were deleted
        self._counted_at = -COUNT_SECONDS
        self._reset()

    def _reset(self) -> None:
        self.conversations: List[Conversation] = []
        self.messages: List[Message] = []  # inbox candidates, in order
        self._open: Dict[str, Conversation] = {}
        self._max_id = 0
        self._min_id: Optional[int] = None
        self._processed = 0
        self._gaps: Dict[int, float] = {}  # missing id -> when first missed
        # Conversations by the UTC day they started (epoch // 86400), a change counter per such
        # day, and the figures of finished clinic days (see _tally_day).
        self._by_day: Dict[int, List[Conversation]] = {}
        self._versions: Dict[int, int] = {}
        self._day_cache: Dict[Tuple[str, dt.date], "DayTally"] = {}

    @property
    def roles(self) -> Roles:
        if self._roles is None:
            self._roles = Roles.current()
        return self._roles

    def _conn_engine(self) -> Engine:
        if self._engine is None:
            self._engine = read_only_engine(self.url)
        return self._engine

    def _query(self, sql: str, **params: Any) -> List[Tuple]:
        try:
            with self._conn_engine().connect() as conn:
                return list(conn.execute(text(sql), params))
        except SQLAlchemyError as e:
            message = str(e).lower()
            if "no such table" in message or "unable to open database" in message or "does not exist" in message:
                return []  # Rasa has not stored a conversation yet
            raise

    _SELECT = ("SELECT id, sender_id, type_name, timestamp, intent_name, "
               "CASE WHEN type_name IN ('user', 'bot', 'slot', 'active_loop') THEN data END FROM events ")

    def refresh(self) -> None:
        """Fold in the rows added since the last look (or read everything again when rows went away)."""
        with self._lock:
            late = self._late_rows()
            for row in late:
                self._apply(row)
            self._processed += len(late)
            self._read_new()
            # MIN(id) is one index lookup; COUNT(*) reads the whole index (35 ms for a year), so it
            # runs at most every COUNT_SECONDS: retention deletes the oldest rows, which MIN(id) sees.
            counting = time.monotonic() - self._counted_at >= COUNT_SECONDS
            stats = self._query("SELECT COUNT(*), MIN(id) FROM events" if counting else "SELECT -1, MIN(id) FROM events")
            count, min_id = (int(stats[0][0] if stats[0][0] is not None else 0), stats[0][1]) if stats else (0, None)
            if counting:
                self._counted_at = time.monotonic()
            if self._processed and ((counting and count < self._processed) or (
                    min_id is not None and self._min_id is not None and min_id != self._min_id)):
                logger.info("Tracker store rows were deleted: reading every conversation again")
                self._reset()
                self.rebuilds += 1
                self._read_new()
            if self._min_id is None and self._processed:
                self._min_id = min_id

    def _read_new(self) -> None:
        """Apply the rows above the highest id seen, a chunk at a time (a year is ~300,000 rows)."""
        while True:
            rows = self._query(self._SELECT + "WHERE id > :after ORDER BY id LIMIT :n", after=self._max_id, n=CHUNK)
            self._note_gaps(rows)
            for row in rows:
                self._apply(row)
            self._processed += len(rows)
            if len(rows) < CHUNK:
                return

    def _late_rows(self) -> List[Tuple]:
        if not self._gaps:
            return []
        now = time.monotonic()
        for gap, since in list(self._gaps.items()):
            if now - since > GAP_SECONDS:
                del self._gaps[gap]
        found: List[Tuple] = []
        ids = sorted(self._gaps)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            found += self._query(self._SELECT + "WHERE id IN (" + ",".join(str(int(i)) for i in chunk) + ")")
        for row in found:
            self._gaps.pop(int(row[0]), None)
        return found

    def _note_gaps(self, rows: Sequence[Tuple]) -> None:
        """Remember ids missing just below recent rows: another server's turn may still be committing.

        Holes below old rows are deleted rows (retention), never filled: not remembered.
        """
        previous = self._max_id
        now, recent = time.monotonic(), time.time() - GAP_SECONDS
        for row in rows:
            event_id = int(row[0])
            if event_id <= previous:
                continue
            if previous and event_id - previous > 1 and (row[3] or 0) > recent:
                for missing in range(previous + 1, min(event_id, previous + 1 + 1000)):
                    if len(self._gaps) >= MAX_GAPS:
                        break
                    self._gaps.setdefault(missing, now)
            previous = event_id
        self._max_id = max(self._max_id, previous)

    def _touch(self, conv: Conversation) -> None:
        """The figures of the day ``conv`` started on must be counted again."""
        day = int(conv.started // 86400)
        self._versions[day] = self._versions.get(day, 0) + 1

    def _apply(self, row: Tuple) -> None:
        _id, sender, type_name, ts, intent_name, raw = row
        conv = self._open.get(sender)
        if type_name == "session_started":
            if conv is not None and conv.started:
                conv.closed = True
                self._touch(conv)
            self._open[sender] = Conversation(sender, last=float(ts or 0))
            return
        if conv is None:
            conv = self._open[sender] = Conversation(sender)
        self._fold(conv, type_name, ts, intent_name, raw)
        if conv.started:
            self._touch(conv)

    def _fold(self, conv: Conversation, type_name: str, ts: Optional[float], intent_name: Optional[str],
              raw: Optional[str]) -> None:
        roles = self.roles
        sender = conv.sender_id
        if ts is not None:
            conv.last = max(conv.last, float(ts))
        if type_name not in WITH_DATA:
            return
        data = _loads(raw)
        if type_name == "user":
            if not conv.started:
                conv.started = float(ts or 0)
                self.conversations.append(conv)
                self._by_day.setdefault(int(conv.started // 86400), []).append(conv)
            conv.visitor_messages += 1
            conv.visitor_last = True
            message_text = str(data.get("text") or "")
            intent = ((data.get("parse_data") or {}).get("intent") or {})
            confidence = intent.get("confidence")
            conv.pending = None
            # A form's answers (a name, an e-mail address) and button payloads are not questions.
            if message_text and not conv.in_form and not message_text.startswith("/"):
                msg = Message(sender, float(ts or 0), message_text, str(intent_name or intent.get("name") or ""),
                              float(confidence) if isinstance(confidence, (int, float)) else None)
                conv.pending = msg
                if msg.intent in FALLBACK_INTENTS or (msg.confidence is not None
                                                      and msg.confidence < low_confidence()):
                    msg.in_inbox = True
                    self.messages.append(msg)
        elif type_name == "bot":
            content_id = str((data.get("metadata") or {}).get("content_id") or "")
            if not content_id or content_id in roles.not_a_turn:
                return
            conv.shown[content_id] += 1
            conv.last_bot = content_id
            conv.visitor_last = False
            if content_id == roles.crisis:
                conv.crisis = True
            if content_id in roles.handoff or content_id in STAFF_CONTENT:
                conv.handoff = True
            if content_id in STAFF_CONTENT:
                conv.staff = True
            if content_id in roles.not_understood:
                conv.fallback = True
            pending = conv.pending
            if pending is not None and not pending.reply:
                pending.reply = content_id
                if content_id in roles.not_understood:
                    pending.unanswered = True
                    conv.unanswered.append(pending)
                    if not pending.in_inbox:
                        pending.in_inbox = True
                        self.messages.append(pending)
        elif type_name == "slot":
            if data.get("value") is True and data.get("name") == CRISIS_SLOT:
                conv.crisis = True
            elif data.get("value") is True and data.get("name") == CALLBACK_SLOT:
                conv.callback = True
                conv.handoff = True
        elif type_name == "active_loop":
            conv.in_form = bool(data.get("name"))

    def read(self, fn: Callable[["EventScanner"], T]) -> T:
        """``fn(self)`` on an up-to-date, unchanging view (the scanner is locked meanwhile)."""
        with self._lock:
            self.refresh()
            return fn(self)


_scanners: Dict[str, EventScanner] = {}
_scanners_lock = threading.Lock()


def scanner_for(url: Optional[str] = None) -> EventScanner:
    """The process's scanner of a tracker store: the analytics page and the inbox share it."""
    url = url or tracker_db_url()
    with _scanners_lock:
        if url not in _scanners:
            _scanners[url] = EventScanner(url)
        return _scanners[url]


# --- the figures ------------------------------------------------------------------------

@dataclass
class Figures:
    """The figures of one day, one week, or the whole range."""

    label: str
    start: dt.date
    conversations: int = 0
    visitor_messages: int = 0
    contained: int = 0
    handoff: int = 0
    fallback: int = 0
    crisis: int = 0
    abandoned: int = 0
    callbacks_requested: int = 0
    callbacks_contacted: int = 0
    first_contact_seconds: List[float] = field(default_factory=list)

    def _rate(self, count: int) -> Optional[float]:
        return count / self.conversations if self.conversations else None

    @property
    def containment(self) -> Optional[float]:
        return self._rate(self.contained)

    @property
    def handoff_rate(self) -> Optional[float]:
        return self._rate(self.handoff)

    @property
    def fallback_rate(self) -> Optional[float]:
        return self._rate(self.fallback)

    @property
    def crisis_rate(self) -> Optional[float]:
        return self._rate(self.crisis)

    @property
    def abandonment(self) -> Optional[float]:
        return self._rate(self.abandoned)

    @property
    def median_first_contact(self) -> Optional[float]:
        """Seconds from a callback request to its first contact (median), None without contacts."""
        return statistics.median(self.first_contact_seconds) if self.first_contact_seconds else None


@dataclass
class TopicCount:
    content_id: str
    conversations: int
    shown: int


@dataclass
class Unanswered:
    text: str  # scrubbed: no names, phone numbers or e-mail addresses
    messages: int
    conversations: int


@dataclass
class Report:
    start: dt.date
    end: dt.date  # inclusive
    by: str  # "day" or "week"
    buckets: List[Figures]
    total: Figures
    topics: List[TopicCount]
    unanswered: List[Unanswered]
    seconds: float = 0.0  # time taken to compute


def bucket_start(day: dt.date, by: str) -> dt.date:
    return day - dt.timedelta(days=day.weekday()) if by == "week" else day


def bucket_label(start: dt.date, by: str) -> str:
    if by == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d} ({start:%b} {start.day})"
    return start.isoformat()


def _day_bounds(start: dt.date, end: dt.date, tz: dt.tzinfo) -> Tuple[float, float]:
    """Epoch seconds of the start of ``start`` and of the day after ``end``, clinic time."""
    first = dt.datetime(start.year, start.month, start.day, tzinfo=tz)
    after = end + dt.timedelta(days=1)
    last = dt.datetime(after.year, after.month, after.day, tzinfo=tz)
    return first.timestamp(), last.timestamp()


def normalise(message: str) -> str:
    """The form two messages share when they are "the same question": case, spacing and end punctuation."""
    return " ".join(re.sub(r"[^\w'\s]+", " ", message.casefold()).split())


COUNTS = ("conversations", "visitor_messages", "contained", "handoff", "fallback", "crisis", "abandoned")


@dataclass
class DayTally:
    """One clinic day's conversation figures; kept while none of its conversations changes."""

    counts: List[int]  # in the order of COUNTS
    topic_convs: Counter
    topic_shown: Counter
    unanswered: Dict[str, List[Any]]  # normalised text -> [Counter of raw forms, messages, conversations]
    versions: Tuple[int, ...] = ()


def _tally_day(s: "EventScanner", day: dt.date, tz: dt.tzinfo, now: float, idle: float) -> DayTally:
    """The figures of the conversations that started on ``day``: from the cache when that day is over
    (every conversation in it ended) and nothing in it changed since, else counted afresh."""
    lo, hi = _day_bounds(day, day, tz)
    utc_days = range(int(lo // 86400), int((hi - 1) // 86400) + 1)
    versions = tuple(s._versions.get(u, 0) for u in utc_days)
    key = (getattr(tz, "key", str(tz)), day)
    cached = s._day_cache.get(key)
    if cached is not None and cached.versions == versions:
        return cached
    roles = s.roles
    topic_set = frozenset(roles.topics)
    abandon_after = roles.abandon_after
    t = DayTally([0] * len(COUNTS), Counter(), Counter(), {}, versions)
    over = True
    for u in utc_days:
        for conv in s._by_day.get(u, ()):
            if not lo <= conv.started < hi:
                continue
            ended = conv.ended(now, idle)
            over = over and ended
            c = t.counts
            c[0] += 1
            c[1] += conv.visitor_messages
            c[2] += conv.contained
            c[3] += conv.handoff
            c[4] += conv.fallback
            c[5] += conv.crisis
            c[6] += ended and not conv.visitor_last and conv.last_bot in abandon_after
            for content_id, times in conv.shown.items():
                if content_id in topic_set:
                    t.topic_convs[content_id] += 1
                    t.topic_shown[content_id] += times
            seen_here = set()
            for msg in conv.unanswered:
                norm = normalise(msg.text)
                if not norm:
                    continue
                entry = t.unanswered.setdefault(norm, [Counter(), 0, 0])
                entry[0][msg.text] += 1
                entry[1] += 1
                if norm not in seen_here:
                    entry[2] += 1
                    seen_here.add(norm)
    if over:
        s._day_cache[key] = t
    return t


def compute(scanner: EventScanner, start: dt.date, end: dt.date, by: str, tz: dt.tzinfo,
            clinic_url: Optional[str] = None, now: Optional[float] = None) -> Report:
    """Every figure for the days ``start``..``end`` (inclusive, clinic time), per ``by`` ("day"/"week")."""
    began = time.perf_counter()
    if by not in ("day", "week"):
        raise ValueError("by must be 'day' or 'week'")
    now = time.time() if now is None else now
    buckets: Dict[dt.date, Figures] = {}
    day = bucket_start(start, by)
    while day <= end:
        buckets[day] = Figures(bucket_label(day, by), day)
        day += dt.timedelta(days=7 if by == "week" else 1)
    total = Figures("total", start)
    idle = idle_seconds()

    def tally(s: EventScanner) -> Tuple[List[TopicCount], List[Unanswered]]:
        topic_convs: Counter = Counter()
        topic_shown: Counter = Counter()
        unanswered: Dict[str, List[int]] = {}  # normalised text -> [messages, conversations]
        tallies: List[DayTally] = []
        day = start
        while day <= end:
            t = _tally_day(s, day, tz, now, idle)
            if t.counts[0]:
                tallies.append(t)
                for f in (buckets[bucket_start(day, by)], total):
                    for name, value in zip(COUNTS, t.counts):
                        setattr(f, name, getattr(f, name) + value)
                topic_convs.update(t.topic_convs)
                topic_shown.update(t.topic_shown)
                for norm, entry in t.unanswered.items():
                    sums = unanswered.get(norm)
                    if sums is None:
                        unanswered[norm] = [entry[1], entry[2]]
                    else:
                        sums[0] += entry[1]
                        sums[1] += entry[2]
            day += dt.timedelta(days=1)
        topics = [TopicCount(c, topic_convs[c], topic_shown[c]) for c in s.roles.topics if topic_convs[c]]
        topics.sort(key=lambda t: (-t.conversations, -t.shown, t.content_id))
        top = sorted(unanswered.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))[:TOP_N]
        forms: Dict[str, Counter] = {norm: Counter() for norm, _v in top}
        for t in tallies:  # the wording shown: the most frequent raw form, over the whole range
            for norm in forms.keys() & t.unanswered.keys():
                forms[norm].update(t.unanswered[norm][0])
        return topics, [Unanswered(scrub(forms[k].most_common(1)[0][0]), v[0], v[1]) for k, v in top]

    topics, unanswered = scanner.read(tally)
    _callbacks(buckets, total, start, end, by, tz, clinic_url)
    return Report(start, end, by, list(buckets.values()), total, topics, unanswered,
                  seconds=time.perf_counter() - began)


class CallbackTimes:
    """When each callback request was made and first contacted, kept up to date incrementally.

    First contact: the first status change away from ``new`` in the audit trail
    (to ``contacted``, or straight to ``closed``). Both tables only grow, except
    for retention: a count that differs from what was read makes it read again.
    """

    def __init__(self, url: Optional[str] = None) -> None:
        self.url = url
        self._lock = threading.Lock()
        self.created: Dict[int, dt.datetime] = {}  # request id -> when (naive UTC)
        self.first_contact: Dict[int, dt.datetime] = {}
        self._audit_seen = 0
        self._max_request = 0
        self._max_audit = 0

    def refresh(self) -> None:
        with self._lock, clinic_session(self.url) as session:
            new = session.execute(select(CallbackRequest.id, CallbackRequest.created_at)
                                  .where(CallbackRequest.id > self._max_request)).all()
            for request_id, created in new:
                self.created[request_id] = created
                self._max_request = max(self._max_request, request_id)
            changes = session.execute(
                select(AuditEntry.id, AuditEntry.target, AuditEntry.at, AuditEntry.detail)
                .where(AuditEntry.action == "callback_status", AuditEntry.id > self._max_audit)
                .order_by(AuditEntry.id)).all()
            self._fold(changes)
            requests = session.execute(select(func.count()).select_from(CallbackRequest)).scalar_one()
            audited = session.execute(select(func.count()).select_from(AuditEntry)
                                      .where(AuditEntry.action == "callback_status")).scalar_one()
            if requests != len(self.created):  # deleted (retention) or committed out of id order
                self.created = dict(session.execute(select(CallbackRequest.id, CallbackRequest.created_at)).all())
                self._max_request = max(self.created, default=0)
            if audited != self._audit_seen:
                self.first_contact, self._audit_seen, self._max_audit = {}, 0, 0
                self._fold(session.execute(
                    select(AuditEntry.id, AuditEntry.target, AuditEntry.at, AuditEntry.detail)
                    .where(AuditEntry.action == "callback_status").order_by(AuditEntry.id)).all())

    def _fold(self, changes: Sequence[Tuple]) -> None:
        for entry_id, target, at, detail in changes:
            self._audit_seen += 1
            self._max_audit = max(self._max_audit, entry_id)
            if not str(target).startswith("callback:"):
                continue
            try:
                request_id = int(str(target).split(":", 1)[1])
            except ValueError:
                continue
            if request_id not in self.first_contact and _loads(detail).get("from") == "new":
                self.first_contact[request_id] = at


_callback_times: Dict[Optional[str], CallbackTimes] = {}


def _callbacks(buckets: Dict[dt.date, Figures], total: Figures, start: dt.date, end: dt.date, by: str,
               tz: dt.tzinfo, clinic_url: Optional[str]) -> None:
    """Callback requests made in the range (clinic database), and how soon each was first contacted."""
    lo, hi = _day_bounds(start, end, tz)
    lo_utc = dt.datetime.fromtimestamp(lo, dt.timezone.utc).replace(tzinfo=None)
    hi_utc = dt.datetime.fromtimestamp(hi, dt.timezone.utc).replace(tzinfo=None)
    times = _callback_times.get(clinic_url)
    if times is None:
        times = _callback_times[clinic_url] = CallbackTimes(clinic_url)
    times.refresh()
    with times._lock:
        made = [(rid, created) for rid, created in times.created.items() if lo_utc <= created < hi_utc]
        contacted_at = {rid: times.first_contact.get(rid) for rid, _c in made}
    for request_id, created_at in made:
        when = created_at.replace(tzinfo=dt.timezone.utc).astimezone(tz).date()
        b = buckets.get(bucket_start(when, by))
        contacted = contacted_at[request_id]
        for f in (b, total):
            if f is None:
                continue
            f.callbacks_requested += 1
            if contacted is not None:
                f.callbacks_contacted += 1
                f.first_contact_seconds.append(max(0.0, (contacted - created_at).total_seconds()))


def clinic_session(url: Optional[str] = None) -> Any:
    """A session on the clinic database. Two processes creating its tables at the same moment
    (a fresh database) make one of them fail with "already exists": that one tries again."""
    from sqlalchemy.exc import OperationalError

    for attempt in range(5):
        try:
            return session_factory(url)()
        except OperationalError as e:
            if "already exists" not in str(e) or attempt == 4:
                raise
            time.sleep(0.1)
    raise AssertionError("unreachable")


# --- presenting -----------------------------------------------------------------------------

def pct(value: Optional[float]) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def duration(seconds: Optional[float]) -> str:
    """A median time as staff read it: 45 min, 3.5 h, 2.1 days."""
    if seconds is None:
        return "–"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


FIGURE_COLUMNS: Tuple[Tuple[str, str], ...] = (
    ("conversations", "Conversations"),
    ("visitor_messages", "Visitor messages"),
    ("containment", "Containment"),
    ("handoff_rate", "Hand-off rate"),
    ("fallback_rate", "Fallback rate"),
    ("crisis_rate", "Crisis rate"),
    ("abandonment", "Abandonment"),
    ("callbacks_requested", "Callbacks requested"),
    ("callbacks_contacted", "Callbacks contacted"),
    ("median_first_contact", "Median time to first contact"),
)
RATES = ("containment", "handoff_rate", "fallback_rate", "crisis_rate", "abandonment")


def cell(f: Figures, name: str) -> str:
    value = getattr(f, name)
    if name in RATES:
        return pct(value)
    if name == "median_first_contact":
        return duration(value)
    return str(value)


def figures_csv(report: Report) -> str:
    """One row per day or week and a total: counts as numbers, rates as fractions (0-1), times in hours."""
    header = ["period", "period_start", "conversations", "visitor_messages", "contained", "containment",
              "handoffs", "handoff_rate", "fallbacks", "fallback_rate", "crisis", "crisis_rate", "abandoned",
              "abandonment", "callbacks_requested", "callbacks_contacted", "median_hours_to_first_contact"]

    def rate(v: Optional[float]) -> str:
        return "" if v is None else f"{v:.4f}"

    def row(f: Figures) -> List[Any]:
        median = f.median_first_contact
        return [f.label, f.start.isoformat(), f.conversations, f.visitor_messages, f.contained, rate(f.containment),
                f.handoff, rate(f.handoff_rate), f.fallback, rate(f.fallback_rate), f.crisis, rate(f.crisis_rate),
                f.abandoned, rate(f.abandonment), f.callbacks_requested, f.callbacks_contacted,
                "" if median is None else f"{median / 3600:.2f}"]

    return export.to_csv(header, [row(b) for b in report.buckets] + [row(report.total)])


def topics_csv(report: Report) -> str:
    return export.to_csv(["content_id", "conversations", "times_shown"],
                         ([t.content_id, t.conversations, t.shown] for t in report.topics))


def unanswered_csv(report: Report) -> str:
    return export.to_csv(["message_scrubbed", "messages", "conversations"],
                         ([u.text, u.messages, u.conversations] for u in report.unanswered))


def render_charts(report: Report) -> Dict[str, str]:
    """The page's charts as inline SVG (no script, no request to anyone)."""
    labels = [b.label if report.by == "day" else b.label.split(" ", 1)[0] for b in report.buckets]
    return {
        "volume": charts.bars(labels, [("Conversations", [b.conversations for b in report.buckets]),
                                       ("Visitor messages", [b.visitor_messages for b in report.buckets])],
                              title="Conversations and visitor messages"),
        "rates": charts.lines(labels, [(name, [getattr(b, key) for b in report.buckets]) for key, name in
                                       (("containment", "Containment"), ("handoff_rate", "Hand-off"),
                                        ("fallback_rate", "Fallback"), ("crisis_rate", "Crisis"),
                                        ("abandonment", "Abandonment"))],
                              title="Rates (share of conversations)", percent=True),
        "callbacks": charts.bars(labels, [("Requested", [b.callbacks_requested for b in report.buckets]),
                                          ("Contacted", [b.callbacks_contacted for b in report.buckets])],
                                 title="Callback requests"),
        "topics": charts.hbars([(t.content_id, t.conversations) for t in report.topics],
                               title="Top topics (conversations that showed them)"),
    }


# --- the page ------------------------------------------------------------------------------

PRESETS = (("7", "Last 7 days"), ("30", "Last 30 days"), ("90", "Last 90 days"), ("365", "Last 365 days"))


@dataclass
class RangeChoice:
    start: dt.date
    end: dt.date
    by: str
    raw: Dict[str, str]
    errors: List[str]


def parse_range(args: Any, today: dt.date) -> RangeChoice:
    """The range in a query string or form: from/to dates (inclusive) or a preset, and day/week.

    Errors are explained, and the default range (last 30 days) is shown instead.
    """
    raw = {k: str(args.get(k) or "").strip()[:20] for k in ("from", "to", "by", "days")}
    errors: List[str] = []
    end, start = today, today - dt.timedelta(days=29)
    if raw["days"]:
        if raw["days"].isdigit() and 1 <= int(raw["days"]) <= MAX_RANGE_DAYS:
            start = today - dt.timedelta(days=int(raw["days"]) - 1)
        else:
            errors.append(f"'Days' must be a whole number from 1 to {MAX_RANGE_DAYS}.")
    else:
        parsed = {}
        for key in ("from", "to"):
            if raw[key]:
                try:
                    parsed[key] = dt.date.fromisoformat(raw[key])
                except ValueError:
                    errors.append(f"'{key.capitalize()}' is not a date (YYYY-MM-DD).")
        if not errors:
            end = parsed.get("to", today)
            start = parsed.get("from", end - dt.timedelta(days=29))
            if start > end:
                errors.append("'From' is after 'To'.")
            elif (end - start).days + 1 > MAX_RANGE_DAYS:
                errors.append(f"The range is longer than {MAX_RANGE_DAYS} days; choose a shorter one.")
        if errors:
            end, start = today, today - dt.timedelta(days=29)
    by = raw["by"] if raw["by"] in ("day", "week") else ("day" if (end - start).days < 62 else "week")
    if raw["by"] and raw["by"] not in ("day", "week"):
        errors.append("'Per' must be day or week.")
    raw.update({"from": start.isoformat(), "to": end.isoformat(), "by": by})
    return RangeChoice(start, end, by, raw, errors)


def build_blueprint(state: Any) -> Blueprint:
    """The analytics page and its CSV exports (signed-in staff and admins)."""
    bp = Blueprint("staff_analytics", url_prefix="/staff")

    def who(request: Request) -> Tuple[str, str]:
        return request.ctx.account.username, request.ctx.account.role

    def ip(request: Request) -> str:
        return str(request.remote_addr or request.ip or "")

    def today() -> dt.date:
        return dt.datetime.now(state.tz).date()

    def report_for(choice: RangeChoice) -> Report:
        return compute(scanner_for(state.reader.url), choice.start, choice.end, choice.by, state.tz,
                       state.clinic_url)

    @bp.listener("after_server_start")
    async def read_the_store_once(app: Any, loop: Any) -> None:
        # In a worker thread, so the server answers at once; the first page then comes from memory.
        loop.run_in_executor(None, warm_up, state.reader.url)

    @bp.get("/analytics")
    async def analytics_page(request: Request):
        actor, role = who(request)
        choice = parse_range(request.args, today())
        try:
            report = await asyncio.to_thread(report_for, choice)
        except (SQLAlchemyError, routing.RoutingError) as e:
            logger.error("Analytics not computed: %s: %s", type(e).__name__, str(e).splitlines()[0][:300])
            return state.render(request, "error.html", status=503, title="Analytics unavailable",
                                detail="The conversation store could not be read just now. Try again in a minute.")
        audit.record(actor, "analytics_view", "analytics",
                     {"from": choice.raw["from"], "to": choice.raw["to"], "by": choice.by},
                     ip=ip(request), role=role, url=state.clinic_url)
        return state.render(request, "analytics.html", status=400 if choice.errors else 200, report=report,
                            f=choice.raw, errors=choice.errors, charts=render_charts(report),
                            columns=FIGURE_COLUMNS, cell=cell, presets=PRESETS, pct=pct, duration=duration)

    @bp.post("/analytics/export")
    async def analytics_export(request: Request):
        actor, role = who(request)
        choice = parse_range(request.form, today())
        if choice.errors:
            return response.text(" ".join(choice.errors), status=400)
        kind = request.form.get("kind") or "figures"
        writers = {"figures": figures_csv, "topics": topics_csv, "unanswered": unanswered_csv}
        if kind not in writers:
            return response.text("Bad request: kind must be figures, topics or unanswered.", status=400)
        report = await asyncio.to_thread(report_for, choice)
        body = writers[kind](report)
        audit.record(actor, "analytics_export", "analytics",
                     {"from": choice.raw["from"], "to": choice.raw["to"], "by": choice.by, "kind": kind},
                     ip=ip(request), role=role, url=state.clinic_url)
        name = export.filename(f"analytics-{kind}-{choice.raw['from']}-{choice.raw['to']}-{choice.by}")
        return response.text(body, content_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})

    return bp


def warm_up(url: Optional[str] = None) -> None:
    """Read the store once (at start-up, in a thread) so the first page is served from memory."""
    try:
        scanner_for(url).read(lambda s: None)
    except Exception as e:  # the page will say so when it is asked for
        logger.warning("Analytics warm-up failed: %s", type(e).__name__)
