"""Helpers for the editor tests: a copy of the project to break, and small YAML edits.

Every test breaks a COPY (under pytest's tmp_path), never the real files, and
edits it the way an editor would: as text, keeping comments and layout.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path
from typing import Iterable, Optional

import pytest

from editorial.checks import Finding, Result, run_checks
from editorial.project import Project

ROOT = Path(__file__).resolve().parents[2]
# What the checks read. Python code is copied too, so a test can break it.
COPIED = ("content", "data", "domain.yml", "config.yml", "actions", "addons", "clinic", "tests/stories",
          "editorial/minimums.yml")
VALID_FORBIDDEN = """\
# Written by the tests: a known-good list, independent of edits to the real one.
- pattern: '\\bcures?\\b|\\bcured\\b'
  why: Ketamine is not a cure.
- pattern: '\\bguarantee(d|s)?\\b'
  why: "No outcome can be guaranteed."
- pattern: '\\$\\s*\\d'
  why: "No prices: cost questions go to staff."
"""


def copy_project(dst: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for item in COPIED:
        src = ROOT / item
        if src.is_dir():
            shutil.copytree(src, dst / item, ignore=ignore)
        elif src.exists():
            (dst / item).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / item)
    return dst


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


def check(root: Path, today: Optional[dt.date] = None) -> Result:
    return run_checks(Project(root), today=today)


def findings(result: Result, code: str, **match: str) -> list[Finding]:
    """Findings with ``code`` whose fields contain the given substrings."""
    out = [f for f in result.findings if f.code == code]
    for name, value in match.items():
        out = [f for f in out if value in str(getattr(f, name))]
    return out


def new_errors(before: Result, after: Result) -> list[Finding]:
    old = {(f.code, f.file, f.subject, f.problem) for f in before.errors}
    return [f for f in after.errors if (f.code, f.file, f.subject, f.problem) not in old]


def replace(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def entry_block(text: str, content_id: str) -> tuple[int, int]:
    """Start and end offsets of a top-level entry in approved.yml (up to the next top-level line)."""
    match = re.search(rf"^{re.escape(content_id)}:\s*$", text, re.MULTILINE)
    assert match, f"no entry {content_id}"
    nxt = re.compile(r"^\S", re.MULTILINE).search(text, match.end())
    return match.start(), nxt.start() if nxt else len(text)


def remove_entry(path: Path, content_id: str) -> str:
    text = path.read_text(encoding="utf-8")
    start, end = entry_block(text, content_id)
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    return text[start:end]


def set_field(path: Path, content_id: str, field: str, value: str) -> None:
    """Set one scalar field of an entry (for text, pass the whole new `text: ...` value)."""
    text = path.read_text(encoding="utf-8")
    start, end = entry_block(text, content_id)
    block = text[start:end]
    if field == "text":
        new_block, n = re.subn(r"^  text:.*?(?=^  [a-z_]+:)", f"  text: {value}\n", block,
                               count=1, flags=re.MULTILINE | re.DOTALL)
    else:
        new_block, n = re.subn(rf"^  {field}:.*$", f"  {field}: {value}", block, count=1, flags=re.MULTILINE)
    assert n == 1, f"{content_id}.{field} not found"
    path.write_text(text[:start] + new_block + text[end:], encoding="utf-8")


def add_examples(nlu_file: Path, intent: str, examples: Iterable[str]) -> None:
    text = nlu_file.read_text(encoding="utf-8")
    match = re.search(rf"^- intent: {re.escape(intent)}\n  examples: \|\n", text, re.MULTILINE)
    assert match, f"intent {intent} not in {nlu_file}"
    lines = "".join(f"    - {e}\n" for e in examples)
    nlu_file.write_text(text[:match.end()] + lines + text[match.end():], encoding="utf-8")


def keep_examples(nlu_file: Path, intent: str, keep: int) -> None:
    """Delete all but the first ``keep`` examples of ``intent``."""
    lines = nlu_file.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.rstrip() == f"- intent: {intent}")
    out, kept, i = lines[:start + 2], 0, start + 2
    while i < len(lines) and lines[i].startswith("    "):
        if kept < keep:
            out.append(lines[i])
        kept += 1
        i += 1
    nlu_file.write_text("".join(out + lines[i:]), encoding="utf-8")


def keep_examples_in_all_files(root: Path, intent: str, keep: int) -> None:
    """Leave ``intent`` with ``keep`` examples in data/nlu/ in all (the first file keeps them)."""
    for path in sorted((root / "data" / "nlu").glob("*.yml")):
        if re.search(rf"^- intent: {re.escape(intent)}$", path.read_text(encoding="utf-8"), re.MULTILINE):
            keep_examples(path, intent, keep)
            keep = 0


NEW_ENTRY = """
{cid}:
  text: {text}
  version: 1
  approved_by: Dr. Test Reviewer
  approved_on: 2026-11-01
  review_due: 2099-01-01
  source: "-"
"""


def append_entry(path: Path, cid: str, text: str = "A new approved text.") -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(NEW_ENTRY.format(cid=cid, text=text))
