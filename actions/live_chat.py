"""The offer of a live chat with a person, and the visitor's "yes" to it.

When a visitor asks for a person or is handed off (data/rules/handoff.yml), the hand-off
text is followed by ``action_offer_live_chat``: while someone from the clinic is available
(opening hours of content/staffing.yml, a staff member marked available in the console) it
offers "a member of our team can chat with you now"; otherwise the callback form starts, as
it always did. A "yes" to the offer (data/rules/live_chat.yml) is ``action_live_chat``: the
conversation waits for a person, who takes it over from the staff console; a "no" gets the
callback form. :mod:`clinic.live_chat` holds the state; nothing here logs what the visitor wrote.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from clinic import content, live_chat

logger = logging.getLogger(__name__)

# The slot the hand-off rules branch on (data/rules/handoff.yml, data/rules/live_chat.yml).
OFFERED = "live_chat_offered"


def _say(dispatcher: CollectingDispatcher, content_id: str) -> None:
    dispatcher.utter_message(**content.current().render(content_id).as_kwargs())


class ActionOfferLiveChat(Action):
    """Offers a live chat when someone can take it now; ``live_chat_offered`` tells the rules
    whether to wait for the answer (true) or start the callback form, as without live chat (false)."""

    def name(self) -> Text:
        return "action_offer_live_chat"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        try:
            chat = live_chat.get(tracker.sender_id)
            if chat is not None and chat.state == "waiting":
                _say(dispatcher, live_chat.WAITING)  # asked again while waiting: still waiting
                return [SlotSet(OFFERED, True)]
            if live_chat.offer_allowed(tracker.sender_id):
                _say(dispatcher, live_chat.OFFER)
                return [SlotSet(OFFERED, True)]
        except Exception as e:  # the clinic database is unreachable: the callback form, as before
            logger.error("Live chat availability unknown (%s): callback form for %s", type(e).__name__,
                         tracker.sender_id)
        return [SlotSet(OFFERED, False)]  # the rules start the callback form


class ActionLiveChat(Action):
    """The visitor wants to chat now: the conversation waits for a person, or the callback form."""

    def name(self) -> Text:
        return "action_live_chat"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        try:
            chat = live_chat.get(tracker.sender_id)
            if chat is not None and chat.is_open:
                _say(dispatcher, live_chat.WAITING)
                return []
            if live_chat.live_chat_open():
                live_chat.request(tracker.sender_id)
                logger.info("Live chat requested in conversation %s", tracker.sender_id)
                _say(dispatcher, live_chat.WAITING)
                return []
        except Exception as e:
            logger.error("Live chat could not be requested (%s) in conversation %s", type(e).__name__,
                         tracker.sender_id)
        _say(dispatcher, live_chat.UNAVAILABLE)
        return [FollowupAction("callback_form")]
