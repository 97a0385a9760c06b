"""A policy that notices when a custom action failed and answers anyway.

When the action server cannot be reached, Rasa logs the error, drops the
action's events and sends the visitor nothing. This policy sees such a failed
action and predicts a domain response, which the Rasa server sends on its own:
the ``action_unavailable`` entry (try again, or contact the clinic), or the
crisis reply when the visitor's message was crisis language (a callback form
in progress calls the action server to validate each answer, so a crisis
message in the middle of the form must not depend on it either).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.domain import Domain
from rasa.shared.core.constants import ACTION_DEACTIVATE_LOOP_NAME, ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, Event, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

FALLBACK_RESPONSE = "utter_action_unavailable"
CRISIS_RESPONSE = "utter_crisis"
CRISIS_INTENT = "crisis"


def _failed_in_turn(tracker: DialogueStateTracker, watched: List[str]) -> Optional[List[str]]:
    """The actions run after a failed watched action in this turn, or None if none failed.

    Each watched action always produces something (a message, a slot, a form
    step), so an ``ActionExecuted`` followed directly by another action, or by
    nothing, means Rasa could not run it and dropped its events: the action
    server is down or failed. Only a live message (one that came in through a
    channel) counts: a story replayed by ``rasa test`` has no channel and no
    bot messages, and must not look like a failure.
    """
    if tracker.latest_message is None or not tracker.latest_message.input_channel:
        return None
    turn: List[Event] = []
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            break
        turn.append(event)
    turn.reverse()
    for i, event in enumerate(turn):
        if (
            isinstance(event, ActionExecuted)
            and event.action_name in watched
            and (i + 1 == len(turn) or isinstance(turn[i + 1], ActionExecuted))
        ):
            return [e.action_name for e in turn[i + 1:] if isinstance(e, ActionExecuted)]
    return None


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITH_END_TO_END_SUPPORT, is_trainable=False)
class ActionServerDownPolicy(Policy):
    """After a failed custom action: the crisis reply to crisis language, else ``utter_action_unavailable``."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "priority": 7,  # above RulePolicy (6): it only speaks when an action failed
            "watched_actions": [
                "action_answer", "action_submit_callback", "callback_form",
            ],
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer: Optional[Any] = None,
    ) -> None:
        super().__init__(config, model_storage, resource, execution_context, featurizer)
        self.watched = list(config.get("watched_actions", []))

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        after_failure = _failed_in_turn(tracker, self.watched)
        if after_failure is None:
            return self._prediction(probabilities)
        probabilities[domain.index_for_action(self._next_action(tracker, after_failure))] = 1.0
        # Marked like a form's own next step, which otherwise overrules every other policy.
        return self._prediction(probabilities, is_no_user_prediction=True)

    @staticmethod
    def _next_action(tracker: DialogueStateTracker, done: List[str]) -> str:
        """Reply, then end a form the visitor left in crisis, then listen."""
        crisis = (tracker.latest_message.intent or {}).get("name") == CRISIS_INTENT
        reply = CRISIS_RESPONSE if crisis else FALLBACK_RESPONSE
        if reply not in done:
            return reply
        if crisis and tracker.active_loop_name and ACTION_DEACTIVATE_LOOP_NAME not in done:
            return ACTION_DEACTIVATE_LOOP_NAME
        return ACTION_LISTEN_NAME

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "ActionServerDownPolicy":
        return cls(config, model_storage, resource, execution_context)
