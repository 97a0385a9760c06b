"""Follow-ups understood from the previous answer (issue 12, item 4).

The stories (data/stories/follow_ups.yml) are checked for consistency as the policy reads
them (previous answer + follow-up); the policy (addons/follow_up_policy.py) is checked to
speak only about follow-ups and to look at the last turns only; whole conversations on
the real servers show which entry the visitor gets, read back from the tracker.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from addons.follow_up_policy import recent_turns, story_intents
from clinic.content import ApprovedContent
from clinic.routing import RoutingTable

ROOT = Path(__file__).resolve().parent.parent
STORIES = ROOT / "data" / "stories" / "follow_ups.yml"
TABLE = RoutingTable.load(ROOT / "content" / "routing.yml")
FOLLOW_UPS = story_intents(TABLE)


def _stories() -> List[dict]:
    return yaml.safe_load(STORIES.read_text(encoding="utf-8"))["stories"]


# --- the stories, as the policy reads them -------------------------------------------------
def test_the_routing_table_names_the_follow_up_intents():
    assert {"follow_up_more", "follow_up_why", "follow_up_who"} <= FOLLOW_UPS
    for intent in FOLLOW_UPS:
        assert TABLE.get(intent).content in TABLE.not_understood, "with no story, the follow-up is not understood"


def test_no_two_stories_want_different_entries_after_the_same_answer_and_follow_up():
    """max_history 2: the key is the previous turn (its intent and answer) and the follow-up."""
    wanted: Dict[Tuple[str, str, str], Set[str]] = defaultdict(set)
    for story in _stories():
        prev_intent, prev_action, intent = "", "", None
        for step in story["steps"]:
            if "intent" in step:
                if intent is not None:
                    prev_intent = intent
                intent, first = step["intent"], True
            else:
                if first:
                    wanted[(prev_intent, prev_action, intent)].add(step["action"])
                    first = False
                prev_action = step["action"]
    contradictions = {key: actions for key, actions in wanted.items() if len(actions) > 1}
    assert not contradictions
    assert len(wanted) > 30


def test_each_follow_up_has_a_story_with_nothing_before_it():
    firsts = {s["steps"][0]["intent"]: s["steps"][1]["action"] for s in _stories()}
    for intent in FOLLOW_UPS:
        assert firsts.get(intent) == "utter_answer", f"{intent}: no story where it comes first"


def test_every_entry_the_stories_show_is_a_domain_response_naming_an_approved_entry():
    domain = Domain.load(str(ROOT / "domain.yml"))
    content = ApprovedContent.load()
    shown = {step["action"] for s in _stories() for step in s["steps"]
             if "action" in step and step["action"].startswith("utter_") and step["action"] != "utter_answer"}
    assert shown
    for action in shown:
        metadata = domain.responses[action][0]["metadata"]
        assert metadata["content_id"] == action[len("utter_"):]
        assert metadata["content_id"] in content.entries


def test_follow_ups_are_never_answered_by_a_rule_outside_the_form():
    """A rule would win over every story: the follow-ups' only rules are the callback form's."""
    for path in (ROOT / "data" / "rules").glob("*.yml"):
        for rule in yaml.safe_load(path.read_text(encoding="utf-8")).get("rules") or []:
            intents = [s["intent"] for s in rule["steps"] if "intent" in s]
            if set(intents) & FOLLOW_UPS:
                assert {"active_loop": "callback_form"} in (rule.get("condition") or []), (path, rule["rule"])


# --- the policy --------------------------------------------------------------------------
def _conversation(turns: int) -> DialogueStateTracker:
    events = [ActionExecuted("action_listen")]
    for i in range(turns):
        events += [UserUttered(f"message {i}", {"name": "what_is_ketamine"}), ActionExecuted("utter_answer"),
                   BotUttered("answer"), ActionExecuted("action_listen")]
    return DialogueStateTracker.from_events("test", events)


def test_recent_turns_keeps_the_last_visitor_messages_and_forgets_older_slots():
    tracker = _conversation(2)
    tracker.update(SlotSet("callback_requested", True))
    for i in range(5):
        tracker.update(UserUttered(f"later {i}", {"name": "thanks"}))
        tracker.update(ActionExecuted("utter_answer"))
        tracker.update(ActionExecuted("action_listen"))
    recent = recent_turns(tracker, 3)
    users = [e.text for e in recent.events if isinstance(e, UserUttered)]
    assert users == ["later 2", "later 3", "later 4"]
    assert isinstance(recent.events[0], ActionExecuted) and recent.events[0].action_name == "action_listen"
    assert recent.get_slot("callback_requested") is None and tracker.get_slot("callback_requested") is True
    assert recent_turns(_conversation(2), 5) is not None
    assert [e.text for e in recent_turns(_conversation(2), 5).events if isinstance(e, UserUttered)] == \
        ["message 0", "message 1"]


def test_the_policy_is_silent_unless_the_message_is_a_follow_up(tmp_path):
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    from addons.follow_up_policy import FollowUpMemoizationPolicy

    domain = Domain.load(str(ROOT / "domain.yml"))
    policy = FollowUpMemoizationPolicy.create(
        {**FollowUpMemoizationPolicy.get_default_config(), "routing_table": str(ROOT / "content" / "routing.yml")},
        LocalModelStorage(tmp_path), Resource("follow_ups"), ExecutionContext(GraphSchema({}), "test"))
    tracker = _conversation(1)
    # a lookup that would answer anything after this state with the how_it_works entry
    states = policy._prediction_states(tracker, domain)
    policy.lookup = {policy._create_feature_key(states[-2:]): "utter_how_it_works"}
    assert max(policy.predict_action_probabilities(tracker, domain).probabilities) == 0.0
    tracker.update(UserUttered("why?", {"name": "follow_up_why"}))
    states = policy._prediction_states(tracker, domain)
    policy.lookup = {policy._create_feature_key(states[-2:]): "utter_how_it_works"}
    probabilities = policy.predict_action_probabilities(tracker, domain).probabilities
    assert probabilities[domain.index_for_action("utter_how_it_works")] == 1.0


# --- whole conversations on the real servers ---------------------------------------------
def _talk(stack, sender: str, turns: List[str]) -> List[List[str]]:
    return [stack.turn(sender, text) for text in turns]


@pytest.mark.parametrize("turns, expected", [
    # "why?" gets the entry that explains the previous one
    (["how fast does ketamine work", "why?"], ["how_fast_it_works", "how_it_works"]),
    (["what is ketamine", "how so?"], ["what_is_ketamine", "how_it_works"]),
    (["how long is an infusion session", "why is that?"], ["session_length", "dose"]),
    (["will I need more than one infusion?", "how come?"], ["multiple_sessions", "consultation"]),
    # "tell me more" walks on, twice in a row too
    (["how much ketamine do you use for depression", "tell me more", "and then?"],
     ["dose", "session_length", "multiple_sessions"]),
    (["where is the clinic", "tell me more"], ["location", "contact"]),
    # "who is he?" after the clinic or the consultation
    (["tell me about the clinic", "who is he?"], ["about_clinic", "about_clinic"]),
    (["what happens before treatment", "who would I meet?"], ["consultation", "about_clinic"]),
    # follow-ups that mean the same after any answer (issue 12's examples)
    (["will I need more than one infusion?", "and how long does each one take?"],
     ["multiple_sessions", "session_length"]),
    (["tell me about the clinic", "where is it?"], ["about_clinic", "location"]),
    (["tell me about the clinic", "and who runs it?"], ["about_clinic", "about_clinic"]),
    (["how long is an infusion session", "how many would I need?"], ["session_length", "multiple_sessions"]),
])
def test_a_follow_up_gets_the_entry_its_previous_answer_calls_for(stack, sender, turns, expected):
    assert [ids[0] for ids in _talk(stack, sender, turns)] == expected


@pytest.mark.parametrize("follow_up", ["what about side effects?", "is that safe?", "why?"])
def test_medical_follow_ups_after_the_dose_go_to_a_clinician(stack, sender, follow_up):
    assert stack.turn(sender, "how much ketamine do you use for depression") == ["dose"]
    assert stack.turn(sender, follow_up)[0] == "medical_handoff"


def test_yes_to_a_hand_off_shown_by_a_story_starts_a_clinical_callback_request(stack, sender):
    """The story shows the hand-off text alone; its offer of a person is the text's own."""
    stack.turn(sender, "how much ketamine do you use for depression")
    assert stack.turn(sender, "why?") == ["medical_handoff"]
    assert stack.turn(sender, "yes") == ["callback_consent"]
    assert stack.tracker(sender)["slots"]["handoff_content_id"] == "medical_handoff"
    assert "medical_handoff" in TABLE.clinical_handoff


def test_a_follow_up_with_nothing_to_refer_to_is_not_understood(stack, sender):
    assert stack.turn(sender, "why?") == [TABLE.get("follow_up_why").content]
    assert stack.turn(sender, "tell me more") == [TABLE.repeat_content]
    other = "test-other-" + sender
    assert stack.turn(other, "where is the clinic") == ["location"]
    assert stack.turn(other, "why?") == ["fallback"]


def test_the_context_survives_an_ok_and_earlier_turns(stack, sender):
    assert _talk(stack, sender, ["hello", "where is the clinic", "how fast does ketamine work", "ok", "why?"])[-1] == \
        ["how_it_works"]


def _callback_form(stack, sender: str) -> None:
    """The callback form, started by a "yes" to the distress reply's offer (actions/answers.py)."""
    assert stack.turn(sender, "I've been struggling so much lately") == ["distress"]
    assert stack.turn(sender, "yes") == ["callback_consent"]


def test_yes_to_the_distress_reply_starts_the_callback_form(stack, sender):
    assert "distress" in TABLE.offers_callback
    _callback_form(stack, sender)
    assert stack.turn(sender, "yes please") == ["callback_name"]
    other = "test-other-" + sender
    assert stack.turn(other, "everything feels so heavy lately") == ["distress"]
    assert stack.turn(other, "no thanks") == ["acknowledge"]


def test_a_follow_up_while_the_form_asks_for_consent_is_not_understood_and_the_form_asks_again(stack, sender):
    _callback_form(stack, sender)
    assert stack.turn(sender, "why?") == ["fallback", "callback_consent"]
    assert stack.turn(sender, "no") == ["callback_declined"]


def test_a_follow_up_after_a_finished_callback_request_is_still_understood(stack, sender):
    _callback_form(stack, sender)
    stack.turn(sender, "yes please")
    stack.turn(sender, "Jane Doe")
    stack.turn(sender, "jane.doe@example.org")
    assert stack.turn(sender, "weekday mornings") == [TABLE.role("callback_confirmed")]
    assert stack.tracker(sender)["slots"]["callback_requested"] is True
    assert stack.turn(sender, "how fast does ketamine work") == ["how_fast_it_works"]
    assert stack.turn(sender, "why?") == ["how_it_works"]
