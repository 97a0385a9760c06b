"""The commands editors run: ``python -m editorial check`` and the content report."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

from editor_support import (  # noqa: F401 - project_copy is a fixture
    ROOT, VALID_FORBIDDEN, add_examples, project_copy, remove_entry, set_field,
)
from editorial.project import Project
from editorial.report import write_report

APPROVED = Path("content/approved.yml")


def run_check(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "editorial", "check", "--root", str(root), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_check_passes_with_exit_0_on_a_good_copy(project_copy):
    (project_copy / "content/forbidden_claims.yml").write_text(VALID_FORBIDDEN)
    done = run_check(project_copy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "CONTENT CHECKS PASSED" in done.stdout and "ERROR" not in done.stdout


def test_check_prints_every_error_and_exits_1(project_copy):
    (project_copy / "content/forbidden_claims.yml").write_text(VALID_FORBIDDEN)
    remove_entry(project_copy / APPROVED, "goodbye")
    set_field(project_copy / APPROVED, "dose", "version", "two")
    set_field(project_copy / APPROVED, "location", "text", "Consultations cost $99.")
    done = run_check(project_copy)
    assert done.returncode == 1
    errors = [line for line in done.stdout.splitlines() if line.startswith("ERROR")]
    assert any("content/routing.yml" in e and "intent 'goodbye'" in e for e in errors)
    assert any(re.search(r"content/approved\.yml:\d+ +entry 'dose': field 'version'", e) for e in errors)
    assert any("entry 'location'" in e and "No prices" in e for e in errors)
    findings = [line for line in done.stdout.splitlines() if line.startswith(("ERROR", "WARNING"))]
    assert done.stdout.count("What to do:") == len(findings)
    assert "CONTENT CHECKS FAILED" in done.stdout and "Nothing has changed for visitors" in done.stdout


def test_warnings_alone_do_not_fail(project_copy):
    (project_copy / "content/forbidden_claims.yml").write_text(VALID_FORBIDDEN)
    done = run_check(project_copy, "--today", "2027-05-20")  # every review_due is 2027-05-27 or later
    assert done.returncode == 0, done.stdout
    assert "WARNING" in done.stdout and "review_due" in done.stdout


def test_check_uses_the_approved_file_it_is_given(project_copy, tmp_path):
    other = tmp_path / "other.yml"
    other.write_text((project_copy / APPROVED).read_text().replace("\ngreeting:\n", "\ngreetings:\n"))
    done = run_check(project_copy, "--approved", str(other))
    assert done.returncode == 1 and "entry 'greetings'" in done.stdout and str(other) in done.stdout


# --- the content report ---------------------------------------------------------------

def test_report_lists_every_entry_with_record_and_questions(project_copy, tmp_path):
    project = Project(project_copy)
    written = write_report(project, tmp_path / "reports")
    page = written["html"].read_text()
    md = written["md"].read_text()
    for cid, entry in project.entries.items():
        assert f'id="{cid}"' in page and f"`{cid}`" in md
        assert html.escape(entry.approved_by) in page
    # session_length: record, the intent that leads to it, a few example questions, the buttons.
    section = page[page.index('id="session_length"'):page.index('id="multiple_sessions"')]
    assert "2027-05-27" in section and "<th>Version</th><td>1</td>" in section
    assert "<code>session_length</code>, answered by utter_answer" in section
    assert section.count("<li>\u201c") >= 5
    assert "How long is a session?" in section  # reached from other entries' buttons
    # Crisis: reached through the domain response, with the rule named.
    crisis = md[md.index("## `crisis`"):]
    assert "utter_crisis" in crisis.split("## ")[1] and "crisis language gets the crisis reply" in crisis
    # The clinic's details are filled in as visitors see them.
    assert "not yet configured" in page


def test_report_escapes_what_editors_type(project_copy, tmp_path):
    add_examples(project_copy / "data/nlu/small_talk.yml", "thanks", ["<script>alert('x')</script> thx"])
    set_field(project_copy / APPROVED, "thanks", "text", "\"You're welcome <b>friend</b> | *really*\"")
    written = write_report(Project(project_copy), tmp_path / "r", per_intent=200)
    page = written["html"].read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert "<b>friend</b>" not in page and "&lt;b&gt;friend&lt;/b&gt;" in page
    md = written["md"].read_text()
    assert "<script>" not in md and "\\<b\\>friend\\</b\\> \\| \\*really\\*" in md


def test_report_command_writes_both_files(project_copy, tmp_path):
    done = subprocess.run([sys.executable, "-m", "editorial.report", "--root", str(project_copy),
                           "--out", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out/content-report.html").is_file() and (tmp_path / "out/content-report.md").is_file()
    assert "Wrote" in done.stdout


def test_makefile_targets_use_the_editorial_package():
    makefile = (ROOT / "Makefile").read_text()
    assert "\t$(PY) -m editorial.report\n" in makefile
    assert "CLINIC_FOLLOW_RUN=1 scripts/reload.sh\n" in makefile and "\tscripts/validate.sh\n" in makefile
    assert "run-prod: $(MODEL) go-live-check" in makefile
    assert "rasa data validate --fail-on-warnings" in (ROOT / "scripts/validate.sh").read_text()
