"""The real project passes its own content checks (runs last: other tests work on copies).

If one of these fails, ``make validate`` fails too: the message says which file
to fix.
"""

from __future__ import annotations

from pathlib import Path

from editor_support import ROOT, check, findings, project_copy, set_field  # noqa: F401

APPROVED = Path("content/approved.yml")


def only(found: list, what: str):
    assert len(found) == 1, f"expected one {what}, got: {[f.format() for f in found]}"
    return found[0]


def test_the_project_as_it_is_has_no_errors():
    result = check(ROOT)
    assert result.ok, "\n".join(f.format() for f in result.errors)


def test_the_project_forbidden_claims_list_is_usable(project_copy):
    """The real list loads and catches a typical claim."""
    before = check(project_copy)
    assert not findings(before, "file.unreadable", file="content/forbidden_claims.yml"), \
        findings(before, "file.unreadable")[0].format()
    set_field(project_copy / APPROVED, "session_length", "text", "Relief is guaranteed after one session.")
    after = check(project_copy)
    only(findings(after, "content.forbidden_claim", subject="entry 'session_length'"), "forbidden claim")


