"""Approved content: load, check and render the clinic's approved wording.

Every sentence the assistant says about ketamine or treatment lives in
``content/approved.yml``. This module is the only reader of that file: the
action server, the Rasa server's response generator, the validators, the
content report and the staff console all go through it, so an entry means the
same thing everywhere.

An entry is shown only while it is approved and not past ``review_due``.
Anything else is withheld: the visitor gets the ``staff_handoff`` entry and
the log says which entry was withheld, so nothing unapproved reaches a visitor.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

import jsonschema
import yaml

from clinic import settings

logger = logging.getLogger(__name__)

# Read when this module is imported: a process serves one file for its lifetime.
APPROVED_PATH = settings.get_path("APPROVED_CONTENT")
CLINIC_PATH = settings.get_path("CLINIC_CONFIG")

# Ids the loader insists on, whatever the routing table says: the safety replies
# and the message shown instead of a withheld entry. Every id the routing table
# and the domain name is checked by `make validate` (editorial/checks.py).
REQUIRED_IDS = ("crisis", "distress", "fallback", "medical_handoff", "staff_handoff")

# Shown when an entry is withheld. It must itself be available.
WITHHELD_REPLACEMENT = "staff_handoff"
# Never withheld: visitors in danger always get the crisis resources, even if
# the review date has slipped (validation fails loudly long before that).
ALWAYS_SHOWN = frozenset({"crisis"})

# Placeholders an action fills in at run time (not clinic configuration).
RUNTIME_FIELDS = frozenset({"callback_name", "contact_masked", "callback_time", "staff_name"})
CLINIC_FIELDS = ("name", "city", "phone", "email", "address", "hours", "booking_url")

ENTRY_SCHEMA: Dict[str, Any] = {
    "type": "object",
    "required": ["text", "version", "approved_by", "approved_on", "review_due", "source"],
    "additionalProperties": False,
    "properties": {
        "text": {"type": "string", "minLength": 1},
        "version": {"type": "integer", "minimum": 1},
        "approved_by": {"type": "string", "minLength": 2},
        "approved_on": {"type": "string", "format": "date"},
        "review_due": {"type": "string", "format": "date"},
        "source": {"type": "string", "minLength": 1},
        "buttons": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["title", "payload"],
                "additionalProperties": False,
                "properties": {
                    "title": {"type": "string", "minLength": 1},
                    "payload": {"type": "string", "pattern": r"^/[a-z_]+$"},
                },
            },
        },
    },
}
CLINIC_SCHEMA: Dict[str, Any] = {
    "type": "object",
    "required": list(CLINIC_FIELDS),
    "additionalProperties": False,
    "properties": {name: {"type": "string", "minLength": 1} for name in CLINIC_FIELDS},
}
CONTENT_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class ContentError(ValueError):
    """The approved-content file is malformed; the message names the entry."""


@dataclass(frozen=True)
class Entry:
    """One approved text and its approval record."""

    content_id: str
    text: str
    version: int
    approved_by: str
    approved_on: dt.date
    review_due: dt.date
    source: str
    buttons: Tuple[Mapping[str, str], ...] = ()

    def is_current(self, today: Optional[dt.date] = None) -> bool:
        """True while the entry may be shown (on or before its review date)."""
        return (today or dt.date.today()) <= self.review_due

    def placeholders(self) -> List[str]:
        """Names of the ``{placeholders}`` the text uses."""
        return [name for _, name, _, _ in string.Formatter().parse(self.text) if name]


@dataclass(frozen=True)
class Message:
    """A rendered message, ready for ``dispatcher.utter_message(**message.as_kwargs())``."""

    content_id: str
    content_version: int
    text: str
    buttons: Tuple[Mapping[str, str], ...] = field(default=())

    def as_kwargs(self) -> Dict[str, Any]:
        kwargs: Dict[str, Any] = {
            "text": self.text,
            "content_id": self.content_id,
            "content_version": self.content_version,
        }
        if self.buttons:
            kwargs["buttons"] = [dict(b) for b in self.buttons]
        return kwargs


def _read_yaml(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except FileNotFoundError as e:
        raise ContentError(f"{path}: file not found") from e
    except yaml.YAMLError as e:
        raise ContentError(f"{path}: not valid YAML: {e}") from e


def _schema_error(path: Path, where: str, error: jsonschema.ValidationError) -> ContentError:
    location = ".".join(str(p) for p in error.absolute_path)
    field_name = f" field '{location}'" if location else ""
    return ContentError(f"{path}: entry '{where}'{field_name}: {error.message}")


def _as_date(value: Any) -> str:
    # YAML reads 2026-11-27 as a date; the schema checks the ISO string form.
    return value.isoformat() if isinstance(value, dt.date) else value


def parse_entry(path: Path, content_id: Any, raw: Any) -> Entry:
    """One entry of the file, checked against the schema; :class:`ContentError` names what is wrong."""
    if not isinstance(content_id, str) or not CONTENT_ID.match(content_id):
        raise ContentError(
            f"{path}: entry '{content_id}': ids are lower_case_with_underscores"
        )
    if not isinstance(raw, dict):
        raise ContentError(f"{path}: entry '{content_id}': expected the fields text, version, ...")
    data = dict(raw)
    for key in ("approved_on", "review_due"):
        if key in data:
            data[key] = _as_date(data[key])
    validator = jsonschema.Draft7Validator(ENTRY_SCHEMA, format_checker=jsonschema.FormatChecker())
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        raise _schema_error(path, content_id, error)
    entry = Entry(
        content_id=content_id,
        text=" ".join(data["text"].split()),
        version=data["version"],
        approved_by=data["approved_by"],
        approved_on=dt.date.fromisoformat(data["approved_on"]),
        review_due=dt.date.fromisoformat(data["review_due"]),
        source=data["source"],
        buttons=tuple(data.get("buttons") or ()),
    )
    if entry.review_due < entry.approved_on:
        raise ContentError(f"{path}: entry '{content_id}': review_due is before approved_on")
    unknown = set(entry.placeholders()) - set(CLINIC_FIELDS) - RUNTIME_FIELDS
    if unknown:
        raise ContentError(
            f"{path}: entry '{content_id}': unknown placeholder(s) "
            f"{', '.join('{' + u + '}' for u in sorted(unknown))}; "
            f"use one of {', '.join('{' + f + '}' for f in CLINIC_FIELDS)}"
        )
    return entry


def load_clinic(path: Optional[Path | str] = None) -> Dict[str, str]:
    """The clinic's contact details (``content/clinic.yml``), checked against the schema."""
    path = Path(path or CLINIC_PATH)
    clinic = _read_yaml(path)
    validator = jsonschema.Draft7Validator(CLINIC_SCHEMA)
    error = jsonschema.exceptions.best_match(validator.iter_errors(clinic))
    if error is not None:
        raise _schema_error(path, "clinic", error)
    return dict(clinic)


# A value of content/clinic.yml the clinic has not filled in yet: "[clinic phone number — not yet configured]".
PLACEHOLDER = re.compile(r"\[[^\]]*\]|not yet configured", re.IGNORECASE)


def placeholder_fields(clinic: Mapping[str, str]) -> List[str]:
    """The clinic details that are still placeholders (must be filled in before going live)."""
    return [name for name, value in clinic.items() if PLACEHOLDER.search(str(value))]


class ApprovedContent:
    """The approved entries and the clinic's contact details, checked on load."""

    def __init__(self, entries: Mapping[str, Entry], clinic: Mapping[str, str]) -> None:
        self.entries = dict(entries)
        self.clinic = dict(clinic)

    @classmethod
    def load(
        cls, path: Optional[Path | str] = None, clinic_path: Optional[Path | str] = None
    ) -> "ApprovedContent":
        """Read and check both files; raise :class:`ContentError` naming the bad entry."""
        path, clinic_path = Path(path or APPROVED_PATH), Path(clinic_path or CLINIC_PATH)
        raw = _read_yaml(path)
        if not isinstance(raw, dict) or not raw:
            raise ContentError(f"{path}: expected one entry per content id at the top level")
        entries = {cid: parse_entry(path, cid, body) for cid, body in raw.items()}
        missing = [cid for cid in REQUIRED_IDS if cid not in entries]
        if missing:
            raise ContentError(f"{path}: missing entries for required content ids: {', '.join(missing)}")
        return cls(entries, load_clinic(clinic_path))

    def ids(self) -> Iterable[str]:
        return self.entries.keys()

    def available(self, content_id: str, today: Optional[dt.date] = None) -> Optional[Entry]:
        """The entry when it may be shown today, else ``None`` (and a log line saying why)."""
        entry = self.entries.get(content_id)
        if entry is None:
            logger.error("Approved content '%s' is missing: visitor handed to staff.", content_id)
            return None
        if not entry.is_current(today):
            if content_id in ALWAYS_SHOWN:
                logger.error(
                    "Approved content '%s' is past its review date (%s) but is a safety "
                    "message and is still shown. Review it now.", content_id, entry.review_due)
                return entry
            logger.error(
                "Approved content '%s' v%s is past its review date (%s): withheld, "
                "visitor handed to staff.", content_id, entry.version, entry.review_due)
            return None
        return entry

    def render(
        self,
        content_id: str,
        values: Optional[Mapping[str, Any]] = None,
        today: Optional[dt.date] = None,
    ) -> Message:
        """The message for ``content_id``, or the staff hand-off when it is withheld."""
        entry = self.available(content_id, today)
        if entry is None:
            entry = self.entries[WITHHELD_REPLACEMENT]
        fields = {**self.clinic, **{k: v for k, v in (values or {}).items() if v is not None}}
        text = entry.text.format_map(_Missing(fields))
        return Message(entry.content_id, entry.version, text, entry.buttons)


class _Missing(dict):
    """Leaves an unfilled runtime placeholder visible rather than failing a reply."""

    def __missing__(self, key: str) -> str:
        logger.warning("No value for placeholder {%s}", key)
        return "{" + key + "}"


_current: Optional[ApprovedContent] = None


def current() -> ApprovedContent:
    """The content this process serves: loaded once, replaced only by :func:`reload`.

    Content is not re-read on every change of the file: an edit reaches visitors
    only after ``make reload`` has validated it, so a half-finished edit never does.
    """
    global _current
    if _current is None:
        _current = ApprovedContent.load()
    return _current


def reload() -> ApprovedContent:
    """Load the files again; on error keep serving the previous content and raise."""
    global _current
    fresh = ApprovedContent.load()
    _current = fresh
    logger.info("Approved content reloaded: %d entries.", len(fresh.entries))
    return fresh
