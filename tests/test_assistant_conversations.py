"""Whole conversations against the real servers, read back from the tracker as staff and the evaluation see them."""

from __future__ import annotations

import pytest

from clinic.models import CallbackRequest, session_factory
from tests.conftest import make_stack


def test_topics_and_a_follow_up(stack, sender):
    assert stack.turn(sender, "what exactly is ketamine?") == ["what_is_ketamine"]
    assert stack.turn(sender, "how much ketamine is used for depression") == ["dose"]
    assert stack.turn(sender, "and how many of those would I need?") == ["multiple_sessions"]


def test_every_bot_message_carries_content_id_and_version(stack, sender):
    stack.say(sender, "hello")
    stack.say(sender, "where is the clinic")
    bots = [e for e in stack.tracker(sender)["events"] if e["event"] == "bot"]
    assert bots
    for event in bots:
        assert event["metadata"]["content_id"]
        assert isinstance(event["metadata"]["content_version"], int)


def test_medical_question_goes_to_the_callback_form_and_is_stored(stack, sender):
    assert stack.turn(sender, "can I keep taking my lamictal during the infusions") == ["medical_handoff", "callback_consent"]
    assert stack.turn(sender, "yes please") == ["callback_name"]
    assert stack.turn(sender, "Jane Doe") == ["callback_contact"]
    assert stack.turn(sender, "555-01") == ["callback_contact_invalid", "callback_contact"]
    assert stack.turn(sender, "jane.doe@example.org") == ["callback_time"]
    replies = stack.say(sender, "weekday mornings")
    assert "j***@example.org" in replies[0]["text"] and "jane.doe@" not in replies[0]["text"]
    with session_factory(stack.env["CLINIC_DB_URL"])() as session:
        row = session.query(CallbackRequest).filter_by(conversation_id=sender).one()
    assert row.reason == "can I keep taking my lamictal during the infusions"
    assert row.content_id == "medical_handoff" and row.contact == "jane.doe@example.org"
    # asking again does not make a second request
    assert stack.turn(sender, "can a nurse call me") == ["staff_handoff", "callback_already_requested"]


def test_declining_then_asking_a_topic(stack, sender):
    assert stack.turn(sender, "how much does it cost") == ["staff_handoff", "callback_consent"]
    assert stack.turn(sender, "no thanks") == ["callback_declined"]
    assert stack.turn(sender, "how long is an infusion session") == ["session_length"]


def test_a_new_question_during_the_form_ends_it_and_is_answered(stack, sender):
    stack.turn(sender, "I'd like to talk to a real person")
    stack.turn(sender, "sure")
    assert stack.turn(sender, "wait, where is your clinic?") == ["callback_stopped", "location"]
    assert stack.turn(sender, "thanks") == ["thanks"]


def test_crisis_in_the_middle_of_the_form_wins_and_marks_the_conversation(stack, sender):
    stack.turn(sender, "is ketamine ok if I have glaucoma")
    stack.turn(sender, "yes")
    assert stack.turn(sender, "i want to end my life") == ["crisis"]
    tracker = stack.tracker(sender)
    assert tracker["active_loop"] == {} or tracker["active_loop"].get("name") is None
    assert tracker["slots"]["crisis_flag"] is True
    # the crisis reply does not end the conversation
    assert stack.turn(sender, "what is ketamine") == ["what_is_ketamine"]


def test_two_misses_in_a_row_offer_a_person(stack, sender):
    assert stack.turn(sender, "qwerty zxcvb") == ["fallback"]
    assert stack.turn(sender, "asdf ghjkl") == ["fallback_repeat"]


def test_idioms_are_not_crises(stack, sender):
    for text in ["this is killing me lol", "I'm dying to know", "how do I kill the weeds", "kill the lights"]:
        shown = stack.turn(sender, text)
        assert shown and all(shown), f"no approved reply to {text!r}: {shown}"  # an empty reply would pass
        assert "crisis" not in shown


@pytest.fixture(scope="module")
def stack_actions_down(tmp_path_factory):
    """A Rasa server whose action server is stopped part-way."""
    s = make_stack(tmp_path_factory.mktemp("down"))
    try:
        s.start_actions()
        s.start_rasa()
        yield s
    finally:
        s.stop_all()


def test_with_the_action_server_down_every_message_is_answered(stack_actions_down):
    s = stack_actions_down
    in_form = "down-form"
    assert s.turn(in_form, "can I drink alcohol after an infusion") == ["medical_handoff", "callback_consent"]
    assert s.turn(in_form, "yes") == ["callback_name"]
    s.stop("actions")
    # crisis in the middle of the form, with the action server gone
    assert s.turn(in_form, "I'm going to kill myself tonight") == ["crisis"]
    assert s.turn("down-first", "I want to die") == ["crisis"]
    # answers come from the Rasa server itself: the action server is not needed
    assert s.turn("down-topic", "how long does a session take") == ["session_length"]
    assert s.turn("down-topic", "where are you located") == ["location"]
    # what does need it (a "yes" to a callback offer starts the form) gets the polite reply
    assert s.turn("down-offer", "how do I get in touch with the clinic") == ["contact"]
    text = s.say("down-offer", "yes please")[0]["text"]
    assert "can't look that up right now" in text and "988" in text
    s.start_actions()
    assert s.turn("down-offer", "yes please") == ["callback_consent"]
    assert s.turn("down-topic", "where are you located") == ["location"]
