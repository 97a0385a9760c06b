"""The consented callback form: validation of each answer, then the stored request.

The form itself (which slot to ask next, and the questions) runs inside the
Rasa server from ``domain.yml``; this module checks the answers and stores the
finished request. Contact details are masked in replies and never logged.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text, Tuple

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.callback_store import save_request
from clinic import content, routing
from clinic.logfiles import error_summary
from clinic.models import CallbackRequest

logger = logging.getLogger(__name__)

FORM_SLOTS = ("callback_consent", "callback_name", "callback_contact", "callback_time")
MAX_NAME = 100
MAX_TIME = 120
PHONE_REGION = "US"
# Replies that are not anyone's name: a visitor who answers the name question with "yes"
# (or "ok", "no thanks"...) is asked again rather than addressed as "Yes" by staff.
NOT_A_NAME = frozenset("""
    yes yeah yea yep yup ya yah y sure ok okay okey k kk alright fine correct absolutely
    definitely certainly please thanks thank you thx no nope nah n not never maybe perhaps
    hi hello hey hiya what why how huh hmm hm um uh er idk dunno know don't dont i i'm im it's its
    cool lol test anonymous nobody none nothing name my is it that this me so just the a an and or
""".split())


def parse_contact(text: str) -> Optional[Tuple[str, str]]:
    """``("phone", E.164)`` or ``("email", normalised)`` for a usable contact, else None."""
    text = text.strip()
    if "@" in text:
        candidate = text.split()[-1] if " " in text else text
        try:
            return "email", validate_email(candidate, check_deliverability=False).normalized
        except EmailNotValidError:
            return None
    digits = re.sub(r"[^\d+]", "", text)
    if not 7 <= len(digits) <= 16:
        return None
    try:
        number = phonenumbers.parse(text, PHONE_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return "phone", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_contact(kind: str, value: str) -> str:
    """Enough for the visitor to recognise their contact, not enough to reveal it."""
    if kind == "email":
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    return f"the number ending in {value[-2:]}"


class ValidateCallbackForm(FormValidationAction):
    """Checks each answer; a bad one is cleared and asked again with a clear reason."""

    def name(self) -> Text:
        return "validate_callback_form"

    def validate_callback_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        name = " ".join(str(value or "").split())
        if not name or len(name) > MAX_NAME or "?" in name or re.search(r"\d", name):
            return {"callback_name": None}
        words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", name.casefold())
        if not words or all(w in NOT_A_NAME for w in words):
            return {"callback_name": None}  # "yes", "ok thanks", "!!!": asked again
        return {"callback_name": name}

    def validate_callback_contact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        parsed = parse_contact(str(value or ""))
        if parsed is None:
            dispatcher.utter_message(**content.current().render(routing.current().role("callback_contact_invalid")).as_kwargs())
            return {"callback_contact": None}
        return {"callback_contact": parsed[1]}

    def validate_callback_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        when = " ".join(str(value or "").split())
        if not when or len(when) > MAX_TIME:
            return {"callback_time": None}
        return {"callback_time": when}


class ActionSubmitCallback(Action):
    """Stores the finished request once per conversation and confirms it."""

    def name(self) -> Text:
        return "action_submit_callback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        contact = tracker.get_slot("callback_contact") or ""
        kind = "email" if "@" in contact else "phone"
        request = CallbackRequest(
            conversation_id=tracker.sender_id,
            reason=tracker.get_slot("handoff_reason") or "",
            content_id=tracker.get_slot("handoff_content_id") or "staff_handoff",
            crisis=bool(tracker.get_slot("crisis_flag")),
            name=tracker.get_slot("callback_name") or "",
            contact=contact,
            contact_kind=kind,
            preferred_time=tracker.get_slot("callback_time") or "",
        )
        try:
            stored = save_request(request)
        except SQLAlchemyError as error:
            # The database cannot take it now: an approved apology instead of a 500. The details stay
            # in the conversation's slots, so asking again submits them again, and staff can read them.
            # The error's first line only ("database is locked"): its later lines carry the SQL.
            logger.error("Callback request for conversation %s not stored: %s", tracker.sender_id,
                         error_summary(error))
            unavailable = content.current().render(routing.current().role("unavailable"))
            dispatcher.utter_message(**unavailable.as_kwargs())
            return []
        logger.info(
            "Callback request %s for conversation %s.",
            "stored" if stored else "already on file", tracker.sender_id,
        )
        if stored:
            message = content.current().render(
                routing.current().role("callback_confirmed"),
                {
                    "callback_name": request.name,
                    "contact_masked": mask_contact(kind, contact),
                    "callback_time": request.preferred_time,
                },
            )
        else:
            message = content.current().render(routing.current().role("callback_already_requested"))
        dispatcher.utter_message(**message.as_kwargs())
        # The details are in the queue now; the conversation need not carry them.
        return [SlotSet("callback_requested", True)] + [SlotSet(s, None) for s in FORM_SLOTS]
