"""YAML reading that remembers line numbers and notices repeated keys.

Messages for editors must say *where*: every mapping read here is a
:class:`LineDict` that knows its own line and the line of each value. A key
written twice in one mapping (an entry copied and not renamed) is silently
overwritten by ordinary YAML readers; here it is recorded so the checks can
report it.
"""

from __future__ import annotations

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
