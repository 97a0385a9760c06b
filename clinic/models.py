"""The clinic database (``CLINIC_DB_URL``): every table, one declarative ``Base``, one engine per URL.

SQLite under ``var/`` by default; set ``CLINIC_DB_URL`` (for example
``postgresql://user:pass@host/clinic``) to use another database. One database
holds the callback queue and everything the staff console records about it:

* ``callback_requests``: a visitor's consented request to be called back
  (stored by the action server, worked through by staff).
* ``staff_accounts``: one row per staff member (argon2 password hash, role).
* ``staff_sessions``: signed-in browsers (the cookie carries a signed random
  token; only its SHA-256 is stored, so a copy of the table signs nobody in).
* ``login_throttle``: failed sign-in counters per username+IP and per username.
* ``audit_log``: who did what, when. Append-only: no code edits it, and on
  SQLite and PostgreSQL a trigger refuses UPDATE and DELETE on it (and TRUNCATE
  on PostgreSQL); in production a role of its own owns it (``clinic.db_roles``).
* ``staff_totp``, ``staff_recovery_codes``: staff members' second factor.
* ``conversation_reviews``: a status (new / reviewed), note and tags per
  conversation.

The tables are created, and the triggers put in place, the first time a
process uses a URL.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any, Dict, Optional

from sqlalchemy import Boolean, Column, DateTime, Integer, String, Text, create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import declarative_base, sessionmaker

from clinic import routing, settings

Base: Any = declarative_base()  # Any: SQLAlchemy 1.4 has no typed declarative base

STATUSES = ("new", "contacted", "closed")
ROLES = ("staff", "editor", "admin")
# Who may change the training data from the console (the learning inbox's assignments).
EDITOR_ROLES = ("editor", "admin")
REVIEW_STATUSES = ("new", "reviewed")

def utcnow() -> dt.datetime:
    """Naive UTC, as every timestamp column stores it."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)

class CallbackRequest(Base):
    """One visitor's consented request to be contacted by the clinic."""

    __tablename__ = "callback_requests"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), nullable=False, index=True, unique=True)
    reason = Column(Text, nullable=False, default="")
    content_id = Column(String(64), nullable=False, default="")
    crisis = Column(Boolean, nullable=False, default=False)
    name = Column(String(200), nullable=False)
    contact = Column(String(320), nullable=False)
    contact_kind = Column(String(10), nullable=False)  # "phone" or "email"
    preferred_time = Column(String(200), nullable=False, default="")
    created_at = Column(DateTime, nullable=False, default=utcnow, index=True)
    status = Column(String(16), nullable=False, default="new", index=True)
    status_changed_by = Column(String(100), nullable=True)
    status_changed_at = Column(DateTime, nullable=True)

    @property
    def priority(self) -> int:
        """0 is most urgent: crisis first, then clinical hand-offs (routing table), then the rest."""
        if self.crisis:
            return 0
        return 1 if self.content_id in routing.current().clinical_handoff else 2

class StaffAccount(Base):
    __tablename__ = "staff_accounts"

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True, index=True)
    role = Column(String(16), nullable=False, default="staff")
    password_hash = Column(String(255), nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    created_by = Column(String(100), nullable=False, default="")
    disabled_at = Column(DateTime, nullable=True)
    disabled_by = Column(String(100), nullable=True)
    password_changed_at = Column(DateTime, nullable=True)
    last_sign_in_at = Column(DateTime, nullable=True)

class StaffSession(Base):
    __tablename__ = "staff_sessions"

    id = Column(String(64), primary_key=True)  # sha256 hex of the cookie's token
    account_id = Column(Integer, nullable=False, index=True)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    last_seen_at = Column(DateTime, nullable=False, default=utcnow)
    ip = Column(String(64), nullable=False, default="")

class LoginThrottle(Base):
    __tablename__ = "login_throttle"

    key = Column(String(400), primary_key=True)  # "username|ip" or "username|*"
    failures = Column(Integer, nullable=False, default=0)
    last_failure_at = Column(DateTime, nullable=True)
    locked_until = Column(DateTime, nullable=True)

class AuditEntry(Base):
    __tablename__ = "audit_log"

    id = Column(Integer, primary_key=True)
    at = Column(DateTime, nullable=False, default=utcnow, index=True)
    actor = Column(String(100), nullable=False, index=True)
    role = Column(String(16), nullable=False, default="")
    action = Column(String(64), nullable=False, index=True)
    target = Column(String(300), nullable=False, default="", index=True)
    detail = Column(Text, nullable=False, default="")
    ip = Column(String(64), nullable=False, default="")

class StaffTotp(Base):
    """An account's second factor (TOTP, RFC 6238): the shared secret and the last step accepted.

    ``confirmed_at`` is None while enrolment waits for the first code. ``last_step`` makes a
    code good for one sign-in only (no replay within its 30-second window).
    """

    __tablename__ = "staff_totp"

    account_id = Column(Integer, primary_key=True)
    secret = Column(String(64), nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    confirmed_at = Column(DateTime, nullable=True)
    last_step = Column(Integer, nullable=False, default=0)

class StaffRecoveryCode(Base):
    """One-time recovery codes for a lost authenticator: only their SHA-256 is stored."""

    __tablename__ = "staff_recovery_codes"

    id = Column(Integer, primary_key=True)
    account_id = Column(Integer, nullable=False, index=True)
    code_hash = Column(String(64), nullable=False, unique=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    used_at = Column(DateTime, nullable=True)

class ConversationReview(Base):
    __tablename__ = "conversation_reviews"

    sender_id = Column(String(255), primary_key=True)
    status = Column(String(16), nullable=False, default="new")
    note = Column(Text, nullable=False, default="")
    tags = Column(String(255), nullable=False, default="")
    updated_by = Column(String(100), nullable=True)
    updated_at = Column(DateTime, nullable=True)

_APPEND_ONLY = {
    "sqlite": [
        """CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
           BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
        """CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
           BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
    ],
    "postgresql": [
        """CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
           BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql""",
        "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
        """CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
           FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()""",
        # TRUNCATE skips row triggers: a statement trigger of its own.
        "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
        """CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
           FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()""",
    ],
}
# In production the audit table belongs to a role of its own (clinic.db_roles): the app's
# roles may only INSERT and SELECT, so they cannot (and need not) put the triggers in place.
_OWNS_AUDIT_LOG = text(
    "SELECT pg_has_role(current_user, tableowner, 'USAGE') FROM pg_tables "
    "WHERE tablename = 'audit_log' AND schemaname = ANY (current_schemas(false))")

_engines: Dict[str, Engine] = {}
_engines_lock = threading.Lock()

def db_url() -> str:
    return settings.get("CLINIC_DB_URL")

def create_tables(eng: Engine, attempts: int = 5) -> None:
    """Create the missing tables. Processes starting together on one database (web app, retention,
    a test's own session) race between "does it exist" and CREATE: the loser sees "already exists",
    so it looks again instead of failing its start."""
    for attempt in range(attempts):
        try:
            Base.metadata.create_all(eng)
            return
        except DatabaseError as error:
            if "already exists" not in str(error.orig) or attempt == attempts - 1:
                raise


def engine(url: Optional[str] = None) -> Engine:
    """The clinic database's engine (one per URL per process), tables and triggers created on first use."""
    url = url or db_url()
    eng = _engines.get(url)
    if eng is not None:
        return eng
    with _engines_lock:
        eng = _engines.get(url)
        if eng is None:
            if url.startswith("sqlite:///"):
                Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
            # hide_parameters: an error's message never carries names, phone numbers, e-mails
            eng = create_engine(url, pool_pre_ping=True, future=True, hide_parameters=True)
            create_tables(eng)
            statements = _APPEND_ONLY.get(eng.dialect.name, [])
            if statements and eng.dialect.name == "postgresql":
                with eng.connect() as conn:
                    if conn.execute(_OWNS_AUDIT_LOG).scalar() is False:
                        statements = []
            if statements:
                with eng.begin() as conn:
                    for statement in statements:
                        conn.execute(text(statement))
            _engines[url] = eng
    return eng

def session_factory(url: Optional[str] = None) -> sessionmaker:
    return sessionmaker(bind=engine(url), future=True, expire_on_commit=False)
