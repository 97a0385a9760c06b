"""Which approved entry answers a visitor, and the action for replies to an offer.

Every topic, small-talk, hand-off and fallback intent is answered by the domain
response ``utter_answer``: the Rasa server's response generator
(``addons/approved_nlg.py``) asks :func:`choose_content_id` which entry to show,
so an answer costs no call to the action server (docs/PERFORMANCE.md). Rules
decide *when* to answer; this module only decides *which entry*.

``action_answer`` is left for yes / no / stop, the one place an answer may also
start the callback form (a "yes" to a callback offer).
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction
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
# Messages that offer a callback: a "yes" after one of them starts the callback form.
OFFERS_CALLBACK = frozenset({"staff_handoff", "medical_handoff", "contact", "consultation", "fallback_repeat"})


# Not part of the dialogue: after "can't look that up right now, try again", a
# visitor who says "yes" again is still answering the offer before it.
NOT_A_TURN = frozenset({"action_unavailable"})


def previous_content_id(bot_metadata_newest_first: Iterable[Optional[Mapping[str, Any]]]) -> Optional[str]:
    """The content id of the assistant's previous message, from its messages' metadata.

    Shared by the action server (events as dicts) and the Rasa server (event objects).
    """
    for metadata in bot_metadata_newest_first:
        content_id = (metadata or {}).get("content_id")
        if content_id not in NOT_A_TURN:
            return content_id
    return None


def last_bot_content_id(tracker: Tracker) -> Optional[str]:
    """The content id of the assistant's previous message, if any."""
    return previous_content_id(e.get("metadata") for e in reversed(tracker.events) if e.get("event") == "bot")


def choose_content_id(intent: Optional[str], previous_id: Optional[str]) -> str:
    """Which approved entry answers a message with ``intent``.

    ``previous_id`` is the entry of the assistant's previous message: a
    second message in a row that is not understood gets the offer of a person.
    Shared by the Rasa server (``utter_answer``) and the action server.
    """
    content_id = INTENT_CONTENT.get(intent or "", "fallback")
    if content_id in NOT_UNDERSTOOD and previous_id in NOT_UNDERSTOOD:
        return "fallback_repeat"
    return content_id


def content_id_for(tracker: Tracker) -> str:
    """Which approved entry answers the latest message."""
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    return choose_content_id(intent, last_bot_content_id(tracker))


class ActionAnswer(Action):
    """Answer yes / no / stop: start the callback form after an offer, else acknowledge."""

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
        return []
