"""The crisis lexicon is the safety net under the classifier.

Missing a crisis is the worst error the assistant can make, so the first list is
long and varied; the second keeps idioms and everyday questions from getting a
988/911 reply. The training data in data/nlu/crisis_and_scope.yml is held to the
same standard: every crisis example must be caught, no out-of-scope one may be.
"""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import List

import pytest
import yaml

from clinic import crisis_lexicon
from clinic.crisis_lexicon import find_crisis, normalize

NLU_FILE = Path(__file__).resolve().parent.parent / "data" / "nlu" / "crisis_and_scope.yml"

LEXICON = crisis_lexicon.load_lexicon()
# The examples live beside their patterns in content/lexicons/crisis.yml.
MUST_MATCH = [t for e in LEXICON["crisis"] for t in e.examples]
IDIOM_EXAMPLES = [(e.name, t) for e in LEXICON["idioms"] for t in e.examples]
MUST_NOT_MATCH = [t for _, t in IDIOM_EXAMPLES] + list(LEXICON["never_crisis"])


def _nlu_examples() -> dict:
    """Examples per intent from the crisis/out-of-scope training file."""
    data = yaml.safe_load(NLU_FILE.read_text(encoding="utf-8"))
    out = {}
    for item in data["nlu"]:
        if "intent" in item:
            out[item["intent"]] = re.findall(r"^\s*-\s+(.+?)\s*$", item["examples"], re.M)
    return out


@pytest.mark.parametrize("text", MUST_MATCH)
def test_crisis_language_is_caught(text: str) -> None:
    assert find_crisis(text) is not None


@pytest.mark.parametrize("text", MUST_NOT_MATCH)
def test_idioms_and_everyday_messages_are_not_crises(text: str) -> None:
    assert find_crisis(text) is None


@pytest.mark.parametrize("entry", LEXICON["crisis"], ids=lambda e: e.name)
def test_each_crisis_pattern_catches_its_own_examples(entry: crisis_lexicon.LexiconEntry) -> None:
    """A reviewer reads an entry with its examples: each one is caught by that very pattern."""
    pattern = re.compile(entry.pattern)
    missed = [t for t in entry.examples if not pattern.search(crisis_lexicon.mask_idioms(normalize(t)))]
    assert not missed, f"{entry.name}: {missed}"


@pytest.mark.parametrize("name, text", IDIOM_EXAMPLES)
def test_each_idiom_masks_its_own_examples(name: str, text: str) -> None:
    entry = next(e for e in LEXICON["idioms"] if e.name == name)
    assert re.search(entry.pattern, normalize(text)), f"{name} does not match {text!r}"


def test_the_lexicon_has_examples_for_most_patterns() -> None:
    without = [e.name for e in LEXICON["crisis"] if not e.examples]
    assert len(without) <= len(LEXICON["crisis"]) // 4, f"patterns with no example: {without}"


def test_result_is_the_pattern_name() -> None:
    names = {e.name for e in crisis_lexicon.CRISIS_PATTERNS}
    assert len(names) == len(crisis_lexicon.CRISIS_PATTERNS), "pattern names must be unique"
    assert find_crisis("I feel suicidal") == "suicide"
    assert find_crisis("") is None


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("I DON\u2019T want to DIIIE!!", "i dont want to die ."),
        ("Caf\u00e9 s\u00fb\u00efcide", "cafe suicide"),
        ("k1ll mys3lf", "kill myself"),
        ("\uff2b\uff29\uff2c\uff2c", "kill"),  # full-width letters (NFKC)
        ("i want to... die", "i want to die"),
        ("self-harm", "self harm"),
        ("took 30 pills", "took 30 pills"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_training_data_agrees_with_the_lexicon() -> None:
    examples = _nlu_examples()
    crisis, oos = examples["crisis"], examples["out_of_scope"]
    assert len(crisis) >= 70 and len(oos) >= 450
    missed = [t for t in crisis if find_crisis(t) is None]
    assert not missed, f"crisis examples the safety net misses: {missed}"
    flagged = [(t, find_crisis(t)) for t in oos if find_crisis(t)]
    assert not flagged, f"out_of_scope examples flagged as crisis: {flagged}"
    folded: List[str] = [normalize(t) for t in crisis + oos]
    assert len(folded) == len(set(folded)), "duplicate training examples"


def test_stem_gate_never_changes_a_result() -> None:
    """The stems only skip work: with or without them the answer is the same."""
    examples = _nlu_examples()
    texts = MUST_MATCH + MUST_NOT_MATCH + examples["crisis"] + examples["out_of_scope"]
    for text in texts:
        t = normalize(text)
        gated = crisis_lexicon._first_match(crisis_lexicon.mask_idioms(t))
        full = crisis_lexicon._first_match(crisis_lexicon.mask_idioms(t, use_stems=False), use_stems=False)
        assert gated == full, text


def test_fast_enough() -> None:
    texts = MUST_MATCH + MUST_NOT_MATCH
    long_text = ("I have been reading about ketamine infusions and wonder how long each session "
                 "takes, whether insurance covers it, where you are and who the doctor is. ") * 4
    start = time.process_time()
    for _ in range(5):
        for text in texts:
            find_crisis(text)
    per_call = (time.process_time() - start) / (5 * len(texts))
    start = time.process_time()
    for _ in range(20):
        find_crisis(long_text)
    per_long = (time.process_time() - start) / 20
    assert per_call < 0.001, f"{per_call * 1e6:.0f} us per call"
    assert per_long < 0.005, f"{per_long * 1e6:.0f} us for a {len(long_text)}-character message"
