"""What both channels (REST and Socket.IO) do to a visitor's text before Rasa sees it: one cleaner.

* :func:`clean_text` drops control and invisible formatting characters (NUL,
  escape sequences, bidirectional overrides, unpaired surrogates) but keeps tab,
  newline and the zero-width joiners emoji and several scripts need; trims it and
  cuts it to ``MAX_MESSAGE_CHARS`` (clinic.settings: the same limit as the widget).
* :func:`payload_problem` refuses a message starting with "/" unless it is a
  plain quick-reply payload (``/what_is_ketamine``): Rasa's ``/restart``,
  ``/back``, ``/session_start`` and ``/intent{"entity": ...}`` would let anyone
  rewind a conversation or pass entities.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Optional

from clinic import settings

MAX_MESSAGE_CHARS = settings.get_int("MAX_MESSAGE_CHARS", minimum=1)
# Kept although they are "format" characters: emoji sequences and several scripts need them.
KEPT_FORMAT = frozenset("\u200c\u200d")
PAYLOAD = re.compile(r"/[a-z_]+")
CONTROL_INTENTS = frozenset({"restart", "back", "session_start"})


def clean_text(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` without control, surrogate and invisible formatting characters, trimmed and cut to ``limit``."""
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch in "\n\t":
            kept.append(ch)
        elif category in ("Cc", "Cs") or (category == "Cf" and ch not in KEPT_FORMAT):
            continue
        else:
            kept.append(ch)
    return "".join(kept).strip()[:limit].strip()


def payload_problem(text: str) -> Optional[str]:
    """Why a message starting with "/" is refused, or None (see the module docstring)."""
    if not text.startswith("/") or (PAYLOAD.fullmatch(text) and text[1:] not in CONTROL_INTENTS):
        return None
    return ('"message" starts with "/", which is kept for quick-reply payloads such as /what_is_ketamine; '
            "write the question without it")
