"""YAML reading that remembers line numbers and notices repeated keys.

Messages for editors must say *where*: every mapping read here is a
:class:`LineDict` that knows its own line and the line of each value. A key
written twice in one mapping (an entry copied and not renamed) is silently
overwritten by ordinary YAML readers; here it is recorded so the checks can
report it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml


class LineDict(dict):
    """A YAML mapping that knows its 1-based ``line``, each key's line and each value's line."""

    line: int = 0
    key_lines: Dict[Any, int]
    value_lines: Dict[Any, int]
    duplicates: List[tuple]

    def line_of(self, key: Any) -> int:
        """The line the key is written on."""
        return self.key_lines.get(key, self.line)


class LineList(list):
    """A YAML sequence that knows its ``line`` and each item's line in ``item_lines``."""

    line: int = 0
    item_lines: List[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode):
    data = LineDict()
    data.line = node.start_mark.line + 1
    data.key_lines = {}
    data.value_lines = {}
    data.duplicates = []
    yield data
    loader.flatten_mapping(node)
    seen: Dict[Any, int] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            key = str(key)
        line = key_node.start_mark.line + 1
        if key in seen:
            data.duplicates.append((key, seen[key], line))
        seen[key] = line
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = line
        data.value_lines[key] = value_node.start_mark.line + 1


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode):
    data = LineList()
    data.line = node.start_mark.line + 1
    data.item_lines = [item.start_mark.line + 1 for item in node.value]
    yield data
    data.extend(loader.construct_object(item, deep=True) for item in node.value)


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


@dataclass
class YamlFile:
    """One file read: its data (``None`` when unreadable) and the reason it is unreadable."""

    path: Path
    data: Any = None
    error: Optional[str] = None
    error_line: Optional[int] = None
    text: str = ""


def read(path: Path) -> YamlFile:
    """Read ``path``; never raises for a missing or invalid file (the error is recorded)."""
    result = YamlFile(path)
    try:
        result.text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        result.error = "file not found"
        return result
    except UnicodeDecodeError as e:
        result.error = f"not UTF-8 text ({e.reason})"
        return result
    try:
        result.data = yaml.load(result.text, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        result.error_line = mark.line + 1 if mark is not None else None
        problem = getattr(e, "problem", None) or str(e)
        context = getattr(e, "context", None)
        column = f" at column {mark.column + 1}" if mark is not None else ""
        result.error = f"not valid YAML{column}: {problem}" + (f" ({context})" if context else "")
        result.data = None
    return result


def all_duplicates(data: Any, prefix: str = "") -> List[tuple]:
    """``(key path, first line, repeated line)`` for every key written twice, anywhere."""
    found: List[tuple] = []
    if isinstance(data, LineDict):
        for key, first, again in data.duplicates:
            found.append((f"{prefix}{key}", first, again))
        for key, value in data.items():
            found.extend(all_duplicates(value, f"{prefix}{key}."))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found.extend(all_duplicates(value, prefix))
    return found


# --- the layout of content/approved.yml, for messages that point at the right line ------------
_FIELD = re.compile(r"^  [a-z_]+:( |$)")
_ENTRY = re.compile(r"^[a-z][a-z0-9_]*:\s*(#.*)?$")
_BLOCK = re.compile(r"^  text: *[>|][-+]?\s*(#.*)?$")
_KNOWN_FIELD = re.compile(r"^(text|version|approved_by|approved_on|review_due|source|buttons):( |$)")


def approved_layout_problem(text: str) -> Optional[tuple]:
    """``(line, problem, rule)`` for the first line of an approved-content file that breaks its layout.

    PyYAML reports an indentation mistake where it gives up, often a line or two
    later, with a message about "simple keys" that does not help an editor. The
    layout of that file is simple, so the first line that breaks it is found here:

    * an entry starts at the left margin: ``session_length:``;
    * its fields are indented by 2 spaces: ``  version: 2``;
    * the lines of a text written ``text: >-`` are indented by 4 spaces;
    * buttons are ``    - title: ...`` (4 spaces) and ``      payload: ...`` (6 spaces).
    """
    in_text = in_buttons = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if not stripped or stripped.startswith("#"):
            continue
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            return number, "the line is indented with a tab", "YAML indents with spaces only: replace the tab"
        if indent == 0:
            if not _ENTRY.match(line):
                rule = ("a line at the left margin starts an entry (`content_id:`); "
                        + ("the lines of a text are indented by 4 spaces" if in_text else
                           "fields are indented by 2 spaces"))
                return number, "this line is not indented", rule
            in_text = in_buttons = False
            continue
        if indent == 2:
            if not _FIELD.match(line):
                rule = ("the lines of a text written `text: >-` are indented by 4 spaces, 2 more than `text:`"
                        if in_text else "fields of an entry are indented by 2 spaces and written `name: value`")
                return number, "this line is indented by 2 spaces but is not a field", rule
            in_text = bool(_BLOCK.match(line))
            in_buttons = line.startswith("  buttons:")
            continue
        if in_text and indent < 4 and _KNOWN_FIELD.match(stripped):
            return (number, f"the field on this line is indented by {indent} spaces",
                    "fields of an entry are indented by 2 spaces, like `text:` above it")
        if in_text:
            if indent != 4:
                return (number, f"this line of the text is indented by {indent} spaces",
                        "the lines of a text written `text: >-` are indented by 4 spaces, like the text's first line")
            continue
        if in_buttons:
            if (indent == 4 and stripped.startswith("- ")) or (indent == 6 and not stripped.startswith("- ")):
                continue
            return (number, f"this line of the buttons is indented by {indent} spaces",
                    "each button is `    - title: ...` (4 spaces) then `      payload: /intent` (6 spaces)")
        return (number, f"this line is indented by {indent} spaces",
                "fields of an entry are indented by 2 spaces; only the lines of a `text: >-` go deeper (4 spaces)")
    return None
