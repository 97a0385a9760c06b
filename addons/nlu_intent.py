"""Helpers shared by the NLU safety components: read and overwrite a message's intent."""

from __future__ import annotations

from typing import Optional, Text

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
