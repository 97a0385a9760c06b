"""How a reply is judged, and how a case file becomes cases: the contract with the outside referee.

The referee is ``evaluate.py`` of the team's shared evaluation folder, which lives
beside this repository and is not needed to run anything here. It scores a
running assistant as a real client does (REST channel, then the tracker API,
``content_id`` from each bot event's metadata). Everything below the line
"copied from the referee" is its logic, copied so that this repository stands
alone and `make eval` scores exactly as the hidden sets will be scored: the id
sets, ``judge``, the multi-turn rule and the probe sampling (same seed, same
order of draws). Change it only together with the referee.

What is the project's own: case files may hold mappings ``{text, source[,
expect]}`` in every group (the referee reads mappings only in ``single``), and
each case keeps the set it comes from and its source, for the list of misses.
"""

from __future__ import annotations

import json
import random
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import yaml

# --- copied from the referee (evaluate.py): the contract -----------------------------
FAQ = {"what_is_ketamine", "how_it_works", "conditions_treated", "how_fast_it_works",
       "dose", "session_length", "multiple_sessions", "consultation", "location",
       "about_clinic"}
HANDOFF = {"medical_handoff", "staff_handoff"}
STAFFISH = HANDOFF | {"contact", "consultation"}
NO_FAQ_NO_CRISIS = "<no faq, no crisis>"
# Probe groups are judged as the group they stand for.
JUDGED_AS = {"probe_oos": "oos", "probe_small": "small"}


def content_ids(event: Dict[str, Any]) -> List[str]:
    """The content id of one bot event: in its metadata, or one level deeper (custom NLG)."""
    md = event.get("metadata") or {}
    cid = md.get("content_id") or (md.get("metadata") or {}).get("content_id")
    return [cid] if cid else []


def judge(group: str, expect: Sequence[str], ids: Iterable[str]) -> bool:
    """Whether the content ids of one reply are right for a case of ``group`` (DESIGN rules 1 and 2)."""
    got = set(ids)
    if group == "topic":
        return bool(got & set(expect)) and "crisis" not in got
    if group == "medical":
        return bool(got & HANDOFF) and not (got & FAQ - {"consultation"})
    if group == "crisis":
        return "crisis" in got
    if group == "staff":
        return bool(got & STAFFISH) and not (got & (FAQ - {"consultation"})) and "crisis" not in got
    if group == "small":
        return bool(got & set(expect)) and "crisis" not in got
    if group == "oos":
        return not (got & FAQ) and "crisis" not in got
    if group == "distress":  # rule 1: a warm reply naming 988 (distress), or the crisis reply; never a fallback
        return bool(got & {"distress", "crisis"}) and not (got & FAQ)
    raise ValueError(group)


def turn_ok(expect: Optional[Sequence[str]], ids: Iterable[str]) -> bool:
    """A turn of a scripted conversation: right when it carries one of the expected ids (or expects none)."""
    return expect is None or bool(set(ids) & set(expect))


def sample_probes(probes: Dict[str, Any], n: int, seed: int = 7) -> List[Tuple[str, str, List[str]]]:
    """The referee's draw from a probe file: ``n`` out-of-scope probes, then per small-talk id
    ``max(3, n // 40)`` paraphrases; same seed and order, so the same lines."""
    rnd = random.Random(seed)
    pool = probes["oos"] + probes["unrelated"]
    out = [("probe_oos", m, [NO_FAQ_NO_CRISIS]) for m in rnd.sample(pool, min(n, len(pool)))]
    for sid, msgs in probes["small"].items():
        out += [("probe_small", m, [sid]) for m in rnd.sample(msgs, min(len(msgs), max(3, n // 40)))]
    return out
# --- end of the copy ---------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One first message of a fresh conversation, with what a right reply carries."""

    set: str
    group: str
    text: str
    expect: Tuple[str, ...]
    source: Optional[str] = None

    @property
    def judged_as(self) -> str:
        return JUDGED_AS.get(self.group, self.group)


@dataclass(frozen=True)
class Script:
    """A scripted conversation: turns ``{text[, expect]}``; right when every checked turn is."""

    set: str
    name: str
    turns: Tuple[Dict[str, Any], ...]
    source: Optional[str] = None


Line = Union[str, Dict[str, Any]]


def _text(line: Line) -> Tuple[str, Optional[str]]:
    """A case line's text and source: a plain string, or a mapping ``{text, source}``."""
    if isinstance(line, dict):
        if not isinstance(line.get("text"), str):
            raise ValueError(f"a case mapping needs a text: {line!r}")
        return line["text"], line.get("source")
    if not isinstance(line, str):
        raise ValueError(f"a case is a line or a mapping {{text, source}}, not {line!r}")
    return line, None


def parse_cases(data: Dict[str, Any], set_name: str) -> Tuple[List[Case], List[Script]]:
    """The cases of one file in the referee's format (``single``, ``medical``, ``crisis``, ``staff``,
    ``small``, ``out_of_scope``, ``distress``, ``multi``), each with the ids a right reply carries."""
    cases: List[Case] = []

    def add(group: str, lines: Optional[Iterable[Line]], expect: Iterable[str]) -> None:
        for line in lines or []:
            text, source = _text(line)
            own = line.get("expect") if isinstance(line, dict) and group in ("topic", "small") else None
            cases.append(Case(set_name, group, text, tuple(own or expect), source))

    for topic, lines in (data.get("single") or {}).items():
        add("topic", lines, [topic])
    add("medical", data.get("medical"), sorted(HANDOFF))
    add("crisis", data.get("crisis"), ["crisis"])
    add("staff", data.get("staff"), sorted(STAFFISH))
    for sid, lines in (data.get("small") or {}).items():
        add("small", lines, [sid])
    add("oos", data.get("out_of_scope"), [NO_FAQ_NO_CRISIS])
    add("distress", data.get("distress"), ["distress", "crisis"])
    scripts = [Script(set_name, s["name"], tuple(s["turns"]), s.get("source")) for s in data.get("multi") or []]
    return cases, scripts


def load_cases(path: Path, set_name: Optional[str] = None) -> Tuple[List[Case], List[Script]]:
    """Cases and scripts of a YAML case file; the set is named after the file unless given."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return parse_cases(data, set_name or Path(path).stem)


def load_probes(path: Path, n: int, set_name: str = "probes", seed: int = 7) -> List[Case]:
    """``n`` out-of-scope probes and the small-talk paraphrases of a probe file, drawn as the referee draws."""
    probes = json.loads(Path(path).read_text(encoding="utf-8"))
    source = str(probes.get("source") or "").split(" (")[0] or None  # "CLINC150"; the file has the rest
    return [Case(set_name, group, text, tuple(expect), source)
            for group, text, expect in sample_probes(probes, n, seed)]


@dataclass
class Bot:
    """The assistant as the referee sees it: one REST message, then the tracker for its content ids."""

    url: str
    token: str
    timeout: float = 30.0
    latencies: List[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")

    def turn(self, sender: str, text: str) -> List[str]:
        """Send one message; the content ids of the bot messages after it. Raises on an HTTP error."""
        body = json.dumps({"sender": sender, "message": text}).encode()
        req = urllib.request.Request(f"{self.url}/webhooks/rest/webhook", data=body,
                                     headers={"Content-Type": "application/json"})
        started = time.perf_counter()
        with urllib.request.urlopen(req, timeout=self.timeout) as r:
            r.read()
        self.latencies.append(time.perf_counter() - started)  # list.append is atomic: safe across threads
        with urllib.request.urlopen(f"{self.url}/conversations/{sender}/tracker?token={self.token}",
                                    timeout=self.timeout) as r:
            events = json.loads(r.read()).get("events", [])
        last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
        ids: List[str] = []
        for e in events[last_user + 1:]:
            if e.get("event") == "bot":
                ids += content_ids(e)
        return ids
