"""Safety nets after the classifier: words that decide where a question must go.

Safety rule 2: a medical or personal clinical question never gets a topic
answer. The classifier learns that from examples; a cue detector is the rule
that backs it up. When the classifier picks an intent the routing table
(``content/routing.yml``) marks ``cues: override`` and the message carries a
cue, the intent becomes ``intent``; so does an intent marked
``cues: when_unsure`` (not understood, or an answer inside the form) when the
message also names the clinic's treatment or speaks of the visitor ("can I
drive myself home"). The lists are read from the table when the model is
loaded, so a new topic is covered without touching config.yml. Two detectors
run (see config.yml):

* medical cues (:mod:`clinic.medical_lexicon`) → ``medical_question``, so
  "is ketamine dangerous with a heart murmur" reaches a clinician;
* cost and insurance cues (``patterns`` in config.yml) → ``ask_staff``, so
  "how much is one infusion" is not answered with the session length.
"""

from __future__ import annotations

import importlib
import re
from typing import Any, Callable, Dict, Optional, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.training_data.message import Message

from addons.nlu_intent import IntentRewriter, intent_of, override_intent
from clinic import routing


def _finder(config: Dict[Text, Any]) -> Callable[[str], Optional[str]]:
    """A function returning a cue name or None: a lexicon module's, or one built from ``patterns``."""
    if config.get("lexicon"):
        module, _, function = config["lexicon"].rpartition(".")
        return getattr(importlib.import_module(module), function)
    compiled = [re.compile(rf"\b(?:{p})\b", re.IGNORECASE) for p in config.get("patterns") or []]

    def find(text: str) -> Optional[str]:
        return next((p.pattern for p in compiled if p.search(text)), None)

    return find


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class CueDetector(IntentRewriter):
    """See the module docstring."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "intent": None,
            "lexicon": None,  # module path of a `find(text) -> Optional[str]` function
            "patterns": [],  # or regular expressions, matched as whole words
            "routing_table": None,  # a path, for tests; by default the project's (clinic.settings)
            "treatment_terms": ["ketamine", "ketamin", "infusion", "treatment", "therapy", "session"],
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        if not config.get("intent"):
            raise ValueError("CueDetector needs an `intent` in config.yml")
        self.intent = config["intent"]
        self.find = _finder(config)
        stale = [key for key in ("overridden_intents", "unsure_intents") if key in config]
        if stale:
            raise ValueError(f"CueDetector: {', '.join(stale)} are gone from config.yml; the intents are "
                             "marked `cues:` in content/routing.yml")
        table = routing.RoutingTable.load(config.get("routing_table"))
        self.overridden = frozenset(table.with_cues("override"))
        self.unsure = frozenset(table.with_cues("when_unsure"))
        terms = "|".join(re.escape(t) for t in config["treatment_terms"])
        self.treatment = re.compile(rf"\b({terms})|\b(i|i'm|im|me|my|myself)\b", re.IGNORECASE)

    def rewrite(self, message: Message, text: Text) -> None:
        name, confidence = intent_of(message)
        applies = name in self.overridden or (name in self.unsure and self.treatment.search(text))
        if applies and self.find(text):
            override_intent(message, self.intent, max(confidence, 0.5))
