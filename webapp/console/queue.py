"""The callback queue: requests the chat's form stored (``clinic.models.CallbackRequest``).

Most urgent first (``CallbackRequest.priority``: crisis, then medical, then the
rest), oldest first within a priority. Each request moves new -> contacted ->
closed; the table keeps who made the last change and when, the audit log keeps
every change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Set

from clinic.models import STATUSES, CallbackRequest, session_factory, utcnow
from webapp.console import audit

# What the queue page offers as its status filter.
VIEWS = ("open", "new", "contacted", "closed", "all")
PRIORITY_LABELS = {0: "crisis", 1: "medical", 2: "other"}


class QueueError(ValueError):
    """A status change that cannot be made; the message says why."""


class Conflict(QueueError):
    """Someone else changed the request meanwhile."""


@dataclass
class StatusChange:
    request_id: int
    before: str
    after: str


def list_requests(view: str = "open", url: Optional[str] = None) -> List[CallbackRequest]:
    with session_factory(url)() as session:
        q = session.query(CallbackRequest)
        if view == "open":
            q = q.filter(CallbackRequest.status.in_(("new", "contacted")))
        elif view in STATUSES:
            q = q.filter(CallbackRequest.status == view)
        rows = q.all()
    rows.sort(key=lambda r: (r.priority, r.created_at, r.id))
    return rows


def counts(url: Optional[str] = None) -> Dict[str, int]:
    out = {s: 0 for s in STATUSES}
    with session_factory(url)() as session:
        for status, in session.query(CallbackRequest.status):
            out[status] = out.get(status, 0) + 1
    return out


def get(request_id: int, url: Optional[str] = None) -> Optional[CallbackRequest]:
    with session_factory(url)() as session:
        return session.get(CallbackRequest, request_id)


def for_conversation(sender_id: str, url: Optional[str] = None) -> Optional[CallbackRequest]:
    with session_factory(url)() as session:
        return session.query(CallbackRequest).filter_by(conversation_id=sender_id).first()


def conversation_ids(url: Optional[str] = None) -> Set[str]:
    with session_factory(url)() as session:
        return {cid for cid, in session.query(CallbackRequest.conversation_id)}


def set_status(request_id: int, status: str, actor: str, expected: Optional[str] = None,
               ip: str = "", role: str = "", url: Optional[str] = None) -> StatusChange:
    """Move a request to ``status``. ``expected`` is the status the person saw:
    when someone else changed it meanwhile, :class:`Conflict` is raised."""
    if status not in STATUSES:
        raise QueueError(f"status must be one of: {', '.join(STATUSES)}")
    with session_factory(url)() as session:
        row = session.get(CallbackRequest, request_id)
        if row is None:
            raise QueueError("no such callback request")
        before = row.status
        if expected and expected != before:
            raise Conflict(f"{row.status_changed_by or 'someone'} changed this request to "
                           f"'{before}' meanwhile; look again before changing it")
        if before == status:
            raise QueueError(f"the request is already '{status}'")
        conversation = row.conversation_id
        # Compare-and-set, so two people changing the same request cannot both win.
        changed = (session.query(CallbackRequest)
                   .filter(CallbackRequest.id == request_id, CallbackRequest.status == before)
                   .update({"status": status, "status_changed_by": actor,
                            "status_changed_at": utcnow()}, synchronize_session=False))
        if changed != 1:
            session.rollback()
            raise Conflict("someone else changed this request meanwhile; look again before changing it")
        session.commit()
    audit.record(actor, "callback_status", f"callback:{request_id}",
                 {"from": before, "to": status, "conversation": conversation}, ip=ip, role=role, url=url)
    return StatusChange(request_id, before, status)
