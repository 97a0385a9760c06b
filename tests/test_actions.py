"""Custom actions: the exact approved text and metadata for every content id, the form, the store."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.answers import ActionAnswer
from actions.callback_form import ActionSubmitCallback, ValidateCallbackForm, mask_contact, parse_contact
from clinic import content, routing
from clinic.models import CallbackRequest, session_factory
from tests.conftest import run_coroutine
from tests.design_ids import ARTICLE_TOPICS, DESIGN_ROUTES, ROUTING, SMALL_TALK

APPROVED = content.ApprovedContent.load()
TABLE = routing.RoutingTable.load()


def tracker(intent: str, text: str = "a visitor message", events: Optional[List[Dict[str, Any]]] = None,
            slots: Optional[Dict[str, Any]] = None, sender: str = "visitor-1") -> Tracker:
    latest = {"intent": {"name": intent, "confidence": 0.9}, "entities": [], "text": text}
    return Tracker(sender, slots or {}, latest, events or [], False, None, {}, "action_listen")


def run(action, t: Tracker, domain: Optional[dict] = None):
    """Run an action as the action server does."""
    dispatcher = CollectingDispatcher()
    events = run_coroutine(action.run(dispatcher, t, domain or {}))
    return dispatcher.messages, events


def bot_event(content_id: str) -> Dict[str, Any]:
    return {"event": "bot", "text": "...", "metadata": {"content_id": content_id}}


@pytest.mark.parametrize("intent, content_id", sorted(DESIGN_ROUTES.items()))
def test_each_intent_gets_its_approved_text_and_metadata(intent, content_id):
    messages, _ = run(ActionAnswer(), tracker(intent))
    expected = APPROVED.render(content_id)
    assert len(messages) == 1
    message = messages[0]
    assert message["text"] == expected.text
    assert message["content_id"] == content_id
    assert message["content_version"] == APPROVED.entries[content_id].version
    assert message["buttons"] == [dict(b) for b in expected.buttons]


def test_every_design_id_is_reached_by_an_intent_of_the_routing_table():
    reached = {route.content for route in TABLE}
    missing = set(ARTICLE_TOPICS + SMALL_TALK + ROUTING) - reached
    assert not missing, f"no intent of content/routing.yml leads to {sorted(missing)}"
    assert TABLE.article_topics == ARTICLE_TOPICS


def test_an_intent_the_table_does_not_know_gets_the_fallback():
    messages, _ = run(ActionAnswer(), tracker("an_intent_nobody_defined"))
    assert messages[0]["content_id"] == "fallback"


def test_the_session_length_text_is_the_approved_wording_as_written_in_the_file():
    """Read from content/approved.yml itself (not through the loader), so an edit of the wording passes."""
    import yaml

    raw = yaml.safe_load(content.APPROVED_PATH.read_text(encoding="utf-8"))["session_length"]
    messages, _ = run(ActionAnswer(), tracker("session_length"))
    assert messages[0]["text"] == " ".join(raw["text"].split()).format_map(APPROVED.clinic)
    assert messages[0]["content_version"] == raw["version"]


def test_a_second_miss_in_a_row_offers_a_person():
    messages, _ = run(ActionAnswer(), tracker("nlu_fallback", events=[bot_event("fallback")]))
    assert messages[0]["content_id"] == "fallback_repeat"
    assert {"title": "Talk to a person", "payload": "/request_human"} in messages[0]["buttons"]


def test_a_miss_after_an_answer_is_a_plain_fallback():
    messages, _ = run(ActionAnswer(), tracker("nlu_fallback", events=[bot_event("dose")]))
    assert messages[0]["content_id"] == "fallback"


def test_yes_after_a_callback_offer_starts_the_form():
    messages, events = run(ActionAnswer(), tracker("affirm", events=[bot_event("contact")]))
    assert messages == [] and events == [FollowupAction("callback_form")]


def test_yes_again_after_the_action_server_was_down_still_starts_the_form():
    events = [bot_event("contact"), bot_event("action_unavailable")]
    messages, events = run(ActionAnswer(), tracker("affirm", events=events))
    assert messages == [] and events == [FollowupAction("callback_form")]


def test_yes_out_of_context_is_acknowledged():
    messages, _ = run(ActionAnswer(), tracker("affirm", events=[bot_event("dose")]))
    assert messages[0]["content_id"] == "acknowledge"


def test_an_expired_entry_shows_staff_handoff(monkeypatch, caplog):
    import dataclasses
    import datetime as dt
    expired = dataclasses.replace(APPROVED.entries["dose"], review_due=dt.date(2020, 1, 1))
    stale = content.ApprovedContent({**APPROVED.entries, "dose": expired}, APPROVED.clinic)
    monkeypatch.setattr(content, "_current", stale)
    with caplog.at_level(logging.ERROR):
        messages, _ = run(ActionAnswer(), tracker("dose"))
    assert messages[0]["content_id"] == "staff_handoff"
    assert messages[0]["text"] == APPROVED.render("staff_handoff").text
    assert "'dose'" in caplog.text


@pytest.mark.parametrize("text, expected", [
    ("(530) 555-0142", ("phone", "+15305550142")),
    ("530.555.0142", ("phone", "+15305550142")),
    ("+1 916 555 2671", ("phone", "+19165552671")),
    ("Jane.Doe@Example.org", ("email", "Jane.Doe@example.org")),
    ("it's jane@example.org", ("email", "jane@example.org")),
    ("555", None), ("jane@", None), ("call me maybe", None), ("12345678901234567890", None), ("", None),
])
def test_contact_parsing(text, expected):
    assert parse_contact(text) == expected


def test_contact_masking_hides_the_details():
    assert mask_contact("phone", "+15305550142") == "the number ending in 42"
    assert mask_contact("email", "jane@example.org") == "j***@example.org"


def test_a_malformed_contact_is_asked_again_with_a_reason():
    dispatcher = CollectingDispatcher()
    result = ValidateCallbackForm().validate_callback_contact("5551", dispatcher, tracker("inform_time"), {})
    assert result == {"callback_contact": None}
    assert dispatcher.messages[0]["content_id"] == "callback_contact_invalid"


@pytest.mark.parametrize("name, ok", [("Jane Doe", True), ("what is this?", False), ("x" * 101, False), ("R2D2", False)])
def test_name_validation(name, ok):
    result = ValidateCallbackForm().validate_callback_name(name, CollectingDispatcher(), tracker("inform_time"), {})
    assert (result["callback_name"] is not None) is ok


@pytest.fixture
def clinic_db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    monkeypatch.setenv("CLINIC_DB_URL", url)
    return url


def filled_form(sender: str = "visitor-7") -> Tracker:
    slots = {"callback_consent": True, "callback_name": "Jane Doe", "callback_contact": "+15305550142",
             "callback_time": "weekday mornings", "handoff_reason": "is it safe with lithium",
             "handoff_content_id": "medical_handoff", "crisis_flag": False}
    return tracker("inform_time", text="weekday mornings", slots=slots, sender=sender)


def test_a_completed_form_stores_one_request_and_confirms_masked(clinic_db, caplog):
    with caplog.at_level(logging.DEBUG):
        messages, events = run(ActionSubmitCallback(), filled_form())
    with session_factory(clinic_db)() as session:
        rows = session.query(CallbackRequest).all()
    assert len(rows) == 1
    row = rows[0]
    assert (row.conversation_id, row.reason, row.content_id, row.name, row.contact, row.contact_kind,
            row.preferred_time, row.status) == (
        "visitor-7", "is it safe with lithium", "medical_handoff", "Jane Doe", "+15305550142", "phone",
        "weekday mornings", "new")
    assert row.created_at is not None
    assert messages[0]["content_id"] == "callback_confirmed"
    assert "the number ending in 42" in messages[0]["text"]
    assert "5550142" not in messages[0]["text"]
    assert "5550142" not in caplog.text and "Jane Doe" not in caplog.text
    assert SlotSet("callback_requested", True) in events
    assert SlotSet("callback_contact", None) in events


def test_asking_twice_in_one_conversation_stores_one_request(clinic_db):
    run(ActionSubmitCallback(), filled_form("visitor-8"))
    messages, _ = run(ActionSubmitCallback(), filled_form("visitor-8"))
    with session_factory(clinic_db)() as session:
        assert session.query(CallbackRequest).filter_by(conversation_id="visitor-8").count() == 1
    assert messages[0]["content_id"] == "callback_already_requested"


def test_a_database_that_cannot_store_the_request_gets_the_approved_apology_and_keeps_the_details(
        monkeypatch, caplog):
    from clinic import routing as clinic_routing

    monkeypatch.setenv("CLINIC_DB_URL", "postgresql://clinic:secret@127.0.0.1:1/clinic")  # nothing listens
    with caplog.at_level(logging.INFO):
        messages, events = run(ActionSubmitCallback(), filled_form("visitor-9"))
    assert [m["content_id"] for m in messages] == [clinic_routing.current().role("unavailable")]
    assert events == []  # the filled slots stay: asking again submits them again
    assert "not stored: OperationalError" in caplog.text
    assert "5550142" not in caplog.text and "Jane Doe" not in caplog.text and "secret" not in caplog.text
