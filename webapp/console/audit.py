"""The audit trail: every sign-in, view of visitor data (transcripts, the conversation
list's previews, text searches, the callback queue), export, status change, account
change and purge, with who, what and when.

Entries are only ever added (:func:`record`); nothing in the console edits or
deletes them, and the database refuses to (see :mod:`clinic.models`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

from clinic.models import AuditEntry, session_factory, utcnow

logger = logging.getLogger(__name__)

# The actions the console records (the audit page offers them as a filter).
ACTIONS = (
    "sign_in",
    "sign_in_failed",
    "sign_in_refused",
    "sign_out",
    "sign_in_password",
    "password_change",
    "password_change_failed",
    "totp_enrol",
    "totp_code_wrong",
    "totp_recovery_codes",
    "totp_disable",
    "totp_reset",
    "conversation_list",
    "conversation_search",
    "conversation_view",
    "conversation_review",
    "export_conversation",
    "export_list",
    "queue_view",
    "callback_status",
    "account_create",
    "account_disable",
    "account_enable",
    "account_unlock",
    "account_password_reset",
    "purge",
    "analytics_view",
    "analytics_export",
    "inbox_view",
    "inbox_assign",
)


def record(
    actor: str,
    action: str,
    target: str = "",
    detail: Optional[Mapping[str, Any]] = None,
    ip: str = "",
    role: str = "",
    url: Optional[str] = None,
) -> None:
    """Append one entry. ``detail`` is stored as JSON; never put a password in it."""
    entry = AuditEntry(
        at=utcnow(),
        actor=(actor or "anonymous")[:100],
        role=(role or "")[:16],
        action=action[:64],
        target=(target or "")[:300],
        detail=json.dumps(dict(detail or {}), sort_keys=True, default=str, ensure_ascii=False),
        ip=(ip or "")[:64],
    )
    with session_factory(url)() as session:
        session.add(entry)
        session.commit()


@dataclass
class AuditFilter:
    actor: str = ""
    action: str = ""
    target: str = ""
    since: Optional[dt.datetime] = None  # naive UTC, inclusive
    until: Optional[dt.datetime] = None  # naive UTC, exclusive


def query(flt: AuditFilter, page: int = 1, per_page: int = 50,
          url: Optional[str] = None) -> Tuple[List[AuditEntry], int]:
    """Entries matching ``flt``, newest first, and how many match in all."""
    with session_factory(url)() as session:
        q = session.query(AuditEntry)
        if flt.actor:
            q = q.filter(AuditEntry.actor == flt.actor)
        if flt.action:
            q = q.filter(AuditEntry.action == flt.action)
        if flt.target:
            q = q.filter(AuditEntry.target.contains(flt.target, autoescape=True))
        if flt.since:
            q = q.filter(AuditEntry.at >= flt.since)
        if flt.until:
            q = q.filter(AuditEntry.at < flt.until)
        total = q.count()
        rows = (q.order_by(AuditEntry.id.desc())
                .offset(max(page - 1, 0) * per_page).limit(per_page).all())
        return rows, total


def entries_for_target(target: str, url: Optional[str] = None, limit: int = 50) -> List[AuditEntry]:
    """History of one object (a callback request, a conversation), oldest first."""
    with session_factory(url)() as session:
        rows = (session.query(AuditEntry).filter(AuditEntry.target == target)
                .order_by(AuditEntry.id.desc()).limit(limit).all())
    return list(reversed(rows))


def detail_of(entry: AuditEntry) -> Dict[str, Any]:
    try:
        value = json.loads(entry.detail or "{}")
    except ValueError:
        return {"detail": entry.detail}
    return value if isinstance(value, dict) else {"detail": value}
