"""The crisis detector's meaning path: classifier probability and sentence embeddings together.

Synthetic unit vectors stand in for the sentence model, so these tests show the
rule itself: near a crisis example and nearer to it than to any out-of-scope
example, with the classifier giving crisis some probability; never on meaning
alone when the message holds a known idiom.
"""

from __future__ import annotations

from typing import List, Optional

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from addons.crisis_detector import CrisisDetector
from clinic.crisis_lexicon import find_crisis
from addons.sentence_featurizer import EMBEDDING

DIM = 8


def unit(*components: float) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[: len(components)] = components
    return v / np.linalg.norm(v)


CRISIS_DIRECTION = unit(1, 0)
EVERYDAY_DIRECTION = unit(0, 1)


def message(text: str, ranking: List[tuple], vector: Optional[np.ndarray]) -> Message:
    m = Message(data={"text": text})
    top, confidence = ranking[0]
    m.set("intent", {"name": top, "confidence": confidence}, add_to_output=True)
    m.set("intent_ranking", [{"name": n, "confidence": c} for n, c in ranking], add_to_output=True)
    if vector is not None:
        m.set(EMBEDDING, vector)
    return m


@pytest.fixture()
def storage(tmp_path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


@pytest.fixture()
def detector(storage) -> CrisisDetector:
    """Trained as Rasa trains it: crisis and out-of-scope examples carry their embeddings."""
    d = CrisisDetector.create(CrisisDetector.get_default_config(), storage, Resource("crisis"),
                              ExecutionContext(GraphSchema({}), "test"))
    examples = []
    for text, intent, vector in [("i won't be around much longer", "crisis", CRISIS_DIRECTION),
                                 ("what's on my to do list", "out_of_scope", EVERYDAY_DIRECTION),
                                 ("hello", "greeting", unit(0, 0, 1))]:
        m = Message(data={"text": text, "intent": intent})
        m.set(EMBEDDING, vector)
        examples.append(m)
    d.train(TrainingData(examples))
    return d


TEXT = "i gave my cat to my neighbour since i won't need to feed her"  # no lexicon pattern


def test_the_example_text_is_not_in_the_lexicon() -> None:
    assert find_crisis(TEXT) is None


def test_near_a_crisis_example_with_some_classifier_probability_is_crisis(detector) -> None:
    m = message(TEXT, [("out_of_scope", 0.6), ("crisis", 0.35)], unit(1, 0.2))
    assert detector.process([m])[0].get("intent")["name"] == "crisis"


def test_below_the_probability_it_is_left_alone(detector) -> None:
    m = message(TEXT, [("out_of_scope", 0.8), ("crisis", 0.1)], unit(1, 0.2))
    assert detector.process([m])[0].get("intent")["name"] == "out_of_scope"


def test_nearer_to_an_everyday_example_it_is_left_alone(detector) -> None:
    m = message("send a text saying i'm on my way", [("out_of_scope", 0.6), ("crisis", 0.35)], unit(0.6, 1))
    assert detector.process([m])[0].get("intent")["name"] == "out_of_scope"


def test_far_from_every_crisis_example_it_is_left_alone(detector) -> None:
    m = message(TEXT, [("out_of_scope", 0.6), ("crisis", 0.35)], unit(0.3, 0, 0, 1))
    assert detector.process([m])[0].get("intent")["name"] == "out_of_scope"


def test_a_message_with_an_idiom_is_never_crisis_on_meaning_alone(detector) -> None:
    text = "that lasagna was to die for"
    assert find_crisis(text) is None
    m = message(text, [("crisis", 0.9), ("out_of_scope", 0.1)], CRISIS_DIRECTION)
    assert detector.process([m])[0].get("intent")["name"] == "nlu_fallback"


def test_the_trained_examples_survive_loading(detector, storage) -> None:
    loaded = CrisisDetector.load(CrisisDetector.get_default_config(), storage, Resource("crisis"),
                                 ExecutionContext(GraphSchema({}), "test"))
    assert loaded.examples is not None and loaded.examples.shape == (1, DIM)
    assert loaded.contrast is not None and loaded.contrast.shape == (1, DIM)
    m = message(TEXT, [("out_of_scope", 0.6), ("crisis", 0.35)], unit(1, 0.2))
    assert loaded.process([m])[0].get("intent")["name"] == "crisis"


@pytest.fixture()
def demoter(storage) -> CrisisDetector:
    """The pipeline's first copy, right after the classifier."""
    config = {**CrisisDetector.get_default_config(), "demote_untrusted": True}
    d = CrisisDetector.create(config, storage, Resource("crisis_demote"), ExecutionContext(GraphSchema({}), "test"))
    d.examples, d.contrast = np.vstack([CRISIS_DIRECTION]), np.vstack([EVERYDAY_DIRECTION])
    return d


def test_an_unconfirmed_crisis_choice_becomes_the_next_choice_renormalised(demoter) -> None:
    text = "ugh work is killing me this week. how many sessions do people usually need"
    m = message(text, [("crisis", 0.5), ("multiple_sessions", 0.3), ("out_of_scope", 0.2)], EVERYDAY_DIRECTION)
    demoter.process([m])
    assert m.get("intent")["name"] == "multiple_sessions"
    assert m.get("intent")["confidence"] == pytest.approx(0.6)
    assert [r["name"] for r in m.get("intent_ranking")] == ["multiple_sessions", "out_of_scope"]


def test_the_first_copy_never_makes_crisis_and_leaves_a_confirmed_one(demoter) -> None:
    confirmed = message("i want to end my life", [("crisis", 0.9), ("out_of_scope", 0.1)], CRISIS_DIRECTION)
    near = message(TEXT, [("out_of_scope", 0.6), ("crisis", 0.35)], unit(1, 0.2))
    demoter.process([confirmed, near])
    assert confirmed.get("intent")["name"] == "crisis"  # the last copy believes it (lexicon)
    assert near.get("intent")["name"] == "out_of_scope"  # only the last copy upgrades on meaning


def test_with_nothing_else_ranked_it_falls_back(demoter) -> None:
    m = message("kill the lights", [("crisis", 1.0)], EVERYDAY_DIRECTION)
    demoter.process([m])
    assert m.get("intent")["name"] == "nlu_fallback"
