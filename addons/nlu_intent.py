"""What the NLU safety components share: reading and overwriting a message's intent.

They all run after the classifier and may replace its prediction; none of
them learns anything (except the scope gate's vocabulary), and none touches a
button payload ("/intent"), which already names its intent.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Text, Tuple

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.training_data import TrainingData

from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message


def intent_of(message: Message) -> tuple[Optional[Text], float]:
    """The predicted intent name and its confidence."""
    intent = message.get(INTENT) or {}
    return intent.get(INTENT_NAME_KEY), float(intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0)


def text_of(message: Message) -> Text:
    return message.get(TEXT) or ""


def override_intent(message: Message, name: Text, confidence: float = 1.0) -> None:
    """Replace the prediction and put it first in the ranking, as Rasa's own FallbackClassifier does."""
    intent = {INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: confidence}
    message.set(INTENT, intent, add_to_output=True)
    ranking = [r for r in (message.get(INTENT_RANKING_KEY) or []) if r.get(INTENT_NAME_KEY) != name]
    message.set(INTENT_RANKING_KEY, [intent] + ranking, add_to_output=True)


def embeddings_by_intent(training_data: TrainingData, intents: Iterable[Text], key: Text) -> Dict[Text, np.ndarray]:
    """The sentence embeddings (rows, unit vectors) of the examples of each of ``intents`` that has any.

    ``key``: where the featurizer left the vector (addons.sentence_featurizer.EMBEDDING).
    """
    wanted = set(intents)
    rows: Dict[Text, List[np.ndarray]] = {}
    for example in training_data.intent_examples:
        intent, vector = example.get(INTENT), example.get(key)
        if intent in wanted and vector is not None:
            rows.setdefault(intent, []).append(np.asarray(vector, dtype=np.float32))
    return {intent: np.vstack(vs) for intent, vs in rows.items()}


def nearest(examples: np.ndarray, contrast: Optional[np.ndarray], vector: Any) -> Tuple[float, float]:
    """Cosine of ``vector`` to the nearest of ``examples`` and to the nearest of ``contrast`` (-1 without)."""
    v = np.asarray(vector, dtype=np.float32)
    return float(np.max(examples @ v)), float(np.max(contrast @ v)) if contrast is not None else -1.0


def is_button_payload(text: Text) -> bool:
    return text.startswith("/")


class IntentRewriter(GraphComponent):
    """Base of the non-trainable safety components: ``rewrite`` each typed message."""

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.config = config

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "IntentRewriter":
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = text_of(message)
            if not is_button_payload(text):
                self.rewrite(message, text)
        return messages

    def rewrite(self, message: Message, text: Text) -> None:
        raise NotImplementedError
