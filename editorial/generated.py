"""The lists Rasa needs, generated from the routing table (``python -m editorial.routes [--write]``).

Rasa reads intents, slot mappings and rules from its own files; the routing
table (``content/routing.yml``) is the one place they are decided. This
command writes them from the table:

* ``data/rules/answers.yml``     one rule per intent answered by ``utter_answer`` / ``action_answer``;
* ``data/rules/handoff.yml``     the hand-off and the callback offer, per ``category: handoff`` intent;
* ``data/rules/form_exits.yml``  an ``ends_form: yes`` intent during the callback form ends it and is answered;
* in ``domain.yml``, between ``# >>> generated: <name>`` and ``# <<< generated`` lines:
  the ``intents:`` list, the hand-off slot mappings and the ``&leaves_form`` list.

Without ``--write`` it only says what is out of date (exit status 1);
``make validate`` runs the same comparison (:func:`differences`). Rules the
table cannot say (crisis and distress replies, "no" and "stop" in the form)
stay hand-written in ``data/rules/safety.yml`` and ``data/rules/callback_form.yml``;
``make validate`` checks they exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from clinic.routing import RoutingTable

COMMAND = "make routes"  # .venv/bin/python -m editorial.routes --write
HEADER = (f"# Generated from content/routing.yml by `{COMMAND}`.\n"
          "# Do not edit: change the routing table and run the command again (`make validate` checks it).\n")
BEGIN = re.compile(r"^(?P<indent>[ ]*)# >>> generated: (?P<name>[a-z_]+)\b.*$")
END = re.compile(r"^[ ]*# <<< generated\b.*$")
FORM = "callback_form"
CATEGORY_TITLES = {"article_topic": "article topics", "small_talk": "small talk", "handoff": "hand-offs to a person",
                   "routing": "routing", "form": "the callback form"}


@dataclass(frozen=True)
class Difference:
    """A generated file or region that does not match the table."""

    file: str
    line: Optional[int]
    what: str


# --- what the table says ------------------------------------------------------------
def answers_rules(table: RoutingTable) -> str:
    out = [HEADER, "# Each intent answered by utter_answer (the entry the routing table names, filled in by the\n"
           "# Rasa server itself) or action_answer (yes / no / stop: a \"yes\" to an offer starts the form).\n",
           'version: "3.1"\n', "rules:\n"]
    for route in table:
        if route.category == "handoff" or not route.generated_rule:
            continue
        out.append(f"  - rule: answer {route.intent}\n    steps:\n      - intent: {route.intent}\n"
                   f"      - action: {route.answered_by}\n")
    return "".join(out)


# After the hand-off message: a live chat when someone from the clinic is available now, else the
# callback form (actions/live_chat.py sets OFFERED; the offer's "yes" and "no": data/rules/live_chat.yml).
OFFER = "action_offer_live_chat"
OFFERED = "live_chat_offered"


def handoff_rules(table: RoutingTable) -> str:
    out = [HEADER, "# Medical questions, requests for a person and questions with no approved answer go to\n"
           "# staff: the hand-off message, then the offer of a live chat when someone from the clinic is\n"
           "# available now (actions/live_chat.py), else the consented callback form.\n",
           'version: "3.1"\n', "rules:\n"]
    for route in table.handoffs():
        i = route.intent
        out.append(f"  - rule: {i} is handed to staff with a callback offer\n    steps:\n      - intent: {i}\n"
                   f"      - action: utter_answer\n      - action: {OFFER}\n"
                   f"      - slot_was_set:\n          - {OFFERED}: false\n"
                   f"      - action: {FORM}\n      - active_loop: {FORM}\n")
        out.append(f"  - rule: {i} is handed to staff with the offer of a live chat\n    steps:\n      - intent: {i}\n"
                   f"      - action: utter_answer\n      - action: {OFFER}\n"
                   f"      - slot_was_set:\n          - {OFFERED}: true\n")
        out.append(f"  - rule: {i} after a callback was already requested\n    condition:\n"
                   "      - slot_was_set:\n          - callback_requested: true\n"
                   f"    steps:\n      - intent: {i}\n      - action: utter_answer\n"
                   "      - action: utter_callback_already_requested\n")
    return "".join(out)


def form_exit_rules(table: RoutingTable) -> str:
    out = [HEADER, "# A question or a hand-off asked while the callback form runs ends the form and is answered.\n"
           "# (Crisis, distress, no and stop have their own rules in data/rules/callback_form.yml.)\n",
           'version: "3.1"\n', "rules:\n"]
    for route in table:
        if route.ends_form and route.answered_by == "utter_answer":
            i = route.intent
            out.append(f"  - rule: {i} during the form ends it and is answered\n    condition:\n"
                       f"      - active_loop: {FORM}\n    steps:\n      - intent: {i}\n"
                       "      - action: utter_callback_stopped\n      - action: action_deactivate_loop\n"
                       "      - active_loop: null\n      - action: utter_answer\n")
    return "".join(out)


def domain_regions(table: RoutingTable) -> Dict[str, List[str]]:
    """Region name -> its lines (without the region's indentation)."""
    intents: List[str] = []
    category = None
    for route in table:
        if route.intent not in table.domain_intents():
            continue
        if route.category != category:
            category = route.category
            intents.append(f"# {CATEGORY_TITLES[category]}")
        intents.append(f"- {route.intent}")
    handoffs = table.handoffs()
    reason = ["- type: from_text", f"  intent: [{', '.join(r.intent for r in handoffs)}]"]
    content_id: List[str] = []
    for route in handoffs:
        content_id += ["- type: from_intent", f"  intent: {route.intent}", f"  value: {route.content}"]
    leaves = _wrap("not_intent: &leaves_form [", list(table.form_enders()), "]")
    return {"intents": intents, "handoff_reason": reason, "handoff_content_id": content_id, "leaves_form": leaves}


def _wrap(start: str, items: List[str], end: str, width: int = 96) -> List[str]:
    lines, current = [], start
    for i, item in enumerate(items):
        piece = item + (", " if i < len(items) - 1 else end)
        if len(current) + len(piece.rstrip()) > width and current.strip() != start.strip():
            lines.append(current.rstrip())
            current = " " * len(start) + piece
        else:
            current += piece
    lines.append(current.rstrip())
    return lines


GENERATED_FILES = {
    "data/rules/answers.yml": answers_rules,
    "data/rules/handoff.yml": handoff_rules,
    "data/rules/form_exits.yml": form_exit_rules,
}


# --- comparing and writing -----------------------------------------------------------
def fill_regions(text: str, regions: Dict[str, List[str]]) -> tuple[str, List[str], Dict[str, int]]:
    """``text`` with each generated region replaced; the region names missing; the line of each region."""
    lines = text.splitlines(keepends=True)
    out: List[str] = []
    found: Dict[str, int] = {}
    i = 0
    while i < len(lines):
        match = BEGIN.match(lines[i].rstrip("\n"))
        if not match or match.group("name") not in regions:
            out.append(lines[i])
            i += 1
            continue
        indent, name = match.group("indent"), match.group("name")
        found[name] = i + 1
        end = next((j for j in range(i + 1, len(lines)) if END.match(lines[j].rstrip("\n"))), None)
        if end is None:
            raise ValueError(f"line {i + 1}: `# >>> generated: {name}` has no `# <<< generated` line after it")
        out.append(lines[i])
        out += [f"{indent}{line}\n" if line else "\n" for line in regions[name]]
        out.append(lines[end])
        i = end + 1
    missing = [name for name in regions if name not in found]
    return "".join(out), missing, found


def _first_difference(old: str, new: str) -> int:
    for n, (a, b) in enumerate(zip(old.splitlines(), new.splitlines()), start=1):
        if a != b:
            return n
    return min(len(old.splitlines()), len(new.splitlines())) + 1


def differences(root: Path, table: RoutingTable, write: bool = False) -> List[Difference]:
    """What does not match the table (empty when all do); with ``write``, fix it."""
    found: List[Difference] = []
    for rel, build in GENERATED_FILES.items():
        path = root / rel
        wanted = build(table)
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old != wanted:
            if write:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(wanted, encoding="utf-8")
            found.append(Difference(rel, None if old is None else _first_difference(old, wanted),
                                    "missing" if old is None else "differs from content/routing.yml"))
    domain = root / "domain.yml"
    if domain.exists():
        old = domain.read_text(encoding="utf-8")
        try:
            new, missing, lines = fill_regions(old, domain_regions(table))
        except ValueError as e:
            return found + [Difference("domain.yml", None, str(e))]
        for name in missing:
            found.append(Difference("domain.yml", None, f"has no `# >>> generated: {name}` region"))
        if new != old:
            line = _first_difference(old, new)
            region = max((n for n, at in lines.items() if at <= line), key=lambda n: lines[n], default=None)
            found.append(Difference("domain.yml", line, f"the generated `{region}` list differs from "
                                    "content/routing.yml"))
            if write:
                domain.write_text(new, encoding="utf-8")
    return found
