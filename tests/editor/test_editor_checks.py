"""Each class of editing mistake, made in a copy of the project, is caught with a useful message.

Every test compares the copy's findings before and after the mistake, so it
checks exactly the error that mistake causes: which file, which entry, what to do.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from editor_support import (  # noqa: F401 - project_copy is a fixture
    VALID_FORBIDDEN, add_examples, append_entry, check, findings, keep_examples, keep_examples_in_all_files,
    new_errors,
    project_copy, remove_entry, replace, set_field,
)

APPROVED = Path("content/approved.yml")


def only(found: list, what: str):
    assert len(found) == 1, f"expected one {what}, got: {[f.format() for f in found]}"
    return found[0]


# --- approved content -----------------------------------------------------------

def test_missing_entry_is_reported_once_where_the_routing_table_names_it(project_copy):
    before = check(project_copy)
    remove_entry(project_copy / APPROVED, "location")
    error = only(new_errors(before, check(project_copy)), "error")
    assert error.code == "content.unknown_in_routing" and error.file == "content/routing.yml"
    assert error.subject == "intent 'location'" and "'location'" in error.problem
    assert "Add an entry `location:`" in error.fix
    line = (project_copy / "content/routing.yml").read_text().splitlines()[error.line - 1]
    assert line.strip().startswith("location:")


def test_missing_safety_entry_the_servers_insist_on(project_copy):
    before = check(project_copy)
    remove_entry(project_copy / APPROVED, "crisis")
    replace(project_copy / "content/routing.yml", "{content: crisis,", "{content: distress,")
    replace(project_copy / "domain.yml", "metadata: {content_id: crisis}", "metadata: {content_id: distress}")
    errors = new_errors(before, check(project_copy))
    missing = only([f for f in errors if f.code == "content.missing_required"], "missing entry")
    assert missing.subject == "entry 'crisis'" and "refuse to start" in missing.problem


def test_expired_entry_is_an_error(project_copy):
    before = check(project_copy)
    set_field(project_copy / APPROVED, "session_length", "approved_on", "2025-01-10")
    set_field(project_copy / APPROVED, "session_length", "review_due", "2025-07-10")
    error = only(new_errors(before, check(project_copy)), "error")
    assert error.code == "content.expired" and error.subject == "entry 'session_length'"
    assert "2025-07-10 has passed" in error.problem and "handed to staff" in error.problem
    text = (project_copy / APPROVED).read_text().splitlines()
    assert text[error.line - 1].strip() == "review_due: 2025-07-10"


def test_expired_crisis_entry_says_it_is_still_shown(project_copy):
    result = check(project_copy, today=dt.date(2099, 1, 1))
    crisis = only(findings(result, "content.expired", subject="entry 'crisis'"), "expired crisis")
    assert "still shown" in crisis.problem


def test_review_due_within_30_days_is_a_warning_not_an_error(project_copy):
    before = check(project_copy)
    today = dt.date.today()
    set_field(project_copy / APPROVED, "dose", "approved_on", (today - dt.timedelta(days=100)).isoformat())
    set_field(project_copy / APPROVED, "dose", "review_due", (today + dt.timedelta(days=12)).isoformat())
    after = check(project_copy)
    assert not new_errors(before, after)
    warning = only(findings(after, "content.review_soon", subject="entry 'dose'"), "warning")
    assert warning.level == "warning" and "in 12 days" in warning.problem


def test_malformed_entries_are_all_reported_with_their_field(project_copy):
    before = check(project_copy)
    set_field(project_copy / APPROVED, "session_length", "version", "two")
    set_field(project_copy / APPROVED, "dose", "approved_on", "27/11/2026")
    errors = new_errors(before, check(project_copy))
    version = only([f for f in errors if f.subject == "entry 'session_length'"], "session_length error")
    assert version.code == "content.invalid_entry" and "field 'version'" in version.problem
    date = only([f for f in errors if f.subject == "entry 'dose'"], "dose error")
    assert "field 'approved_on'" in date.problem and "YYYY-MM-DD" in date.fix


def test_yaml_syntax_error_names_the_line(project_copy):
    set_field(project_copy / APPROVED, "thanks", "text", "You're welcome: anything else?")
    result = check(project_copy)
    error = only(findings(result, "file.unreadable", file="content/approved.yml"), "unreadable")
    lines = (project_copy / APPROVED).read_text().splitlines()
    assert "welcome: anything" in lines[error.line - 1]
    assert "quotes" in error.fix


def indent_line(path: Path, contains: str, spaces: int) -> int:
    """Re-indent the line containing ``contains`` by ``spaces``; its line number."""
    lines = path.read_text().splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines) if contains in line)
    lines[number] = " " * spaces + lines[number].lstrip(" ")
    path.write_text("".join(lines))
    return number + 1


def test_a_mis_indented_text_line_is_reported_on_that_line_with_the_rule(project_copy):
    lines = (project_copy / APPROVED).read_text().splitlines()
    start = lines.index("session_length:")
    first_text_line = next(line for line in lines[start:] if line.startswith("    "))  # under `text: >-`
    number = indent_line(project_copy / APPROVED, first_text_line, 2)
    error = only(findings(check(project_copy), "file.unreadable", file="content/approved.yml"), "unreadable")
    assert error.line == number
    assert "indented by 4 spaces" in error.fix and "quotes" not in error.fix


def test_a_mis_indented_field_is_reported_on_that_line_with_the_rule(project_copy):
    lines = (project_copy / APPROVED).read_text().splitlines()
    start = lines.index("session_length:")
    version = next(i for i in range(start, len(lines)) if lines[i].startswith("  version:"))
    lines[version] = "   " + lines[version].lstrip()
    (project_copy / APPROVED).write_text("\n".join(lines) + "\n")
    error = only(findings(check(project_copy), "file.unreadable", file="content/approved.yml"), "unreadable")
    assert error.line == version + 1
    assert "fields of an entry are indented by 2 spaces" in error.fix


def test_a_text_changed_without_a_raised_version_fails(project_copy):
    from editorial.project import Project

    Project(project_copy).write_fingerprint()  # what `make validate` leaves when it passes (no git here)
    before = check(project_copy)
    set_field(project_copy / APPROVED, "location", "text", "A reworded location text.")
    error = only(new_errors(before, check(project_copy)), "error")
    assert error.code == "content.version_not_raised" and error.subject == "entry 'location'"
    assert (project_copy / APPROVED).read_text().splitlines()[error.line - 1].strip().startswith("version:")
    old = Project(project_copy).entries["location"].version
    assert f"Raise version to {old + 1}" in error.fix
    set_field(project_copy / APPROVED, "location", "version", str(old + 1))
    assert not new_errors(before, check(project_copy))


def test_the_baseline_is_the_last_commit_in_a_git_work_tree(project_copy):
    import subprocess

    git = ["git", "-C", str(project_copy), "-c", "user.email=t@example.org", "-c", "user.name=t"]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "content/approved.yml"], check=True)
    subprocess.run(git + ["commit", "-qm", "wording"], check=True)
    before = check(project_copy)
    set_field(project_copy / APPROVED, "greeting", "text", "Hello again, reworded.")
    error = only(new_errors(before, check(project_copy)), "error")
    assert error.code == "content.version_not_raised" and "git show HEAD:content/approved.yml" in error.problem


def test_go_live_refuses_placeholders_and_pending_sign_offs(project_copy):
    from editorial.checks import run_checks
    from editorial.project import Project

    (project_copy / "content/clinic.yml").write_text(
        (project_copy / "content/clinic.yml").read_text().replace(
            'phone: "[clinic phone number \u2014 not yet configured]"', 'phone: "(530) 000-0000"'))
    plain = check(project_copy)
    assert not findings(plain, "golive.placeholder") and findings(plain, "clinic.placeholder")
    live = run_checks(Project(project_copy), go_live=True)
    fields = {f.subject for f in findings(live, "golive.placeholder")}
    assert "field 'email'" in fields and "field 'phone'" not in fields
    assert findings(live, "golive.signoff_pending") and not live.ok


def test_entry_copied_and_not_renamed(project_copy):
    before = check(project_copy)
    block = remove_entry(project_copy / APPROVED, "thanks")
    with open(project_copy / APPROVED, "a") as f:
        f.write(block + "\n" + block)
    error = only(new_errors(before, check(project_copy)), "error")
    assert error.code == "file.duplicate_key" and "'thanks'" in error.subject


# --- content ids used by the code, the domain and the rules ----------------------------

def test_routing_line_names_an_unknown_entry(project_copy):
    before = check(project_copy)
    replace(project_copy / "content/routing.yml", "{content: contact,", "{content: contact_details,")
    error = only(new_errors(before, check(project_copy)), "error")
    assert error.code == "content.unknown_in_routing" and error.file == "content/routing.yml"
    assert error.subject == "intent 'contact'" and "'contact_details'" in error.problem
    line = (project_copy / "content/routing.yml").read_text().splitlines()[error.line - 1]
    assert "contact_details" in line


def test_role_names_an_unknown_entry_once(project_copy):
    before = check(project_copy)
    replace(project_copy / "content/routing.yml", "callback_contact_invalid: callback_contact_invalid",
            "callback_contact_invalid: callback_contact_wrong")
    error = only(new_errors(before, check(project_copy)), "error")
    assert error.code == "content.misspelt_entry" and error.subject == "entry 'callback_contact_invalid'"
    assert "'callback_contact_wrong'" in error.problem and "content_roles.callback_contact_invalid" in error.problem


def test_domain_response_names_an_unknown_entry(project_copy):
    before = check(project_copy)
    replace(project_copy / "domain.yml", "metadata: {content_id: callback_name}", "metadata: {content_id: callback_nam}")
    error = only(new_errors(before, check(project_copy)), "error")
    # One message: the entry nothing uses any more, and the response naming an id with no entry.
    assert error.code == "content.misspelt_entry" and error.subject == "entry 'callback_name'"
    assert "domain.yml:" in error.problem and "response 'utter_ask_callback_name'" in error.problem
    assert "'callback_nam'" in error.problem


def test_domain_response_names_an_unknown_entry_that_is_used_elsewhere(project_copy):
    before = check(project_copy)
    replace(project_copy / "domain.yml", "metadata: {content_id: fallback}", "metadata: {content_id: falback}")
    error = only(new_errors(before, check(project_copy)), "error")
    assert error.code == "content.unknown_in_domain" and error.file == "domain.yml"
    assert error.subject == "response 'utter_default'" and "did you mean 'fallback'" in error.problem


def test_domain_response_without_content_id(project_copy):
    before = check(project_copy)
    replace(project_copy / "domain.yml", "responses:\n", "responses:\n  utter_hello:\n    - text: Hi there!\n")
    error = only(new_errors(before, check(project_copy)), "error")
    assert error.code == "content.response_without_id" and error.subject == "response 'utter_hello'"


def test_entry_not_used_anywhere(project_copy):
    before = check(project_copy)
    append_entry(project_copy / APPROVED, "parking", "Parking is free behind the building.")
    error = only(new_errors(before, check(project_copy)), "error")
    assert error.code == "content.unused" and error.subject == "entry 'parking'"
    assert "EDITING.md" in error.fix


def test_misspelt_entry_id_gives_one_message_saying_what_to_rename(project_copy):
    before = check(project_copy)
    replace(project_copy / APPROVED, "\nsession_length:\n", "\nsession_lenght:\n")
    error = only(new_errors(before, check(project_copy)), "error")
    assert error.code == "content.misspelt_entry" and error.file == "content/approved.yml"
    assert error.subject == "entry 'session_lenght'" and "Rename the entry to `session_length:`" in error.fix
    assert (project_copy / APPROVED).read_text().splitlines()[error.line - 1] == "session_lenght:"


def test_new_topic_without_its_routing_line_then_without_the_generated_lists(project_copy):
    """Entry and examples but no line in the routing table; then the line but not the command."""
    from clinic.routing import RoutingTable
    from editorial.generated import differences

    before = check(project_copy)
    with open(project_copy / "data/nlu/topics.yml", "a") as f:
        f.write("\n- intent: parking\n  examples: |\n"
                + "".join(f"    - where do I park at the ketamine clinic {i}\n" for i in range(30)))
    append_entry(project_copy / APPROVED, "parking", "Parking is free behind the building.")
    errors = new_errors(before, check(project_copy))
    assert sorted(f.code for f in errors) == ["content.unused", "nlu.unknown_intent"], [f.format() for f in errors]
    assert all("routing.yml" in f.fix for f in errors)
    replace(project_copy / "content/routing.yml", "  # small talk\n",
            "  parking: {content: parking, category: article_topic, cues: override, ends_form: yes}\n  # small talk\n")
    errors = new_errors(before, check(project_copy))
    assert errors and {f.code for f in errors} == {"routing.generated_out_of_date"}
    assert {f.file for f in errors} == {"domain.yml", "data/rules/answers.yml", "data/rules/form_exits.yml"}
    differences(project_copy, RoutingTable.load(project_copy / "content/routing.yml"), write=True)
    assert not new_errors(before, check(project_copy))


# --- training examples -------------------------------------------------------------

def test_same_example_under_two_intents_ignoring_case_and_spaces(project_copy):
    before = check(project_copy)
    add_examples(project_copy / "data/nlu/topics.yml", "dose", ["How LONG is an   infusion Session"])
    error = only(new_errors(before, check(project_copy)), "error")
    assert error.code == "nlu.duplicate_example" and error.file == "data/nlu/topics.yml"
    assert "dose (data/nlu/topics.yml:" in error.problem and "session_length (data/nlu/topics.yml:" in error.problem


def test_same_example_under_two_intents_ignoring_punctuation(project_copy):
    before = check(project_copy)
    add_examples(project_copy / "data/nlu/small_talk.yml", "thanks", ["How long is an infusion session?!"])
    error = only(new_errors(before, check(project_copy)), "error")
    assert error.code == "nlu.duplicate_example" and "thanks (" in error.problem


def test_too_few_examples_default_and_per_intent(project_copy):
    before = check(project_copy)
    keep_examples_in_all_files(project_copy, "thanks", 4)
    keep_examples_in_all_files(project_copy, "medical_question", 79)
    keep_examples_in_all_files(project_copy, "location", 29)
    errors = {f.subject: f for f in new_errors(before, check(project_copy)) if f.code == "nlu.too_few_examples"}
    assert set(errors) == {"intent 'thanks'", "intent 'medical_question'", "intent 'location'"}
    assert "has 4 different examples; at least 10" in errors["intent 'thanks'"].problem
    assert "at least 80" in errors["intent 'medical_question'"].problem
    assert "at least 30" in errors["intent 'location'"].problem and "article topic" in errors["intent 'location'"].problem
    assert "Add 6 or more" in errors["intent 'thanks'"].fix


def test_minimums_come_from_the_config_file(project_copy):
    before = check(project_copy)
    replace(project_copy / "editorial/minimums.yml", "  medical_question: 80\n", "  medical_question: 80\n  greeting: 400\n")
    error = only(new_errors(before, check(project_copy)), "error")
    assert error.subject == "intent 'greeting'" and "at least 400" in error.problem
    assert "editorial/minimums.yml" in error.problem


def test_exemption_for_a_component_no_longer_in_the_pipeline(project_copy):
    before = check(project_copy)
    replace(project_copy / "editorial/minimums.yml", "crisis: addons.crisis_detector.CrisisDetector",
            "crisis: addons.gone.Gone")
    errors = new_errors(before, check(project_copy))
    assert any(f.code == "minimums.stale_exemption" and "'crisis'" in f.subject for f in errors)


def test_examples_for_an_intent_missing_from_the_domain(project_copy):
    before = check(project_copy)
    with open(project_copy / "data/nlu/topics.yml", "a") as f:
        f.write("\n- intent: parkng\n  examples: |\n    - where can I park\n")
    errors = new_errors(before, check(project_copy))
    assert any(f.code == "nlu.unknown_intent" and "'parkng'" in f.subject for f in errors)


# --- rules and stories ---------------------------------------------------------------

def test_story_with_unknown_intent_action_form_and_slot(project_copy):
    before = check(project_copy)
    (project_copy / "data/stories").mkdir(exist_ok=True)
    (project_copy / "data/stories/new.yml").write_text(
        'version: "3.1"\nstories:\n  - story: a typo in every step\n    steps:\n'
        "      - intent: sesion_length\n      - action: utter_anwser\n"
        "      - active_loop: callback_frm\n      - slot_was_set:\n          - callback_nam: Ann\n")
    errors = {f.code: f for f in new_errors(before, check(project_copy))}
    assert set(errors) == {"flow.unknown_intent", "flow.unknown_action", "flow.unknown_form", "flow.unknown_slot"}
    for f in errors.values():
        assert f.file == "data/stories/new.yml" and f.subject == "story 'a typo in every step'"
    assert "did you mean 'session_length'" in errors["flow.unknown_intent"].problem
    assert "did you mean 'utter_answer'" in errors["flow.unknown_action"].problem
    assert errors["flow.unknown_intent"].line == 5 and errors["flow.unknown_action"].line == 6


def test_rule_condition_and_test_stories_are_checked(project_copy):
    before = check(project_copy)
    replace(project_copy / "data/rules/handoff.yml", "- callback_requested: true", "- callback_requestd: true")
    replace(project_copy / "tests/stories/test_topics.yml", "intent: session_length", "intent: session_lengths")
    errors = new_errors(before, check(project_copy))
    assert any(f.code == "flow.unknown_slot" and f.file == "data/rules/handoff.yml" for f in errors)
    assert any(f.code == "flow.unknown_intent" and f.file == "tests/stories/test_topics.yml"
               and f.subject.startswith("test story") for f in errors)


# --- forbidden claims and buttons ------------------------------------------------------

def test_forbidden_claim_in_approved_wording(project_copy):
    (project_copy / "content/forbidden_claims.yml").write_text(VALID_FORBIDDEN)
    before = check(project_copy)
    set_field(project_copy / APPROVED, "multiple_sessions", "text", "One session cures most people.")
    error = only(new_errors(before, check(project_copy)), "error")
    assert error.code == "content.forbidden_claim" and error.subject == "entry 'multiple_sessions'"
    assert '"cures"' in error.problem and "Ketamine is not a cure." in error.problem
    assert "content/forbidden_claims.yml" in error.fix


def test_forbidden_claims_list_is_editable_and_checked(project_copy):
    forbidden = project_copy / "content/forbidden_claims.yml"
    forbidden.write_text(VALID_FORBIDDEN + "- pattern: '\\bpainless\\b'\n  why: Nobody can promise that.\n"
                         "- pattern: '(unclosed'\n  why: A broken pattern.\n- pattern: 'no why'\n")
    before_text = check(project_copy)
    bad = findings(before_text, "forbidden.invalid")
    assert {f.subject for f in bad} == {"item 5 pattern '(unclosed'", "item 6"}
    set_field(project_copy / APPROVED, "session_length", "text", "Each infusion is painless and calm.")
    error = only(new_errors(before_text, check(project_copy)), "error")
    assert '"painless"' in error.problem and "Nobody can promise that." in error.problem


def test_forbidden_claim_in_a_button_title(project_copy):
    (project_copy / "content/forbidden_claims.yml").write_text(VALID_FORBIDDEN)
    before = check(project_copy)
    replace(project_copy / APPROVED, 'title: "How many sessions?"', 'title: "Guaranteed results?"')
    error = only(new_errors(before, check(project_copy)), "error")
    assert error.code == "content.forbidden_claim" and "button 'Guaranteed results?'" in error.problem


def test_button_payload_names_an_unknown_intent(project_copy):
    before = check(project_copy)
    replace(project_copy / APPROVED, "payload: /multiple_sessions", "payload: /multiple_session")
    error = only(new_errors(before, check(project_copy)), "error")
    assert error.code == "content.button_unknown_intent" and error.subject.startswith("entry 'how_fast_it_works'")
    assert "did you mean 'multiple_sessions'" in error.problem


def test_every_finding_says_where_and_what_to_do(project_copy):
    remove_entry(project_copy / APPROVED, "goodbye")
    set_field(project_copy / APPROVED, "dose", "version", "0")
    for f in check(project_copy).findings:
        text = f.format()
        assert f.file in text and f.subject in text and "What to do:" in text and f.fix


# --- lexicons ---------------------------------------------------------------------

def test_a_crisis_pattern_that_no_longer_catches_its_example_is_named(project_copy):
    before = check(project_copy)
    replace(project_copy / "content/lexicons/crisis.yml", "- i feel completely trapped in my own life",
            "- i feel completely stuck in my own life")
    error = only(new_errors(before, check(project_copy)), "error")
    assert error.code == "lexicon.example_missed" and error.file == "content/lexicons/crisis.yml"
    assert error.subject == "trapped_no_way_out" and "stuck in my own life" in error.problem


def test_a_medical_cue_that_matches_its_counter_example_is_named(project_copy):
    before = check(project_copy)
    replace(project_copy / "content/lexicons/medical.yml", "- how long until I feel better after treatment",
            "- is ketamine right for me")
    error = only(new_errors(before, check(project_copy)), "error")
    assert error.code == "lexicon.counter_example_hit" and error.subject == "personal"
