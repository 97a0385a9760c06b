"""Take names, phone numbers and e-mail addresses out of a visitor's message.

Why: a message from the learning inbox becomes a training example in the
repository (data/nlu/reviewed_inbox.yml), and the analytics page and its CSV
list the most frequent unanswered messages. Neither may carry who the visitor
is. Each is replaced by a placeholder (``[name]``, ``[phone]``, ``[email]``)
so an editor can still see that something was there.

Names are found the way visitors write them: after "my name is", "I'm",
"this is", "call me", a title ("Dr.", "Mrs."), a relative ("my wife Sarah"),
a sign-off ("thanks, Jen"), and any capitalised common first name in the
middle of a sentence. It is a heuristic: the editor sees the scrubbed text
before it is saved (the inbox shows it) and can delete an example by hand.
"""

from __future__ import annotations

import re
from typing import List, Tuple

import phonenumbers

NAME, PHONE, EMAIL = "[name]", "[phone]", "[email]"

EMAIL_RE = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# Any run of 7+ digits with the usual separators (extensions, foreign formats, typos).
DIGITS_RE = re.compile(r"(?<![\w])\+?\d[\d\s().\-]{5,}\d(?![\w])")

# Common US first names (SSA lists) that are not also everyday English words
# ("Will", "May", "Grace", "Hope", "Bill", "Mark" are left out on purpose).
FIRST_NAMES = frozenset("""
aaron abigail adam adrian aiden alex alexa alexander alexis alice alicia allison alyssa amanda amber amy
ana andrea andrew angela anna anne anthony antonio ashley austin ava barbara benjamin beth betty brandon
brenda brian brittany caleb cameron carlos carol caroline carolyn catherine charles charlotte chloe chris
christian christina christine christopher cindy claire cody connor courtney cynthia daniel danielle david
deborah debra denise dennis derek diana diane donald donna dorothy dylan edward elizabeth ella emily emma
eric erica erin ethan evan evelyn gabriel gary george gloria gregory hailey hannah harold heather helen
henry isaac isabella jack jackson jacob james jamie jane janet janice jason jeffrey jennifer jen jenny
jeremy jerry jesse jessica joan joe john jonathan jordan jose joseph joshua juan judith judy julia julie
justin karen katherine kathleen kathryn katie kayla keith kelly kenneth kevin kimberly kyle larry laura
lauren leah linda lisa logan lori luis luke madison margaret maria marie marilyn martha mary matthew
megan melissa michael michelle mike nancy natalie nathan nicholas nicole noah olivia pamela patricia
patrick paul peter rachel raymond rebecca richard robert roger ronald ruth ryan samantha samuel sandra
sara sarah scott sean sharon shirley sophia stephanie stephen steven susan taylor teresa thomas tiffany
timothy tyler valerie victoria vincent virginia walter wayne william zachary zoe
""".split())

_NAME_WORD = r"[A-Za-z][A-Za-z'\-]{1,30}"
# "my name is ann lee", "name's Ann", "call me Ann": the next one or two words are a name.
CUE_RE = re.compile(
    rf"\b(?P<cue>(?:my\s+name\s+is|my\s+name'?s|name'?s|names|call\s+me|i\s+go\s+by|signed|regards,?|"
    rf"sincerely,?|cheers,?))\s+(?P<name>{_NAME_WORD}(?:\s+{_NAME_WORD})?)", re.IGNORECASE)
# "I'm Ann", "this is Ann", "it's Ann": only a capitalised word or a known first name.
SOFT_CUE_RE = re.compile(
    rf"\b(?P<cue>(?:i\s*'?\s*a?m|this\s+is|it'?s|hi,?\s+i'?m|hello,?\s+i'?m))\s+(?P<name>{_NAME_WORD}(?:\s+{_NAME_WORD})?)",
    re.IGNORECASE)
TITLE_RE = re.compile(r"\b(?:[Dd]r|[Mm]r|[Mm]rs|[Mm]s|[Mm]iss|[Mm]x|[Pp]rof|[Nn]urse)\.?\s+"
                      r"(?P<name>[A-Z][A-Za-z'\-]+(?:\s+[A-Z][A-Za-z'\-]+)?)")
RELATIVE_RE = re.compile(
    r"\b(?:my|our)\s+(?:wife|husband|partner|son|daughter|mom|mum|mother|dad|father|brother|sister|"
    r"friend|boyfriend|girlfriend|fiance|fiancee|kid|child|doctor|therapist|psychiatrist|aunt|uncle|"
    r"grandma|grandpa|cousin|roommate|boss)\s*,?\s+(?P<name>[A-Z][A-Za-z'\-]+(?:\s+[A-Z][A-Za-z'\-]+)?)")
SIGN_OFF_RE = re.compile(
    rf"(?:\b(?:thanks|thank\s+you|thx|ty|cheers|best|regards)|(?:^|\s)[-\u2013\u2014~]+)\s*[,!.]*\s*"
    rf"(?P<name>{_NAME_WORD})\s*[.!]*\s*$", re.IGNORECASE)
WORD_RE = re.compile(r"[A-Za-z][A-Za-z'\-]+")
# Rasa reads "[text](entity)" and "[text]{...}" as entity annotations: visitors' brackets are neutralised.
BRACKETS = str.maketrans({"[": "(", "]": ")", "{": "(", "}": ")"})
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u2028\u2029]+")
MAX_CHARS = 300


def _is_first_name(word: str) -> bool:
    return word.casefold().strip("'-") in FIRST_NAMES


def _spans(text: str) -> List[Tuple[int, int, str]]:
    found: List[Tuple[int, int, str]] = []
    for m in EMAIL_RE.finditer(text):
        found.append((m.start(), m.end(), EMAIL))
    for match in phonenumbers.PhoneNumberMatcher(text, "US", leniency=phonenumbers.Leniency.POSSIBLE):
        found.append((match.start, match.end, PHONE))
    for m in DIGITS_RE.finditer(text):
        if sum(c.isdigit() for c in m.group()) >= 7:
            found.append((m.start(), m.end(), PHONE))
    for m in CUE_RE.finditer(text):
        _add_name(found, m, strict=False)
    for m in SOFT_CUE_RE.finditer(text):
        _add_name(found, m, strict=True)
    for regex in (TITLE_RE, RELATIVE_RE):
        for m in regex.finditer(text):
            found.append((m.start("name"), m.end("name"), NAME))
    m = SIGN_OFF_RE.search(text)
    if m:
        word = m.group("name")
        if word.casefold() not in _NOT_NAMES | _NOT_SIGNATURES and (word[0].isupper() or _is_first_name(word)):
            found.append((m.start("name"), m.end("name"), NAME))
    for m in WORD_RE.finditer(text):
        if m.group()[0].isupper() and _is_first_name(m.group()):
            found.append((m.start(), m.end(), NAME))
    return found


def _add_name(found: List[Tuple[int, int, str]], m: re.Match, strict: bool) -> None:
    """Add the one or two words after a cue that look like a name."""
    words = list(WORD_RE.finditer(m.group("name")))
    base = m.start("name")
    taken = []
    for i, w in enumerate(words):
        word = w.group()
        capital = word[0].isupper()
        known = _is_first_name(word)
        if i == 0:
            if strict and not (known or (capital and word.casefold() not in _NOT_NAMES)):
                return
            if not strict and word.casefold() in _NOT_NAMES:
                return
            taken.append(w)
        elif (capital or known or not strict) and word.casefold() not in _NOT_NAMES:
            taken.append(w)  # a surname: "Ann Lee" (after "my name is", also "ann lee")
        else:
            break
    if taken:
        found.append((base + taken[0].start(), base + taken[-1].end(), NAME))


# Words that follow "I'm" / "this is" / "my name is" and are not names.
_NOT_NAMES = frozenset("""
a an the not so very really just still also too here there fine ok okay good bad sad tired scared
worried anxious depressed looking trying wondering asking calling writing interested new sure sorry
confused curious from in on at with about going having feeling getting thinking considering hoping
planning ready able unable currently actually and or but if is was what how when where why who which
that this it its on off over under being been ketamine clinic treatment please thanks thank hi hello
hey dr mr mrs ms doctor nurse patient mom dad mother father wife husband son daughter parent
tomorrow today tonight back later now soon anytime asap morning afternoon evening weekdays weekends
i im i'm id i'd ive i've my me we you your can could would will do does did have has had need want
""".split())


# Words that end a "thanks ..." without being a signature.
_NOT_SIGNATURES = frozenset("you again all much everyone everybody guys team so lot ya u anyway".split())


def scrub(text: str) -> str:
    """``text`` with names, phone numbers and e-mail addresses replaced by placeholders.

    Also made safe as a training example: one line, no control characters, no
    brackets Rasa would read as entity annotations, at most 300 characters.
    """
    text = CONTROL_RE.sub(" ", str(text or ""))
    text = " ".join(text.split())
    spans = sorted(_spans(text), key=lambda s: (s[0], -s[1]))
    out: List[str] = []
    pos = 0
    for start, end, placeholder in spans:
        if start < pos:
            continue  # inside a span already replaced
        out.append(text[pos:start].translate(BRACKETS))
        out.append(placeholder)
        pos = end
    out.append(text[pos:].translate(BRACKETS))
    result = "".join(out)
    # "[name] [name]" -> "[name]"; never "][" or "](" (an entity annotation to Rasa).
    result = re.sub(r"(\[(?:name|phone|email)\])(\s*\1)+", r"\1", result)
    result = re.sub(r"\](?=[\[({])", "] ", result)
    result = " ".join(result.split())
    if len(result) > MAX_CHARS:
        result = result[:MAX_CHARS].rsplit(" ", 1)[0]
    return result
