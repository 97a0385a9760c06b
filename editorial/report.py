"""``python -m editorial.report``: the content report for clinical sign-off (``make content-report``).

Writes ``reports/content-report.html`` and its Markdown twin
``reports/content-report.md``: every approved text as visitors see it, its
version and approval record, its review date, and how visitors reach it (the
intents, with a few example questions each; the buttons; the form or action
that shows it). The file's SHA-256 is printed in the report so a signed copy
can be matched to the exact wording that was live.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from editorial.__main__ import from_env
from editorial.checks import REVIEW_WARNING_DAYS, run_checks
from editorial.project import Example, Project

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).resolve().parent / "templates"
EXAMPLES_PER_INTENT = 5


@dataclass
class Route:
    """One way a visitor reaches an entry."""

    how: str
    intent: Optional[str] = None
    examples: List[str] = field(default_factory=list)
    total_examples: int = 0
    note: str = ""


@dataclass
class Row:
    content_id: str
    text: str
    shown_text: str
    status: str
    status_class: str
    version: Any = None
    approved_by: str = ""
    approved_on: str = ""
    review_due: str = ""
    source: str = ""
    buttons: List[Dict[str, str]] = field(default_factory=list)
    routes: List[Route] = field(default_factory=list)
    error: str = ""


def spread(examples: List[Example], n: int) -> List[str]:
    """``n`` examples spread over the list (the first ones are often alike)."""
    if len(examples) <= n:
        return [e.text for e in examples]
    step = len(examples) / n
    return [examples[int(i * step)].text for i in range(n)]


class _Routes:
    def __init__(self, project: Project, per_intent: int) -> None:
        self.p = project
        self.per_intent = per_intent
        self.by_intent = project.examples_by_intent()
        minimums = project.minimums_file.data if isinstance(project.minimums_file.data, dict) else {}
        self.assigned = minimums.get("assigned_by_pipeline") or {}
        self.addon_sources = {path.relative_to(project.root).as_posix(): path.read_text(encoding="utf-8")
                              for path in sorted((project.root / "addons").glob("*.py"))}
        forms = {}
        for file in project.domain.files:
            if isinstance(file.data, dict) and isinstance(file.data.get("forms"), dict):
                forms.update(file.data["forms"])
        self.form_slots = {slot: form for form, spec in forms.items() if isinstance(spec, dict)
                           for slot in spec.get("required_slots") or []}

    def intent_route(self, intent: str, how: str) -> Route:
        examples = self.by_intent.get(intent, [])
        note = ""
        if not examples and intent in self.assigned:
            note = f"no example questions: recognised by {self.assigned[intent]}"
        return Route(how, intent, spread(examples, self.per_intent), len(examples), note)

    def for_entry(self, cid: str) -> List[Route]:
        p, routes = self.p, []
        for intent in sorted(p.domain.intents):
            if p.content_for_intent(intent) == cid:
                routes.append(self.intent_route(intent, "answered by utter_answer"))
        table = p.routing
        if table is not None and table.default_content == cid:
            routes.append(Route(f"any intent not listed in {p.rel(p.routing_path)}"))
        for name, _, response_cid in p.domain.response_variants():
            if response_cid != cid:
                continue
            routes.extend(self.response_routes(name))
        for name, role_cid in (table.roles.items() if table is not None else ()):
            if role_cid == cid and name != "default":
                routes.append(Route(f"shown by the code as content_roles.{name} ({p.rel(p.routing_path)})"))
        for other, entry in p.entries.items():
            for button in entry.buttons:
                intent = str(button.get("payload", "")).lstrip("/")
                if p.content_for_intent(intent) == cid:
                    routes.append(Route(f"button \u201c{button.get('title')}\u201d under the entry '{other}' "
                                        f"(sends /{intent})"))
        return routes

    def response_routes(self, response: str) -> List[Route]:
        routes: List[Route] = []
        flows_by_intent: Dict[Optional[str], List[str]] = {}
        for flow in self.p.flows:
            if flow.kind == "test story":
                continue
            steps = flow.steps
            for i, step in enumerate(steps):
                if step.kind == "action" and step.value == response:
                    intent = next((s.value for s in reversed(steps[:i]) if s.kind == "intent"), None)
                    names = flows_by_intent.setdefault(intent, [])
                    if f"{flow.kind} \u201c{flow.name}\u201d" not in names:
                        names.append(f"{flow.kind} \u201c{flow.name}\u201d")
        for intent, names in flows_by_intent.items():
            how = f"domain response {response} ({'; '.join(names)})"
            routes.append(self.intent_route(intent, how) if intent else Route(how))
        if response.startswith("utter_ask_"):
            slot = response[len("utter_ask_"):]
            if slot in self.form_slots:
                routes.append(Route(f"question of the form {self.form_slots[slot]} for slot {slot} "
                                    f"(domain response {response})"))
        if response == "utter_default":
            routes.append(Route("Rasa's default fallback action when the dialogue policies are unsure "
                                "(domain response utter_default)"))
        for path, source in self.addon_sources.items():
            if re.search(rf"[\"']{re.escape(response)}[\"']", source):
                routes.append(Route(f"domain response {response}, sent by {path}"))
        return routes


def build_rows(project: Project, today: dt.date, per_intent: int = EXAMPLES_PER_INTENT) -> List[Row]:
    routes = _Routes(project, per_intent)
    rows: List[Row] = []
    raw_all = project.approved_file.data if isinstance(project.approved_file.data, dict) else {}
    for cid, (entry, error) in project.parsed_entries.items():
        if entry is None:
            raw = raw_all.get(cid)
            text = str(raw.get("text", "")) if isinstance(raw, dict) else ""
            rows.append(Row(cid, text, text, "INVALID: not shown until fixed", "invalid",
                            error=error or "", routes=routes.for_entry(cid)))
            continue
        days = (entry.review_due - today).days
        if days < 0:
            status, css = f"EXPIRED on {entry.review_due}: " + (
                "still shown (safety message), review now" if cid == "crisis"
                else "withheld, visitors go to staff"), "expired"
        elif days <= REVIEW_WARNING_DAYS:
            status, css = f"review due in {days} day{'s' * (days != 1)}", "due"
        else:
            status, css = "current", "current"
        shown = project_render(project, entry.text)
        rows.append(Row(cid, entry.text, shown, status, css, entry.version, entry.approved_by,
                        entry.approved_on.isoformat(), entry.review_due.isoformat(), entry.source,
                        [dict(b) for b in entry.buttons], routes.for_entry(cid)))
    return rows


def project_render(project: Project, text: str) -> str:
    """The text with the clinic's details filled in; run-time placeholders stay visible."""
    values = project.clinic_values

    class Keep(dict):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    try:
        return text.format_map(Keep(values))
    except (ValueError, IndexError):
        return text


def sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "(file missing)"


_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|])")


def md_escape(value: Any) -> Any:
    """Markdown twin: every value is escaped unless marked safe (see :func:`md_code`)."""
    if isinstance(value, Markup) or value is None:
        return "" if value is None else str(value)
    return _MD_SPECIAL.sub(r"\\\1", str(value))


def md_code(value: Any) -> Markup:
    text = str(value).replace("`", "'")
    return Markup(f"`{text}`")


def environments() -> Dict[str, Environment]:
    html = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    md = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=False, finalize=md_escape,
                     undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    md.filters["code"] = md_code
    return {"html": html, "md": md}


def write_report(project: Project, out_dir: Path, today: Optional[dt.date] = None,
                 per_intent: int = EXAMPLES_PER_INTENT) -> Dict[str, Path]:
    today = today or dt.date.today()
    result = run_checks(project, today=today)
    context = {
        "clinic": project.clinic_values.get("name", "the clinic"),
        "generated": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "today": today.isoformat(),
        "approved_path": project.rel(project.approved_path),
        "approved_sha256": sha256(project.approved_path),
        "clinic_path": project.rel(project.clinic_path),
        "clinic_sha256": sha256(project.clinic_path),
        "rows": build_rows(project, today, per_intent),
        "result": result,
        "per_intent": per_intent,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    envs = environments()
    written = {}
    for kind, template in (("html", "content_report.html"), ("md", "content_report.md")):
        path = out_dir / f"content-report.{kind}"
        path.write_text(envs[kind].get_template(template).render(**context), encoding="utf-8")
        written[kind] = path
    return written


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m editorial.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=ROOT, help="project root (default: this repository)")
    parser.add_argument("--approved", type=Path,
                        help="approved-content file (default: $APPROVED_CONTENT, else <root>/content/approved.yml)")
    parser.add_argument("--out", type=Path, help="output folder (default: <root>/reports)")
    parser.add_argument("--examples", type=int, default=EXAMPLES_PER_INTENT, help="example questions per intent")
    args = parser.parse_args(argv)
    project = Project(args.root, approved=args.approved or from_env("APPROVED_CONTENT", args.root),
                      clinic=from_env("CLINIC_CONFIG", args.root))
    written = write_report(project, args.out or project.root / "reports", per_intent=args.examples)
    result = run_checks(project)
    for path in written.values():
        print(f"Wrote {path}")
    if not result.ok:
        print(f"Note: the content checks found {result.summary()}; the report lists them. "
              "Run `make validate` for details.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
