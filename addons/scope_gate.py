"""Scope gate: a clinic topic answer only for a message that is about the clinic's domain.

A classifier trained on a few hundred clinic questions will still pick *some*
clinic topic for "how long does it take to boil an egg". A guessed topic
answer is the worst outcome, so this component, after the classifier, keeps a
topic intent only when the message

* names the clinic's domain: a term from ``anchors`` (ketamine, infusion,
  Redding...), matched as a word prefix, forgiving one typo in long terms; or
* uses only words the project's own topic examples use (learned at training
  time) and ``weak_anchors``, which lets short follow-ups such as "how long
  does it take?" through while "how long does it take to get a passport" is
  not.

Weak anchors are words the clinic's topics share with everyday life
(session, dose, therapy...): "how many sessions will I need" is about the
clinic, "how long does a massage session last" is not. They count as the
clinic's words, but on their own they do not outweigh a word the topics never
use (massage, yoga, dog).

* or, failing both, *means* the predicted topic (when ``semantic_min_similarity``
  is set): its sentence embedding is at least that close (cosine) to one of that
  topic's training examples and nearer to it, by ``semantic_min_margin``, than to
  any out-of-scope example. "what expertise does your staff have" shares no word
  with the topic's examples but means what "what credentials does your team hold"
  means; "how do surgeons get board certified" is nearer the everyday examples.

Anything else becomes ``out_of_scope``. The gated intents are the article
topics of the routing table (``content/routing.yml``, category
``article_topic``), read when the model is loaded, so a new topic is gated
without touching this file or config.yml. Medical and hand-off intents are not
gated: sending a question to staff is always safe.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Set, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from addons.nlu_intent import embeddings_by_intent, intent_of, is_button_payload, nearest, override_intent, text_of
from addons.sentence_featurizer import EMBEDDING
from clinic import routing

WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

# Function words and question words: they say nothing about the domain.
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are aren't as at be because
    been before being below between both but by can can't cannot could couldn't did didn't do
    does doesn't doing don't down during each either else ever every few for from further get
    gets getting got had hadn't has hasn't have haven't having he he'd he'll he's her here
    here's hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't it
    it's its itself just let's like me might more most much must mustn't my myself no nor not
    now of off on once only or other ought our ours ourselves out over own please really same
    shall shan't she she'd she'll she's should shouldn't so some such than that that's the
    their theirs them themselves then there there's these they they'd they'll they're they've
    this those though through to too under until up upon us very was wasn't we we'd we'll
    we're we've were weren't what what's whats when when's where where's which while who
    who's whom why why's will with won't would wouldn't yes yet you you'd you'll you're you've
    your yours yourself yourselves hi hey hello ok okay so um uh well tell know want wondering
    wonder curious question quick anyone someone something thing things kind sort lot bit
    actually maybe exactly usually generally typically basically im ive id u ur r pls plz""".split()
)


def words(text: str) -> List[str]:
    return WORD.findall(text.lower())


def _deletions(word: str) -> Set[str]:
    return {word} | {word[:i] + word[i + 1:] for i in range(len(word))}


# Key of an older model's vocabulary, learned from the topics of its day as one set.
ALL_TOPICS = "*topics*"

FUZZY_MIN = 8  # shorter terms ("redding") are too close to everyday words ("reading")

# Config keys of the meaning path (off unless semantic_min_similarity is set).
SEMANTIC_MIN_SIMILARITY = "semantic_min_similarity"
SEMANTIC_MIN_MARGIN = "semantic_min_margin"
VECTORS_FILE = "example_vectors.npz"


class AnchorIndex:
    """Word-prefix matching of domain terms, forgiving one typo in terms of 8+ letters."""

    def __init__(self, anchors: Iterable[str]) -> None:
        self.anchors = sorted({a.lower() for a in anchors})
        self.short = frozenset(a for a in self.anchors if len(a) < 5)
        self.lengths = sorted({len(a) for a in self.anchors if len(a) >= FUZZY_MIN})
        self.variants: Dict[str, Set[str]] = {}
        for anchor in self.anchors:
            if len(anchor) >= FUZZY_MIN:
                for variant in _deletions(anchor):
                    self.variants.setdefault(variant, set()).add(anchor)

    def match(self, word: str) -> Optional[str]:
        if word in self.short:
            return word
        for anchor in self.anchors:
            if len(anchor) >= 5 and word.startswith(anchor):
                return anchor
        for length in self.lengths:
            for size in (length - 1, length, length + 1):
                if size < 4 or size > len(word):
                    continue
                for variant in _deletions(word[:size]):
                    found = self.variants.get(variant)
                    if found:
                        return next(iter(found))
        return None


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class ScopeGate(GraphComponent):
    """Turns an ungrounded topic prediction into ``out_of_scope``: see the module docstring."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # routing_table: a path, for tests; by default the project's (clinic.settings ROUTING_TABLE).
        return {"anchors": [], "weak_anchors": [], "out_of_scope_intent": "out_of_scope", "routing_table": None,
                SEMANTIC_MIN_SIMILARITY: None, SEMANTIC_MIN_MARGIN: 0.0}

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vocabulary_by_intent: Optional[Dict[str, FrozenSet[str]]] = None,
        vectors: Optional[Dict[str, np.ndarray]] = None,
    ) -> None:
        if "guarded_intents" in config:
            raise ValueError("ScopeGate: `guarded_intents` is gone from config.yml; the gated intents are the "
                             "article topics of content/routing.yml")
        table = routing.RoutingTable.load(config.get("routing_table"))
        self.guarded = frozenset(table.article_topics)
        self.index = AnchorIndex(config["anchors"])
        self.weak = AnchorIndex(config["weak_anchors"])
        self.out_of_scope = config["out_of_scope_intent"]
        self._set_vocabulary(vocabulary_by_intent or {})
        similarity = config.get(SEMANTIC_MIN_SIMILARITY)
        self.min_similarity: Optional[float] = None if similarity is None else float(similarity)
        self.min_margin = float(config.get(SEMANTIC_MIN_MARGIN) or 0.0)
        self.vectors: Dict[str, np.ndarray] = dict(vectors or {})  # intent -> unit vectors of its examples
        self._model_storage = model_storage
        self._resource = resource

    def _set_vocabulary(self, by_intent: Dict[str, FrozenSet[str]]) -> None:
        """Learned per intent, so the table decides at load time whose words count: the topics'."""
        self.vocabulary_by_intent = dict(by_intent)
        self.vocabulary: FrozenSet[str] = frozenset().union(
            *(ws for intent, ws in by_intent.items() if intent in self.guarded or intent == ALL_TOPICS))

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "ScopeGate":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Learn the words each intent's examples use (the gate uses those of the topics) and keep the
        sentence embeddings of the topics' and the out-of-scope examples (none without the featurizer)."""
        by_intent: Dict[str, Set[str]] = {}
        for example in training_data.intent_examples:
            intent = example.get(INTENT)
            if intent:
                by_intent.setdefault(intent, set()).update(
                    w for w in words(example.get(TEXT) or "") if w not in STOPWORDS)
        self.vectors = embeddings_by_intent(training_data, [*self.guarded, self.out_of_scope], EMBEDDING)
        with self._model_storage.write_to(self._resource) as directory:
            (directory / "vocabulary.json").write_text(
                json.dumps({intent: sorted(ws) for intent, ws in sorted(by_intent.items())}))
            if self.vectors:
                np.savez(directory / VECTORS_FILE, **self.vectors)
        self._set_vocabulary({intent: frozenset(ws) for intent, ws in by_intent.items()})
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "ScopeGate":
        vectors: Dict[str, np.ndarray] = {}
        try:
            with model_storage.read_from(resource) as directory:
                raw = json.loads((directory / "vocabulary.json").read_text())
                if (directory / VECTORS_FILE).exists():
                    with np.load(directory / VECTORS_FILE) as stored:
                        vectors = {name: stored[name] for name in stored.files}
        except (ValueError, FileNotFoundError):
            raw = {}
        if isinstance(raw, list):  # a model trained before the vocabulary was kept per intent
            raw = {ALL_TOPICS: raw}
        vocabulary = {str(k): frozenset(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
        return cls(config, model_storage, resource, vocabulary, vectors)

    def in_scope(self, text: str) -> bool:
        """True when ``text`` names the domain or uses only the topics' own words and weak anchors."""
        content = [w for w in words(text) if w not in STOPWORDS]
        if any(self.index.match(w) for w in content):
            return True
        return all(w in self.vocabulary or self.weak.match(w) for w in content)

    def closeness(self, intent: str, vector: Optional[Any]) -> Optional[tuple]:
        """(cosine to the nearest example of ``intent``, the same to the nearest out-of-scope example)."""
        examples = self.vectors.get(intent)
        if vector is None or examples is None:
            return None
        return nearest(examples, self.vectors.get(self.out_of_scope), vector)

    def means_topic(self, intent: str, vector: Optional[Any]) -> bool:
        if self.min_similarity is None:
            return False
        near = self.closeness(intent, vector)
        return near is not None and near[0] >= self.min_similarity and near[0] - near[1] >= self.min_margin

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            name, confidence = intent_of(message)
            text = text_of(message)
            if name in self.guarded and not is_button_payload(text) and not self.in_scope(text) \
                    and not self.means_topic(name, message.get(EMBEDDING)):
                override_intent(message, self.out_of_scope, confidence)
        return messages
