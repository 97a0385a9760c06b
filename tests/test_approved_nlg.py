"""The answers the Rasa server sends itself: ``utter_answer`` and the other domain responses,
filled with the approved text by ``addons/approved_nlg.py``, and the slots the domain fills
for the callback request."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from addons.approved_nlg import ApprovedContentNLG
from clinic import content
from tests.conftest import run_coroutine
from tests.design_ids import DESIGN_ROUTES

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = Domain.load(str(ROOT / "domain.yml"))
APPROVED = content.ApprovedContent.load()


def tracker(intent: str, text: str = "a visitor message",
            previous: Optional[str] = None) -> DialogueStateTracker:
    """A conversation whose latest message has ``intent``; ``previous``: the content id of
    the assistant's message before it."""
    events: List[Any] = [ActionExecuted("action_listen")]
    if previous:
        events += [BotUttered("...", metadata={"content_id": previous}), ActionExecuted("action_listen")]
    events.append(UserUttered(text, {"name": intent, "confidence": 0.9}))
    return DialogueStateTracker.from_events("visitor-1", events, DOMAIN.slots)


def generate(nlg: ApprovedContentNLG, response: str, t: DialogueStateTracker) -> Dict[str, Any]:
    """Run the generator as the Rasa server does."""
    return run_coroutine(nlg.generate(response, t, "rest"))


def extracted_slots(t: DialogueStateTracker) -> Dict[str, Any]:
    """The slots the domain's mappings set after the latest message (Rasa's action_extract_slots)."""
    from rasa.core.actions.action import ActionExtractSlots
    from rasa.core.channels import CollectingOutputChannel
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator

    events = run_coroutine(ActionExtractSlots(None).run(
        CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(DOMAIN.responses), t, DOMAIN))
    return {e.key: e.value for e in events if hasattr(e, "key")}


@pytest.fixture(scope="module")
def nlg() -> ApprovedContentNLG:
    return ApprovedContentNLG(EndpointConfig(), DOMAIN)


@pytest.mark.parametrize("intent, content_id", sorted(DESIGN_ROUTES.items()))
def test_utter_answer_shows_the_approved_entry_of_each_intent(nlg, intent, content_id):
    message = generate(nlg, "utter_answer", tracker(intent))
    expected = APPROVED.render(content_id)
    assert message["text"] == expected.text
    assert message["content_id"] == content_id
    assert message["content_version"] == APPROVED.entries[content_id].version
    assert message.get("buttons", []) == [dict(b) for b in expected.buttons]


def test_the_dose_answer_is_the_approved_wording_and_states_no_amount(nlg):
    text = generate(nlg, "utter_answer", tracker("dose"))["text"]
    assert text == APPROVED.entries["dose"].text.format_map(APPROVED.clinic)
    assert " mg" not in text and "milligram" not in text.lower()


def test_a_second_miss_in_a_row_offers_a_person(nlg):
    message = generate(nlg, "utter_answer", tracker("nlu_fallback", previous="out_of_scope"))
    assert message["content_id"] == "fallback_repeat"
    assert {"title": "Talk to a person", "payload": "/request_human"} in message["buttons"]


def test_a_miss_after_an_answer_is_a_plain_fallback(nlg):
    assert generate(nlg, "utter_answer", tracker("nlu_fallback", previous="dose"))["content_id"] == "fallback"


def test_an_unknown_intent_gets_the_fallback(nlg):
    assert generate(nlg, "utter_answer", tracker("no_such_intent"))["content_id"] == "fallback"


def test_an_expired_entry_is_withheld_and_staff_offered(nlg, monkeypatch, caplog):
    expired = dataclasses.replace(APPROVED.entries["dose"], review_due=dt.date(2020, 1, 1))
    stale = content.ApprovedContent({**APPROVED.entries, "dose": expired}, APPROVED.clinic)
    monkeypatch.setattr(nlg, "content", stale)
    with caplog.at_level(logging.ERROR):
        message = generate(nlg, "utter_answer", tracker("dose"))
    assert message["content_id"] == "staff_handoff"
    assert message["text"] == APPROVED.render("staff_handoff").text
    assert "'dose'" in caplog.text


def test_the_crisis_reply_is_filled_by_content_id(nlg):
    message = generate(nlg, "utter_crisis", tracker("crisis"))
    assert message["content_id"] == "crisis"
    assert message["text"] == APPROVED.render("crisis").text and "988" in message["text"]


def test_a_response_naming_an_unknown_entry_stops_the_model_from_loading():
    bad = {"utter_x": [{"text": "x", "metadata": {"content_id": "nope"}}]}
    with pytest.raises(ValueError, match="'utter_x' names unknown content id 'nope'"):
        ApprovedContentNLG(EndpointConfig(), Domain.from_dict({"responses": bad}))
    # what the Rasa server does: the generator first, with an empty domain, then the model's responses
    nlg = ApprovedContentNLG(EndpointConfig(), Domain.empty())
    with pytest.raises(ValueError, match="'utter_x' names unknown content id 'nope'"):
        nlg.responses = bad
    nlg.responses = DOMAIN.responses
    assert nlg.responses is DOMAIN.responses


@pytest.mark.parametrize("intent, content_id", [
    ("medical_question", "medical_handoff"), ("ask_staff", "staff_handoff"), ("request_human", "staff_handoff"),
])
def test_a_handoff_remembers_the_question_for_the_callback(intent, content_id):
    """The domain's slot mappings keep why the visitor was handed over (stored with the callback)."""
    slots = extracted_slots(tracker(intent, text="is it safe with lithium"))
    assert slots["handoff_reason"] == "is it safe with lithium"
    assert slots["handoff_content_id"] == content_id


def test_other_messages_leave_the_handoff_slots_alone():
    slots = extracted_slots(tracker("dose", text="how much ketamine"))
    assert not set(slots) & {"handoff_reason", "handoff_content_id"}
