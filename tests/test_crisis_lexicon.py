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

from addons import crisis_lexicon
from addons.crisis_lexicon import find_crisis, normalize

NLU_FILE = Path(__file__).resolve().parent.parent / "data" / "nlu" / "crisis_and_scope.yml"

MUST_MATCH = [
    # first person, direct
    "I'm going to kill myself tonight",
    "im gonna kil myself",
    "i want to kill my self",
    "K1ll mys3lf",
    "kms",
    "honestly i might just kms lol",
    "I feel suicidal",
    "having sucidal thoughts again",
    "suicde",
    "i've been thinking about suiside a lot",
    "I attempted suicide last year",
    "I want to die",
    "i just wanna diiie",
    "I WANT TO DIE!!!",
    "I w4nt to d1e",
    "i want to... die",
    "i wish i was dead",
    "I wish I had never been born",
    "i'd be better off dead",
    "please let me die",
    "i'm ready to die",
    "i feel like dying",
    "I want to stop living",
    "life has no meaning anymore",
    "whats the easiest way to die",
    "i want to drink bleach",
    # indirect
    "everyone would be better off without me",
    "my family would be happier if i wasn't around",
    "it would be easier for everyone if i wasnt here",
    "there is no reason to live",
    "I have nothing left to live for",
    "life isn't worth living",
    "what's the point of living",
    "i've lost my will to live",
    "I don't want to be here anymore",
    "i dont wanna live anymore",
    "I don\u2019t want to be alive",
    "i can't go on",
    "I can't go on like this",
    "i can't take it anymore",
    "I'm so tired of living",
    "i want to sleep forever",
    "I wish I could go to sleep and never wake up",
    "i hope i don't wake up tomorrow",
    "I want to disappear",
    "i wish i could just vanish forever",
    "I just want it all to stop forever",
    "i want everything to end",
    "i'm a burden to everyone",
    "nobody would miss me if i died",
    "no one would miss me",
    "i keep thinking about death",
    "I'm not safe with myself right now",
    "i wish someone would kill me",
    "i hope a car hits me",
    # ending one's life, euphemisms
    "i want to end it all",
    "i'm going to end my life",
    "I want to take my own life",
    "i just want to end it",
    "thinking of offing myself",
    "i want to unalive myself",
    "sewerslide",
    # self-harm
    "I've been self harming",
    "self-harm",
    "selfharm urges are back",
    "i cut myself last night",
    "I've started cutting again",
    "i'm a cutter",
    "i want to slit my wrists",
    "I want to hurt myself again",
    "i keep hurting myself on purpose",
    "i want to hang myself",
    "i've been burning myself",
    "I cut myself when I'm alone",
    "i cut myself with a razor",
    "i cut myself on my thighs",
    "I cut myself while cooking, and later again on purpose",
    "i want to die, my hair is falling out",
    # overdose, pills
    "im going to od",
    "I overdosed",
    "i think i'm overdosing",
    "i took a whole bottle of tylenol",
    "please help i took too many pills",
    # plans and means
    "I have the pills ready",
    "I've been saving up my pills",
    "i bought a rope",
    "how do i tie a noose",
    "how many pills would kill me",
    "what's a lethal dose of ketamine",
    "what's the most painless way to die",
    "I wrote a goodbye letter to my family",
    "i gave away all my stuff",
    "i know exactly how i'd do it",
    "i want to jump off the sundial bridge",
    "thinking about stepping in front of a train",
    "thinking about driving my car off a cliff",
    "I put a gun to my head last night",
    "im on the roof and i want to jump",
    # harm to others
    "I want to hurt someone",
    "I'm scared I might hurt my baby",
    "i have thoughts of killing my husband",
    "i keep having urges to kill my roommate",
    "i want to shoot up my school",
    # someone else in danger
    "my friend says she wants to end it",
    "my brother took a bunch of pills",
    "my friend is suicidal what do i do",
    "my daughter is cutting herself",
    "my sister is threatening to jump",
    "my dad said he wants to kill himself",
    "my mom od'd and she isn't breathing",
    "my boyfriend has a gun and says he'll use it on himself",
    "my roommate swallowed a bunch of pills and won't wake up",
    "my husband is beating me",
    # general or clinical questions still get crisis resources
    "can ketamine help with suicidal thoughts?",
    "does ketamine reduce self harm urges",
    "can you overdose on ketamine",
    # crisis next to an idiom or another question
    "this is killing me lol but honestly i want to kill myself",
    "what are your hours? also i don't want to live anymore",
    "overdosed on coffee lol and also took a bottle of sleeping pills",
    "ok thanks. i'll end it here tonight",
    # emergencies, other languages
    "this is an emergency",
    "quiero morir",
    "no quiero vivir",
]

MUST_NOT_MATCH = [
    # idioms
    "this is killing me lol",
    "I'm dying to know",
    "I'm dying to know the score",
    "how do I kill the weeds in my lawn",
    "kill the lights",
    "just killing time before my flight",
    "that's a killer deal",
    "my feet are killing me",
    "I'm dead tired",
    "she is drop-dead gorgeous",
    "I could murder a pizza right now",
    "this cheesecake is to die for",
    "overdosed on coffee lol",
    "I overdosed on caffeine this morning haha",
    "kill the process",
    "the battery died",
    "what's the deadline for taxes",
    "is the suicide squad movie any good",
    "that would be career suicide",
    "shoot me an email",
    "break a leg tonight",
    "I nearly died laughing",
    "I was killing myself laughing",
    "kill two birds with one stone",
    "end the call",
    "end it here thanks",
    "let's end it here, thank you",
    "cut the onions into rings",
    "hang up the phone",
    "want to hang out later",
    "I'm bored to death",
    "I'm scared to death of needles",
    "I'm sick to death of waiting",
    "I really shot myself in the foot there",
    "I'm going to die of embarrassment",
    "let me die on this hill",
    "I'd kill them with kindness",
    "my mom is going to kill me when she sees my grades",
    "the comedian killed it last night",
    # everyday questions with risky words
    "where can I buy vitamin pills",
    "how do I kill a process in linux",
    "my phone died",
    "I have a dead battery",
    "where can I cut my hair",
    "how do I hang a picture",
    "what bridge is the longest",
    "the bridge is closed for repairs",
    "how many kms from redding to sacramento",
    "can you shoot me a text when you're ready",
    "where is the nearest shooting range",
    "my tomato plants died",
    "how do i revive a dead plant",
    "i'm dying my hair red",
    "I want to dye my hair blue",
    "I cut myself shaving",
    "I hurt myself at the gym",
    "i cut my finger chopping onions",
    "I hurt myself when I fell off my bike",
    "i burned my hand on the stove",
    "i want to die my hair pink",
    "how do I avoid cutting myself when chopping vegetables",
    "I'm cutting back on sugar",
    "I take a lot of pills for my heart",
    "I took my pills this morning",
    "how do i swallow pills easily",
    "I don't want to live in a big city",
    "I can't go on the trip on friday",
    "I don't want to go on vacation this year",
    "I want to disappear for a weekend in the mountains",
    "I could sleep forever",
    "i hope i wake up on time",
    "I have no reason to wake up early on sunday",
    "I want to end my gym membership",
    "I want to end things with my boyfriend",
    "I want to take my life back from the clutter",
    "what's the meaning of life",
    "is life insurance worth it",
    "I jumped on the freeway to get home",
    "I ran into traffic on I-5",
    "we went cliff jumping at shasta lake",
    "i need to jump start my car",
    "im thinking about jumping into the lake this summer",
    "I want to stop living paycheck to paycheck",
    "i will take all my pills with breakfast",
    "my brother keeps beating me at chess",
    "I bought a rope for climbing",
    "that's odd",
    "he is odd",
    "the odd numbers between one and ten",
    "I'm worried the ketamine will hurt my baby",
    "I'm worried I'll harm my baby if I take ketamine while pregnant",
    "I'm afraid I'll hurt her feelings",
    "i'm drowning in paperwork",
    "my laptop won't wake up from sleep",
    "the app is unresponsive",
    "where is the emergency exit",
    "i want it to stop raining",
    "i wrote a farewell letter to my team",
    "roll the die",
    "how long does it take to boil an egg",
    "what dose of fertilizer for my lawn",
    "what is an anesthetic in dentistry",
    "how many people died on the titanic",
]


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


def test_result_is_the_pattern_name() -> None:
    names = {name for name, _, _ in crisis_lexicon.CRISIS_PATTERNS}
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
