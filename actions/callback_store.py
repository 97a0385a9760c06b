"""Storing a finished callback request (the table itself is :class:`clinic.models.CallbackRequest`)."""

from __future__ import annotations

from typing import Optional

from sqlalchemy.exc import IntegrityError

from clinic.models import CallbackRequest, session_factory


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
