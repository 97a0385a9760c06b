"""What the front desk needs on the conversation list and the callback queue.

* Phone numbers formatted the way people read them ("(530) 555-0123") and as ``tel:`` links
  (the template filters ``phone`` and ``tel``).
* The callback queue's work: who is assigned, how many attempts, and each attempt's outcome
  ("left voicemail") with a short note. Every attempt and assignment is audited; the notes
  live in ``callback_attempts`` and are purged with their request (:func:`purge_orphans`).
* For the conversation list: the callback's name, a medical flag, and "a medical hand-off
  that declined a callback" flagged for review.

The template helpers are registered on the console's Jinja environment by :func:`install`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

import phonenumbers
from sanic import Blueprint, response
from sanic.request import Request
from sqlalchemy import Column, DateTime, Integer, String, Text

from clinic import routing
from clinic.models import Base, CallbackRequest, StaffAccount, engine, session_factory, utcnow
from webapp.console import audit

logger = logging.getLogger(__name__)

PHONE_REGION = "US"
OUTCOMES = {
    "reached": "reached them",
    "left_voicemail": "left voicemail",
    "no_answer": "no answer",
    "wrong_number": "wrong number",
    "emailed": "sent an email",
    "other": "other",
}
MAX_ATTEMPT_NOTE = 500
# Content ids that mean "the visitor said no to (or stopped) the callback form".
DECLINED = frozenset({"callback_declined", "callback_stopped"})


class CallbackWork(Base):
    """Who works one callback request and how it went so far."""

    __tablename__ = "callback_work"

    request_id = Column(Integer, primary_key=True)
    assignee = Column(String(64), nullable=True)
    attempts = Column(Integer, nullable=False, default=0)
    last_outcome = Column(String(32), nullable=True)
    last_attempt_at = Column(DateTime, nullable=True)
    updated_by = Column(String(64), nullable=True)
    updated_at = Column(DateTime, nullable=True)


class CallbackAttempt(Base):
    """One try at reaching the visitor."""

    __tablename__ = "callback_attempts"

    id = Column(Integer, primary_key=True)
    request_id = Column(Integer, nullable=False, index=True)
    at = Column(DateTime, nullable=False, default=utcnow)
    by = Column(String(64), nullable=False)
    outcome = Column(String(32), nullable=False)
    note = Column(Text, nullable=False, default="")


_ready: Set[str] = set()
_ready_lock = threading.Lock()


def _session(url: Optional[str] = None):
    eng = engine(url)
    key = str(eng.url)
    if key not in _ready:
        with _ready_lock:
            if key not in _ready:
                CallbackWork.__table__.create(eng, checkfirst=True)
                CallbackAttempt.__table__.create(eng, checkfirst=True)
                _ready.add(key)
    return session_factory(url)()


# --- phone numbers ----------------------------------------------------------------------

def _parsed(value: str) -> Optional[phonenumbers.PhoneNumber]:
    try:
        number = phonenumbers.parse(value, PHONE_REGION)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_possible_number(number) else None


def format_phone(value: Optional[str]) -> str:
    """"+15305550123" -> "(530) 555-0123"; other countries in international form; else as given."""
    if not value:
        return ""
    number = _parsed(value)
    if number is None:
        return value
    if phonenumbers.region_code_for_number(number) == PHONE_REGION:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def tel_href(value: Optional[str]) -> str:
    """A ``tel:`` link (E.164) for a phone number, or "" when it is not one."""
    number = _parsed(value or "")
    if number is None:
        return ""
    return "tel:" + phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def contact_link(kind: str, value: str) -> Tuple[str, str]:
    """(text, href) for a callback's contact: a formatted tel: link or a mailto: link."""
    if kind == "phone":
        return format_phone(value), tel_href(value)
    if kind == "email" and "@" in value:
        return value, "mailto:" + urllib.parse.quote(value, safe="@.+-_")
    return value, ""


# --- the callback queue's work ------------------------------------------------------------

@dataclass(frozen=True)
class Work:
    request_id: int
    assignee: Optional[str] = None
    attempts: int = 0
    last_outcome: Optional[str] = None
    last_attempt_at: Optional[dt.datetime] = None
    history: Tuple[Tuple[dt.datetime, str, str, str], ...] = ()  # (at, by, outcome, note), oldest first

    @property
    def last_outcome_label(self) -> str:
        return OUTCOMES.get(self.last_outcome or "", "")


class WorkError(ValueError):
    """A change to a callback's work that cannot be made; the message says why."""


def work_for(request_ids: Iterable[int], url: Optional[str] = None, with_history: bool = False) -> Dict[int, Work]:
    ids = sorted({int(i) for i in request_ids})
    if not ids:
        return {}
    with _session(url) as s:
        rows = {w.request_id: w for w in s.query(CallbackWork).filter(CallbackWork.request_id.in_(ids))}
        history: Dict[int, List[Tuple[dt.datetime, str, str, str]]] = {}
        if with_history:
            for a in (s.query(CallbackAttempt).filter(CallbackAttempt.request_id.in_(ids))
                      .order_by(CallbackAttempt.id)):
                history.setdefault(a.request_id, []).append((a.at, a.by, a.outcome, a.note))
    out = {}
    for i in ids:
        w = rows.get(i)
        out[i] = Work(i, w.assignee if w else None, w.attempts if w else 0, w.last_outcome if w else None,
                      w.last_attempt_at if w else None, tuple(history.get(i, ())))
    return out


def _request_exists(s, request_id: int) -> bool:
    return s.get(CallbackRequest, request_id) is not None


def record_attempt(request_id: int, outcome: str, note: str, actor: str, ip: str = "", role: str = "",
                   url: Optional[str] = None) -> Work:
    if outcome not in OUTCOMES:
        raise WorkError(f"the outcome must be one of: {', '.join(OUTCOMES.values())}")
    note = " ".join((note or "").split())[:MAX_ATTEMPT_NOTE]
    now = utcnow()
    with _session(url) as s:
        if not _request_exists(s, request_id):
            raise WorkError("no such callback request")
        s.add(CallbackAttempt(request_id=request_id, at=now, by=actor, outcome=outcome, note=note))
        work = s.get(CallbackWork, request_id)
        if work is None:
            work = CallbackWork(request_id=request_id, attempts=0)
            s.add(work)
        work.attempts = (work.attempts or 0) + 1
        work.last_outcome, work.last_attempt_at, work.updated_by, work.updated_at = outcome, now, actor, now
        s.commit()
    audit.record(actor, "callback_attempt", f"callback:{request_id}",
                 {"outcome": outcome, "attempt": work.attempts, "note_chars": len(note)}, ip=ip, role=role, url=url)
    return work_for([request_id], url)[request_id]


def assign(request_id: int, assignee: str, actor: str, ip: str = "", role: str = "",
           url: Optional[str] = None) -> Work:
    assignee = (assignee or "").strip()
    now = utcnow()
    with _session(url) as s:
        if not _request_exists(s, request_id):
            raise WorkError("no such callback request")
        if assignee and not s.query(StaffAccount).filter_by(username=assignee, active=True).first():
            raise WorkError(f"there is no active staff account '{assignee}'")
        work = s.get(CallbackWork, request_id)
        if work is None:
            work = CallbackWork(request_id=request_id, attempts=0)
            s.add(work)
        before = work.assignee
        work.assignee, work.updated_by, work.updated_at = assignee or None, actor, now
        s.commit()
    audit.record(actor, "callback_assign", f"callback:{request_id}",
                 {"from": before or "", "to": assignee}, ip=ip, role=role, url=url)
    return work_for([request_id], url)[request_id]


def staff_usernames(url: Optional[str] = None) -> List[str]:
    with session_factory(url)() as s:
        return [u for u, in s.query(StaffAccount.username).filter(StaffAccount.active.is_(True))
                .order_by(StaffAccount.username)]


def purge_orphans(url: Optional[str] = None) -> int:
    """Delete the work and attempt notes of callback requests that no longer exist (retention)."""
    with _session(url) as s:
        live = {i for i, in s.query(CallbackRequest.id)}
        gone = {i for i, in s.query(CallbackWork.request_id)} | {i for i, in s.query(CallbackAttempt.request_id)}
        gone -= live
        if not gone:
            return 0
        n = s.query(CallbackAttempt).filter(CallbackAttempt.request_id.in_(gone)).delete(synchronize_session=False)
        n += s.query(CallbackWork).filter(CallbackWork.request_id.in_(gone)).delete(synchronize_session=False)
        s.commit()
    return int(n)


# --- the conversation list ---------------------------------------------------------------

@dataclass(frozen=True)
class CallbackBrief:
    id: int
    name: str
    contact: str
    contact_kind: str
    status: str


_brief_cache: Dict[str, Tuple[float, Dict[str, CallbackBrief]]] = {}


def callbacks_by_conversation(url: Optional[str] = None, max_age: float = 2.0) -> Dict[str, CallbackBrief]:
    """Every callback request by conversation id (cached a moment: one list page asks once per row)."""
    key = url or ""
    cached = _brief_cache.get(key)
    if cached and time.monotonic() - cached[0] < max_age:
        return cached[1]
    with session_factory(url)() as s:
        out = {r.conversation_id: CallbackBrief(r.id, r.name, r.contact, r.contact_kind, r.status)
               for r in s.query(CallbackRequest)}
    _brief_cache[key] = (time.monotonic(), out)
    return out


def flags_of(content_ids: Iterable[str], has_callback: bool) -> Dict[str, bool]:
    """Front-desk flags from the content ids a conversation was shown."""
    ids = set(content_ids)
    table = routing.current()
    medical = bool(ids & set(table.clinical_handoff)) or "medical_handoff" in ids
    handoff = bool(ids & {r.content for r in table.handoffs()}) or "live_chat_offer" in ids
    return {
        "medical": medical,
        "handoff": handoff,
        "live_chat": bool(ids & {"live_chat_waiting", "live_chat_joined"}),
        # a medical question handed to staff, and the visitor said no to the callback: review it
        "declined_medical": medical and not has_callback and bool(ids & DECLINED),
    }


# --- routes and template helpers -----------------------------------------------------------

def _back(request: Request) -> str:
    back = (request.form.get("back") if request.form else None) or "/staff/queue"
    return back if back.startswith("/staff/queue") or back.startswith("/staff/conversation?") else "/staff/queue"


def build_blueprint(state: Any) -> Blueprint:
    bp = Blueprint("staff_frontdesk", url_prefix="/staff")

    def actor(request: Request) -> Tuple[str, str]:
        return request.ctx.account.username, request.ctx.account.role

    def ip(request: Request) -> str:
        return str(request.remote_addr or request.ip or "")

    @bp.post("/queue/<request_id:int>/attempt")
    async def attempt(request: Request, request_id: int):
        who, role = actor(request)
        try:
            record_attempt(request_id, request.form.get("outcome") or "", request.form.get("note") or "", who,
                           ip(request), role, state.clinic_url)
        except WorkError as e:
            return state.render(request, "error.html", status=400, title="Attempt not recorded", detail=str(e),
                                back=_back(request))
        return response.redirect(_back(request), status=303)

    @bp.post("/queue/<request_id:int>/assign")
    async def assign_route(request: Request, request_id: int):
        who, role = actor(request)
        assignee = request.form.get("assignee") or ""
        if assignee == "me":
            assignee = who
        try:
            assign(request_id, assignee, who, ip(request), role, state.clinic_url)
        except WorkError as e:
            return state.render(request, "error.html", status=400, title="Not assigned", detail=str(e),
                                back=_back(request))
        return response.redirect(_back(request), status=303)

    return bp


def install(state: Any) -> None:
    """Template filters and helpers for the list, the queue and the transcript."""
    env = state.env
    env.filters["phone"] = format_phone
    env.filters["tel"] = tel_href
    env.globals["contact_link"] = contact_link
    env.globals["callbacks_by_conversation"] = lambda: callbacks_by_conversation(state.clinic_url)
    env.globals["callback_work"] = lambda ids, history=False: work_for(ids, state.clinic_url, history)
    env.globals["staff_usernames"] = lambda: staff_usernames(state.clinic_url)
    env.globals["frontdesk_flags"] = flags_of
    env.globals["attempt_outcomes"] = OUTCOMES
