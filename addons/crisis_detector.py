"""Crisis safety net: crisis language forces the ``crisis`` intent, whatever else the classifier says.

Runs last in the NLU pipeline, so a crisis message is recognised even when the
classifier is unsure, picked a topic, or the FallbackClassifier gave up. Three
ways in, each reviewable:

1. **The lexicon** (content/lexicons/crisis.yml): a named pattern on the
   normalised, idiom-masked text. Always believed.
2. **Meaning**: the classifier gives ``crisis`` at least ``semantic_min_probability``
   (not necessarily its first choice: "I gave my dog to my sister because I won't
   be around" is a goodbye the classifier ranks second), *and* the message's
   sentence embedding is at least ``semantic_min_similarity`` (cosine) from one of
   the crisis training examples, learned at training time, and nearer to them than
   to any ``contrast_intent`` (out-of-scope) example. The embedding conditions keep
   everyday requests that the linear model happens to push towards crisis ("i'm
   finished with my to do list", "text mom I'm on my way") out; neither signal alone
   is enough (docs/UNDERSTANDING.md has the measurements). A message holding a known idiom
   ("my boss will kill me", "to die for") is never sent crisis resources on
   meaning alone: only the lexicon, which masks the idiom first, can do that.
3. **The classifier's own choice** of ``crisis`` at ``min_confidence`` or more, with
   a word of distress in the idiom-masked text (the rule before embeddings).

A ``crisis`` choice that none of these confirms (a smart-home "kill the lights")
is not believed: nobody is sent crisis resources for a recipe question. The
pipeline runs this component twice. The first copy (``demote_untrusted: true``),
right after the classifier, replaces an unconfirmed ``crisis`` choice by the
classifier's next choice, its probability renormalised without crisis ("ugh work
is killing me. how many sessions do people need?" is a sessions question), so the
scope gate, the fallback and the medical and cost cues judge that choice as they
judge any other. The last copy recognises crisis language over everything before
it; an unconfirmed ``crisis`` that still reaches it becomes ``untrusted_intent``.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from clinic.crisis_lexicon import find_crisis, mask_idioms, normalize
from addons.nlu_intent import IntentRewriter, embeddings_by_intent, intent_of, nearest, override_intent
from addons.sentence_featurizer import EMBEDDING

logger = logging.getLogger(__name__)

# Config keys.
INTENT_KEY = "intent"
UNTRUSTED_INTENT = "untrusted_intent"
MIN_CONFIDENCE = "min_confidence"
SEMANTIC_MIN_PROBABILITY = "semantic_min_probability"
SEMANTIC_MIN_SIMILARITY = "semantic_min_similarity"
CONTRAST_INTENT = "contrast_intent"
SEMANTIC_MIN_MARGIN = "semantic_min_margin"
DEMOTE_UNTRUSTED = "demote_untrusted"

EXAMPLES_FILE = "crisis_examples.npy"
CONTRAST_FILE = "contrast_examples.npy"

# Words without which a classifier's own crisis choice (way 3) is not believed.
DISTRESS = re.compile(
    r"\b(die|dying|dead|death|suicid\w*|alive|hopeless|worthless|burden|better off|"
    r"give up|giving up|cant go on|pills?|overdos\w*|(hurt|harm|cut)(ing)? (my ?self|me)|self ?harm|"
    r"wake up|end (it|things|everything|my life)|be here|disappear\w*|no (point|reason))\b",
    re.IGNORECASE,
)


def ranked_confidence(message: Message, intent: Text) -> float:
    """The classifier's confidence in ``intent``, wherever it stands in the ranking."""
    for entry in message.get(INTENT_RANKING_KEY) or []:
        if entry.get(INTENT_NAME_KEY) == intent:
            return float(entry.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
    return 0.0


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class CrisisDetector(IntentRewriter):
    """Lexicon, then meaning, then the classifier's own choice: see the module docstring."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            INTENT_KEY: "crisis",
            UNTRUSTED_INTENT: "nlu_fallback",
            MIN_CONFIDENCE: 0.8,
            SEMANTIC_MIN_PROBABILITY: 0.3,
            SEMANTIC_MIN_SIMILARITY: 0.5,
            CONTRAST_INTENT: "out_of_scope",
            SEMANTIC_MIN_MARGIN: 0.0,
            DEMOTE_UNTRUSTED: False,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        examples: Optional[np.ndarray] = None,
        contrast: Optional[np.ndarray] = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self.intent = self.config[INTENT_KEY]
        self.untrusted_intent = self.config[UNTRUSTED_INTENT]
        self.min_confidence = float(self.config[MIN_CONFIDENCE])
        self.min_probability = float(self.config[SEMANTIC_MIN_PROBABILITY])
        self.min_similarity = float(self.config[SEMANTIC_MIN_SIMILARITY])
        self.contrast_intent = self.config[CONTRAST_INTENT]
        self.min_margin = float(self.config[SEMANTIC_MIN_MARGIN])
        self.demote_untrusted = bool(self.config[DEMOTE_UNTRUSTED])
        self.examples = examples  # unit vectors of the crisis training examples (rows)
        self.contrast = contrast  # ... and of the out-of-scope ones
        self._model_storage = model_storage
        self._resource = resource

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "CrisisDetector":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Keep the sentence embeddings of the crisis and contrast examples (none without the featurizer)."""
        found = embeddings_by_intent(training_data, (self.intent, self.contrast_intent), EMBEDDING)
        self.examples, self.contrast = found.get(self.intent), found.get(self.contrast_intent)
        with self._model_storage.write_to(self._resource) as directory:
            for name, matrix in ((EXAMPLES_FILE, self.examples), (CONTRAST_FILE, self.contrast)):
                if matrix is not None:
                    np.save(directory / name, matrix)
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "CrisisDetector":
        matrices: Dict[str, Optional[np.ndarray]] = {EXAMPLES_FILE: None, CONTRAST_FILE: None}
        try:
            with model_storage.read_from(resource) as directory:
                for name in matrices:
                    if (directory / name).exists():
                        matrices[name] = np.load(directory / name)
        except ValueError:  # trained without examples: the lexicon and the classifier still work
            pass
        return cls(config, model_storage, resource, matrices[EXAMPLES_FILE], matrices[CONTRAST_FILE])

    def means_crisis(self, message: Message) -> bool:
        """Near a crisis example (``semantic_min_similarity``) and nearer to it than to any contrast example."""
        vector = message.get(EMBEDDING)
        if self.examples is None or vector is None:
            return False
        near, contrast = nearest(self.examples, self.contrast, vector)
        return near >= self.min_similarity and near - contrast >= self.min_margin

    def reason(self, message: Message, text: Text) -> Optional[str]:
        """Why ``text`` is crisis language (a pattern name, "meaning" or "classifier"), or None."""
        found = find_crisis(text)
        if found:
            return found
        folded = normalize(text)
        masked = mask_idioms(folded)
        if masked == folded and ranked_confidence(message, self.intent) >= self.min_probability \
                and self.means_crisis(message):
            return "meaning"
        name, confidence = intent_of(message)
        if name == self.intent and confidence >= self.min_confidence and DISTRESS.search(masked):
            return "classifier"
        return None

    def demote(self, message: Message) -> None:
        """The classifier's next choice instead of crisis, renormalised as if crisis were not an option."""
        ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY) != self.intent]
        total = sum(float(r.get(PREDICTED_CONFIDENCE_KEY) or 0.0) for r in ranking)
        if not ranking or total <= 0:
            override_intent(message, self.untrusted_intent, 0.0)
            return
        ranking = [{**r, PREDICTED_CONFIDENCE_KEY: float(r.get(PREDICTED_CONFIDENCE_KEY) or 0.0) / total}
                   for r in ranking]
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        message.set(INTENT, dict(ranking[0]), add_to_output=True)

    def rewrite(self, message: Message, text: Text) -> None:
        name, confidence = intent_of(message)
        if self.demote_untrusted:  # only a crisis choice is judged here; the last copy judges every message
            if name == self.intent and not self.reason(message, text):
                self.demote(message)
            return
        reason = self.reason(message, text)
        if reason:
            if name != self.intent or reason != "classifier":
                logger.info("crisis language recognised (%s)", reason)  # the reason only, never the text
            override_intent(message, self.intent, max(confidence, ranked_confidence(message, self.intent))
                            if reason in ("meaning", "classifier") else 1.0)
        elif name == self.intent:
            override_intent(message, self.untrusted_intent, confidence)
