"""Crisis safety net: crisis language forces the ``crisis`` intent, whatever the classifier says.

Runs last in the NLU pipeline, after the FallbackClassifier, so a crisis
message is recognised even when the classifier is unsure or wrong. It also
keeps the classifier honest the other way: a ``crisis`` prediction with no
word of distress in the message (a smart-home "kill the lights", an idiom) is
not trusted and becomes ``nlu_fallback``, so nobody is sent crisis resources
for asking about a recipe.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.training_data.message import Message

from addons.crisis_lexicon import find_crisis, mask_idioms, normalize
from addons.nlu_intent import IntentRewriter, intent_of, override_intent

# Words without which a classifier's crisis guess is not believed.
DISTRESS = re.compile(
    r"\b(die|dying|dead|death|suicid\w*|alive|hopeless|worthless|burden|better off|"
    r"give up|giving up|cant go on|pills?|overdos\w*|(hurt|harm|cut)(ing)? (my ?self|me)|self ?harm|"
    r"wake up|end (it|things|everything|my life)|be here|disappear\w*|no (point|reason))\b",
    re.IGNORECASE,
)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class CrisisDetector(IntentRewriter):
    """Lexicon first, classifier second: see the module docstring."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"intent": "crisis", "untrusted_intent": "nlu_fallback", "min_confidence": 0.8}

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        self.intent = config["intent"]
        self.untrusted_intent = config["untrusted_intent"]
        self.min_confidence = float(config["min_confidence"])

    def rewrite(self, message: Message, text: Text) -> None:
        if find_crisis(text):
            override_intent(message, self.intent)
            return
        name, confidence = intent_of(message)
        if name == self.intent and (
            confidence < self.min_confidence or not DISTRESS.search(mask_idioms(normalize(text)))
        ):
            override_intent(message, self.untrusted_intent, confidence)
