"""The action that answers a visitor with approved content.

One action serves every topic, small-talk, hand-off and fallback intent: the
intent names the content id, and the approved-content file holds the words.
Rules decide *when* to answer; this action only decides *which entry*.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import content
from actions.content import ARTICLE_TOPICS, SMALL_TALK

# Intents whose content id differs from the intent name.
INTENT_CONTENT = {
    "medical_question": "medical_handoff",
    "ask_staff": "staff_handoff",
    "request_human": "staff_handoff",
    "contact": "contact",
    "out_of_scope": "out_of_scope",
    "nlu_fallback": "fallback",
    "affirm": "acknowledge",
    "deny": "acknowledge",
    "stop": "acknowledge",
    "inform_time": "fallback",
}
INTENT_CONTENT.update({topic: topic for topic in ARTICLE_TOPICS + SMALL_TALK})

NOT_UNDERSTOOD = frozenset({"fallback", "fallback_repeat", "out_of_scope"})
HANDOFFS = frozenset({"medical_handoff", "staff_handoff"})
# Messages that offer a callback: a "yes" after one of them starts the callback form.
OFFERS_CALLBACK = frozenset({"staff_handoff", "medical_handoff", "contact", "consultation", "fallback_repeat"})


def last_bot_content_id(tracker: Tracker) -> Optional[str]:
    """The content id of the assistant's previous message, if any."""
    for event in reversed(tracker.events):
        if event.get("event") == "bot":
            return (event.get("metadata") or {}).get("content_id")
    return None


def content_id_for(tracker: Tracker) -> str:
    """Which approved entry answers the latest message."""
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    content_id = INTENT_CONTENT.get(intent or "", "fallback")
    if content_id in NOT_UNDERSTOOD and last_bot_content_id(tracker) in NOT_UNDERSTOOD:
        return "fallback_repeat"  # second miss in a row: offer a person
    return content_id


class ActionAnswer(Action):
    """Answer the latest message with its approved entry."""

    def name(self) -> Text:
        return "action_answer"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[Dict[Text, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent == "affirm" and last_bot_content_id(tracker) in OFFERS_CALLBACK:
            return [FollowupAction("callback_form")]
        content_id = content_id_for(tracker)
        message = content.current().render(content_id)
        dispatcher.utter_message(**message.as_kwargs())
        if content_id in HANDOFFS:
            # Kept for the callback request: why the visitor was handed over.
            return [
                SlotSet("handoff_reason", tracker.latest_message.get("text")),
                SlotSet("handoff_content_id", content_id),
            ]
        return []
