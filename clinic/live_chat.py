"""Live chat with a person from the clinic: opening hours, who is available, and the state of
every conversation a visitor asked to chat in or a staff member took over.

Opening hours and the minutes that matter are configuration (``content/staffing.yml``,
``STAFFING_CONFIG``). Who is available is in the clinic database: a staff member marks
themselves available in the console, and counts only while a console page of theirs is
open (its live connection refreshes ``staff_presence.seen_at``). The action server asks
:func:`offer_allowed` before it offers "a member of our team can chat with you now"; the
console takes conversations over and hands them back; the Rasa server's add-on
(``addons/takeover.py``) delivers what the console sends. This module knows neither Rasa
nor Sanic.

One row per conversation in ``live_chats``:

``waiting``
    the visitor accepted the offer; nobody has joined yet.
``active``
    a staff member has the conversation (the assistant is paused).
``ending``
    being handed back: the Rasa server is being told (resume, a notice to the visitor).
    A web app that finds a row left in this state (its process died) finishes the job.
``ended``
    handed back, closed, timed out or unanswered (``ended_reason``).

Every change is a compare-and-set on the row's ``version``, so when two staff members (or
two web-app processes) act on one conversation at once, exactly one of them wins.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import unicodedata
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, FrozenSet, List, Optional, Sequence, Set, Tuple

import yaml
from sqlalchemy import Boolean, Column, DateTime, Integer, String, func, update
from sqlalchemy.exc import IntegrityError

from clinic import settings
from clinic.models import Base, engine, session_factory, utcnow

logger = logging.getLogger(__name__)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
STATES = ("waiting", "active", "ending", "ended")
OPEN_STATES = frozenset({"waiting", "active", "ending"})
# Why a live chat ended (``ended_reason``).
REASONS = ("handed_back", "closed", "timeout", "unanswered", "failed")
# What the visitor is shown, by content id of content/approved.yml.
OFFER = "live_chat_offer"
WAITING = "live_chat_waiting"
UNAVAILABLE = "live_chat_unavailable"
JOINED = "live_chat_joined"
STAFF_MESSAGE = "staff_message"
NOTICE_FOR_REASON = {"handed_back": "live_chat_ended", "closed": "live_chat_closed",
                     "timeout": "live_chat_timeout", "unanswered": "live_chat_unanswered",
                     "failed": "live_chat_ended"}
CONTENT_IDS = (OFFER, WAITING, UNAVAILABLE, JOINED, "live_chat_ended", "live_chat_closed",
               "live_chat_timeout", "live_chat_unanswered")
# After nobody answered, the same conversation is not offered a live chat again for this long.
NO_REOFFER_AFTER_UNANSWERED = dt.timedelta(minutes=30)
# A row left in ``ending`` this long (its web app died mid-way) is finished by another.
STALE_ENDING = dt.timedelta(seconds=15)
MAX_NAME = 40
_NAME = re.compile(r"^[^\W\d_][^\W\d_ .'-]*(?:[ .'-][^\W\d_]+)*\.?$")


class StaffingError(ValueError):
    """content/staffing.yml is malformed; the message names the field."""


# --- configuration ------------------------------------------------------------------------

@dataclass(frozen=True)
class Staffing:
    """When a person from the clinic may be offered, and the minutes that matter."""

    enabled: bool
    timezone: str
    hours: Tuple[Tuple[Tuple[int, int], ...], ...]  # per weekday (Monday first): minute ranges
    closed_dates: FrozenSet[dt.date]
    answer_within: dt.timedelta
    hand_back_after: dt.timedelta
    presence: dt.timedelta
    max_message_chars: int

    @property
    def tz(self) -> dt.tzinfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def is_open(self, when: Optional[dt.datetime] = None) -> bool:
        """True within opening hours (``when``: naive UTC, default now)."""
        when = (when or utcnow()).replace(tzinfo=dt.timezone.utc).astimezone(self.tz)
        if when.date() in self.closed_dates:
            return False
        minute = when.hour * 60 + when.minute
        return any(start <= minute < end for start, end in self.hours[when.weekday()])

    def hours_text(self) -> List[Tuple[str, str]]:
        """(weekday, "09:00-17:00" or "closed") for the console."""
        out = []
        for day, ranges in zip(WEEKDAYS, self.hours):
            text = ", ".join(f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in ranges)
            out.append((day.capitalize(), text or "closed"))
        return out


def staffing_path() -> Path:
    return settings.get_path("STAFFING_CONFIG")


def _minutes(where: str, value: object, minimum: float = 0.05) -> dt.timedelta:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise StaffingError(f"{where}: {value!r} is not a number of minutes (at least {minimum})")
    return dt.timedelta(minutes=float(value))


def _ranges(path: Path, day: str, value: object) -> Tuple[Tuple[int, int], ...]:
    if value in (None, False, "closed", ""):
        return ()
    if value is True or value == "all day":
        return ((0, 24 * 60),)
    if not isinstance(value, str):
        raise StaffingError(f"{path}: opening_hours.{day}: write \"09:00-17:00\" or closed")
    ranges = []
    for part in value.split(","):
        m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", part)
        if not m:
            raise StaffingError(f"{path}: opening_hours.{day}: {part.strip()!r} is not HH:MM-HH:MM")
        start = int(m.group(1)) * 60 + int(m.group(2))
        end = int(m.group(3)) * 60 + int(m.group(4))
        if not (0 <= start < end <= 24 * 60) or int(m.group(2)) > 59 or int(m.group(4)) > 59:
            raise StaffingError(f"{path}: opening_hours.{day}: {part.strip()!r} must run forward "
                                "within one day (00:00-24:00)")
        ranges.append((start, end))
    return tuple(ranges)


def load_staffing(path: Optional[Path | str] = None) -> Staffing:
    """Read and check the staffing file; :class:`StaffingError` names what is wrong."""
    path = Path(path) if path else staffing_path()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise StaffingError(f"{path}: file not found") from e
    except yaml.YAMLError as e:
        raise StaffingError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise StaffingError(f"{path}: expected the fields live_chat, timezone, opening_hours, ...")
    known = {"live_chat", "timezone", "opening_hours", "closed_dates", "answer_within_minutes",
             "hand_back_after_minutes", "presence_seconds", "max_staff_message_chars"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise StaffingError(f"{path}: unknown field(s) {', '.join(unknown)}; the fields are {', '.join(sorted(known))}")
    tz = str(raw.get("timezone") or "America/Los_Angeles")
    try:
        zoneinfo.ZoneInfo(tz)
    except Exception as e:
        raise StaffingError(f"{path}: timezone {tz!r} is not a time zone name such as America/Los_Angeles") from e
    hours_raw = raw.get("opening_hours") or {}
    if not isinstance(hours_raw, dict) or set(hours_raw) - set(WEEKDAYS):
        raise StaffingError(f"{path}: opening_hours must name weekdays ({', '.join(WEEKDAYS)})")
    closed = set()
    for value in raw.get("closed_dates") or []:
        try:
            closed.add(value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)))
        except ValueError as e:
            raise StaffingError(f"{path}: closed_dates: {value!r} is not a date (YYYY-MM-DD)") from e
    chars = raw.get("max_staff_message_chars", 1000)
    if isinstance(chars, bool) or not isinstance(chars, int) or not 1 <= chars <= 4000:
        raise StaffingError(f"{path}: max_staff_message_chars must be a whole number from 1 to 4000")
    presence = raw.get("presence_seconds", 60)
    if isinstance(presence, bool) or not isinstance(presence, (int, float)) or presence < 5:
        raise StaffingError(f"{path}: presence_seconds must be a number of seconds, at least 5")
    return Staffing(
        enabled=bool(raw.get("live_chat", True)),
        timezone=tz,
        hours=tuple(_ranges(path, day, hours_raw.get(day)) for day in WEEKDAYS),
        closed_dates=frozenset(closed),
        answer_within=_minutes(f"{path}: answer_within_minutes", raw.get("answer_within_minutes", 3)),
        hand_back_after=_minutes(f"{path}: hand_back_after_minutes", raw.get("hand_back_after_minutes", 5)),
        presence=dt.timedelta(seconds=float(presence)),
        max_message_chars=chars,
    )


_staffing: Optional[Tuple[Path, float, Staffing]] = None
_staffing_lock = threading.Lock()


def staffing() -> Staffing:
    """The configuration, read again when the file changes; a broken edit keeps the last good copy."""
    global _staffing
    path = staffing_path()
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = -1.0
    with _staffing_lock:
        if _staffing and _staffing[0] == path and _staffing[1] == mtime:
            return _staffing[2]
        try:
            fresh = load_staffing(path)
        except StaffingError:
            if _staffing is None or _staffing[0] != path:
                raise
            logger.exception("%s could not be read; keeping the previous staffing configuration", path)
            return _staffing[2]
        _staffing = (path, mtime, fresh)
        return fresh


# --- tables -------------------------------------------------------------------------------

class LiveChat(Base):
    """The live-chat state of one conversation (see the module docstring)."""

    __tablename__ = "live_chats"

    sender_id = Column(String(255), primary_key=True)
    state = Column(String(16), nullable=False, default="ended", index=True)
    version = Column(Integer, nullable=False, default=1)
    requested_at = Column(DateTime, nullable=True)  # when the visitor accepted the offer
    staff_user = Column(String(64), nullable=True)
    staff_name = Column(String(MAX_NAME), nullable=True)
    started_at = Column(DateTime, nullable=True)
    last_staff_at = Column(DateTime, nullable=True)  # the staff member's latest message (or the start)
    ended_at = Column(DateTime, nullable=True)
    ended_reason = Column(String(32), nullable=True)
    ended_by = Column(String(64), nullable=True)
    updated_at = Column(DateTime, nullable=False, default=utcnow, index=True)


class StaffPresence(Base):
    """Whether a staff member is available for live chats, and when a console page of theirs was last open."""

    __tablename__ = "staff_presence"

    username = Column(String(64), primary_key=True)
    display_name = Column(String(MAX_NAME), nullable=False, default="")
    available = Column(Boolean, nullable=False, default=False)
    seen_at = Column(DateTime, nullable=True)
    changed_at = Column(DateTime, nullable=True)


_ready: Set[str] = set()
_ready_lock = threading.Lock()


def _session(url: Optional[str] = None):
    """A session on the clinic database, with this module's tables created on first use."""
    url = url or settings.get("CLINIC_DB_URL")
    if url not in _ready:
        with _ready_lock:
            if url not in _ready:
                eng = engine(url)
                LiveChat.__table__.create(eng, checkfirst=True)
                StaffPresence.__table__.create(eng, checkfirst=True)
                _ready.add(url)
    return session_factory(url)()


# --- names and text -----------------------------------------------------------------------

def default_display_name(username: str) -> str:
    """"anna.smith" -> "Anna": what visitors see until the staff member sets a name."""
    first = re.split(r"[^A-Za-z]+", username or "")
    name = next((p for p in first if p), "") or "Staff"
    return name[:MAX_NAME].capitalize()


def clean_display_name(text: str) -> Optional[str]:
    """A first name as visitors will see it ("Nina", "Mary-Jo"), or None when it is not one."""
    name = " ".join(unicodedata.normalize("NFC", text or "").split())
    return name if name and len(name) <= MAX_NAME and _NAME.match(name) else None


KEPT_FORMAT = frozenset("\u200c\u200d")


def clean_staff_text(text: str, limit: int) -> Optional[str]:
    """A staff member's message as the visitor will see it: plain text, no control or invisible
    formatting characters (tab and newline stay), at most two blank lines in a row, trimmed.
    None when nothing is left; ``ValueError`` when it is longer than ``limit`` (the staff
    member must shorten it rather than have it cut)."""
    kept = []
    for ch in unicodedata.normalize("NFC", text or "").replace("\r\n", "\n").replace("\r", "\n"):
        category = unicodedata.category(ch)
        if ch in "\n\t" or not (category in ("Cc", "Cs") or (category == "Cf" and ch not in KEPT_FORMAT)):
            kept.append(ch)
    cleaned = re.sub(r"\n{3,}", "\n\n", "".join(kept)).strip()
    if not cleaned:
        return None
    if len(cleaned) > limit:
        raise ValueError(f"the message is {len(cleaned)} characters long; the limit is {limit}")
    return cleaned


# --- presence -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Presence:
    username: str
    display_name: str
    available: bool
    seen_at: Optional[dt.datetime]

    def present(self, config: Staffing, now: Optional[dt.datetime] = None) -> bool:
        return self.seen_at is not None and self.seen_at >= (now or utcnow()) - config.presence


def _presence(row: Optional[StaffPresence], username: str) -> Presence:
    if row is None:
        return Presence(username, default_display_name(username), False, None)
    return Presence(row.username, row.display_name or default_display_name(username), bool(row.available),
                    row.seen_at)


def presence_of(username: str, url: Optional[str] = None) -> Presence:
    with _session(url) as s:
        return _presence(s.get(StaffPresence, username), username)


def set_availability(username: str, available: bool, display_name: Optional[str] = None,
                     url: Optional[str] = None) -> Presence:
    """Mark ``username`` available (or not) for live chats; also counts as being present."""
    now = utcnow()
    with _session(url) as s:
        row = s.get(StaffPresence, username)
        if row is None:
            row = StaffPresence(username=username, display_name=default_display_name(username))
            s.add(row)
        if display_name:
            row.display_name = display_name[:MAX_NAME]
        row.available, row.changed_at, row.seen_at = bool(available), now, now
        try:
            s.commit()
        except IntegrityError:  # the same person's two tabs at once: the other one created the row
            s.rollback()
            return set_availability(username, available, display_name, url)
        return _presence(row, username)


def heartbeat(username: str, url: Optional[str] = None) -> None:
    """A console page of ``username`` is open (called by its live connection every few seconds)."""
    now = utcnow()
    with _session(url) as s:
        changed = s.execute(update(StaffPresence).where(StaffPresence.username == username)
                            .values(seen_at=now)).rowcount
        if not changed:
            s.add(StaffPresence(username=username, display_name=default_display_name(username),
                                available=False, seen_at=now))
        try:
            s.commit()
        except IntegrityError:
            s.rollback()


def available_staff(now: Optional[dt.datetime] = None, url: Optional[str] = None,
                    config: Optional[Staffing] = None) -> List[Presence]:
    """Staff marked available whose console is open right now."""
    config = config or staffing()
    now = now or utcnow()
    with _session(url) as s:
        rows = (s.query(StaffPresence).filter(StaffPresence.available.is_(True),
                                              StaffPresence.seen_at >= now - config.presence).all())
    return [_presence(r, r.username) for r in rows]


def live_chat_open(now: Optional[dt.datetime] = None, url: Optional[str] = None,
                   config: Optional[Staffing] = None) -> bool:
    """Live chat is switched on, it is opening hours, and someone is available."""
    config = config or staffing()
    now = now or utcnow()
    return config.enabled and config.is_open(now) and bool(available_staff(now, url, config))


# --- the state of one conversation ---------------------------------------------------------

@dataclass(frozen=True)
class Chat:
    """A copy of one ``live_chats`` row (safe to use after its session closed)."""

    sender_id: str
    state: str
    version: int
    requested_at: Optional[dt.datetime] = None
    staff_user: Optional[str] = None
    staff_name: Optional[str] = None
    started_at: Optional[dt.datetime] = None
    last_staff_at: Optional[dt.datetime] = None
    ended_at: Optional[dt.datetime] = None
    ended_reason: Optional[str] = None
    ended_by: Optional[str] = None
    updated_at: Optional[dt.datetime] = None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def hand_back_at(self, config: Staffing) -> Optional[dt.datetime]:
        """When an active takeover goes back to the assistant unless the staff member writes."""
        if self.state != "active" or self.last_staff_at is None:
            return None
        return self.last_staff_at + config.hand_back_after

    def as_json(self) -> Dict[str, object]:
        def iso(v: Optional[dt.datetime]) -> Optional[str]:
            return v.replace(tzinfo=dt.timezone.utc).isoformat() if v else None
        return {"sender_id": self.sender_id, "state": self.state, "version": self.version,
                "requested_at": iso(self.requested_at), "staff_user": self.staff_user,
                "staff_name": self.staff_name, "started_at": iso(self.started_at),
                "last_staff_at": iso(self.last_staff_at), "ended_at": iso(self.ended_at),
                "ended_reason": self.ended_reason, "ended_by": self.ended_by}


_FIELDS = ("sender_id", "state", "version", "requested_at", "staff_user", "staff_name", "started_at",
           "last_staff_at", "ended_at", "ended_reason", "ended_by", "updated_at")


def _copy(row: Optional[LiveChat]) -> Optional[Chat]:
    return Chat(**{f: getattr(row, f) for f in _FIELDS}) if row is not None else None


def get(sender_id: str, url: Optional[str] = None) -> Optional[Chat]:
    with _session(url) as s:
        return _copy(s.get(LiveChat, sender_id))


def _cas(s, chat: Chat, **values: object) -> bool:
    """Change the row only if nobody changed it since ``chat`` was read."""
    values = {**values, "version": chat.version + 1, "updated_at": utcnow()}
    changed = s.execute(update(LiveChat).where(LiveChat.sender_id == chat.sender_id,
                                               LiveChat.version == chat.version).values(**values)).rowcount
    s.commit()
    return changed == 1


def _insert(s, sender_id: str, **values: object) -> bool:
    s.add(LiveChat(sender_id=sender_id, version=1, updated_at=utcnow(), **values))
    try:
        s.commit()
        return True
    except IntegrityError:  # someone else created it first: the caller reads it again
        s.rollback()
        return False


def offer_allowed(sender_id: str, now: Optional[dt.datetime] = None, url: Optional[str] = None,
                  config: Optional[Staffing] = None) -> bool:
    """May the assistant offer this conversation a live chat now?

    Not when nobody is available or it is outside opening hours, not while a live chat of
    this conversation is waiting or running, and not again soon after nobody answered it.
    """
    now = now or utcnow()
    config = config or staffing()
    chat = get(sender_id, url)
    if chat is not None and chat.is_open:
        return False
    if (chat is not None and chat.ended_reason == "unanswered" and chat.ended_at
            and chat.ended_at > now - NO_REOFFER_AFTER_UNANSWERED):
        return False
    return live_chat_open(now, url, config)


def request(sender_id: str, url: Optional[str] = None) -> Tuple[bool, Chat]:
    """The visitor accepted the offer: the conversation waits for a person.

    ``(True, chat)`` when it now waits because of this call, ``(False, chat)`` when it was
    already waiting or taken over.
    """
    now = utcnow()
    for _ in range(5):
        with _session(url) as s:
            chat = _copy(s.get(LiveChat, sender_id))
            fields = dict(state="waiting", requested_at=now, staff_user=None, staff_name=None, started_at=None,
                          last_staff_at=None, ended_at=None, ended_reason=None, ended_by=None)
            if chat is None:
                if _insert(s, sender_id, **fields):
                    return True, get(sender_id, url)  # type: ignore[return-value]
                continue
            if chat.is_open:
                return False, chat
            if _cas(s, chat, **fields):
                return True, get(sender_id, url)  # type: ignore[return-value]
    raise RuntimeError("the live-chat state of this conversation keeps changing")


@dataclass(frozen=True)
class TakeResult:
    won: bool
    chat: Chat
    # when lost: who has the conversation
    holder_user: Optional[str] = None
    holder_name: Optional[str] = None
    # won, but it was already this staff member's (a second tab, a double click)
    already: bool = False


def take(sender_id: str, username: str, display_name: str, url: Optional[str] = None) -> TakeResult:
    """A staff member takes the conversation over. Of two at once, one wins; the other is told who."""
    now = utcnow()
    for _ in range(5):
        with _session(url) as s:
            chat = _copy(s.get(LiveChat, sender_id))
            fields = dict(state="active", staff_user=username, staff_name=display_name[:MAX_NAME],
                          started_at=now, last_staff_at=now, ended_at=None, ended_reason=None, ended_by=None)
            if chat is None:
                if _insert(s, sender_id, **fields):
                    return TakeResult(True, get(sender_id, url))  # type: ignore[arg-type]
                continue
            if chat.state in ("active", "ending"):
                if chat.state == "active" and chat.staff_user == username:
                    return TakeResult(True, chat, already=True)
                return TakeResult(False, chat, chat.staff_user, chat.staff_name)
            if _cas(s, chat, **fields):
                return TakeResult(True, get(sender_id, url))  # type: ignore[arg-type]
    raise RuntimeError("the live-chat state of this conversation keeps changing")


def undo_take(chat: Chat, url: Optional[str] = None) -> bool:
    """The Rasa server could not be told: the takeover did not happen."""
    with _session(url) as s:
        return _cas(s, chat, state="ended", ended_at=utcnow(), ended_reason="failed", ended_by=chat.staff_user)


def touch(sender_id: str, username: str, url: Optional[str] = None) -> Optional[Chat]:
    """The staff member wrote: their takeover is still theirs (the chat) or not (None)."""
    with _session(url) as s:
        changed = s.execute(update(LiveChat).where(LiveChat.sender_id == sender_id, LiveChat.state == "active",
                                                   LiveChat.staff_user == username)
                            .values(last_staff_at=utcnow())).rowcount
        s.commit()
    return get(sender_id, url) if changed == 1 else None


def begin_end(sender_id: str, reason: str, by: str, url: Optional[str] = None,
              only_user: Optional[str] = None, from_states: Sequence[str] = ("active",)) -> Optional[Chat]:
    """Claim the hand-back of an open live chat (``ending``); None when it is not (or no longer) so."""
    if reason not in REASONS:
        raise ValueError(f"reason must be one of {', '.join(REASONS)}")
    with _session(url) as s:
        chat = _copy(s.get(LiveChat, sender_id))
        if chat is None or chat.state not in from_states or (only_user and chat.staff_user != only_user):
            return None
        if not _cas(s, chat, state="ending", ended_reason=reason, ended_by=by):
            return None
    return get(sender_id, url)


def finish_end(chat: Chat, url: Optional[str] = None) -> bool:
    """The Rasa server was told: the live chat is over."""
    with _session(url) as s:
        return _cas(s, chat, state="ended", ended_at=utcnow())


def due(now: Optional[dt.datetime] = None, url: Optional[str] = None,
        config: Optional[Staffing] = None) -> List[Chat]:
    """Claim every live chat that must end now (``ending``, with its reason):

    * waiting longer than ``answer_within_minutes`` (``unanswered``);
    * active with no staff message for ``hand_back_after_minutes`` (``timeout``);
    * left ``ending`` by a process that died (to be finished again).
    """
    now = now or utcnow()
    config = config or staffing()
    with _session(url) as s:
        rows = [_copy(r) for r in s.query(LiveChat).filter(LiveChat.state.in_(("waiting", "active", "ending")))]
    claimed: List[Chat] = []
    for chat in rows:
        assert chat is not None
        if chat.state == "waiting" and chat.requested_at and chat.requested_at <= now - config.answer_within:
            got = begin_end(chat.sender_id, "unanswered", "system", url, from_states=("waiting",))
        elif chat.state == "active" and chat.last_staff_at and chat.last_staff_at <= now - config.hand_back_after:
            got = begin_end(chat.sender_id, "timeout", "system", url)
        elif chat.state == "ending" and chat.updated_at and chat.updated_at <= now - STALE_ENDING:
            with _session(url) as s:  # claim it again (bumps the version) so only one process retries
                got = get(chat.sender_id, url) if _cas(s, chat, state="ending") else None
        else:
            got = None
        if got is not None:
            claimed.append(got)
    return claimed


def changed_since(when: dt.datetime, url: Optional[str] = None) -> List[Chat]:
    with _session(url) as s:
        rows = s.query(LiveChat).filter(LiveChat.updated_at >= when).order_by(LiveChat.updated_at).all()
        return [c for c in (_copy(r) for r in rows) if c is not None]


def open_chats(url: Optional[str] = None) -> List[Chat]:
    with _session(url) as s:
        rows = s.query(LiveChat).filter(LiveChat.state.in_(tuple(OPEN_STATES))).order_by(LiveChat.updated_at)
        return [c for c in (_copy(r) for r in rows) if c is not None]


def counts(url: Optional[str] = None) -> Dict[str, int]:
    out = {state: 0 for state in STATES}
    with _session(url) as s:
        for state, n in s.query(LiveChat.state, func.count()).group_by(LiveChat.state):
            out[state] = int(n)
    return out


def purge(before: dt.datetime, url: Optional[str] = None) -> int:
    """Forget live chats that ended before ``before`` (the retention period)."""
    with _session(url) as s:
        n = (s.query(LiveChat).filter(LiveChat.state == "ended", LiveChat.updated_at < before)
             .delete(synchronize_session=False))
        s.commit()
    return int(n)
