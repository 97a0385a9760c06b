"""The routing table (``content/routing.yml``): which intent leads to which approved entry.

It is the one place that says, per intent, its content id, its category, what
the medical and cost cue detectors may do with it and whether it ends the
callback form. The NLU components, the response generator, the action server,
the staff console, the callback queue and the editor checks all read it through
:func:`current` (or :meth:`RoutingTable.load` for another project's copy);
nothing else lists intents.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, Iterator, List, Mapping, Optional, Tuple

import yaml

from clinic import settings

logger = logging.getLogger(__name__)

CATEGORIES = ("article_topic", "small_talk", "handoff", "routing", "form")
CUES = ("override", "when_unsure", "never")
# story: the answer depends on the previous one ("why?" after a topic), so stories in
# data/stories/ say it (no generated rule, which would win over them).
ANSWERED_BY = ("utter_answer", "action_answer", "safety_rule", "story")
FIELDS = ("content", "category", "cues", "ends_form", "answered_by")
ROLE_LISTS = ("not_understood", "offers_callback", "not_a_turn", "clinical_handoff", "live_chat")
# Optional: entry -> the entry shown instead when it was already shown in this conversation.
ROLE_MAPS = ("shown_again",)
ROLE_IDS = ("default", "repeat", "unavailable", "callback_contact_invalid", "callback_confirmed",
            "callback_already_requested")
# Intents Rasa defines itself: in the table, never in the domain's `intents:`.
RASA_INTENTS = frozenset({"nlu_fallback"})


class RoutingError(ValueError):
    """The routing table is malformed; the message names the file, the line and the intent."""


@dataclass(frozen=True)
class Route:
    """One line of the table."""

    intent: str
    content: str
    category: str
    cues: str
    ends_form: bool
    answered_by: str = "utter_answer"
    line: int = 0

    @property
    def generated_rule(self) -> bool:
        """True when data/rules/ has a generated rule for it (not a hand-written safety rule or stories)."""
        return self.answered_by not in ("safety_rule", "story")


class _LineLoader(yaml.SafeLoader):
    """Notes the line of each route, so a message can say where to look."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> Dict[Any, Any]:
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=True)
    lines = {loader.construct_object(k): k.start_mark.line + 1 for k, _ in node.value}
    mapping["__lines__"] = lines  # type: ignore[index]
    return mapping


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def _strip_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if k != "__lines__"}
    return value


class RoutingTable:
    """The table, checked on load."""

    def __init__(self, routes: Mapping[str, Route], roles: Mapping[str, Any], path: Optional[Path] = None) -> None:
        self.routes: Dict[str, Route] = dict(routes)
        self.path = path
        missing = [name for name in ROLE_IDS if name not in roles]
        if missing:
            raise RoutingError(f"{path or 'routing table'}: content_roles needs {', '.join(missing)}")
        self.roles: Dict[str, str] = {name: roles[name] for name in ROLE_IDS}
        self.default_content: str = roles.get("default", "fallback")
        self.repeat_content: str = roles.get("repeat", "fallback_repeat")
        self.not_understood: FrozenSet[str] = frozenset(roles.get("not_understood", ()))
        self.offers_callback: FrozenSet[str] = frozenset(roles.get("offers_callback", ()))
        self.not_a_turn: FrozenSet[str] = frozenset(roles.get("not_a_turn", ()))
        self.clinical_handoff: FrozenSet[str] = frozenset(roles.get("clinical_handoff", ()))
        # shown by the live chat with a person (the action server and the console: clinic.live_chat)
        self.live_chat: FrozenSet[str] = frozenset(roles.get("live_chat", ()))
        self.shown_again: Dict[str, str] = dict(roles.get("shown_again") or {})

    # --- loading ----------------------------------------------------------------
    @classmethod
    def load(cls, path: Optional[Path | str] = None) -> "RoutingTable":
        """Read and check ``path`` (default: ``ROUTING_TABLE``, else content/routing.yml)."""
        path = Path(path) if path else settings.get_path("ROUTING_TABLE")
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as e:
            raise RoutingError(f"{path}: file not found") from e
        try:
            data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as e:
            raise RoutingError(f"{path}: not valid YAML: {e}") from e
        return cls.from_data(data, path)

    @classmethod
    def from_data(cls, data: Any, path: Optional[Path] = None) -> "RoutingTable":
        where = str(path or "routing table")
        if not isinstance(data, dict) or not isinstance(data.get("routes"), dict) or len(data["routes"]) <= 1:
            raise RoutingError(f"{where}: expected `routes:` with one line per intent")
        raw_routes = data["routes"]
        lines: Dict[str, int] = raw_routes.get("__lines__", {})
        routes: Dict[str, Route] = {}
        for intent, body in raw_routes.items():
            if intent == "__lines__":
                continue
            line = lines.get(intent, 0)
            routes[str(intent)] = _route(where, str(intent), _strip_lines(body), line)
        roles = _strip_lines(data.get("content_roles") or {})
        if not isinstance(roles, dict):
            raise RoutingError(f"{where}: `content_roles:` must be a mapping")
        for name, value in roles.items():
            if name in ROLE_LISTS and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise RoutingError(f"{where}: content_roles.{name} must be a list of content ids")
            if name in ROLE_IDS and not isinstance(value, str):
                raise RoutingError(f"{where}: content_roles.{name} must be one content id")
            if name in ROLE_MAPS and not (isinstance(value, dict) and all(
                    isinstance(k, str) and isinstance(v, str) for k, v in value.items())):
                raise RoutingError(f"{where}: content_roles.{name} must map content ids to content ids")
            if name not in ROLE_LISTS + ROLE_IDS + ROLE_MAPS:
                raise RoutingError(f"{where}: content_roles.{name} is not known; "
                                   f"known: {', '.join(ROLE_IDS + ROLE_LISTS + ROLE_MAPS)}")
        return cls(routes, roles, path)

    # --- reading ------------------------------------------------------------------
    def __iter__(self) -> Iterator[Route]:
        return iter(self.routes.values())

    def __contains__(self, intent: object) -> bool:
        return intent in self.routes

    def get(self, intent: Optional[str]) -> Optional[Route]:
        return self.routes.get(intent or "")

    def intents(self, category: Optional[str] = None) -> Tuple[str, ...]:
        """The intents (in the table's order), all or those of one category."""
        return tuple(r.intent for r in self if category is None or r.category == category)

    def domain_intents(self) -> Tuple[str, ...]:
        """The intents domain.yml lists: all but Rasa's own."""
        return tuple(i for i in self.intents() if i not in RASA_INTENTS)

    @property
    def article_topics(self) -> Tuple[str, ...]:
        return self.intents("article_topic")

    def with_cues(self, cues: str) -> Tuple[str, ...]:
        """Intents a cue detector overrides (``override``) or checks when unsure (``when_unsure``)."""
        return tuple(r.intent for r in self if r.cues == cues)

    def form_enders(self) -> Tuple[str, ...]:
        return tuple(r.intent for r in self if r.ends_form)

    def handoffs(self) -> Tuple[Route, ...]:
        return tuple(r for r in self if r.category == "handoff")

    def role(self, name: str) -> str:
        """The content id of a named role (``unavailable``, ``callback_confirmed``...): the code shows it."""
        return self.roles[name]

    def content_ids(self) -> Tuple[str, ...]:
        """Every content id the table names (routes and roles), each once."""
        ids: List[str] = [r.content for r in self]
        ids += list(self.roles.values())
        for group in (self.not_understood, self.offers_callback, self.not_a_turn, self.clinical_handoff,
                      self.live_chat):
            ids += sorted(group)
        ids += list(self.shown_again.values())
        return tuple(dict.fromkeys(ids))

    def content_for(self, intent: Optional[str]) -> str:
        """The content id for ``intent``; the ``default`` role (fallback) for an intent not listed."""
        route = self.get(intent)
        return route.content if route else self.default_content

    def choose_content_id(self, intent: Optional[str], previous_id: Optional[str],
                          shown: Iterable[Optional[str]] = ()) -> str:
        """Which entry answers a message with ``intent``.

        ``previous_id`` is the entry of the assistant's previous message: a
        second message in a row that is not understood gets the offer of a person.
        ``shown`` are the entries already shown in the conversation: an entry of
        ``shown_again`` (the greeting) is then replaced by its short form.
        """
        content_id = self.content_for(intent)
        if content_id in self.not_understood and previous_id in self.not_understood:
            return self.repeat_content
        if content_id in self.shown_again and content_id in set(shown):
            return self.shown_again[content_id]
        return content_id

    def previous_content_id(self, bot_metadata_newest_first: Iterable[Optional[Mapping[str, Any]]]) -> Optional[str]:
        """The content id of the assistant's previous message, from its messages' metadata (newest first).

        Shared by the action server (events as dicts) and the Rasa server (event objects).
        """
        for metadata in bot_metadata_newest_first:
            content_id = (metadata or {}).get("content_id")
            if content_id not in self.not_a_turn:
                return content_id
        return None


def _route(where: str, intent: str, body: Any, line: int) -> Route:
    at = f"{where}:{line}" if line else where
    if not isinstance(body, dict):
        raise RoutingError(f"{at}: intent '{intent}': expected {{content: ..., category: ..., cues: ..., "
                           "ends_form: ...}")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise RoutingError(f"{at}: intent '{intent}': unknown field(s) {', '.join(unknown)}; "
                           f"the fields are {', '.join(FIELDS)}")
    missing = [f for f in FIELDS[:4] if f not in body]
    if missing:
        raise RoutingError(f"{at}: intent '{intent}': missing {', '.join(missing)} (copy another line)")
    content, category, cues, ends_form = body["content"], body["category"], body["cues"], body["ends_form"]
    answered_by = body.get("answered_by", "utter_answer")
    if not isinstance(content, str) or not content:
        raise RoutingError(f"{at}: intent '{intent}': content must be a content id of content/approved.yml")
    if category not in CATEGORIES:
        raise RoutingError(f"{at}: intent '{intent}': category '{category}' is not one of {', '.join(CATEGORIES)}")
    if cues not in CUES:
        raise RoutingError(f"{at}: intent '{intent}': cues '{cues}' is not one of {', '.join(CUES)}")
    if not isinstance(ends_form, bool):
        raise RoutingError(f"{at}: intent '{intent}': ends_form must be yes or no")
    if answered_by not in ANSWERED_BY:
        raise RoutingError(f"{at}: intent '{intent}': answered_by '{answered_by}' is not one of "
                           f"{', '.join(ANSWERED_BY)}")
    if category == "article_topic" and cues != "override":
        # Safety rule 2: a medical question about a topic must still reach a clinician.
        raise RoutingError(f"{at}: intent '{intent}': an article topic must have `cues: override`, "
                           "so a medical question about it still goes to medical_handoff")
    return Route(intent, content, category, cues, ends_form, answered_by, line)


_current: Optional[RoutingTable] = None


def current() -> RoutingTable:
    """The table this process serves: read once, like the approved content."""
    global _current
    if _current is None:
        _current = RoutingTable.load()
    return _current


def reload() -> RoutingTable:
    """Read the table again (``make reload``); on error keep the previous one and raise."""
    global _current
    fresh = RoutingTable.load()
    _current = fresh
    return fresh
