"""Callback requests: the queue staff work through, stored with SQLAlchemy.

SQLite under ``var/`` by default; set ``CLINIC_DB_URL`` (for example
``postgresql://user:pass@host/clinic``) to use another database.
"""

from __future__ import annotations

import datetime as dt
import os
from functools import lru_cache
from pathlib import Path
from typing import Optional

from sqlalchemy import Boolean, Column, DateTime, Integer, String, Text, create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import declarative_base, sessionmaker

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'clinic.db'}"

Base = declarative_base()

STATUSES = ("new", "contacted", "closed")


def utcnow() -> dt.datetime:
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
        """0 is most urgent: crisis first, then medical, then the rest."""
        if self.crisis:
            return 0
        return 1 if self.content_id == "medical_handoff" else 2


def db_url() -> str:
    return os.environ.get("CLINIC_DB_URL") or DEFAULT_DB_URL


@lru_cache(maxsize=None)
def engine_for(url: str) -> Engine:
    """One engine per URL per process; tables are created on first use."""
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_pre_ping=True, future=True)
    Base.metadata.create_all(engine)
    return engine


def session_factory(url: Optional[str] = None) -> sessionmaker:
    return sessionmaker(bind=engine_for(url or db_url()), future=True, expire_on_commit=False)


def save_request(request: CallbackRequest, url: Optional[str] = None) -> bool:
    """Store ``request`` unless its conversation already has one; True when stored."""
    with session_factory(url)() as session:
        exists = (
            session.query(CallbackRequest.id)
            .filter_by(conversation_id=request.conversation_id)
            .first()
        )
        if exists:
            return False
        session.add(request)
        try:
            session.commit()
        except IntegrityError:  # the same conversation submitted twice at once
            session.rollback()
            return False
        return True
