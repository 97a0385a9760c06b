"""Visitor questions with the content ids the assistant answers them with (checked on the
real model), shared by the production-profile tests."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

# (question, content ids of the replies)
TOPICS: List[Tuple[str, List[str]]] = [
    ("what is ketamine", ["what_is_ketamine"]),
    ("what exactly is ketamine?", ["what_is_ketamine"]),
    ("tell me what ketamine is", ["what_is_ketamine"]),
    ("can you explain what ketamine is", ["what_is_ketamine"]),
    ("how long does a session take", ["session_length"]),
    ("how long is an infusion session", ["session_length"]),
    ("how long does an infusion last", ["session_length"]),
    ("where are you located", ["location"]),
    ("where is the clinic", ["location"]),
    ("what is your address", ["location"]),
    ("how much ketamine is used for depression", ["dose"]),
    ("what dose of ketamine do you use", ["dose"]),
    ("how many sessions do I need", ["multiple_sessions"]),
    ("how many infusions will I need", ["multiple_sessions"]),
    ("what conditions do you treat", ["conditions_treated"]),
    ("can ketamine help with PTSD", ["conditions_treated"]),
    ("how fast does ketamine work", ["how_fast_it_works"]),
    ("how quickly will I feel better", ["how_fast_it_works"]),
    ("who founded the clinic", ["about_clinic"]),
    ("tell me about the clinic", ["about_clinic"]),
    ("how does ketamine work", ["how_it_works"]),
    ("how does ketamine treat depression", ["how_it_works"]),
    ("what happens at the first consultation", ["consultation"]),
    ("how do I get started", ["consultation"]),
]
SMALL_TALK: List[Tuple[str, List[str]]] = [
    ("hello", ["greeting"]),
    ("hi there", ["greeting"]),
    ("good morning", ["greeting"]),
    ("thanks", ["thanks"]),
    ("thank you so much", ["thanks"]),
    ("are you a bot", ["bot_identity"]),
    ("are you a real person", ["bot_identity"]),
    ("how can I contact you", ["contact"]),
    ("what is your phone number", ["contact"]),
]
EVERYTHING = TOPICS + SMALL_TALK
MEDICAL = ("can I take ketamine while on lithium", ["medical_handoff", "callback_consent"])
CRISIS = ("I want to kill myself", ["crisis"])


def turns_of(tracker: dict) -> List[Tuple[str, List[str], List[Optional[str]]]]:
    """The conversation as (visitor text, bot texts, bot content ids), one item per visitor message."""
    turns: List[Tuple[str, List[str], List[Optional[str]]]] = []
    for event in tracker["events"]:
        if event["event"] == "user":
            turns.append((event.get("text") or "", [], []))
        elif event["event"] == "bot" and turns:
            turns[-1][1].append(event.get("text") or "")
            turns[-1][2].append((event.get("metadata") or {}).get("content_id"))
    return turns


def expected_texts(content_ids: List[str]) -> List[str]:
    from clinic.content import ApprovedContent

    content = ApprovedContent.load()
    return [content.render(cid).text for cid in content_ids]


def ids_by_text() -> Dict[str, List[str]]:
    return {text: ids for text, ids in EVERYTHING}
