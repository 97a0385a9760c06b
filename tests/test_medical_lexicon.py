"""The medical cues (content/lexicons/medical.yml) catch their own examples and nothing in `never_medical`."""

from __future__ import annotations

import pytest
import yaml

from clinic import medical_lexicon
from clinic.medical_lexicon import CUES, find_medical

DOC = yaml.safe_load(medical_lexicon.LEXICON_PATH.read_text(encoding="utf-8"))


@pytest.mark.parametrize("cue", CUES, ids=lambda c: c.name)
def test_each_cue_matches_its_examples_and_not_its_counter_examples(cue: medical_lexicon.MedicalCue) -> None:
    assert cue.must_match, f"{cue.name} has no example a reviewer can check"
    assert [t for t in cue.must_match if not cue.pattern.search(t)] == []
    assert [t for t in cue.must_not_match if cue.pattern.search(t)] == []


@pytest.mark.parametrize("text", DOC.get("never_medical") or [])
def test_general_topic_questions_carry_no_medical_cue(text: str) -> None:
    assert find_medical(text) is None


def test_cue_names_are_unique_and_reported() -> None:
    assert len({c.name for c in CUES}) == len(CUES)
    assert find_medical("does it interact with lithium") in {"risk", "medication"}
    assert find_medical("") is None
