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
- Standard library only, patterns precompiled at import: one call is a few
  dozen regex searches over a short string (well under 1 ms).
"""
from __future__ import annotations

import re
import unicodedata
from typing import List, Optional, Pattern, Tuple

__all__ = ["find_crisis", "normalize", "mask_idioms", "CRISIS_PATTERNS", "IDIOM_PATTERNS"]

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
# Shared fragments, written <NAME> inside the patterns below
# ---------------------------------------------------------------------------

_FRAGMENTS = {
    # Reflexive pronouns, incl. typos and other people ("herself", "yourself").
    "SELF": r"(?:my ?self|myslef|mysef|myselv|meself|mself|my own self|her ?self|him ?self"
            r"|them ?selves|them ?self|your ?self|ur ?self|yo ?self|our ?selves|one ?self)",
    # First-person subject forms after apostrophes are dropped.
    "I": r"(?:i|im|i am|i m|ive|i have|i ve|id|i d|ill|i will|i would)",
    "DONT": r"(?:dont|don t|do not|dnt|doesnt|does not|didnt|did not|never|no longer)",
    "CANT": r"(?:cant|can t|can not|cannot|couldnt|could not|cnt)",
    # Verbs of wish, readiness or intent that turn "die" into ideation.
    "DESIRE": r"(?:want|wants|wanted|wanting|wanna|wana|wnt|wish|wishes|wished|wishing|hope|hoping"
              r"|pray|praying|long|longing|ready|deserve|deserves|rather|prefer|tempted|urge|urges"
              r"|let me|would like|id like|i d like|trying|try|tried|should|considering|contemplating"
              r"|thinking about|thought about|think about|thinking of|thought of|think of"
              r"|talking about|talks about|talked about|threatening|threatened|threatens"
              r"|plan|plans|planning|planned|decided|deciding|feel like|feeling like)",
    # DESIRE plus plain future, ability and urgency ("gonna end it", "might end it",
    # "i'll end it", "should just end it", "time to end it").
    "INTENT": r"(?:want|wants|wanted|wanting|wanna|wana|wnt|wish|wishes|wished|hope|hoping|ready|ill"
              r"|tempted|urge|urges|trying|try|tried|should|going|goin|gonna|gunna|gona|need|needs"
              r"|might|might as well|could|will|would like|id like|time|decided|deciding|plan|plans"
              r"|planning|planned|considering|contemplating|thinking about|thought about|think about"
              r"|thinking of|talking about|talks about|talked about|threatening|threatened|threatens"
              r"|just|finally)",
    # Filler words allowed between the intent verb and the act: adverbs and
    # auxiliaries only, never nouns, so "want my acne to disappear" stays out.
    "FILL": r"(?: (?:to|too|2|i|id|im|ill|just|really|rly|so|simply|could|would|can|might|kinda"
            r"|honestly|literally|sometimes|often|always|badly|completely|truly|seriously|actually"
            r"|already|finally|all|go|and|only|even|still|never|rather|was|were|had|have|been"
            r"|be able to|lay down|lie down|quietly|peacefully|wanna|want to|like|sort of|kind of"
            r"|then|somehow|that|ever|please|fucking|fkn|freaking|effing|frickin|to just))",
    # People a visitor may worry about (third-party danger).
    "PERSON": r"(?:friend|friends|best friend|bestie|buddy|pal|brother|bro|sister|sis|mom|mum|mother"
              r"|dad|father|son|daughter|kid|kids|child|baby|wife|husband|spouse|partner|fiance"
              r"|fiancee|boyfriend|girlfriend|bf|gf|roommate|room mate|cousin|uncle|aunt|niece"
              r"|nephew|grandma|grandpa|grandmother|grandfather|stepdad|stepmom|coworker|co worker"
              r"|colleague|classmate|neighbor|neighbour|teen|teenager|student|sibling|he|she|they"
              r"|hes|shes|theyre)",
    # Objects that make "hurt/kill X" harm to other people.
    "VICTIM": r"(?:someone|somebody|some one|people|everyone|everybody|others|other people|him|her|them"
              r"|the baby|the kids|a (?:kid|child|person|stranger|coworker|classmate)"
              r"|my (?:\w+ )?(?:wife|husband|boss|mom|mother|dad|father|kids?|children|son|daughter"
              r"|baby|babies|family|roommate|neighbou?r|partner|coworkers?|co workers?|brother"
              r"|sister|girlfriend|boyfriend|gf|bf|ex|teacher|classmates?|parents?|stepdad|stepmom"
              r"|newborn|toddler|infant))",
    # After "go on", "live", "be here": the clause ends (or turns to feelings),
    # so "i can't go on" matches and "i can't go on the trip" does not.
    "CLAUSE_END": r"(?=$| \.| (?:anymore|any more|any longer|no more|no longer|like this|this way"
                  r"|ever again|again|tomorrow|tonight|today|i|im|ive|id|please|help|honestly|really"
                  r"|lol|at all|without|in this world|on this earth|because|cuz|bc|cause|but|though"
                  r"|anyway|whats the point|with this pain)\b)",
    # Sentence end or a word that starts a new clause.
    "END": r"(?=$| \.| (?:i|im|and|so|honestly|lol|anyway|tbh|please)\b)",
}

_FRAGMENT_REF = re.compile(r"<([A-Z_]+)>")


def _expand(rx: str) -> str:
    """Replace <NAME> references with the fragment (fragments may nest)."""
    for _ in range(3):
        rx = _FRAGMENT_REF.sub(lambda m: _FRAGMENTS.get(m.group(1), m.group(0)), rx)
    return rx


# ---------------------------------------------------------------------------
# Crisis patterns: (name, stems, regex), checked in order; the first hit's name is returned.
# stems: substrings that every match of the regex contains (a leading space means
# "at a word start": they are looked up in " " + text + " "). A regex only runs when
# one of its stems is present, which keeps long messages fast; the tests check that
# this gate never changes a result.
# ---------------------------------------------------------------------------

CRISIS_PATTERNS: List[Tuple[str, Tuple[str, ...], str]] = [
    # suicide / suicidal and their misspellings: suicde, sucide, suiside, suicidial.
    ("suicide", ("su",),
     r"\bsu+[ie]?[cs]+i?[dt]+(?:e|es|ed|al|ial|ally|ality|ing|s)?\b"),
    # Internet euphemisms: unalive, sewerslide, self-delete, kms, kys, toaster bath.
    ("suicide_slang", ("aliv", "slid", "delet", "kms", "kys", "toaster"),
     r"\b(?:un ?aliv(?:e|ed|es|ing)|sewer ?slid(?:e|ing)|self ?delet(?:e|ed|ing|ion)|kms|kys"
     r"|toaster bath)\b"),
    # kill myself / kil myself / killing herself.
    ("kill_self", ("sel", "sef", "slef"),
     r"\bk+i*l+(?:s|ed|ing|in)? <SELF>\b"),
    # Wanting someone or something else to end one's life.
    ("wish_killed", (" kill", " take", " end", " shoot", " run", " hit"),
     r"\b(?:want|wish|hope|hoping|pray|praying|need|begging|please)(?: (?:that|for|if|just))?"
     r" (?:(?:someone|somebody|some one|something|god|a car|a truck|a bus|a train|cancer|the cancer"
     r"|death|a bullet|lightning|it|you) (?:would|to|could|will|can|might|should)"
     r"(?: (?:just|finally|come and|please))? (?:kill|take|end|shoot|run over|hit)"
     r"|(?:someone|somebody|something|a car|a truck|a bus|a train|cancer|death|a bullet|lightning)"
     r" (?:kills|takes|ends|shoots|runs over|hits)) me\b"),
    # want to die / wish I was dead / wish I was never born / let me die.
    ("want_to_die", (" di", " dying", " dead", "alive", "born", "exist", "wake", "stop living"),
     r"\b<DESIRE>\b<FILL>{0,5} (?:di+e+d?|dying|(?:be|was|were|am|being) dead|not be alive|not alive"
     r"|never been born|never born|not have been born|wasnt born|not exist|not to exist|didnt exist"
     r"|did not exist|stop existing|cease to exist|not wake up"
     r"|stop living(?! (?:in|with|like|paycheck|for|beyond|off|on)\b))\b"),
    # "going to die tonight": a stated time or means turns it into a plan.
    ("dying_soon", (" di",),
     r"\b(?:going|gonna|gunna|goin) (?:to )?di+e+ (?:tonight|today|soon by|by my own hand)\b"),
    # better off dead / better off without me / easier if I wasn't here.
    ("better_off_without_me", ("better", "happier", "easier", "best"),
     r"\b(?:better|happier|easier|best) (?:off |place )?(?:for (?:everyone|everybody|them|all of them"
     r"|my family|the world|my kids|the people i love) )?"
     r"(?:dead\b|with me (?:gone|dead|out of the (?:way|picture))"
     r"|without me(?:$| \.| (?:around|here|in (?:it|the picture|their lives|their life|this world|the world)"
     r"|anyway|honestly|i|im|and|so|lol|tbh)\b)"
     r"|(?:when|once|if) i(?:m| am)? gone\b"
     r"|if i (?:wasnt|werent|was not|were not|didnt|did not|hadnt|had never|never)(?: \w+){0,2}?"
     r" (?:here|around|alive|exist|existed|born|in the picture)\b"
     r"|if i (?:\w+ ){0,2}?(?:died|disappeared|was gone|were gone|was dead|were dead|killed myself"
     r"|left (?:forever|for good))\b)"),
    # Perceived burdensomeness: "I'm a burden to everyone".
    ("burden", ("burden",),
     r"\b(?:im|i am|i m|ive become|i have become|feel like|feel like im|just)"
     r"(?: (?:just|such|only|nothing but|always|a|an|huge|big|total|the))* burden"
     r" (?:to|on|for) (?:everyone|everybody|my family|my kids|my parents|my wife|my husband"
     r"|my partner|my friends|the people|them all|all of them|the world|those i love"
     r"|people i love)\b"),
    # "No one would miss me" / "nobody would care if I died".
    ("nobody_would_miss_me", ("nobody", "no one", "noone", "no body", "single person"),
     r"\b(?:no ?one|nobody|no body|not a single person)(?: else)?(?: (?:would|will|wouldnt|is going to"
     r"|gonna|even|ever|really|d))* (?:miss me(?! at| in| on| for| during| if i skip)\b"
     r"|(?:notice|care)(?: (?:if|when)) i (?:\w+ )?(?:was gone|were gone|died|disappeared|wasnt here"
     r"|wasnt around|killed myself|was dead|were dead)\b)"),
    # no reason to live / no will to live / what's the point of living.
    ("no_reason_to_live", ("liv", "life", "alive", "exist", "go on", "going on", "keep going", "carry",
      "anymore"),
     r"\b(?:(?:no|zero|nothing|lost (?:my|the|all)|dont have (?:a|any)|dont see (?:a|any|the)"
     r"|cant see (?:a|any|the)|any)(?: \w+)? (?:reason|point|purpose|will|meaning|desire|motivation"
     # "what's the point of living" (but not the philosophical "meaning of life").
     r"|hope)|(?:whats|what is) the(?: \w+)? point) (?:to|in|for|of) (?:(?:live|living|existing|exist|life)"
     r"(?! (?:in|near|at|with|on|by|there|here|downtown|abroad|close|far|alone|together|off))\b"
     r"|be alive|being alive|stay alive|staying alive|(?:go on|going on|keep going|keep living"
     r"|carry on|carrying on|try anymore|trying anymore|anything anymore)<CLAUSE_END>)"),
    # nothing to live for / life isn't worth living / my life is pointless.
    ("life_not_worth_living", (" live for", "worth", "alive", "existing", "pointless", "meaningless",
      "has no", "holds no"),
     r"\b(?:nothing (?:left )?(?:to|2) live for|(?:not|nothing|isnt|aint|no longer)(?: really)? worth living"
     r"(?! (?:in|at|near|with|there|here)\b)|hate (?:being alive|existing)"
     r"|(?:life|living|my life|existence|my existence|being alive|life itself) (?:is|isnt|is not|aint|s"
     r"|has become|feels|feels so)(?: \w+){0,2}? (?:worthless|pointless|meaningless|not worth (?:it|living)"
     r"|worth nothing|not worth it anymore)"
     r"|(?:life|my life|living|existence|my existence) (?:has|holds) no (?:meaning|purpose|point|value))\b"),
    # I don't want to live / to be alive / to exist / to be here anymore.
    ("dont_want_to_live", ("dont", "don t", "do not", "dnt", "doesnt", "does not", "didnt", "did not",
      "never", "no longer"),
     r"\b<DONT>(?: (?:really|even|wanna|want to|feel like))? (?:want|wanna|wana|wish|feel like)(?: to)?"
     r" (?:(?:be alive|exist(?! (?:on|as|online)\b)|keep living|continue living|stay alive|see tomorrow"
     r"|live anymore|be here anymore|be on this earth|be in this world|wake up ever again)\b"
     r"|(?:live|be here|be around|go on|keep going|carry on|wake up)<CLAUSE_END>)"),
    # I can't go on / can't do this anymore / can't take it anymore.
    ("cant_go_on", ("cant", "can t", "can not", "cannot", "couldnt", "could not", "cnt"),
     r"\b<CANT> (?:(?:go on|keep going|carry on|go on living|keep living)<CLAUSE_END>"
     r"|(?:do|take|handle|bear|stand) (?:it|this|life|living) (?:anymore|any more|any longer)"
     r"|live (?:like this|this way|with myself|anymore))"),
    # Tired of living / done with life / giving up on life.
    ("tired_of_living", ("liv", "life", "alive", "exist", "it all", "being here"),
     r"\b(?:(?:tired|sick|done|exhausted|fed up|finished|through|over) (?:of|with) (?:living|life|being alive"
     r"|existing|this life|it all|my life|being here)(?! (?:in|near|at|on|with|by|here|there)\b)"
     r"|give up on (?:life|living)|giving up on (?:life|living)|gave up on (?:life|living))\b"),
    # end my life / take my own life / ending her life (not "take my life back").
    ("end_my_life", (" life", " lives", " lif ", "sel", "sef", "slef"),
     r"\b(?:end|ending|ended|ends|take|taking|took|taken|takes) (?:my|his|her|their|your|our|me|this|ones)"
     r" (?:own )?li(?:fe|ves|f)\b(?! (?:back|savings|insurance|in (?:my|your|his|her|their) (?:own )?hands"
     r"|into|expectancy|sentence|cycle|coach|story|lesson|lessons|goals|style|experience)\b)"
     r"|\bend(?:ing)? <SELF>\b"),
    # end it all / ending things forever / end everything tonight.
    ("end_it_all", tuple(f" {v} {o} " for v in ("end", "ending", "ended", "ends")
                          for o in ("it", "things", "everything", "this")),
     r"\bend(?:ing|ed|s)? (?:it|things|everything|this) (?:all|for good|forever|tonight|once and for all"
     r"|permanently)\b"),
    # "I want to end it" / "my friend says she wants to end it" / "should just end it".
    ("want_to_end_it", tuple(f" {v} {o}" for v in ("end", "ending") for o in
                              ("it", "things", "everything", "my suffering", "the suffering")),
     r"\b<INTENT>\b<FILL>{0,4} end(?:ing)? (?:it|things|everything|my suffering|the suffering|it now)\b"
     r"(?! (?:with|between|early|for (?:now|today|the day)|on a|on good|at|nicely|politely|gracefully"
     r"|amicably|there)\b)"),
    # "I just want it all to stop (forever)" / "I want everything to end".
    ("make_it_all_stop", (" stop", " end", " over"),
     r"\b(?:want|wanna|wish|need|hope|pray|praying)(?: (?:to|just|really|so|badly|for|that))*"
     r" (?:(?:it all|everything|all of it|my life|life|existing|my existence) (?:all )?(?:to |would |could )?"
     r"(?:stop|end|be over|was over|were over)(?! \w+ing)\b"
     # a bare "it" only when nothing follows ("i just want it to end", not "...to end at 5")
     r"|it (?:to |would |could )?(?:all )?(?:stop|end|be over|was over|were over)<END>"
     r"|(?:it|this|the pain|this pain|the hurting) (?:to |would |could )?(?:stop|end|be over)"
     r" (?:forever|for good|permanently|once and for all))"),
    # want to sleep forever / sleep and never wake up.
    ("sleep_forever", ("sle", "wak", "wok"),
     r"\b(?:<DESIRE>\b<FILL>{0,5} (?:go to |fall )?(?:sle+p|asle+p) (?:forever|for ever|permanently"
     r"|for good|eternally)"
     r"|(?:sle+p|asle+p|bed|lie down|lay down)(?: \w+){0,3}? (?:and|then|n) (?:never|not|just not|wont"
     r"|dont|wouldnt) (?:ever )?wake(?: up)?"
     r"(?! (?:early|late|on time|before|until|till|at|in time|the|for)\b)"
     r"|never (?:wake|waking|woke) up again)\b"),
    # "I hope I don't wake up" / "I wish I never woke up".
    ("not_wake_up", ("wak", "wok"),
     r"\b(?:hope|hoping|wish|wishing|pray|praying|want|wanna)(?: (?:that|to|i|just|really|so|could))*"
     r" (?:dont|do not|never|wont|will not|wouldnt|would not|not|didnt|did not) (?:ever )?(?:wake|woke)"
     r"(?: up)?(?=$| \.| (?:again|tomorrow|in the morning|this morning|anymore|ever|i|and)\b)"),
    # want to disappear / vanish / be gone forever (not "want to disappear for a weekend").
    ("disappear", ("disappear", "vanish", " fade", "exist", " here ", " around ", "alive",
      " gone", "evaporate"),
     r"\b<DESIRE>\b<FILL>{0,5} (?:disappear|vanish|fade away|cease to exist|stop existing|not exist"
     r"|not be here|not be around|not be alive|be gone|evaporate)"
     r"(?=$| \.| (?:forever|for good|permanently|from (?:this|the) (?:world|earth|planet)|completely"
     r"|and never|i|and|so|already|honestly|lol|sometimes|tonight)\b)"),
    # off myself / offing myself.
    ("off_myself", ("sel", "sef", "slef"), r"\boff(?:ing|ed|d)? <SELF>\b"),
    # self harm / self-harm / selfharm / self-injury.
    ("self_harm", ("self",), r"\bself ?(?:harm\w*|injur\w*|mutilat\w*)"),
    # Harm aimed at oneself: hurt/cut/burn/hang/shoot/starve/drown myself.
    ("hurt_myself", ("sel", "sef", "slef"),
     r"\b(?:hurt|hurting|hurts|harm|harming|harmed|injure|injuring|injured|burn|burning|burned|burnt"
     r"|cut|cutting|cuts|scratch|scratching|starve|starving|stab|stabbing|poison|poisoning|drown"
     r"|drowning|suffocate|suffocating|strangle|strangling|choke|choking|hang|hanging|hanged|hung"
     r"|shoot|shooting|shot|electrocute|gas|gassing|bleed|bleeding|slit|slash|slashing|punch|punching"
     r"|mutilate|mutilating)(?: up)? <SELF>\b"),
    # Cuts to wrists/veins/throat, or to arms/thighs (plural: the self-harm pattern).
    ("cut_wrists", ("wrist", "vein", "throat", "thigh", "arm", "skin", "neck"),
     r"\b(?:cut|cuts|cutting|slit|slitting|slice|slicing|slash|slashing|carve|carving)"
     r" (?:my|his|her|their|your|both) (?:wrists?|veins?|throat|thighs|arms|forearms)\b"
     r"|\b(?:razor|blade|knife|glass) (?:to|on|against|across) (?:my|his|her) (?:wrists?|arms?|skin|thighs?"
     r"|throat|neck|veins?)\b"),
    # Cutting as a habit: "started cutting again", "I keep cutting", "I'm a cutter".
    ("cutting", ("cut",),
     r"\b(?:<I>|been|started|start|starting|keep|keeps|kept|still|stop|quit|urge to|urges to|relapsed"
     r"|relapse|relapsing|want to|wanna|thinking about|resist|resisting|go back to|went back to|back to"
     r"|addicted to|began)(?: \w+){0,2}? cutting(?=$| \.| (?:again|myself|herself|himself|themselves"
     r"|my (?:arms?|wrists?|legs?|thighs?|skin|stomach|body)|and|because|helps|is the only|makes me"
     r"|when|since|for (?:years|months|weeks|a while|a year)|every)\b)"
     r"|\b(?:im|i am|i m) a cutter\b|\bcut (?:again|on purpose)\b"),
    # overdose / overdosing / over dose (caffeine jokes are masked as idioms).
    ("overdose", ("dos", "doz"), r"\b(?:over ?dos(?:e|ed|es|ing|in)|overdoz\w*)\b"),
    # "od" / "od'd" slang, only with a subject or intent so "that's odd" stays out.
    ("od_slang", (" od",),
     r"\b(?:<I>|he|she|they|we|<PERSON>|gonna|going to|want to|wanna|might|could|almost|nearly"
     r"|tried to|trying to|try to|about to|plan to|planning to|will|accidentally|may have"
     r"|might have|think i|think he|think she)(?: (?:just|already|almost|nearly))? (?:od|oded|oding|odding)\b"
     r"|\b(?:i|he|she|they|we|<PERSON>)(?: (?:just|already|almost|nearly))? odd\b(?! (?:one|number|numbers"
     r"|job|jobs|thing|things|way|ways|question|but|looking|feeling|choice|socks)\b)"
     r"|\bod(?:ed|ing|d)? on\b"),
    # Took/ate/swallowed a bottle / a handful / too many pills (not "took my pills").
    ("took_pills", (" took", " tak", " swallow", " pop", " down", " chug", " gulp", " ingest", " ate",
      " eat", " drink", " drank"),
     r"\b(?:took|taken|swallowed|popped|downed|chugged|gulped|ingested|ate|eaten"
     r"|(?:going to|gonna|want to|wanna|about to|plan to|planning to|thinking about|thinking of"
     r"|tempted to|might|could just|ready to) (?:take|taking|swallow|swallowing|eat|down|pop))"
     r"(?: (?:just|all|like))? (?:a (?:whole )?bunch|a lot|lots|a handful|handfuls"
     r"|a (?:whole |full |entire )?"
     r"(?:bottle|pack|packet|box|container|strip|jar)|the (?:whole|entire|rest of the) (?:bottle|pack|box)"
     r"|too many|way too many|so many|every (?:single )?pill|all (?:of )?(?:my|his|her|their|the) (?:\w+ )?"
     r"(?:pills|meds|tablets) at once|[1-9][0-9]+|[0-9]{3,}|ten|twelve|fifteen|twenty|thirty|forty|fifty"
     r"|sixty|a hundred|hundreds|dozens)(?: of)?(?: \w+){0,2}? (?:pills?|meds|medications?|medicines?"
     r"|tablets?|caps|capsules|tylenol|advil|ibuprofen|aspirin|acetaminophen|paracetamol|xanax|valium"
     r"|ativan|klonopin|benzos?|oxy\w*|opioids?|fentanyl|percs?|percocets?|vicodin|antidepressants"
     r"|insulin|lithium|seroquel|trazodone|ambien|heroin|melatonin|benadryl|sleeping pills)\b"
     r"|\b(?:going to|gonna|want to|wanna|about to|ready to|plan to|thinking about|thinking of)"
     r" (?:take|taking|swallow|swallowing) all (?:of )?(?:my|the|these|those|his|her) (?:\w+ )?(?:pills"
     r"|meds|medications?|tablets)\b(?! (?:with|at|in|on|every|each|as|before|after|today)\b)"
     # Drinking a poison.
     r"|\b(?:drink|drinking|drank|swallow|swallowed) (?:some )?(?:bleach|antifreeze|poison|drano"
     r"|rat poison|pesticide)\b"),
    # Looking up lethal amounts: "how many pills would kill me", "lethal dose".
    ("lethal_amount", ("lethal", "fatal", "deadly", "killing", "how many", "how much", "what amount",
      "what dose", "which"),
     r"\b(?:lethal|fatal|deadly|killing) (?:dose|doses|amount|overdose|quantity|dosage|level)\b"
     r"|\b(?:how many|how much|what amount|what dose|which)(?: \w+){0,4}? (?:to|would|will|does it take to"
     r"|it takes to|do i need to|needed to|kills?|could)(?: \w+){0,2}? (?:die|kill (?:me|a person|someone"
     r"|a human|you|myself|yourself|an adult|a man|a woman)|be (?:fatal|lethal)|overdose|od|end it"
     r"|not wake up)\b"),
    # Method questions: "how to die painlessly", "how do I hang myself".
    ("how_to_method", (" di", "kill", "commit", "life", " od", "overdos", "hang", "slit", "wake", "painless",
      " do it", " end it", "go through"),
     r"\bhow (?:to|do i|can i|do you|does one|would i|could i|should i|would you|can you)"
     r"(?: \w+){0,2}? (?:die|kill (?:<SELF>|me|someone)|commit|end (?:my|your|ones|a) (?:own )?life"
     r"|overdose|od|hang <SELF>|slit|not wake up)\b"
     r"|\bpainless(?:ly)? (?:death|way to (?:die|go|end it)|ways to (?:die|go|end it))\b"
     r"|\b(?:best|easiest|quickest|fastest|least painful|painless|surest|quietest) (?:way|ways|method"
     r"|methods) to (?:die|kill <SELF>|end (?:it|it all|my life|your life|ones life)|overdose|od)\b"
     r"|\b(?:know|knew|figured out|planned|planning|plan|decided|picked|chosen|chose|researched|researching"
     r"|looked up|looking up|googled|googling|searched|searching)(?: (?:exactly|out|already|up))?(?: \w+)?"
     r" (?:how|when|where|the best way|ways|the easiest way|a way|methods?|the date|a date|the day|a day)"
     r"(?: (?:i|id|ill|im|to|i will|i would|i am|im going|going|gonna|i can|i could|could|would|will))*"
     r" (?:do it|end it|kill (?:<SELF>|me)|die|go through with it|overdose|od)\b"),
    # Means ready or stockpiled: "I have the pills ready", "saving up my meds".
    ("means_ready", ("pill", "med", "tablet", "painkiller", "rope", "razor", "blade", "gun", "pistol",
      "rifle", "bullet"),
     r"\b(?:have|got|gotten|bought|saved|saving|stockpiled|stockpiling|hoarded|hoarding|collected"
     r"|collecting|stashed|stashing|hid|hidden|hiding|counted|counting|lined up|laid out|set aside)"
     r"(?: up)?(?: (?:all|my|the|some|enough|a|bunch|of|these|those|his|her|old|leftover|extra|sleeping"
     r"|pain|[0-9]+))* (?:pills|meds|medications|tablets|painkillers|sleeping pills|rope|razors?|blades?"
     r"|gun|pistol|rifle|shotgun|bullets?)(?: \w+){0,3}? (?:ready(?! for (?:my |the |a )?(?:trip|travel"
     r"|vacation|flight|week|appointment|morning|day|school|hunting|the range|range|season|deer season)\b)"
     r"|to (?:end|do it|take them all|die|kill|use on)"
     r"|for (?:when|the end|tonight|later|the right time|my exit)|just in case|lined up)\b"
     r"|\b(?:stockpil|hoard|stash)\w* (?:\w+ ){0,2}(?:pills|meds|medications?|tablets|painkillers)\b"
     r"|\b(?:saving|saved|collecting|collected) (?:up )?(?:my|all my|all of my|old|leftover) (?:pills|meds"
     r"|medications?|tablets|painkillers|sleeping pills)\b"),
    # Rope or noose (not "a rope for climbing").
    ("rope_noose", ("rope", "noose"),
     r"\bnoose\b|\b(?:bought|buy|buying|got|have|found|tied|tie|tying|made|make|making|hung|hang|hanging"
     r"|ordered)(?: (?:a|an|the|some|my))? rope\b(?! (?:for|to) (?:climbing|camping|the boat|my boat"
     r"|the dog|my dog|a hammock|the hammock|my hammock|a swing|the swing|tie|secure|hold|pull|tow|tug"
     r"|jump|hiking|sailing|the truck|my truck|the tent|my tent|hang (?:clothes|laundry|a|the))\b"
     r"|(?: \w+){0,2} for (?:climbing|camping|the boat|my boat|the garden|tug of war|jumping))"),
    # Guns turned on oneself.
    ("gun", ("gun", "pistol", "revolver", "rifle", "barrel", "muzzle", "bullet", "firearm", "brain", "head",
      "on my", "on him", "on her", "on them"),
     r"\b(?:gun|pistol|revolver|rifle|shotgun|barrel|muzzle|bullet) (?:to|in|into|against|at) (?:my|his|her"
     r"|their) (?:own )?(?:head|mouth|temple|chest|heart)\b"
     r"|\b(?:blow|blowing|blew) (?:my|his|her|their) (?:brains|head) (?:out|off)\b"
     r"|\b(?:use|used|using|turn|turned|turning|point|pointed|pointing) (?:it|the gun|a gun|his gun|my gun"
     r"|her gun|the knife|a knife|the pills|them) on (?:my ?self|him ?self|her ?self|them ?selves"
     r"|them ?self)\b"
     r"|\b(?:loaded|bought|got|have|has) (?:a |the |my |his |her |dads |a loaded )?(?:gun|pistol|revolver"
     r"|shotgun|handgun|firearm|rifle)(?: \w+){0,3}? (?:ready|for myself|to end|to do it|tonight"
     r"|and (?:i|im) (?:keep )?thinking)\b"),
    # Jumping from a height.
    ("jump", ("bridge", "building", "roof", "cliff", "ledge", "balcony", "overpass", "skyscraper", "tower",
      "parking", "window", "dam", "high", "jump"),
     r"\b(?:jump|jumping|jumped|leap|leaping|throw myself|throwing myself|threw myself|fling myself"
     r"|hurl myself|drive|driving|drove|crash|crashing|swerve|steer|veer)(?: my car| the car)? (?:off|from)"
     r"(?: (?:a|the|that|this|my|our|an))?(?: \w+)? (?:bridge|building|roof|rooftop|cliff|ledge|balcony"
     r"|overpass|skyscraper|tower|parking garage|parking structure|window|dam|highrise|high rise)\b"
     r"|\bthreaten\w* (?:to )?jump\b(?! ship)"
     # "I'm going to jump" with nothing after it; "on the ledge".
     r"|\b(?:going to|gonna|want to|wanna|ready to|about to|thinking about|might) jump"
     r"(?=$| \.| (?:tonight|now|i|im|please|honestly)\b)"
     r"|\b(?:thinking (?:about|of)|keep thinking about) jumping"
     r"(?=$| \.| (?:tonight|now|i|im|again|honestly)\b)"
     r"(?=$| \.| (?:tonight|now|i|im|please|honestly)\b)"
     r"|\b(?:im|i am|standing|sitting) on (?:a|the) (?:ledge|edge of (?:a|the) (?:bridge|roof|building"
     r"|cliff|overpass))\b"),
    # Stepping in front of traffic or a train.
    ("traffic_train", ("front of", "under", "traffic", "track", "railway", "oncoming", "purpose",
      "deliberately", "intentionally", "ocean", "sea", "river", "lake"),
     r"\b(?:jump|jumping|jumped|step|stepping|stepped|walk|walking|walked|throw myself|throwing myself"
     r"|threw myself|run|running|ran|dive|diving) (?:in front of|under) (?:a |an |the |some |the next )?"
     r"(?:moving |speeding |oncoming )?(?:train|bus|truck|car|semi|subway|traffic|lorry)\b"
     r"|\b(?:jump|jumping|step|stepping|walk|walking|throw myself|throwing myself|lie down|lay down"
     r"|lying down|laying down|drive|driving|swerve|swerving)"
     r" (?:into|onto|on to) (?:the |a )?(?:oncoming )?(?:traffic|tracks|train tracks|railroad tracks"
     r"|railway|oncoming lane)\b"
     r"|\b(?:lie|lay|lying|laying) down on (?:the )?(?:train |railroad )?tracks\b"
     r"|\b(?:crash|crashing|drive|driving|swerve|steer) (?:my car |the car )?into (?:a |the )?(?:tree|wall"
     r"|pole|semi|oncoming traffic)(?: \w+){0,2}? (?:on purpose|deliberately|intentionally)\b"
     r"|\bwalk(?:ing)? into the (?:ocean|sea|river|lake)(?: and (?:never|not|keep)| forever|$)"),
    # Goodbye notes, giving possessions away.
    ("goodbye_note", ("goodbye", "good bye", "final", "things", "stuff", "belongings", "possessions"),
     r"\b(?:wrote|write|writing|written|left|leave|leaving|drafted|drafting|posted|sent|send|texted"
     r"|finished)(?: (?:a|my|the|his|her|their|some|all))? (?:(?:goodbye|good bye) (?:note|notes|letter"
     r"|letters|message|messages|text|texts|post|video)|final (?:note|letters|goodbyes?))\b"
     r"|\b(?:giving|gave|give|given|started giving) away (?:all (?:of )?)?(?:my|his|her) (?:things|stuff"
     r"|belongings|possessions)\b(?! to (?:goodwill|charity|the thrift))"
     r"|\b(?:goodbye|good bye) (?:cruel )?world\b|\bthis is (?:my )?(?:final|last) goodbye\b"),
    # A note written before an attempt: "i wrote a note and i'm ready to go".
    ("suicide_note", ("note",),
     r"\bsuicide notes?\b"
     r"|\b(?:wrote|written|writing|left|leaving|finished) (?:a|my|the) (?:last |final )?note\b.{0,40}"
     r"\b(?:ready to go|ready to die|ready|its time|time to go|say goodbye|goodbye)\b"),
    # Harm to others: hurt/stab/shoot/strangle someone, incl. fear of doing it.
    ("harm_others", ("hurt", "harm", "stab", "shoot", "strangl", "chok", "smother", "drown", "poison", "beat",
      "attack", "run over"),
     r"\b(?:<DESIRE>|need|going|goin|gonna|gunna|gona|urged|thoughts? (?:of|about)"
     r"|intrusive thoughts (?:of|about)|fantasi[sz]e|fantasi[sz]ing|afraid|scared|worried|terrified|fear"
     r"|feel like|(?:i|im|ill|id)(?: (?:will|might|could|would|am going to|m going to|really|just"
     r"|actually|seriously))?)"
     r"(?: (?:to|too|2|i|id|ill|i will|i might|i could|i would|i am going to|im going to|im gonna|about"
     r"|of|that|really|just|actually|seriously|will|might|could|im|gonna|going to|want to|wanna)){0,3}"
     r" (?:hurt|hurting|harm|harming|stab|stabbing|shoot|shooting|strangle|strangling|choke|choking"
     r"|smother|smothering|drown|drowning|poison|poisoning|beat up|beating up|attack|attacking|run over)"
     r" <VICTIM>\b(?! (?:feelings|chances|career|reputation|pride|business|sales|credit|grades|back"
     r"|an? (?:email|message|text|note|dm|line|invite|call|photo|pic|picture|link)|some (?:hoops|pool))\b)"
     # ...but a medical worry ("hurt my baby if I take ketamine") goes to a person, not crisis.
     r"(?! (?:if|by|when|while|with) (?:i (?:take|get|have|do|start|use|am|m)\b|im (?:taking|getting|on)"
     r"|taking|getting|having|doing|starting|using|the|this|ketamine|treatment|an? infusion|infusions"
     r"|medication|meds)\b)"),
    # Wanting to kill or murder a person (not "kill the process", "murder a pizza").
    ("kill_others", ("kill", "murder", "shoot", "stab", "homicid", "dead"),
     r"\b(?:<DESIRE>|urged|thoughts? (?:of|about)|intrusive thoughts (?:of|about)|fantasi[sz]e"
     r"|fantasi[sz]ing|afraid|scared|worried|terrified|fear)"
     r"(?: (?:to|too|2|i|id|ill|i will|i might|i could|i would|about|of|that|really|just|actually"
     r"|seriously|will|might|could|im|gonna|going to|want to|wanna)){0,3}"
     r" (?:kill|killing|murder|murdering) <VICTIM>\b(?! with kindness)"
     r"|\b(?:kill|murder|shoot|stab) (?:everyone|everybody|all of them|them all)\b(?! in (?:the|this) game)"
     r"|\bhomicidal\b|\bshoot up (?:the|my|a|our) (?:school|office|workplace|church|mall|class|campus|work)\b"
     r"|\bwant(?:s|ed)? (?:him|her|them|my \w+|everyone|everybody|someone) dead\b"),
    # "my friend is threatening to kill herself / to overdose".
    ("threatening_self_harm", ("threat",),
     r"\bthreaten\w* (?:to )?(?:suicide|kill (?:<SELF>)|end (?:it|his life|her life|their life|things)"
     r"|overdose|od|hurt (?:<SELF>)|shoot (?:<SELF>)|hang (?:<SELF>))\b"),
    # Someone unresponsive / not breathing: a medical emergency (911).
    ("person_unresponsive", ("breath", "wak", "unresponsive", "blue", "foaming", "danger"),
     r"\b<PERSON>(?: (?:is|s|just|has|keeps|wont|will|cant|still))*"
     r" (?:not breathing|isnt breathing|stopped breathing|wont wake up|will not wake up|not waking up"
     r"|isnt waking up|hasnt woken up|unresponsive|turning blue|foaming at the mouth)\b"
     r"(?! (?:heavily|hard|loudly|fast|through|so)\b)"
     r"|\b(?:cant|can t|cannot|couldnt) wake (?:him|her|them|my \w+) up\b"
     r"|\b<PERSON> (?:is|are|might be|may be|could be) in (?:immediate |serious )?danger\b"),
    # Being hurt or threatened by someone now.
    ("danger_from_others", ("hitting", "beating", "choking", "strangling", "raping", "abusing",
      "threat", "raped", "assault", "stabbed"),
     r"\b(?:<PERSON>|someone|somebody)(?: (?:is|keeps|has been|was|just|always))*"
     r" (?:hitting|beating|choking|strangling|raping|abusing) me\b"
     r"(?! (?:at|in|on|to|by|up|again at)\b)"
     r"|\bthreaten\w* (?:to )?(?:kill|hurt|shoot|stab) (?:me|us|my kids|my children)\b"
     r"|\b(?:i was|i got|ive been|i have been|just got|was just|im being|i am being|i just got)"
     r" (?:raped|sexually assaulted|stabbed)\b"),
    # Explicit emergencies: "this is an emergency", "call an ambulance", "having a heart attack".
    ("emergency", ("emergency", "ambulance", "911", "heart attack", "stroke", "seizure"),
     r"\b(?:this is|its|it is|having|have|theres|there is|we have) an? (?:medical )?emergency\b"
     r"|\b(?:need|call|get|send|calling) (?:me |us )?an ambulance\b"
     r"|\b(?:should i|do i|i need to|need to|please) call 911\b"
     r"|\b(?:im|i am|i m|think im|think i am|hes|shes|he is|she is) having a (?:heart attack|stroke"
     r"|seizure)\b"),
    # "I'm not safe (with myself)".
    ("not_safe", ("safe",),
     r"\b(?:dont|do not|not|never) (?:feel |think im |think i am )?safe (?:with|around|from|by)"
     r" (?:my ?self|me)\b|\b(?:im|i am|i m) not safe(?=$| \.| (?:right now|tonight|at home|alone"
     r"|anymore|i|im)\b)"),
    # Wishing for death, or thinking about death/dying a lot.
    ("thoughts_of_death", ("death", "dying", "dead", "exist", "not being", "ending", "killing", "die",
      "ideation"),
     r"\b(?:want|wish for|long for|longing for|pray for|praying for|crave|craving|welcome|ready for"
     r"|wait for|waiting for|look forward to) death\b"
     r"|\bdeath (?:would|will|sounds|seems|feels) (?:be )?(?:a relief|better|easier|peaceful|nice|like"
     r" the only)\b"
     r"|\b(?:think|thinking|thought|thoughts|obsess\w*|dream|dreaming|fantasi[sz]\w*)"
     r"(?: (?:a lot|constantly|all the time|often|so much|every day|daily))? (?:about|of)"
     r" (?:death|dying|being dead|my (?:own )?death|not being (?:here|alive|around)|not existing"
     r"|ending (?:it|it all|things|everything|my life)(?! (?:with|between|early)\b)|killing myself"
     r"|how to die)\b"
     r"|\b(?:death|dying) (?:wish|ideation)\b|\b(?:passive|active|si) ideation\b"),
    # Spanish: suicidarme, quiero morir, no quiero vivir, me quiero matar, quitarme la vida.
    ("spanish", ("suicid", "matar", "morir", "viv", "vida", "dano", "cortarme"),
     r"\b(?:suicid\w+|matarme|me quiero matar|me voy a matar|quiero morir(?:me)?|me quiero morir"
     r"|no quiero vivir|no quiero seguir viviendo|quitarme la vida|acabar con mi vida|hacerme dano"
     r"|cortarme las venas)\b"),
]

# ---------------------------------------------------------------------------
# Idiom exclusions: masked before the crisis patterns run.
# Each entry (name, stems, regex) would otherwise hit a crisis pattern. Keep them
# tight: a mask hides only its own span, never the rest of the message.
# ---------------------------------------------------------------------------

_NOT_ON_PURPOSE = (r"(?!(?: \w+){0,6} (?:on purpose|intentionally|deliberately|to cope|to feel"
                   r"|to punish|to numb|again and again)\b)")

IDIOM_PATTERNS: List[Tuple[str, Tuple[str, ...], str]] = [
    # "overdosed on coffee lol", "sugar overdose", "an overdose of cuteness" (not caffeine pills).
    ("food_media_overdose", ("dos", "doz", "od"),
     r"\b(?:over ?dos\w*|overdoz\w*|od(?:ed|d|ing)?) (?:on|of) (?:(?:too much|so much|all the|way too much"
     r"|the|some) )?(?:coffee|caffeine|espresso|lattes?|sugar|candy|chocolate|cake|cookies|carbs|pizza"
     r"|junk food|snacks|netflix|tv|anime|memes|music|cuteness|cute|love|sunshine|sun|christmas|halloween"
     r"|holiday cheer|shopping|news|social media|tiktok|youtube|nostalgia|drama|kpop|disney|cheese|garlic"
     r"|spice|hot sauce|energy drinks?|red bull|tea|boba|ice cream|donuts|cereal|nachos|tacos|fries"
     r"|puns|dad jokes|podcasts|reality tv|true crime|cat videos|dog videos)\b(?! (?:pills|tablets"
     r"|capsules|supplements?|powder)\b)"
     r"|\b(?:coffee|caffeine|sugar|chocolate|candy|carb|cuteness|netflix|meme|pun|cheese|garlic|tv"
     r"|christmas|disney) (?:over ?dos\w*|od)\b"),
    # Dyeing hair or clothes, often misspelt "die my hair".
    ("dye_hair", ("di", "dy"),
     r"\bd(?:i|y)(?:e|ed|es|ing) (?:my|her|his|the|your|their|our|it|some|a)(?: \w+)?? ?(?:hair|beard"
     r"|roots|clothes|shirts?|jeans|fabric|eggs|easter eggs|yarn|wool|shoes|eyebrows|bangs|tips|ends"
     r"|lashes|highlights|streak|streaks)\b(?! (?:is|was|keeps|has|looks|fell|falls|falling|wont)\b)"),
    # Hyperbolic dying: "die of embarrassment", "died laughing".
    ("die_of_idiom", ("di",),
     r"\bdi(?:e|ed|es|ing) (?:of|from|with) (?:boredom|embarrassment|laughter|laughing|cuteness|shame"
     r"|curiosity|anticipation|suspense|excitement|envy|jealousy|happiness|joy|thirst|hunger)\b"
     r"|\bdi(?:e|ed|es|ing) laughing\b|\bdi(?:e|ed|es|ing) on (?:this|that|the same) hill\b"),
    # "suicide squad", "suicide doors", "career suicide", "suicide sprints" (sports drill).
    ("suicide_idiom", ("suicide",),
     r"\bsuicide (?:squad|doors?|squeeze|runs?|sprints?|drills?|wings|sauce|kings?|shifts?|lane|bid"
     r"|silence)\b|\b(?:political|career|social|commercial|financial|electoral|fashion) suicide\b"
     r"|\bvirgin suicides\b"),
    # "shot myself in the foot", "shoot myself an email".
    ("shoot_self_idiom", ("shoot", "shot"),
     r"\b(?:shoot|shooting|shot|shoots) (?:my ?self|your ?self|our ?selves|him ?self|her ?self) in the foot\b"
     r"|\b(?:shoot|shooting|shot) (?:my ?self|your ?self) (?:an? )?(?:email|text|message|reminder|note"
     r"|dm|copy|link)\b"),
    # British "killing myself laughing".
    ("kill_self_laughing", ("laughing",),
     r"\bk+i*l+(?:ing|ed)? (?:my ?self|him ?self|her ?self|your ?self) laughing\b"),
    # Accidents: "cut myself shaving", "hurt myself at the gym", "burned my wrist on the stove".
    # Only clear accident contexts: "when i'm alone", "with a razor", "on my arms" stay crises.
    ("accidental_injury", ("hurt", "cut", "burn", "injur", "stab", "scratch", "bruis"),
     r"\b(?:accidentally|by accident) (?:hurt|cut|burn|burned|burnt|injured?|stabbed|scratched)\w*"
     r" (?:my ?self|him ?self|her ?self|your ?self|my \w+)\b" + _NOT_ON_PURPOSE +
     r"|\b(?:hurt|cut|burn|burned|burnt|injure|injured|stab|stabbed|scratch|scratched|bruise|bruised"
     r"|hurting|cutting|burning|injuring)\w* (?:my ?self|him ?self|her ?self|your ?self|one ?self"
     r"|(?:my|his|her|your) (?:\w+ )?(?:finger|fingers|thumb|hand|hands|wrist|arm|leg|knee|foot|back"
     r"|ankle|head|shoulder|neck|toe|lip|tongue|face))" + _NOT_ON_PURPOSE +
     r"(?: \w+){0,2}? (?:(?:(?:while|when) (?:i was |im |i am |i )?)?(?:shaving|cooking|chopping|slicing"
     r"|dicing|peeling|playing|lifting|running|skiing|snowboarding|hiking|biking|cycling|surfing|climbing"
     r"|gardening|working out|exercising|moving|cleaning|fixing|opening|carving|falling)"
     r"|(?:while|when) i (?:fell|slipped|tripped|dropped)"
     r"|on (?:a|an|the|some|my|his|her) (?:\w+ )?(?:knife|knives|glass|can|lid|paper|nail|fence|rock"
     r"|edge|corner|table|counter|stove|oven|pan|grill|iron|mandoline|grater|saw|box|tool|bike|ice|stairs"
     r"|ladder|trampoline|field|court|job)"
     r"|by accident|accidentally|at (?:the )?(?:gym|practice|game)|in (?:a|the) (?:fall|game|match)"
     r"|doing (?:yoga|sports|chores|dishes))\b"),
    # "drown myself in work/coffee" (not in water).
    ("drown_in_work", ("drown",),
     r"\bdrown\w* (?:my ?self|him ?self|her ?self) in (?:work|coffee|tea|chocolate|ice cream|paperwork|books"
     r"|music|netflix|tv|video games|games|homework|emails?|my studies|studies|wine|sorrows|hobbies)\b"),
    # "cutting to the chase".
    ("cut_to_the_chase", ("chase",),
     r"\bcut\w* to the chase\b"),
    # kms as kilometres or a key-management service.
    ("kms_units", ("km",),
     r"\b[0-9]+ ?kms?\b|\bkms (?:away|north|south|east|west|per|an hour|long|drive|driving|left|apart"
     r"|each way|round trip)\b|\b(?:how many|many|few|some|several|a few|couple of|hundred|thousand|of)"
     r" kms\b|\b(?:aws|google|cloud|azure|windows|microsoft|office) kms\b|\bkms (?:key|keys|server"
     r"|activation|host|encryption|client)\b"),
    # Ending the chat, a call or a contract: "end it here thanks", "end the call".
    ("end_the_chat", (" end",),
     r"\bend (?:it|this|things) (?:here|there)(?=$| \.| (?:thanks|thank you|thx|ty|please|for now|for today"
     r"|then|ok|okay|bye|goodbye|lol)\b)"
     r"|\bend (?:the|this|our|my) (?:chat|call|conversation|meeting|session|convo|discussion|stream|game"
     r"|subscription|contract|lease|membership|trial)\b"),
    # "kill them with kindness".
    ("kill_with_kindness", ("kindness",),
     r"\bkill\w* (?:them|him|her|everyone|people|someone) with kindness\b"),
    # "if all your friends jumped off a bridge" (parental saying).
    ("friends_jumped_off_bridge", ("friends",),
     r"\bif (?:all )?(?:your|my|his|her) friends (?:jumped|jump) off (?:a|the) (?:bridge|cliff)\b"),
]


_CRISIS: List[Tuple[str, Tuple[str, ...], Pattern[str]]] = [
    (name, stems, re.compile(_expand(rx))) for name, stems, rx in CRISIS_PATTERNS
]
_IDIOMS: List[Tuple[str, Tuple[str, ...], Pattern[str]]] = [
    (name, stems, re.compile(_expand(rx))) for name, stems, rx in IDIOM_PATTERNS
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
