"""Medical cues (safety rule 2): words that make a question medical or personal.

The cues are data, content/lexicons/medical.yml, so a clinician can review them
beside their examples; this module only compiles them. :func:`find_medical`
returns the name of the first cue found (for the logs), or None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Pattern, Tuple

import yaml

LEXICON_PATH = Path(__file__).resolve().parent.parent / "content" / "lexicons" / "medical.yml"


@dataclass(frozen=True)
class MedicalCue:
    """One named cue, matched as whole words with case ignored."""

    name: str
    pattern: Pattern[str]
    must_match: Tuple[str, ...] = ()
    must_not_match: Tuple[str, ...] = ()


def load_cues(path: Path = LEXICON_PATH) -> List[MedicalCue]:
    """Read and compile the cue file."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [
        MedicalCue(c["name"], re.compile(rf"\b({c['pattern']})\b", re.IGNORECASE),
                   tuple(c.get("must_match") or ()), tuple(c.get("must_not_match") or ()))
        for c in doc.get("cues") or []
    ]


CUES: List[MedicalCue] = load_cues()


def find_medical(text: str) -> Optional[str]:
    """The kind of medical cue in ``text`` (for the logs), or None."""
    for cue in CUES:
        if cue.pattern.search(text):
            return cue.name
    return None
