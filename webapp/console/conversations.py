"""Read-only access to the conversations in Rasa's tracker store (``TRACKER_DB_URL``).

Rasa's ``SQLTrackerStore`` keeps one row per event in the table ``events``
(id, sender_id, type_name, timestamp, intent_name, action_name, data as JSON).
The console reads it through SQLAlchemy and never writes to it: on SQLite the
file is opened read-only, on PostgreSQL every transaction is read-only. Only
:mod:`webapp.console.retention` deletes from it.

The conversation list is served from a summary per sender (first and last
activity, flags, content ids shown, visitor text for search). Rasa only ever
appends events, so the summary is brought up to date by reading the rows added
since the last look; when rows disappeared (retention) or arrived out of order,
it is rebuilt from scratch.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from clinic import routing, settings

logger = logging.getLogger(__name__)



def tracker_db_url() -> str:
    return settings.get("TRACKER_DB_URL")


CRISIS_INTENT = "crisis"
FALLBACK_INTENT = "nlu_fallback"
FLAG_SLOTS = ("crisis_flag", "callback_requested")
PREVIEW = 140
# The widget's own buttons (not in any bot message): payload -> what the visitor clicked.
WIDGET_BUTTONS = {"/request_human": "Talk to a person"}
PAYLOAD = re.compile(r"^/[a-z_]+$")


def visitor_text(message: str, buttons: Dict[str, str]) -> Optional[str]:
    """What the visitor actually typed or clicked: a quick reply's title for its payload.

    ``buttons`` are the quick replies of the assistant's previous message (payload ->
    title). A payload nobody clicked (the widget's opening ``/greeting``) and Rasa's
    ``EXTERNAL:`` messages are not the visitor's words: None.
    """
    if message.startswith("EXTERNAL: "):
        return None
    if PAYLOAD.match(message):
        return buttons.get(message) or WIDGET_BUTTONS.get(message)
    return message


def _buttons_of(data: Dict[str, Any]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for b in ((data.get("data") or {}).get("buttons") or []):
        if isinstance(b, dict) and isinstance(b.get("payload"), str) and b.get("title"):
            out[b["payload"]] = str(b["title"])
    return out


def read_only_engine(url: str) -> Engine:
    """An engine on the tracker store that cannot write."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        path = parsed.database or ""
        if not path or path == ":memory:":
            raise ValueError("the tracker store must be a file or a server, not an in-memory SQLite")
        ro = f"sqlite:///file:{urllib.parse.quote(path)}?mode=ro&uri=true"
        return create_engine(ro, future=True, hide_parameters=True)  # no visitor text in an error
    connect_args: Dict[str, Any] = {}
    if parsed.drivername.startswith("postgresql"):
        connect_args["options"] = "-c default_transaction_read_only=on"
    return create_engine(parsed, future=True, pool_pre_ping=True, connect_args=connect_args, hide_parameters=True)


def _loads(raw: Optional[str]) -> Dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass
class Summary:
    """What the list needs to know about one conversation."""

    sender_id: str
    first_ts: float = 0.0
    last_ts: float = 0.0
    user_messages: int = 0
    crisis: bool = False
    callback_slot: bool = False
    fallback: bool = False
    content_ids: Set[str] = field(default_factory=set)
    preview: str = ""
    search_text: str = ""  # the visitor's messages, case-folded, one per line
    in_form: bool = False  # a form (the callback form) is collecting answers
    buttons: Dict[str, str] = field(default_factory=dict)  # the latest bot message's quick replies

    def add(self, type_name: str, ts: Optional[float], intent: Optional[str], data: Dict[str, Any]) -> None:
        if ts is not None:
            self.first_ts = ts if not self.first_ts else min(self.first_ts, ts)
            self.last_ts = max(self.last_ts, ts)
        if type_name == "user":
            self.user_messages += 1
            intent = intent or ((data.get("parse_data") or {}).get("intent") or {}).get("name")
            if intent == CRISIS_INTENT:
                self.crisis = True
            # A form's free-text answers (a name, an e-mail address) have no intent of
            # their own and come out as nlu_fallback: those were understood, not missed.
            if intent == FALLBACK_INTENT and not self.in_form:
                self.fallback = True
            message = visitor_text(str(data.get("text") or ""), self.buttons)
            if message:
                if not self.preview:
                    self.preview = message[:PREVIEW]
                self.search_text += message.casefold() + "\n"
        elif type_name == "bot":
            self.buttons = _buttons_of(data)
            content_id = (data.get("metadata") or {}).get("content_id")
            if content_id:
                if content_id not in self.content_ids:  # a new set: readers may be iterating the old one
                    self.content_ids = self.content_ids | {str(content_id)}
                if content_id in routing.current().not_understood:
                    self.fallback = True
        elif type_name == "active_loop":
            self.in_form = bool(data.get("name"))
        elif type_name == "slot" and data.get("value") is True:
            if data.get("name") == "crisis_flag":
                self.crisis = True
            elif data.get("name") == "callback_requested":
                self.callback_slot = True


@dataclass
class ConversationFilter:
    crisis: bool = False
    callback: bool = False
    fallback: bool = False
    since: Optional[float] = None  # epoch seconds, inclusive
    until: Optional[float] = None  # epoch seconds, exclusive
    content_id: str = ""
    q: str = ""
    status: str = ""  # "", "new" or "reviewed"
    tag: str = ""
    crisis_first: bool = False
    declined: bool = False  # a medical question handed to staff, and the callback declined


@dataclass
class Row:
    summary: Summary
    callback: bool
    status: str
    note: str
    tags: List[str]


@dataclass
class TranscriptItem:
    kind: str  # "user", "bot" or "marker"
    ts: Optional[float]
    text: str = ""
    intent: str = ""
    confidence: Optional[float] = None
    content_id: str = ""
    content_version: Optional[int] = None
    buttons: List[str] = field(default_factory=list)
    event_id: int = 0
    payload: str = ""  # a quick-reply click: the payload sent (``text`` is the button's title)
    staff_name: str = ""  # a staff member's message (content id ``staff_message``)


class TrackerReader:
    """The conversations of one tracker store."""

    def __init__(self, url: Optional[str] = None) -> None:
        self.url = url or tracker_db_url()
        self._engine: Optional[Engine] = None
        # Held while the summaries are read or changed (pages are served from worker threads).
        self._lock = threading.RLock()
        self._summaries: Dict[str, Summary] = {}
        self._count = -1
        self._max_id = 0

    def _conn_engine(self) -> Engine:
        if self._engine is None:
            self._engine = read_only_engine(self.url)
        return self._engine

    def _query(self, sql: str, **params: Any) -> List[Tuple]:
        """Rows of ``sql``; no rows when the store does not exist yet."""
        try:
            with self._conn_engine().connect() as conn:
                return list(conn.execute(text(sql), params))
        except SQLAlchemyError as e:
            message = str(e).lower()
            if "no such table" in message or "unable to open database" in message \
                    or "does not exist" in message:
                return []  # Rasa has not stored a conversation yet
            raise

    # --- summaries -------------------------------------------------------------------
    def refresh(self) -> Dict[str, Summary]:
        with self._lock:
            new = self._query(
                "SELECT id, sender_id, type_name, timestamp, intent_name, data FROM events "
                "WHERE id > :after ORDER BY id", after=self._max_id)
            count_rows = self._query("SELECT COUNT(*) FROM events")
            count = int(count_rows[0][0]) if count_rows else 0
            if self._count >= 0 and self._count + len(new) == count:
                self._apply(new)
                self._count = count
            else:  # first look, rows deleted, or rows committed out of id order
                rows = self._query(
                    "SELECT id, sender_id, type_name, timestamp, intent_name, data FROM events ORDER BY id")
                self._summaries = {}
                self._max_id = 0
                self._apply(rows)
                self._count = len(rows)
            return self._summaries

    def _apply(self, rows: Iterable[Tuple]) -> None:
        for event_id, sender_id, type_name, ts, intent, raw in rows:
            summary = self._summaries.get(sender_id)
            if summary is None:
                summary = self._summaries[sender_id] = Summary(sender_id)
            data = _loads(raw) if type_name in ("user", "bot", "slot", "active_loop") else {}
            summary.add(type_name, ts, intent, data)
            self._max_id = max(self._max_id, int(event_id))

    def content_ids(self) -> List[str]:
        seen: Set[str] = set()
        with self._lock:
            for s in self.refresh().values():
                seen |= s.content_ids
        return sorted(seen)

    def summary(self, sender_id: str) -> Optional[Summary]:
        with self._lock:
            return self.refresh().get(sender_id)

    def search(self, flt: ConversationFilter, callback_ids: Set[str],
               reviews: Dict[str, Tuple[str, str, str]]) -> List[Row]:
        """Conversations matching ``flt``, newest first (crisis first when asked).

        ``callback_ids``: conversations with a callback request; ``reviews``:
        sender id -> (status, note, tags) from the console's table.
        """
        from webapp.console.frontdesk import flags_of  # frontdesk builds on this module

        needle = " ".join(flt.q.split()).casefold()
        tag = flt.tag.strip().casefold()
        rows: List[Row] = []
        with self._lock:
            summaries = list(self.refresh().values())
        for s in summaries:
            has_callback = s.callback_slot or s.sender_id in callback_ids
            status, note, tags = reviews.get(s.sender_id, ("new", "", ""))
            tag_list = [t for t in (x.strip() for x in tags.split(",")) if t]
            if flt.crisis and not s.crisis:
                continue
            if flt.callback and not has_callback:
                continue
            if flt.fallback and not s.fallback:
                continue
            if flt.declined and not flags_of(s.content_ids, has_callback)["declined_medical"]:
                continue
            if flt.since is not None and s.last_ts < flt.since:
                continue
            if flt.until is not None and s.first_ts >= flt.until:
                continue
            if flt.content_id and flt.content_id not in s.content_ids:
                continue
            if needle and needle not in s.search_text and needle != s.sender_id.casefold():
                continue
            if flt.status and status != flt.status:
                continue
            if tag and tag not in (t.casefold() for t in tag_list):
                continue
            rows.append(Row(s, has_callback, status, note, tag_list))
        rows.sort(key=lambda r: (r.summary.last_ts, r.summary.sender_id), reverse=True)
        if flt.crisis_first:
            rows.sort(key=lambda r: not r.summary.crisis)  # stable: newest first within each group
        return rows

    # --- one conversation -----------------------------------------------------------
    def events(self, sender_id: str) -> List[Tuple]:
        return self._query(
            "SELECT id, type_name, timestamp, intent_name, action_name, data FROM events "
            "WHERE sender_id = :sender ORDER BY id", sender=sender_id)

    def transcript(self, sender_id: str) -> List[TranscriptItem]:
        """Visitor and bot messages in order, with a few markers (new session, flags, form)."""
        items: List[TranscriptItem] = []
        last_buttons: Dict[str, str] = {}
        for event_id, type_name, ts, intent_name, action_name, raw in self.events(sender_id):
            if type_name == "user":
                data = _loads(raw)
                intent = ((data.get("parse_data") or {}).get("intent") or {})
                confidence = intent.get("confidence")
                text_sent = str(data.get("text") or "")
                title = visitor_text(text_sent, last_buttons) if PAYLOAD.match(text_sent) else None
                items.append(TranscriptItem(
                    "user", ts, text=title or text_sent,
                    intent=str(intent_name or intent.get("name") or ""),
                    confidence=float(confidence) if isinstance(confidence, (int, float)) else None,
                    event_id=int(event_id), payload=text_sent if title else ""))
            elif type_name == "bot":
                data = _loads(raw)
                meta = data.get("metadata") or {}
                version = meta.get("content_version")
                last_buttons = _buttons_of(data)
                buttons = [str(b.get("title", "")) for b in ((data.get("data") or {}).get("buttons") or [])
                           if isinstance(b, dict)]
                items.append(TranscriptItem(
                    "bot", ts, text=str(data.get("text") or ""),
                    content_id=str(meta.get("content_id") or ""),
                    content_version=int(version) if isinstance(version, (int, float)) else None,
                    buttons=buttons, event_id=int(event_id), staff_name=str(meta.get("staff_name") or "")))
            elif type_name == "session_started":
                items.append(TranscriptItem("marker", ts, text="New session"))
            elif type_name == "slot":
                data = _loads(raw)
                if data.get("value") is True and data.get("name") == "crisis_flag":
                    items.append(TranscriptItem("marker", ts, text="Crisis flag set"))
                elif data.get("value") is True and data.get("name") == "callback_requested":
                    items.append(TranscriptItem("marker", ts, text="Callback requested"))
            elif type_name == "active_loop":
                name = _loads(raw).get("name")
                if name:
                    items.append(TranscriptItem("marker", ts, text=f"Form started: {name}"))
        return items
