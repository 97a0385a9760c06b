"""Crisis-language safety net for the clinic chat.

Why this exists: the NLU classifier can miss a crisis message (a misspelling, an
unusual phrasing, a message that also asks about the clinic). Missing a crisis is
the worst error the assistant can make, so every visitor message is also checked
here with plain, reviewable regular expressions. A hit means "send the crisis
reply (988 / 911) first", whatever the classifier said.

Design choices:
- Recall first. Questions about the topic in a general or clinical sense ("can
  ketamine help with suicidal thoughts?") match on purpose: they still deserve
  crisis resources.
- Precision by context, not by word lists: words like kill, die, cut, shoot,
  hang, pills, bridge only count in a self-directed or intent-bearing context.
- Idioms that would otherwise hit a crisis pattern ("overdosed on coffee lol",
  "shot myself in the foot", "cut myself shaving") are masked first, in their own
  named list. A mask only removes the idiom span, so crisis language elsewhere in
  the same message still matches.
- The patterns are data (content/lexicons/crisis.yml), precompiled at import: one call is a few
  dozen regex searches over a short string (well under 1 ms).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Pattern, Tuple

import yaml

__all__ = ["find_crisis", "normalize", "mask_idioms", "load_lexicon", "CRISIS_PATTERNS", "IDIOM_PATTERNS"]

# ---------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------

# Apostrophe look-alikes are dropped, so "don't", "don’t" and "dont" are one form.
_APOSTROPHES = re.compile(r"['\u2018\u2019\u201b\u0060\u00b4\u02bc\u02b9\u2032]")
# Common Cyrillic/Greek look-alike letters used to dodge filters ("kіll").
_CONFUSABLES = str.maketrans(
    {"а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x",
     "і": "i", "ѕ": "s", "ј": "j", "ԁ": "d", "ӏ": "l", "ο": "o", "α": "a", "ι": "i"}
)
# Leetspeak only between letters ("k1ll", "d1e", "su1c1de"), so numbers and
# "hello!" are left alone; "$" and "@" also at the start of a word ("$uicide").
_LEET_MAP = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t",
             "@": "a", "$": "s", "!": "i", "|": "l"}
_LEET = re.compile(r"[013457@$!|](?=[a-z])")  # the letter before is checked in _unleet
# An ellipsis is a pause inside a sentence ("i want to... die"): keep it joined.
_ELLIPSIS = re.compile(r"\.{2,}")
# Sentence ends become a " . " token so that word gaps in the patterns never
# bridge two sentences and "end of clause" can be recognised.
_SENTENCE_END = re.compile(r"[.!?;:\n\r]+")
_NON_ALNUM = re.compile(r"[^a-z0-9. ]+")
# "diiie", "killlll", "sooo": a letter repeated 3+ times counts once. Patterns
# that must survive this use tolerant spellings (k+i*l+, di+e+, sle+p).
_REPEATS = re.compile(r"([a-z])\1{2,}")
_SPACES = re.compile(r" {2,}")


def _unleet(m: "re.Match[str]") -> str:
    """Map one leet character if a letter precedes it ("$"/"@" may also start a word)."""
    c, i = m.group(), m.start()
    prev = m.string[i - 1] if i else " "
    if "a" <= prev <= "z" or (c in "$@" and not prev.isalnum()):
        return _LEET_MAP[c]
    return c


def normalize(text: str) -> str:
    """Fold a message to the plain form the patterns are written against.

    Lowercase ASCII letters, digits and single spaces, with " . " marking sentence
    ends; accents, look-alike letters, leetspeak and letter stretching undone.
    """
    t = unicodedata.normalize("NFKC", text or "").casefold()
    if not t.isascii():  # fast path: most messages are plain ASCII
        t = t.translate(_CONFUSABLES)
        t = "".join(c for c in unicodedata.normalize("NFD", t) if not unicodedata.combining(c))
    t = _APOSTROPHES.sub("", t)
    t = _LEET.sub(_unleet, t)
    t = _ELLIPSIS.sub(" ", t)
    t = _SENTENCE_END.sub(" . ", t)
    t = _NON_ALNUM.sub(" ", t)
    t = _REPEATS.sub(r"\1", t)
    return _SPACES.sub(" ", t).strip()


# ---------------------------------------------------------------------------
# The patterns are data: content/lexicons/crisis.yml (reviewable by a clinician)
# ---------------------------------------------------------------------------

LEXICON_PATH = Path(__file__).resolve().parent.parent / "content" / "lexicons" / "crisis.yml"
_FRAGMENT_REF = re.compile(r"<([A-Z_]+)>")


@dataclass(frozen=True)
class LexiconEntry:
    """One named pattern of the lexicon file, with the examples it is checked against."""

    name: str
    stems: Tuple[str, ...]
    pattern: str
    examples: Tuple[str, ...] = ()


def _expand(rx: str, fragments: Dict[str, str]) -> str:
    """Replace <NAME> references with the fragment (fragments may nest)."""
    for _ in range(3):
        rx = _FRAGMENT_REF.sub(lambda m: fragments.get(m.group(1), m.group(0)), rx)
    return rx


def load_lexicon(path: Path = LEXICON_PATH) -> Dict[str, Any]:
    """Read the lexicon file: fragments, crisis and idiom entries, everyday messages."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    fragments = {str(k): str(v) for k, v in (doc.get("fragments") or {}).items()}

    def entries(key: str, examples_key: str) -> List[LexiconEntry]:
        return [
            LexiconEntry(e["name"], tuple(e.get("stems") or ()), _expand(e["pattern"], fragments),
                         tuple(e.get(examples_key) or ()))
            for e in doc.get(key) or []
        ]

    return {
        "crisis": entries("crisis", "must_match"),
        "idioms": entries("idioms", "masks"),
        "never_crisis": tuple(doc.get("never_crisis") or ()),
    }


_LEXICON = load_lexicon()
CRISIS_PATTERNS: List[LexiconEntry] = _LEXICON["crisis"]
IDIOM_PATTERNS: List[LexiconEntry] = _LEXICON["idioms"]
NEVER_CRISIS: Tuple[str, ...] = _LEXICON["never_crisis"]

_CRISIS: List[Tuple[str, Tuple[str, ...], Pattern[str]]] = [
    (e.name, e.stems, re.compile(e.pattern)) for e in CRISIS_PATTERNS
]
_IDIOMS: List[Tuple[str, Tuple[str, ...], Pattern[str]]] = [
    (e.name, e.stems, re.compile(e.pattern)) for e in IDIOM_PATTERNS
]
_MASK = " ~ "


def _has_stem(padded: str, stems: Tuple[str, ...]) -> bool:
    return any(s in padded for s in stems)


def mask_idioms(normalized: str, use_stems: bool = True) -> str:
    """Blank out idioms ("overdosed on coffee lol") so they cannot look like a crisis."""
    t, padded = normalized, f" {normalized} "
    for _, stems, rx in _IDIOMS:
        if not use_stems or _has_stem(padded, stems):
            t = rx.sub(_MASK, t)
    return t


def _first_match(t: str, use_stems: bool = True) -> Optional[str]:
    """Name of the first crisis pattern matching normalised, idiom-masked ``t``."""
    padded = f" {t} "
    for name, stems, rx in _CRISIS:
        if use_stems and not _has_stem(padded, stems):
            continue
        if rx.search(t):
            return name
    return None


def find_crisis(text: str) -> Optional[str]:
    """Return the name of the first crisis pattern found in ``text``, else None.

    The text is normalised, known idioms are masked, then the crisis patterns are
    tried in order. A name (not a bool) lets staff see why the crisis reply fired.
    """
    if not text:
        return None
    return _first_match(mask_idioms(normalize(text)))
