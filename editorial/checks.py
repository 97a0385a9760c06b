"""The clinic's own content checks (``make validate`` runs them after Rasa's).

Each check adds :class:`Finding` s; none stops at the first problem, so an
editor sees every mistake in one run. An error fails validation (nothing
reaches visitors until it is fixed); a warning is printed and does not fail.
Every finding names the file, the line, the entry and what to do.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Set, Tuple

from rasa.shared.core.constants import DEFAULT_ACTION_NAMES, DEFAULT_INTENTS

from clinic import content as content_module
from editorial import generated, yamlio
from editorial.project import Example, Project, normalized

ERROR = "error"
WARNING = "warning"
REVIEW_WARNING_DAYS = 30
REQUESTED_SLOT = "requested_slot"
# Actions that show the entry the routing table (content/routing.yml) maps the intent to.
ANSWER_ACTIONS = frozenset({"utter_answer", "action_answer"})


@dataclass(frozen=True)
class Finding:
    """One problem: where it is, what is wrong and what to do about it."""

    level: str
    code: str
    file: str
    line: Optional[int]
    subject: str
    problem: str
    fix: str

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def format(self) -> str:
        return (f"{self.level.upper():<7} {self.location}  {self.subject}: {self.problem}\n"
                f"        What to do: {self.fix}")


@dataclass
class Result:
    findings: List[Finding] = field(default_factory=list)

    @property
    def errors(self) -> List[Finding]:
        return [f for f in self.findings if f.level == ERROR]

    @property
    def warnings(self) -> List[Finding]:
        return [f for f in self.findings if f.level == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def codes(self) -> Set[str]:
        return {f.code for f in self.findings}

    def summary(self) -> str:
        e, w = len(self.errors), len(self.warnings)
        return f"{e} error{'s' * (e != 1)}, {w} warning{'s' * (w != 1)}"


class _Checker:
    def __init__(self, project: Project, today: dt.date, go_live: bool = False) -> None:
        self.p = project
        self.today = today
        self.go_live = go_live
        self.result = Result()
        self._seen: Set[Tuple] = set()
        self._due_soon: Dict[dt.date, List[str]] = {}

    def add(self, level: str, code: str, file: str, line: Optional[int], subject: str,
            problem: str, fix: str) -> None:
        key = (level, code, file, line, subject, problem)
        if key not in self._seen:
            self._seen.add(key)
            self.result.findings.append(Finding(level, code, file, line, subject, problem, fix))

    def error(self, *args) -> None:
        self.add(ERROR, *args)

    def warn(self, *args) -> None:
        self.add(WARNING, *args)

    # --- helpers ------------------------------------------------------------
    @property
    def approved_rel(self) -> str:
        return self.p.rel(self.p.approved_path)

    def known_intents(self) -> Set[str]:
        return set(self.p.domain.intents) | set(DEFAULT_INTENTS)

    def known_actions(self) -> Set[str]:
        d = self.p.domain
        return (set(d.actions) | set(d.responses) | set(d.forms)
                | {a for a in DEFAULT_ACTION_NAMES if a != "..."})

    @staticmethod
    def did_you_mean(name: Optional[str], options: Iterable[str]) -> str:
        close = difflib.get_close_matches(name or "", sorted(options), n=1, cutoff=0.75)
        return f" (did you mean '{close[0]}'?)" if close else ""

    def readable(self, file: yamlio.YamlFile, what: str) -> bool:
        rel = self.p.rel(file.path)
        if file.error:
            layout = (yamlio.approved_layout_problem(file.text)
                      if file.path == self.p.approved_path and file.error != "file not found" else None)
            if layout is not None and (file.error_line is None or layout[0] <= file.error_line):
                line, problem, rule = layout
                self.error("file.unreadable", rel, line, "this file", f"not valid YAML: {problem}",
                           f"Indent it as the rule says: {rule}. Compare with the lines around it.")
                return False
            if file.error == "file not found":
                fix = f"Restore {rel} ({what})."
            elif "mapping values are not allowed" in file.error and file.path == self.p.approved_path:
                fix = ("The text on that line contains a colon followed by a space. Write `text: >-` and "
                       "put the text on the lines below it, indented by four spaces, as the other entries do "
                       "(or put the whole text in double quotes).")
            elif "mapping values are not allowed" in file.error:
                fix = ("The value on that line contains a colon followed by a space. Put the whole value "
                       "in quotes, e.g. why: \"No prices: cost questions go to staff.\"")
            else:
                fix = ("Check the indentation and quotes on that line and the one before it: fields "
                       "of an entry are indented by two spaces, and a value containing `: ` or "
                       "starting with a quote, `[`, `{`, `*`, `&`, `!`, `%`, `@` or `#` needs quotes.")
            self.error("file.unreadable", rel, file.error_line, "this file", file.error, fix)
            return False
        for key, first, again in yamlio.all_duplicates(file.data):
            self.error("file.duplicate_key", rel, again, f"'{key}'",
                       f"written twice (lines {first} and {again}); the second silently replaces the first",
                       "Keep one of the two (rename the copy if it is meant to be a new entry).")
        return True

    # --- approved content -----------------------------------------------------
    def check_approved(self) -> None:
        file = self.p.approved_file
        if not self.readable(file, "the approved texts"):
            return
        rel = self.approved_rel
        if not isinstance(file.data, dict) or not file.data:
            self.error("content.not_mapping", rel, 1, rel,
                       "expected one entry per content id at the top level (`session_length:` ...)",
                       "Restore the file's layout from the last good version.")
            return
        for cid, (entry, message) in self.p.parsed_entries.items():
            line = self.p.entry_line(cid)
            if entry is None:
                message = message or "invalid"
                marker = f"entry '{cid}'"
                problem = message.split(marker, 1)[1].lstrip(": ") if marker in message else message
                field_match = re.search(r"field '([a-z_]+)", message)
                if field_match:
                    line = self.p.field_line(cid, field_match.group(1))
                self.error("content.invalid_entry", rel, line, marker, problem, self.entry_fix(problem))
                continue
            self.check_dates(cid, entry, rel)
        self.warn_due_soon()
        self.check_versions()
        table_ids = set(self.p.routing.content_ids()) if self.p.routing else set()
        ids = set(self.p.parsed_entries)
        for cid in self.p.required_ids:
            if cid in ids or cid in table_ids:
                continue  # a routing table id with no entry is reported by check_usage, at its line
            self.error("content.missing_required", rel, None, f"entry '{cid}'",
                       "required content id has no entry (clinic/content.py REQUIRED_IDS); "
                       "the servers refuse to start without it",
                       f"Add an entry `{cid}:` with its approved text and approval record.")
        pending = sorted(cid for cid, e in self.p.entries.items() if "pending" in e.approved_by.lower())
        if pending:
            fix = ("Before going live, have the clinical lead sign off (`make content-report` prints "
                   "the sign-off sheet) and put their name in approved_by.")
            if self.go_live:
                for cid in pending:
                    self.error("golive.signoff_pending", rel, self.p.field_line(cid, "approved_by"), f"entry '{cid}'",
                               "approved_by says sign-off is pending: not for the live site", fix)
            else:
                self.warn("content.signoff_pending", rel, None, f"{len(pending)} entries",
                          f"approved_by says sign-off is pending: {', '.join(pending)}", fix)

    def check_versions(self) -> None:
        """A text (or its buttons) changed since the last known wording must have a higher version.

        Staff see the version a visitor was shown; the same version with two wordings
        would make that record useless.
        """
        source, before = self.p.baseline
        if source is None:
            return
        for cid, (version, shown) in self.p.fingerprints().items():
            if cid not in before:
                continue
            old_version, old_shown = before[cid]
            line = self.p.field_line(cid, "version")
            if version < old_version:
                self.error("content.version_lowered", self.approved_rel, line, f"entry '{cid}'",
                           f"version is {version}, lower than {old_version} in {source}",
                           f"Versions only go up: set it to {old_version + 1 if shown != old_shown else old_version}.")
            elif shown != old_shown and version == old_version:
                self.error("content.version_not_raised", self.approved_rel, line, f"entry '{cid}'",
                           f"the text or buttons changed since {source} but version is still {version}, so staff "
                           "could not tell which wording a visitor saw",
                           f"Raise version to {version + 1} and update approved_by, approved_on and review_due "
                           "for the new wording's approval.")

    @staticmethod
    def entry_fix(problem: str) -> str:
        missing = re.search(r"'([a-z_]+)' is a required property", problem)
        if missing:
            return f"Add the missing field `{missing.group(1)}:` (copy the layout of another entry)."
        if "Additional properties are not allowed" in problem:
            return ("Correct or remove the field named in the message: the fields are text, version, "
                    "approved_by, approved_on, review_due, source and buttons.")
        if "placeholder" in problem:
            return ("Use only the placeholders listed (they are filled in from content/clinic.yml); "
                    "for a new one, ask a developer.")
        if "review_due is before approved_on" in problem:
            return "Set review_due to a date after approved_on (YYYY-MM-DD)."
        if "lower_case" in problem:
            return "Rename the entry: lower-case letters, digits and underscores, starting with a letter."
        if "'version'" in problem:
            return "version is a whole number (1, 2, 3 ...): raise it by one whenever the text changes."
        if "approved_on" in problem or "review_due" in problem:
            return "Write dates as YYYY-MM-DD, e.g. 2027-05-27."
        if "payload" in problem or "buttons" in problem:
            return ("Each button needs `title:` (what the visitor sees) and `payload:` (`/` followed by an "
                    "intent name, e.g. /session_length).")
        return ("Every entry needs text, version (a whole number), approved_by, approved_on and "
                "review_due (dates written YYYY-MM-DD), and source; buttons are optional. "
                "Compare with a correct entry.")

    def check_dates(self, cid: str, entry, rel: str) -> None:
        line = self.p.field_line(cid, "review_due")
        if not entry.is_current(self.today):
            consequence = ("it is a safety message, so it is still shown, but it must be reviewed now"
                           if cid in content_module.ALWAYS_SHOWN else
                           "visitors are handed to staff instead of seeing this text")
            self.error("content.expired", rel, line, f"entry '{cid}'",
                       f"review_due {entry.review_due} has passed: {consequence}",
                       "Have the text re-approved, then set approved_on to the approval date, "
                       "review_due to the next review date and approved_by to the approver.")
        elif (entry.review_due - self.today).days <= REVIEW_WARNING_DAYS:
            self._due_soon.setdefault(entry.review_due, []).append(cid)

    def warn_due_soon(self) -> None:
        """One warning per review date (entries approved together are usually due together)."""
        rel = self.approved_rel
        for due, ids in sorted(self._due_soon.items()):
            days = (due - self.today).days
            when = f"review_due {due} is in {days} day{'s' * (days != 1)}"
            if len(ids) == 1:
                subject, line = f"entry '{ids[0]}'", self.p.field_line(ids[0], "review_due")
            else:
                subject, line = f"{len(ids)} entries", None
                when += f" for: {', '.join(ids)}"
            self.warn("content.review_soon", rel, line, subject,
                      f"{when}; after it the text is withdrawn and visitors are handed to staff",
                      "Schedule the review; once re-approved, update approved_on, review_due and approved_by.")

    def check_clinic(self) -> None:
        import jsonschema

        file = self.p.clinic_file
        if not self.readable(file, "the clinic's contact details"):
            return
        rel = self.p.rel(file.path)
        validator = jsonschema.Draft7Validator(content_module.CLINIC_SCHEMA)
        for err in sorted(validator.iter_errors(file.data), key=lambda e: list(e.absolute_path)):
            where = ".".join(str(p) for p in err.absolute_path)
            line = file.data.line_of(where) if isinstance(file.data, yamlio.LineDict) and where else None
            self.error("clinic.invalid", rel, line, f"field '{where}'" if where else rel, err.message,
                       f"Fields: {', '.join(content_module.CLINIC_FIELDS)}, each a line of text.")

    def check_placeholders(self) -> None:
        """Clinic details still "[... not yet configured]" reach visitors as such: not on the live site."""
        data = self.p.clinic_file.data
        if not isinstance(data, dict):
            return
        rel = self.p.rel(self.p.clinic_path)
        fields = content_module.placeholder_fields({k: str(v) for k, v in data.items()})
        fix = f"Fill in the clinic's real {{}} in {rel} (ask the clinic; never invent one)."
        if self.go_live:
            for name in fields:
                line = data.line_of(name) if isinstance(data, yamlio.LineDict) else None
                self.error("golive.placeholder", rel, line, f"field '{name}'",
                           f"is still a placeholder ({data[name]}): visitors would see it", fix.format(name))
        elif fields:
            self.warn("clinic.placeholder", rel, None, f"{len(fields)} fields",
                      f"still placeholders, which visitors see as such: {', '.join(fields)}",
                      fix.format("details") + " `make go-live-check` refuses them.")

    # --- forbidden claims ------------------------------------------------------
    def forbidden_patterns(self) -> List[Tuple[re.Pattern, str]]:
        file = self.p.forbidden_file
        if not self.readable(file, "the forbidden claims"):
            return []
        rel = self.p.rel(file.path)
        if not isinstance(file.data, list):
            self.error("forbidden.invalid", rel, 1, rel, "expected a list of `- pattern: ...` / `why: ...` items",
                       "Restore the file's layout from the last good version.")
            return []
        patterns = []
        items = file.data
        for i, item in enumerate(items, start=1):
            line = items.line_of(i - 1) if isinstance(items, yamlio.LineList) else None
            if not isinstance(item, dict) or not isinstance(item.get("pattern"), str) \
                    or not isinstance(item.get("why"), str) or not str(item.get("why")).strip():
                self.error("forbidden.invalid", rel, line, f"item {i}",
                           "each item needs `pattern:` (a regular expression) and `why:` (the reason)",
                           "Add the missing field.")
                continue
            try:
                patterns.append((re.compile(item["pattern"], re.IGNORECASE), item["why"].strip()))
            except re.error as e:
                self.error("forbidden.invalid", rel, line, f"item {i} pattern '{item['pattern']}'",
                           f"not a valid regular expression: {e}",
                           "Fix the pattern (put it in single quotes; a literal dot, dollar or bracket needs "
                           "a backslash).")
        return patterns

    def check_forbidden_claims(self) -> None:
        patterns = self.forbidden_patterns()
        forbidden_rel = self.p.rel(self.p.forbidden_path)
        for cid, entry in self.p.entries.items():
            texts = [("text", entry.text)] + [(f"button '{b.get('title')}'", str(b.get("title")))
                                              for b in entry.buttons]
            for where, text in texts:
                for pattern, why in patterns:
                    match = pattern.search(text)
                    if match:
                        self.error("content.forbidden_claim", self.approved_rel, self.p.field_line(cid, "text"),
                                   f"entry '{cid}'",
                                   f"{where} says \"{match.group(0)}\", a forbidden claim: {why}",
                                   "Reword the text and have it approved again (raise version). If the "
                                   f"rule itself is wrong, change it in {forbidden_rel} with the clinical lead.")
        clinic_rel = self.p.rel(self.p.clinic_path)
        for name, value in self.p.clinic_values.items():
            for pattern, why in patterns:
                match = pattern.search(value)
                if match:
                    data = self.p.clinic_file.data
                    line = data.line_of(name) if isinstance(data, yamlio.LineDict) else None
                    self.error("clinic.forbidden_claim", clinic_rel, line, f"field '{name}'",
                               f"says \"{match.group(0)}\", a forbidden claim: {why}", "Reword the value.")

    def check_buttons(self) -> None:
        intents = set(self.p.domain.intents)
        for cid, entry in self.p.entries.items():
            for button in entry.buttons:
                intent = str(button.get("payload", "")).lstrip("/")
                if intent not in intents:
                    self.error("content.button_unknown_intent", self.approved_rel, self.p.field_line(cid, "buttons"),
                               f"entry '{cid}' button '{button.get('title')}'",
                               f"payload '/{intent}' names an intent that is not in {self.p.domain_file_rel()}"
                               + self.did_you_mean(intent, intents),
                               "Use `/` followed by an existing intent name, e.g. `/session_length`.")

    # --- where content ids are used --------------------------------------------
    def check_usage(self) -> None:
        """Every id the routing table and the domain name has an entry; every entry is shown somewhere.

        A misspelt id is reported once, where it is written, with the entry it
        probably means; that entry is then not also reported as unused.
        """
        routing_rel = self.p.rel(self.p.routing_path)
        table, problem = self.p.routing_loaded
        if table is None:
            file = self.p.routing_file
            if self.readable(file, "the routing table (which intent shows which entry)"):
                line_match = re.search(r":(\d+): ", problem or "")
                self.error("routing.invalid", routing_rel, int(line_match.group(1)) if line_match else None,
                           routing_rel, (problem or "").split(": ", 2)[-1] if line_match else (problem or ""),
                           "Correct the line (compare it with the lines around it; the comments at the top "
                           "of the file list every field and value).")
            return
        if not self.p.approved_file.data or not isinstance(self.p.approved_file.data, dict):
            return  # already reported; every id would look unknown
        ids = set(self.p.parsed_entries)
        domain_rel = self.p.domain_file_rel()
        # (code, file, line, subject, how it names the id, the id) for each id with no entry
        refs: List[Tuple[str, str, Optional[int], str, str, str]] = []
        for route in table:
            refs.append(("content.unknown_in_routing", routing_rel, route.line or None, f"intent '{route.intent}'",
                         "shows content id", route.content))
        for name, cid in table.roles.items():
            refs.append(("content.unknown_in_routing", routing_rel, None, f"content_roles.{name}", "names", cid))
        for group, members in (("not_understood", table.not_understood), ("offers_callback", table.offers_callback),
                               ("not_a_turn", table.not_a_turn), ("clinical_handoff", table.clinical_handoff),
                               ("live_chat", table.live_chat),
                               ("shown_again", set(table.shown_again) | set(table.shown_again.values()))):
            refs += [("content.unknown_in_routing", routing_rel, None, f"content_roles.{group}", "lists", cid)
                     for cid in sorted(members)]
        for name, response_line, response_id in self.p.domain.response_variants():
            if not response_id:
                self.error("content.response_without_id", domain_rel, response_line, f"response '{name}'",
                           "has no `metadata: {content_id: ...}`, so its text would reach visitors unapproved",
                           f"Give it `metadata: {{content_id: <entry in {self.approved_rel}>}}`.")
            else:
                refs.append(("content.unknown_in_domain", domain_rel, response_line, f"response '{name}'",
                             "names content id", response_id))
        named = {ref[-1] for ref in refs}
        unused = [cid for cid in self.p.parsed_entries if cid not in named]
        reported: Set[str] = set()  # unused entries already named in a message
        seen: Set[Tuple[str, str]] = set()
        misspelt: Set[str] = set()  # missing ids already explained by a misspelt entry
        for code, ref_file, ref_line, subject, how, cid in refs:
            if cid in ids or (code, cid) in seen or cid in misspelt:
                continue  # an id named twice (a role and a route, a route and a response) is reported once
            seen.add((code, cid))
            where = f"{ref_file}:{ref_line}" if ref_line else ref_file
            # An unused entry with a close name: the entry's name is probably the misspelt one.
            renamed = difflib.get_close_matches(cid, [u for u in unused if u not in reported], n=1, cutoff=0.75)
            if renamed:
                reported.add(renamed[0])
                misspelt.add(cid)
                self.error("content.misspelt_entry", self.approved_rel, self.p.entry_line(renamed[0]),
                           f"entry '{renamed[0]}'",
                           f"no intent or response uses this name, and {where} ({subject}) {how} '{cid}', "
                           "which has no entry: one of the two names is misspelt",
                           f"Rename the entry to `{cid}:` (or, if '{renamed[0]}' is the right name, correct {where}).")
                continue
            self.error(code, ref_file, ref_line, subject,
                       f"{how} '{cid}', which has no entry in {self.approved_rel}" + self.did_you_mean(cid, ids),
                       f"Add an entry `{cid}:` to {self.approved_rel}, or correct the id in {ref_file}.")
        for cid in unused:
            if cid not in reported:
                self.error("content.unused", self.approved_rel, self.p.entry_line(cid), f"entry '{cid}'",
                           f"is not used: no line of {routing_rel} and no response in {domain_rel} shows it",
                           "If it is a new topic, finish the steps in EDITING.md (\"Add a topic\"): one line "
                           f"in {routing_rel} and the examples in data/nlu/. Otherwise delete the entry.")
        self.check_routed_intents()
        self.check_answered_intents()
        self.check_generated()
        self.check_hand_written_rules()

    def check_generated(self) -> None:
        """The lists Rasa needs (domain intents, rules) must be the ones the routing table generates."""
        table = self.p.routing
        if table is None:
            return
        for d in generated.differences(self.p.root, table):
            self.error("routing.generated_out_of_date", d.file, d.line, d.file, d.what,
                       f"Run `{generated.COMMAND}` (it rewrites the generated parts from "
                       f"{self.p.rel(self.p.routing_path)}), then `make validate` again.")

    def check_hand_written_rules(self) -> None:
        """The rules the table cannot generate (safety replies, no / stop in the form) must exist."""
        table = self.p.routing
        if table is None:
            return
        plain: Set[str] = set()
        in_form: Set[str] = set()
        in_stories = {step.value for flow in self.p.flows if flow.kind == "story"
                      for step in flow.steps if step.kind == "intent"}
        for flow in self.p.flows:
            if flow.kind != "rule":
                continue
            first = next((step.value for step in flow.steps if step.kind == "intent"), None)
            if first is None:
                continue
            if any(c.kind == "active_loop" and c.value == generated.FORM for c in flow.condition):
                in_form.add(first)
            elif not flow.condition:
                plain.add(first)
        routing_rel = self.p.rel(self.p.routing_path)
        for route in table:
            if route.answered_by == "safety_rule" and route.intent not in plain:
                self.error("routing.safety_rule_missing", "data/rules/safety.yml", None, f"intent '{route.intent}'",
                           f"is `answered_by: safety_rule` in {routing_rel} but no rule answers it",
                           f"Add a rule `- intent: {route.intent}` then its reply to data/rules/safety.yml.")
            if route.answered_by == "story" and route.intent not in in_stories:
                self.error("routing.story_missing", "data/stories/", None, f"intent '{route.intent}'",
                           f"is `answered_by: story` in {routing_rel} but no story in data/stories/ uses it",
                           f"Add stories with `- intent: {route.intent}` after the answers it follows "
                           "(data/stories/follow_ups.yml), and one where it comes first.")
            if route.ends_form and route.answered_by != "utter_answer" and route.intent not in in_form:
                self.error("routing.form_rule_missing", "data/rules/callback_form.yml", None,
                           f"intent '{route.intent}'",
                           f"has `ends_form: yes` in {routing_rel} but no rule ends the callback form for it",
                           f"Add a rule with `condition: - active_loop: {generated.FORM}` whose steps start with "
                           f"`- intent: {route.intent}` to data/rules/callback_form.yml (copy the crisis one).")

    def check_routed_intents(self) -> None:
        """Every intent of the domain has a line in the routing table (else it would get the fallback)."""
        table = self.p.routing
        if table is None:
            return
        routing_rel = self.p.rel(self.p.routing_path)
        for intent, line in self.p.domain.intents.items():
            if intent not in table:
                self.error("routing.intent_missing", self.p.domain_file_rel(), line, f"intent '{intent}'",
                           f"is in the domain but has no line in {routing_rel}, so visitors asking it would "
                           f"get the '{table.default_content}' reply and the safety nets would not know it",
                           f"Add a line for it to {routing_rel} (copy a line of the same category), then run "
                           "`.venv/bin/python -m editorial.routes --write`.")

    def check_answered_intents(self) -> None:
        """An intent a rule answers with utter_answer (or action_answer) must be in the routing table."""
        table = self.p.routing
        if table is None:
            return
        routing_rel = self.p.rel(self.p.routing_path)
        for flow in self.p.flows:
            steps = flow.steps
            for i, step in enumerate(steps):
                if step.kind != "intent":
                    continue
                following = next((s for s in steps[i + 1:] if s.kind == "action"), None)
                if following is None or following.value not in ANSWER_ACTIONS:
                    continue
                if step.value in self.known_intents() and self.p.content_for_intent(step.value) is None \
                        and step.value not in self.p.domain.intents:  # domain intents: check_routed_intents
                    self.error("content.intent_not_mapped", flow.file, step.line, f"intent '{step.value}'",
                               f"is answered by {following.value} ({flow.kind} '{flow.name}') but has no line "
                               f"in {routing_rel}, so visitors asking it get the '{table.default_content}' reply",
                               f"Add a line for it to {routing_rel} (EDITING.md, \"Add a topic\").")

    # --- training data -----------------------------------------------------
    def check_data_files(self) -> None:
        for file in self.p.data_files:
            self.readable(file, "training data")
        for file in self.p.domain.files:
            self.readable(file, "the domain")

    def check_examples(self) -> None:
        by_text: Dict[str, List[Example]] = {}
        for example in self.p.examples:
            by_text.setdefault(normalized(example.text), []).append(example)
        domain_intents = set(self.p.domain.intents)
        routed = set(self.p.routing.intents()) if self.p.routing else set()
        unknown: Set[str] = set()
        for example in self.p.examples:
            # An intent the table has but the domain not yet: reported as routing.generated_out_of_date.
            if example.intent not in domain_intents and example.intent not in routed \
                    and example.intent not in unknown:
                unknown.add(example.intent)  # once per intent, at its first example
                self.error("nlu.unknown_intent", example.file, example.line, f"intent '{example.intent}'",
                           f"has examples but is not listed under `intents:` in {self.p.domain_file_rel()}"
                           + self.did_you_mean(example.intent, domain_intents),
                           f"Correct the intent name, or add a line for it to {self.p.rel(self.p.routing_path)} "
                           f"and run `{generated.COMMAND}`.")
        for text, examples in by_text.items():
            intents = sorted({e.intent for e in examples})
            places = ", ".join(f"{e.intent} ({e.file}:{e.line})" for e in examples)
            first = examples[0]
            if len(intents) > 1:
                self.error("nlu.duplicate_example", first.file, first.line, f"example '{first.text}'",
                           f"appears under {len(intents)} intents: {places}; the assistant cannot learn both",
                           "Keep it under the one intent it belongs to and delete the others "
                           "(the comparison ignores capitals, spaces and punctuation).")
            elif len(examples) > 1:
                self.warn("nlu.repeated_example", examples[1].file, examples[1].line, f"example '{first.text}'",
                          f"appears {len(examples)} times under intent '{intents[0]}': {places}",
                          "Delete the repeats; they add nothing.")
        self.check_minimums()

    def minimums(self) -> Tuple[int, int, Dict[str, int], Dict[str, str]]:
        file = self.p.minimums_file
        defaults: Tuple[int, int, Dict[str, int], Dict[str, str]] = (10, 30, {}, {})
        if not self.readable(file, "the example minimums"):
            return defaults
        rel = self.p.rel(file.path)
        data = file.data
        bad = []
        if not isinstance(data, dict):
            bad.append("expected `default:`, `article_topics:`, `intents:` and `assigned_by_pipeline:`")
            data = {}
        default, topics = data.get("default", 10), data.get("article_topics", 30)
        intents = data.get("intents") or {}
        assigned = data.get("assigned_by_pipeline") or {}
        if not isinstance(default, int) or not isinstance(topics, int) or default < 0 or topics < 0:
            bad.append("`default` and `article_topics` must be whole numbers")
        if not isinstance(intents, dict) or not all(isinstance(v, int) for v in intents.values()):
            bad.append("`intents` must map intent names to whole numbers")
        if not isinstance(assigned, dict) or not all(isinstance(v, str) for v in assigned.values()):
            bad.append("`assigned_by_pipeline` must map intent names to a component of config.yml")
        for message in bad:
            self.error("minimums.invalid", rel, None, rel, message, "Restore the file's layout (see its comments).")
        if bad:
            return defaults
        return default, topics, dict(intents), dict(assigned)

    def pipeline_components(self) -> Set[str]:
        data = self.p.config_file.data
        pipeline = data.get("pipeline") if isinstance(data, dict) else None
        return {str(c.get("name")) for c in pipeline or [] if isinstance(c, dict)}

    def check_minimums(self) -> None:
        default, topic_min, per_intent, assigned = self.minimums()
        minimums_rel = self.p.rel(self.p.minimums_path)
        components = self.pipeline_components()
        for intent, component in assigned.items():
            if component not in components:
                self.error("minimums.stale_exemption", minimums_rel, None, f"intent '{intent}'",
                           f"is exempt because {component} assigns it, but config.yml's pipeline has no {component}",
                           "Remove the exemption and add training examples for the intent.")
        counts: Dict[str, Set[str]] = {}
        first_line: Dict[str, Example] = {}
        for example in self.p.examples:
            counts.setdefault(example.intent, set()).add(normalized(example.text))
            first_line.setdefault(example.intent, example)
        topics = set(self.p.article_topics)
        for intent in self.p.domain.intents:
            if intent in assigned and assigned[intent] in components and intent not in per_intent:
                continue
            if intent in per_intent:
                need, why = per_intent[intent], f"`intents: {intent}` in {minimums_rel}"
            elif intent in topics or self.p.content_for_intent(intent) in topics:
                need, why = topic_min, f"article topic minimum in {minimums_rel}"
            else:
                need, why = default, f"default minimum in {minimums_rel}"
            have = len(counts.get(intent, ()))
            if have < need:
                ex = first_line.get(intent)
                self.error("nlu.too_few_examples", ex.file if ex else "data/nlu/",
                           ex.line if ex else None, f"intent '{intent}'",
                           f"has {have} different example{'s' * (have != 1)}; at least {need} are needed ({why})",
                           f"Add {need - have} or more realistic visitor questions under `- intent: {intent}` "
                           "in data/nlu/ (different wordings, typos and short forms help).")

    # --- rules and stories ------------------------------------------------------
    def check_flows(self) -> None:
        intents, actions = self.known_intents(), self.known_actions()
        forms, slots = set(self.p.domain.forms), set(self.p.domain.slots) | {REQUESTED_SLOT}
        domain_rel = self.p.domain_file_rel()
        for flow in self.p.flows:
            subject = f"{flow.kind} '{flow.name}'"
            for step in flow.condition + flow.steps:
                if step.kind == "intent" and step.value not in intents:
                    self.error("flow.unknown_intent", flow.file, step.line, subject,
                               f"uses intent '{step.value}', which is not in {domain_rel}"
                               + self.did_you_mean(step.value, intents),
                               "Correct the name, or add the intent (with examples in data/nlu/) to the domain.")
                elif step.kind == "action" and step.value not in actions:
                    self.error("flow.unknown_action", flow.file, step.line, subject,
                               f"uses action '{step.value}', which is not an action, response or form in "
                               f"{domain_rel} nor a Rasa default action" + self.did_you_mean(step.value, actions),
                               "Correct the name. Topic answers use `action: utter_answer`.")
                elif step.kind == "active_loop" and step.value is not None and step.value not in forms:
                    self.error("flow.unknown_form", flow.file, step.line, subject,
                               f"uses active_loop '{step.value}', which is not a form in {domain_rel}"
                               + self.did_you_mean(step.value, forms),
                               "Correct the form name (or use `active_loop: null`).")
                elif step.kind == "slot" and step.value not in slots:
                    self.error("flow.unknown_slot", flow.file, step.line, subject,
                               f"sets slot '{step.value}', which is not in {domain_rel}"
                               + self.did_you_mean(step.value, slots),
                               "Correct the slot name.")

    def check_lexicons(self) -> None:
        """The crisis and medical lexicons compile and catch (or leave alone) their own examples."""
        import yaml

        try:
            from clinic import crisis_lexicon, medical_lexicon
        except (OSError, yaml.YAMLError, re.error, KeyError, TypeError) as e:  # the project's own file is broken
            self.error("lexicon.unreadable", "content/lexicons", None, "lexicons",
                       f"cannot be loaded: {str(e).splitlines()[0]}",
                       "Fix the entry named above; every entry needs `name` and `pattern`.")
            return
        root = self.p.root / "content" / "lexicons"
        unreadable = (OSError, yaml.YAMLError, re.error, KeyError, TypeError)
        try:
            self._check_crisis_lexicon(crisis_lexicon, crisis_lexicon.load_lexicon(root / "crisis.yml"),
                                       "content/lexicons/crisis.yml")
        except unreadable as e:
            self._unreadable_lexicon("content/lexicons/crisis.yml", e)
        rel = "content/lexicons/medical.yml"
        try:
            cues = medical_lexicon.load_cues(root / "medical.yml")
        except unreadable as e:
            self._unreadable_lexicon(rel, e)
            return
        for cue in cues:
            for text in cue.must_match:
                if not cue.pattern.search(text):
                    self.error("lexicon.example_missed", rel, None, cue.name,
                               f"does not match its example {text!r}", "Widen the pattern or fix the example.")
            for text in cue.must_not_match:
                if cue.pattern.search(text):
                    self.error("lexicon.counter_example_hit", rel, None, cue.name,
                               f"matches {text!r}, listed as must_not_match", "Narrow the pattern.")

    def _unreadable_lexicon(self, rel: str, e: Exception) -> None:
        self.error("lexicon.unreadable", rel, getattr(getattr(e, "problem_mark", None), "line", None),
                   rel.rsplit("/", 1)[-1], f"cannot be read: {str(e).splitlines()[0]}",
                   "Fix the entry named above; every entry needs `name` and `pattern` "
                   "(a regular expression in single quotes).")

    def _check_crisis_lexicon(self, lexicon, loaded, rel: str) -> None:
        for entry in loaded["crisis"]:
            pattern = re.compile(entry.pattern)
            for text in entry.examples:
                if not pattern.search(lexicon.mask_idioms(lexicon.normalize(text))):
                    self.error("lexicon.example_missed", rel, None, entry.name,
                               f"does not catch its example {text!r}",
                               "Widen the pattern (or an idiom mask hides the example: check `idioms`).")
        for entry in loaded["idioms"]:
            for text in entry.examples:
                if not re.search(entry.pattern, lexicon.normalize(text)):
                    self.error("lexicon.example_missed", rel, None, entry.name,
                               f"does not mask its example {text!r}", "Widen the idiom pattern.")
        for text in loaded["never_crisis"]:
            found = lexicon.find_crisis(text)
            if found:
                self.error("lexicon.false_crisis", rel, None, found,
                           f"flags {text!r}, listed under never_crisis",
                           "Narrow that crisis pattern, or add an idiom mask.")

    def run(self) -> Result:
        self.check_data_files()
        self.check_lexicons()
        self.check_approved()
        self.check_clinic()
        self.check_placeholders()
        self.check_forbidden_claims()
        self.check_buttons()
        self.check_usage()
        self.check_examples()
        self.check_flows()
        order = {ERROR: 0, WARNING: 1}
        self.result.findings.sort(key=lambda f: (order[f.level], f.file, f.line or 0))
        return self.result


def run_checks(project: Project, today: Optional[dt.date] = None, go_live: bool = False) -> Result:
    """All content checks on ``project``; ``today`` is for tests (default: the real date).

    ``go_live``: the checks before the live site (``make go-live-check``): placeholder
    clinic details and pending sign-offs are errors, not warnings.
    """
    return _Checker(project, today or dt.date.today(), go_live).run()


def print_result(result: Result, project: Project, out=None) -> None:
    import sys

    out = out or sys.stdout
    print(f"Content checks for {project.root} (approved texts: {project.rel(project.approved_path)})", file=out)
    for finding in result.findings:
        print(finding.format(), file=out)
    if result.ok:
        print(f"CONTENT CHECKS PASSED ({result.summary()}).", file=out)
    else:
        print(f"CONTENT CHECKS FAILED ({result.summary()}): fix the errors above, then run "
              "`make validate` again. Nothing has changed for visitors.", file=out)

