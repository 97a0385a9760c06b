"""Everything the editorial checks and the report read, from one project root.

The root is the repository (or a copy of it, in the tests). Nothing is
imported from the root's Python files: which intent shows which entry, and
which entries the code shows itself, is data (``content/routing.yml``, read
with :mod:`clinic.routing`); the YAML files are read with line numbers
(:mod:`editorial.yamlio`). The approved-content schema is the one in
:mod:`clinic.content`, reused, so an entry that passes here loads in the
servers too.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
import subprocess
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

from clinic import content as content_module
from clinic import routing as routing_module
from editorial import yamlio

PACKAGE_DIR = Path(__file__).resolve().parent
ENTITY = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


def plain_example(text: str) -> str:
    """An example without entity annotations: ``[Redding](city)`` -> ``Redding``."""
    return ENTITY.sub(r"\1", text).strip()


# ASCII punctuation except the apostrophe ("what's" is not "what s"); emoji are kept.
PUNCTUATION = re.compile("[" + re.escape("".join(c for c in string.punctuation if c != "'")) + "]+")


def normalized(text: str) -> str:
    """Case-, space- and punctuation-insensitive form of an example, for finding the same one twice."""
    return " ".join(PUNCTUATION.sub(" ", plain_example(text).casefold()).split())


@dataclass(frozen=True)
class Example:
    intent: str
    text: str
    file: str
    line: int


@dataclass(frozen=True)
class Step:
    """One step of a rule or story: ``kind`` is intent, action, active_loop or slot."""

    kind: str
    value: Optional[str]
    line: int


@dataclass
class Flow:
    """A rule or a story (or a test story), with its steps and condition in order."""

    kind: str
    name: str
    file: str
    line: int
    steps: List[Step] = field(default_factory=list)
    condition: List[Step] = field(default_factory=list)


@dataclass
class Domain:
    intents: Dict[str, int] = field(default_factory=dict)      # name -> line
    actions: Dict[str, int] = field(default_factory=dict)
    responses: Dict[str, Tuple[int, List[Any]]] = field(default_factory=dict)
    forms: Dict[str, int] = field(default_factory=dict)
    slots: Dict[str, int] = field(default_factory=dict)
    files: List[yamlio.YamlFile] = field(default_factory=list)

    def response_variants(self) -> Iterable[Tuple[str, int, Optional[str]]]:
        """(response name, line, content id or None) for every variant of every response.

        ``utter_answer`` (``answer_by_intent: true``) is left out: the entry it shows is
        the one the routing table maps the intent to, checked with the table.
        """
        for name, (line, variants) in self.responses.items():
            if not variants:
                yield name, line, None
            for variant in variants:
                content_id = None
                if isinstance(variant, dict) and isinstance(variant.get("metadata"), dict):
                    if variant["metadata"].get("answer_by_intent") is True:
                        continue
                    content_id = variant["metadata"].get("content_id")
                yield name, getattr(variant, "line", line), content_id

    def response_content_id(self, name: str) -> Optional[str]:
        for response, _, content_id in self.response_variants():
            if response == name and content_id:
                return content_id
        return None


class Project:
    """A clinic-assistant project on disk."""

    def __init__(
        self,
        root: Path | str,
        approved: Path | str | None = None,
        clinic: Path | str | None = None,
        forbidden: Path | str | None = None,
        minimums: Path | str | None = None,
        routing: Path | str | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.routing_path = Path(routing) if routing else self.root / "content" / "routing.yml"
        self.approved_path = Path(approved) if approved else self.root / "content" / "approved.yml"
        self.clinic_path = Path(clinic) if clinic else self.root / "content" / "clinic.yml"
        self.forbidden_path = Path(forbidden) if forbidden else self.root / "content" / "forbidden_claims.yml"
        if minimums:
            self.minimums_path = Path(minimums)
        elif (self.root / "editorial" / "minimums.yml").exists():
            self.minimums_path = self.root / "editorial" / "minimums.yml"
        else:
            self.minimums_path = PACKAGE_DIR / "minimums.yml"

    def rel(self, path: Path) -> str:
        """A path as editors see it: relative to the project when inside it."""
        try:
            return Path(path).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    # --- files -----------------------------------------------------------
    @cached_property
    def approved_file(self) -> yamlio.YamlFile:
        return yamlio.read(self.approved_path)

    @cached_property
    def routing_file(self) -> yamlio.YamlFile:
        return yamlio.read(self.routing_path)

    @cached_property
    def clinic_file(self) -> yamlio.YamlFile:
        return yamlio.read(self.clinic_path)

    @cached_property
    def forbidden_file(self) -> yamlio.YamlFile:
        return yamlio.read(self.forbidden_path)

    @cached_property
    def minimums_file(self) -> yamlio.YamlFile:
        return yamlio.read(self.minimums_path)

    @cached_property
    def config_file(self) -> yamlio.YamlFile:
        return yamlio.read(self.root / "config.yml")

    @cached_property
    def data_files(self) -> List[yamlio.YamlFile]:
        """``data/**/*.yml`` and the test stories in ``tests/stories/``."""
        paths: List[Path] = []
        for folder in (self.root / "data", self.root / "tests" / "stories"):
            if folder.is_dir():
                paths += sorted(p for p in folder.rglob("*") if p.suffix in (".yml", ".yaml"))
        return [yamlio.read(p) for p in paths]

    # --- approved content --------------------------------------------------
    @cached_property
    def entries(self) -> Dict[str, content_module.Entry]:
        """The entries that pass the schema (bad ones are reported by the checks)."""
        return {cid: entry for cid, (entry, _) in self.parsed_entries.items() if entry is not None}

    @cached_property
    def parsed_entries(self) -> Dict[str, Tuple[Optional[content_module.Entry], Optional[str]]]:
        """content id -> (entry, None) or (None, error message), for every top-level key."""
        data = self.approved_file.data
        out: Dict[str, Tuple[Optional[content_module.Entry], Optional[str]]] = {}
        if not isinstance(data, dict):
            return out
        for cid, raw in data.items():
            try:
                out[str(cid)] = (content_module.parse_entry(self.approved_path, cid, raw), None)
            except content_module.ContentError as e:
                out[str(cid)] = (None, str(e))
        return out

    # --- the last known wording (to catch a text changed without a raised version) ----------
    @property
    def fingerprint_path(self) -> Path:
        """Written by ``python -m editorial check`` when the checks pass: the last validated wording."""
        return self.root / "var" / "approved-fingerprint.json"

    @cached_property
    def baseline(self) -> Tuple[Optional[str], Dict[str, Tuple[int, str]]]:
        """(where from, content id -> (version, fingerprint of text and buttons)) of the last known wording.

        The last commit's content/approved.yml when the project is a git work tree
        and the file is tracked; else the fingerprint file; else nothing known.
        """
        rel = self.rel(self.approved_path)
        if not Path(rel).is_absolute():
            try:
                done = subprocess.run(["git", "-C", str(self.root), "show", f"HEAD:{rel}"], capture_output=True,
                                      text=True, timeout=20)
            except (OSError, subprocess.SubprocessError):
                done = None
            if done is not None and done.returncode == 0:
                return f"the last commit (git show HEAD:{rel})", _fingerprints_of_yaml(self.approved_path, done.stdout)
        try:
            data = json.loads(self.fingerprint_path.read_text(encoding="utf-8"))
            return (f"the last validated wording ({self.rel(self.fingerprint_path)})",
                    {str(k): (int(v[0]), str(v[1])) for k, v in data.items()})
        except (OSError, ValueError, TypeError, IndexError, AttributeError):
            return None, {}

    def fingerprints(self) -> Dict[str, Tuple[int, str]]:
        """content id -> (version, fingerprint) of the entries as they are now."""
        return {cid: (entry.version, fingerprint(entry)) for cid, entry in self.entries.items()}

    def write_fingerprint(self) -> None:
        self.fingerprint_path.parent.mkdir(parents=True, exist_ok=True)
        self.fingerprint_path.write_text(json.dumps(self.fingerprints(), indent=1, sort_keys=True), encoding="utf-8")

    def entry_line(self, content_id: str) -> Optional[int]:
        data = self.approved_file.data
        if isinstance(data, yamlio.LineDict) and content_id in data:
            return data.line_of(content_id)
        return None

    def field_line(self, content_id: str, field_name: str) -> Optional[int]:
        data = self.approved_file.data
        if isinstance(data, dict) and isinstance(data.get(content_id), yamlio.LineDict):
            return data[content_id].line_of(field_name)
        return self.entry_line(content_id)

    @cached_property
    def clinic_values(self) -> Dict[str, str]:
        data = self.clinic_file.data
        return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    # --- the routing table ------------------------------------------------
    @cached_property
    def routing_loaded(self) -> Tuple[Optional[routing_module.RoutingTable], Optional[str]]:
        """(table, None), or (None, the reason it cannot be read)."""
        try:
            return routing_module.RoutingTable.load(self.routing_path), None
        except routing_module.RoutingError as e:
            return None, str(e)

    @property
    def routing(self) -> Optional[routing_module.RoutingTable]:
        return self.routing_loaded[0]

    @property
    def required_ids(self) -> Tuple[str, ...]:
        """Ids that must have an entry: the loader's own, and every id the routing table names."""
        table_ids = self.routing.content_ids() if self.routing else ()
        return tuple(dict.fromkeys(content_module.REQUIRED_IDS + table_ids))

    @property
    def article_topics(self) -> Tuple[str, ...]:
        return self.routing.article_topics if self.routing else ()

    def content_for_intent(self, intent: str) -> Optional[str]:
        """The content id ``utter_answer`` shows for ``intent`` (None: not in the routing table)."""
        route = self.routing.get(intent) if self.routing else None
        return route.content if route else None

    def route_line(self, intent: str) -> Optional[int]:
        route = self.routing.get(intent) if self.routing else None
        return route.line if route else None

    # --- domain --------------------------------------------------------------
    @cached_property
    def domain(self) -> Domain:
        domain = Domain()
        paths = [self.root / "domain.yml"]
        if (self.root / "domain").is_dir():
            paths = sorted(p for p in (self.root / "domain").rglob("*") if p.suffix in (".yml", ".yaml"))
        for path in paths:
            file = yamlio.read(path)
            domain.files.append(file)
            data = file.data if isinstance(file.data, yamlio.LineDict) else None
            if data is None:
                continue
            for kind, target in (("intents", domain.intents), ("actions", domain.actions)):
                items = data.get(kind) or []
                listed = items if isinstance(items, yamlio.LineList) else yamlio.LineList()
                for i, item in enumerate(listed):
                    name = next(iter(item)) if isinstance(item, dict) and item else item
                    if isinstance(name, str):
                        target[name] = listed.line_of(i)
            for kind, target in (("forms", domain.forms), ("slots", domain.slots)):
                items = data.get(kind) or {}
                if isinstance(items, yamlio.LineDict):
                    for name in items:
                        target[str(name)] = items.line_of(name)
            responses = data.get("responses") or {}
            if isinstance(responses, yamlio.LineDict):
                for name, variants in responses.items():
                    domain.responses[str(name)] = (responses.line_of(name),
                                                   variants if isinstance(variants, list) else [])
        return domain

    def domain_file_rel(self) -> str:
        return self.rel(self.domain.files[0].path) if self.domain.files else "domain.yml"

    # --- training data -------------------------------------------------------
    @cached_property
    def examples(self) -> List[Example]:
        out: List[Example] = []
        for file in self.data_files:
            data = file.data
            if not isinstance(data, dict) or not isinstance(data.get("nlu"), list):
                continue
            rel = self.rel(file.path)
            for item in data["nlu"]:
                if not isinstance(item, yamlio.LineDict) or "intent" not in item:
                    continue
                intent = str(item["intent"])
                examples = item.get("examples")
                if isinstance(examples, str):
                    first = item.value_lines.get("examples", item.line) + 1
                    for offset, raw in enumerate(examples.splitlines()):
                        stripped = raw.strip()
                        if stripped.startswith("- "):
                            text = plain_example(stripped[2:])
                            if text:
                                out.append(Example(intent, text, rel, first + offset))
                elif isinstance(examples, yamlio.LineList):
                    for i, raw in enumerate(examples):
                        text = raw.get("text") if isinstance(raw, dict) else raw  # type: ignore[attr-defined]
                        if isinstance(text, str) and text.strip():
                            out.append(Example(intent, plain_example(text), rel, examples.line_of(i)))
        return out

    def examples_by_intent(self) -> Dict[str, List[Example]]:
        out: Dict[str, List[Example]] = {}
        for example in self.examples:
            out.setdefault(example.intent, []).append(example)
        return out

    @cached_property
    def flows(self) -> List[Flow]:
        out: List[Flow] = []
        for file in self.data_files:
            data = file.data
            if not isinstance(data, dict):
                continue
            rel = self.rel(file.path)
            for kind, key in (("rule", "rules"), ("story", "stories")):
                items = data.get(key)
                if not isinstance(items, list):
                    continue
                if rel.startswith("tests/"):
                    kind = "test story"
                for item in items:
                    if not isinstance(item, yamlio.LineDict):
                        continue
                    name = str(item.get("rule") or item.get("story") or "(unnamed)")
                    flow = Flow(kind, name, rel, item.line)
                    flow.steps = list(_steps(item.get("steps"), item.line))
                    flow.condition = list(_steps(item.get("condition"), item.line))
                    out.append(flow)
        return out


def fingerprint(entry: content_module.Entry) -> str:
    """What a visitor sees of an entry (its text and buttons), hashed: changes only when they change."""
    shown = json.dumps([entry.text, [dict(b) for b in entry.buttons]], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(shown.encode("utf-8")).hexdigest()[:16]


def _fingerprints_of_yaml(path: Path, text: str) -> Dict[str, Tuple[int, str]]:
    """Fingerprints of the entries of an older approved.yml (entries that do not parse are left out)."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    out: Dict[str, Tuple[int, str]] = {}
    for cid, raw in (data.items() if isinstance(data, dict) else ()):
        try:
            entry = content_module.parse_entry(path, cid, raw)
        except content_module.ContentError:
            continue
        out[entry.content_id] = (entry.version, fingerprint(entry))
    return out


def _steps(items: Any, default_line: int) -> Iterable[Step]:
    if not isinstance(items, list):
        return
    for item in items:
        if not isinstance(item, dict):
            continue
        line = getattr(item, "line", default_line)
        if "intent" in item:
            yield Step("intent", str(item["intent"]), line)
        if "action" in item:
            yield Step("action", str(item["action"]), line)
        if "active_loop" in item:
            value = item["active_loop"]
            yield Step("active_loop", None if value in (None, "null") else str(value), line)
        if "slot_was_set" in item:
            for slot in item["slot_was_set"] or []:
                name = next(iter(slot)) if isinstance(slot, dict) and slot else slot
                if isinstance(name, str):
                    yield Step("slot", name, line)
        if "or" in item:
            yield from _steps(item["or"], line)
