"""The NLU safety components on their own: scope gate, cue detectors, crisis detector."""

from __future__ import annotations

from typing import Optional

import pytest
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from addons.crisis_detector import CrisisDetector
from addons.cue_detector import CueDetector
from clinic.medical_lexicon import find_medical
from addons.scope_gate import AnchorIndex, ScopeGate

TOPICS = ["dose", "session_length", "location", "multiple_sessions", "what_is_ketamine"]


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> str:
    """A routing table of its own (the components read their intents from it), independent of the project's."""
    lines = [f"  {t}: {{content: {t}, category: article_topic, cues: override, ends_form: yes}}" for t in TOPICS]
    lines += ["  greeting: {content: greeting, category: small_talk, cues: override, ends_form: no}",
              "  medical_question: {content: medical_handoff, category: handoff, cues: never, ends_form: yes}",
              "  ask_staff: {content: staff_handoff, category: handoff, cues: override, ends_form: yes}",
              "  crisis: {content: crisis, category: routing, cues: never, ends_form: yes, answered_by: safety_rule}",
              "  nlu_fallback: {content: fallback, category: routing, cues: when_unsure, ends_form: no}"]
    roles = {"default": "fallback", "repeat": "fallback_repeat", "unavailable": "action_unavailable",
             "callback_contact_invalid": "x", "callback_confirmed": "y", "callback_already_requested": "z"}
    path = tmp_path_factory.mktemp("routing") / "routing.yml"
    path.write_text("routes:\n" + "\n".join(lines) + "\ncontent_roles:\n"
                    + "".join(f"  {k}: {v}\n" for k, v in roles.items()))
    return str(path)


def message(text: str, intent: str, confidence: float = 0.9) -> Message:
    m = Message(data={"text": text})
    m.set("intent", {"name": intent, "confidence": confidence}, add_to_output=True)
    m.set("intent_ranking", [{"name": intent, "confidence": confidence}], add_to_output=True)
    return m


def intent(m: Message) -> Optional[str]:
    return m.get("intent")["name"]


@pytest.mark.parametrize("word, anchor", [
    ("ketamine", "ketamine"), ("ketamnie", "ketamine"), ("ketamie", "ketamine"), ("infusions", "infusion"),
    ("infsuion", "infusion"), ("anesthesia", "anesthe"), ("redding", "redding"), ("iv", "iv"),
])
def test_anchor_index_matches_prefixes_and_one_typo_in_long_terms(word, anchor):
    assert AnchorIndex(["ketamine", "infusion", "anesthe", "redding", "iv"]).match(word) == anchor


@pytest.mark.parametrize("word", ["kitchen", "cat", "info", "ivory", "reading", "readings", "dosa"])
def test_anchor_index_does_not_match_unrelated_words(word):
    assert AnchorIndex(["ketamine", "infusion", "redding", "iv", "dose"]).match(word) is None


@pytest.fixture
def gate(tmp_path, table) -> ScopeGate:
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    config = {**ScopeGate.get_default_config(), "routing_table": table,
              "anchors": ["ketamine", "infusion", "clinic", "redding"], "weak_anchors": ["session", "therapy"]}
    g = ScopeGate(config, LocalModelStorage(tmp_path), Resource("gate"))
    examples = [Message(data={"text": t, "intent": i}) for t, i in [
        ("how long does it take", "session_length"), ("how many of those would I need", "multiple_sessions"),
        ("where is your office", "location"), ("how much do you give", "dose"), ("lovely weather today", "greeting")]]
    g.train(TrainingData(examples))
    return g


@pytest.mark.parametrize("text, kept", [
    ("how long does an infusion take", True),       # names the domain
    ("how long does it take?", True),               # only the topics' own words: a follow-up
    ("and how many of those would I need?", True),
    ("where's your office", True),
    ("how long does it take to boil an egg", False),  # other words, no domain
    ("how many players are on a team", False),
    ("where is the post office", False),
    ("how many sessions would I need", True),         # a weak anchor with the topics' words
    ("how long does a session take", True),
    ("how long does a massage session take", False),  # ...but not with a word they never use
    ("how many therapy sessions does a dog need", False),
    ("how many ketamine sessions does a person need", True),  # a strong anchor outweighs it
])
def test_scope_gate_keeps_a_topic_only_in_the_domain(gate, text, kept):
    m = gate.process([message(text, "session_length")])[0]
    assert (intent(m) == "session_length") is kept
    if not kept:
        assert intent(m) == "out_of_scope"


def test_scope_gate_leaves_other_intents_and_buttons_alone(gate):
    assert intent(gate.process([message("recipe for lasagna", "medical_question")])[0]) == "medical_question"
    assert intent(gate.process([message("/session_length", "session_length")])[0]) == "session_length"


def _unit(*components: float):
    import numpy as np

    v = np.zeros(8, dtype=np.float32)
    v[: len(components)] = components
    return v / np.linalg.norm(v)


@pytest.fixture
def semantic_gate(tmp_path, table) -> ScopeGate:
    """Trained as Rasa trains it: the examples carry their sentence embeddings (synthetic here)."""
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    from addons.sentence_featurizer import EMBEDDING
    config = {**ScopeGate.get_default_config(), "routing_table": table, "anchors": ["clinic"],
              "semantic_min_similarity": 0.5, "semantic_min_margin": 0.1}
    g = ScopeGate(config, LocalModelStorage(tmp_path), Resource("gate"))
    examples = []
    for text, name, vector in [("where is your office", "location", _unit(1, 0)),
                               ("how long is a visit", "session_length", _unit(0, 0, 1)),
                               ("how do pilots get certified", "out_of_scope", _unit(0, 1))]:
        m = Message(data={"text": text, "intent": name})
        m.set(EMBEDDING, vector)
        examples.append(m)
    g.train(TrainingData(examples))
    return g


def _embedded(text: str, predicted: str, vector) -> Message:
    from addons.sentence_featurizer import EMBEDDING

    m = message(text, predicted)
    m.set(EMBEDDING, vector)
    return m


def test_a_topic_in_other_words_is_kept_when_it_means_the_topic(semantic_gate):
    # no anchor and words the topic's examples never use (practice, town), but near its example and far from everyday ones
    m = _embedded("what part of town is your practice in", "location", _unit(1, 0.2))
    assert intent(semantic_gate.process([m])[0]) == "location"


@pytest.mark.parametrize("vector, why", [
    (_unit(0.6, 0.55), "about as near an everyday example: the margin is not met"),
    (_unit(0.3, 0, 0, 1), "far from every example"),
    (_unit(0, 0, 1), "near another topic's example, not the predicted one's"),
])
def test_otherwise_the_topic_still_becomes_out_of_scope(semantic_gate, vector, why):
    m = _embedded("where is the nearest post office", "location", vector)
    assert intent(semantic_gate.process([m])[0]) == "out_of_scope", why


def test_the_example_vectors_survive_loading(semantic_gate, tmp_path, table):
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    config = {**ScopeGate.get_default_config(), "routing_table": table, "anchors": ["clinic"],
              "semantic_min_similarity": 0.5, "semantic_min_margin": 0.1}
    loaded = ScopeGate.load(config, LocalModelStorage(tmp_path), Resource("gate"),
                            ExecutionContext(GraphSchema({}), "t"))
    assert set(loaded.vectors) == {"location", "session_length", "out_of_scope"}
    m = _embedded("what part of town is your practice in", "location", _unit(1, 0.2))
    assert intent(loaded.process([m])[0]) == "location"


def test_without_a_similarity_setting_the_meaning_path_is_off(gate):
    m = _embedded("what part of town is your practice in", "session_length", _unit(1, 0))
    assert intent(gate.process([m])[0]) == "out_of_scope"


@pytest.mark.parametrize("text, cue", [
    ("is it safe with my heart condition", "risk"), ("can I take it with lithium", "medication"),
    ("what dose at 250 pounds", "person"), ("I'm pregnant, can I do this", "condition"),
    ("can I drive home after", "around_infusion"), ("will it make me nauseous", "symptom"),
])
def test_medical_lexicon_finds_personal_medical_cues(text, cue):
    assert find_medical(text) == cue


@pytest.mark.parametrize("text", [
    "how does ketamine work", "is it faster than antidepressants", "how long is a session",
    "does ketamine help with pain", "what is the dose compared to anesthesia",
])
def test_medical_lexicon_leaves_article_topics_alone(text):
    assert find_medical(text) is None


@pytest.fixture
def medical_detector(table) -> CueDetector:
    return CueDetector({**CueDetector.get_default_config(), "intent": "medical_question",
                        "lexicon": "clinic.medical_lexicon.find_medical", "routing_table": table})


def test_a_medical_cue_turns_a_topic_into_a_medical_question(medical_detector):
    m = medical_detector.process([message("what dose would I need at 250 pounds", "dose")])[0]
    assert intent(m) == "medical_question"


def test_the_intents_a_cue_overrides_come_from_the_routing_table(medical_detector):
    text = "what dose would I need at 250 pounds"
    assert intent(medical_detector.process([message(text, "greeting")])[0]) == "medical_question"  # cues: override
    assert intent(medical_detector.process([message(text, "crisis")])[0]) == "crisis"  # cues: never


def test_the_old_config_lists_are_refused_with_a_pointer_to_the_table(table):
    with pytest.raises(ValueError, match="routing.yml"):
        CueDetector({**CueDetector.get_default_config(), "intent": "ask_staff", "overridden_intents": TOPICS})


def test_the_scope_gate_gates_the_article_topics_of_the_table(gate):
    assert gate.guarded == frozenset(TOPICS)
    # a topic's words count only while it is a topic: greeting's examples were learned, but are not used
    assert "weather" in gate.vocabulary_by_intent["greeting"] and "weather" not in gate.vocabulary


def test_an_unsure_message_is_medical_only_when_it_is_about_the_treatment_or_the_visitor(medical_detector):
    d = medical_detector
    assert intent(d.process([message("do I need to stop my prozac", "nlu_fallback", 0.45)])[0]) == "medical_question"
    assert intent(d.process([message("is the flu contagious", "nlu_fallback", 0.45)])[0]) == "nlu_fallback"


def test_cost_patterns_come_from_config(table):
    d = CueDetector({**CueDetector.get_default_config(), "intent": "ask_staff",
                     "patterns": [r"cost\w*", "insur\\w*"], "routing_table": table})
    assert intent(d.process([message("what does an infusion cost", "session_length")])[0]) == "ask_staff"
    assert intent(d.process([message("how long is an infusion", "session_length")])[0]) == "session_length"


@pytest.fixture(scope="module")
def crisis(tmp_path_factory) -> CrisisDetector:
    """The detector as Rasa creates it for training (no sentence embeddings: lexicon and classifier only)."""
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    storage = LocalModelStorage(tmp_path_factory.mktemp("crisis"))
    return CrisisDetector.create(CrisisDetector.get_default_config(), storage, Resource("crisis"),
                                 ExecutionContext(GraphSchema({}), "test"))


@pytest.mark.parametrize("text, predicted", [
    ("i want to kms", "out_of_scope"), ("i wrote a note and i'm ready to go", "nlu_fallback"),
    ("everyone would be better off without me", "thanks"), ("my friend says she wants to end it all", "greeting"),
])
def test_crisis_language_wins_whatever_the_classifier_said(crisis, text, predicted):
    assert intent(crisis.process([message(text, predicted)])[0]) == "crisis"


@pytest.mark.parametrize("text", ["kill the lights in the hallway", "i don't want my old pin anymore"])
def test_a_crisis_guess_without_a_word_of_distress_is_not_believed_however_sure(crisis, text):
    assert intent(crisis.process([message(text, "crisis", 0.99)])[0]) == "nlu_fallback"


def test_a_crisis_guess_with_a_word_of_distress_needs_min_confidence(crisis):
    """The path min_confidence decides: no lexicon pattern, a word of distress, the classifier's guess."""
    from clinic.crisis_lexicon import find_crisis

    text = "feeling hopeless about the weather app"
    assert find_crisis(text) is None  # so only the classifier's confidence decides
    threshold = crisis.min_confidence
    assert intent(crisis.process([message(text, "crisis", threshold)])[0]) == "crisis"
    below = crisis.process([message(text, "crisis", threshold - 0.01)])[0]
    assert intent(below) == "nlu_fallback"
    assert below.get("intent")["confidence"] == pytest.approx(threshold - 0.01)


def test_the_lexicon_decides_even_when_the_classifier_is_unsure(crisis):
    assert intent(crisis.process([message("i feel like i want to die", "crisis", 0.3)])[0]) == "crisis"
