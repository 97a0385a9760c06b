"""The action for replies to an offer: yes / no / stop.

Every topic, small-talk, hand-off and fallback intent is answered by the domain
response ``utter_answer``, filled in by the Rasa server's response generator
(``addons/approved_nlg.py``) from the routing table (``content/routing.yml``),
so an answer costs no call to the action server (docs/PERFORMANCE.md).

``action_answer`` is left for yes / no / stop, the one place an answer may also
start the callback form (a "yes" to a callback offer).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from clinic import content, routing


def last_bot_content_id(tracker: Tracker) -> Optional[str]:
    """The content id of the assistant's previous message, if any."""
    return routing.current().previous_content_id(
        e.get("metadata") for e in reversed(tracker.events) if e.get("event") == "bot")


def content_id_for(tracker: Tracker) -> str:
    """Which approved entry answers the latest message."""
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    return routing.current().choose_content_id(intent, last_bot_content_id(tracker))


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
        table = routing.current()
        offer = last_bot_content_id(tracker)
        if intent == "affirm" and offer in table.offers_callback:
            # A hand-off text shown by a story (data/stories/follow_ups.yml) set no hand-off
            # slot: the request still says which one it answers (clinical ones come first).
            if not tracker.get_slot("handoff_content_id") and offer in {r.content for r in table.handoffs()}:
                return [SlotSet("handoff_content_id", offer), FollowupAction("callback_form")]
            return [FollowupAction("callback_form")]
        message = content.current().render(content_id_for(tracker))
        dispatcher.utter_message(**message.as_kwargs())
        return []
