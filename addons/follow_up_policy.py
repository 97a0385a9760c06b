"""The stories' memory, asked only about follow-ups and only about the last few turns.

"Why?" or "tell me more" means something else after each answer, so the stories in
``data/stories/follow_ups.yml`` say which entry answers it after which. Rasa's
``AugmentedMemoizationPolicy`` learns them; this subclass changes when it runs, not
what it predicts:

* It speaks only in a turn whose latest message has an intent the routing table
  (``content/routing.yml``) marks ``answered_by: story``. Every other turn is the
  rules' alone, exactly as before the stories existed (the crisis reply, hand-offs,
  the form), and costs no featurization: measured in-process, the policy as Rasa
  ships it took about 2 ms of CPU per message on a short conversation (two to three
  predictions, each featurizing the whole conversation) and 5-6 ms after 30 messages.
* It reads only the last ``lookback_turns`` visitor messages. With ``max_history: 2``
  a story is matched on the previous answer and the follow-up; a window of a few
  turns keeps that (rule-only turns such as an "ok" are skipped inside it, as Rasa
  skips them), and forgets slots set before it (a callback already requested), as
  the augmented policy does by truncation, so the cost no longer grows with the
  conversation.

docs/PERFORMANCE.md ("Follow-ups in context") has the measurements.
"""

from __future__ import annotations

from typing import Any, Dict, FrozenSet, List, Optional, Text

from rasa.core.policies.memoization import AugmentedMemoizationPolicy
from rasa.core.policies.policy import PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from clinic import routing


def story_intents(table: routing.RoutingTable) -> FrozenSet[str]:
    """The intents the stories answer (``answered_by: story`` in the routing table)."""
    return frozenset(route.intent for route in table if route.answered_by == "story")


def recent_turns(tracker: DialogueStateTracker, turns: int) -> DialogueStateTracker:
    """A copy of ``tracker`` from the ``turns``-th last visitor message on (the tracker itself if shorter)."""
    events = tracker.applied_events()
    seen = 0
    for i in range(len(events) - 1, -1, -1):
        if isinstance(events[i], UserUttered):
            seen += 1
            if seen == turns:
                recent = tracker.init_copy()
                for event in events[max(0, i - 1):]:  # from the action_listen before that message
                    recent.update(event)
                return recent
    return tracker


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class FollowUpMemoizationPolicy(AugmentedMemoizationPolicy):
    """AugmentedMemoizationPolicy for the follow-up intents only, on the last few turns."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **AugmentedMemoizationPolicy.get_default_config(),
            "max_history": 2,
            "lookback_turns": 4,
            "routing_table": None,  # a path, for tests; by default the project's (clinic.settings)
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer: Optional[Any] = None,
        lookup: Optional[Dict] = None,
    ) -> None:
        super().__init__(config, model_storage, resource, execution_context, featurizer, lookup)
        self.intents = story_intents(routing.RoutingTable.load(config.get("routing_table")))
        self.lookback_turns = max(int(config.get("lookback_turns") or 0), int(config.get("max_history") or 1) + 1)

    def _prediction_states(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        use_text_for_last_user_input: bool = False,
        rule_only_data: Optional[Dict[Text, Any]] = None,
    ) -> List[State]:
        return super()._prediction_states(recent_turns(tracker, self.lookback_turns), domain,
                                          use_text_for_last_user_input, rule_only_data)

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        latest = tracker.latest_message.intent.get("name") if tracker.latest_message else None
        if latest not in self.intents:
            return self._prediction(self._default_predictions(domain))
        return super().predict_action_probabilities(tracker, domain, rule_only_data, **kwargs)
