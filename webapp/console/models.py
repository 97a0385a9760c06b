"""Kept only for ``webapp/console/auth.py``, which still imports from here: the tables are in :mod:`clinic.models`.

Delete this file once auth.py imports ``clinic.models`` (issue 13).
"""

from clinic.models import (  # noqa: F401
    REVIEW_STATUSES, ROLES, AuditEntry, Base, ConversationReview, LoginThrottle, StaffAccount, StaffSession,
    engine, session_factory, utcnow,
)
