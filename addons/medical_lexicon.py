"""Words that make a question medical or personal to the visitor's care.

Safety rule 2: a medical or personal clinical question never gets a topic
answer. The classifier learns this from examples; this lexicon is the rule
that backs it up, so "is ketamine dangerous with a heart murmur" is handed to
a clinician even when the classifier leans towards "what is ketamine".
Only medical vocabulary is listed: words the article's topics also use
(pain, antidepressants, dose in general) are deliberately absent, and so are
drug classes ("SSRIs"), which visitors name when comparing treatments; named
medicines are personal.
"""

from __future__ import annotations

import re
from typing import Optional

_TERMS = {
    "risk": r"safe(ty|ly)?|unsafe|dangerous|danger|risky|risks?|harmful|side[- ]?effects?|adverse|"
            r"interact\w*|contraindicat\w*|allerg\w*|reaction",
    "symptom": r"nause\w*|vomit\w*|throw(ing)? up|dizz\w*|hallucinat\w*|dissociat\w*|"
               r"headaches?|blackouts?|bad trip|trip(ping)? balls|numb(ness)?",
    "condition": r"pregnan\w*|breast ?feed\w*|nursing mother|heart|cardiac|arrhythmia|murmur|"
                 r"blood pressure|hypertension|seizures?|epilep\w*|glaucoma|bipolar|mania|manic|"
                 r"schizo\w*|psychos[ie]s|psychotic|asthma|copd|liver|kidney|bladder|cystitis|"
                 r"diabet\w*|thyroid|stroke|aneurysm|sleep apnea|eating disorder|anorexi\w*",
    "dependence": r"addict\w*|habit[- ]forming|dependen(ce|cy|t)|withdraw\w*|relapse|in recovery|sober|sobriety",
    "medication": r"taper\w*|wean\w*|(stop|quit|come off|go off|get off)( taking)? (my|the) (meds|medication|pills)|"
                  r"my (meds|medications?|prescriptions?|pills)|"
                  r"benzo\w*|lithium|lamictal|lamotrigine|wellbutrin|bupropion|"
                  r"zoloft|sertraline|prozac|fluoxetine|lexapro|escitalopram|celexa|paxil|effexor|"
                  r"cymbalta|trintellix|abilify|seroquel|quetiapine|xanax|alprazolam|klonopin|"
                  r"clonazepam|ativan|valium|adderall|ritalin|vyvanse|suboxone|methadone|naltrexone|"
                  r"opioids?|oxycodone|gabapentin|blood thinners?|warfarin|eliquis|insulin|"
                  r"birth control|marijuana|cannabis|weed",
    "around_infusion": r"alcohol|drink(ing)?|beer|wine|drive|driving|eat(ing)? before|fast(ing)? before|"
                       r"empty stomach|drug tests?|urine tests?|piss tests?|drug screen\w*",
    "person": r"\d+ ?(years?|yrs?) old|teen(ager)?s?|minors?|under ?18|elderly|age limit|too old|too young|"
              r"\d+ ?(lbs?|pounds|kg|kilos)|weigh(t|s)?\b|milligrams?|\d+ ?mg|mg/kg",
}

_PATTERNS = [(name, re.compile(rf"\b({rx})\b", re.IGNORECASE)) for name, rx in _TERMS.items()]


def find_medical(text: str) -> Optional[str]:
    """The kind of medical cue in ``text`` (for the logs), or None."""
    for name, pattern in _PATTERNS:
        if pattern.search(text):
            return name
    return None
