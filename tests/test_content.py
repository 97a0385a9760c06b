"""The approved-content file: schema checks that name the bad entry, expiry, rendering."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
import yaml

from clinic.content import (
    APPROVED_PATH, CLINIC_PATH, REQUIRED_IDS, ApprovedContent, ContentError,
)


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load(APPROVED_PATH.read_text())


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "approved.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_the_project_file_loads_with_every_required_id():
    content = ApprovedContent.load()
    assert set(REQUIRED_IDS) <= set(content.ids())
    for entry in content.entries.values():
        # Not "today": the test must not start failing on a review date (make validate reports those).
        assert entry.is_current(entry.approved_on), f"{entry.content_id} expires before it was approved"
        assert not entry.is_current(entry.review_due + dt.timedelta(days=1))


def test_placeholders_are_filled_from_clinic_config():
    content = ApprovedContent.load()
    clinic = yaml.safe_load(CLINIC_PATH.read_text())
    text = content.render("contact").text
    assert clinic["phone"] in text and clinic["email"] in text
    assert "{" not in text


@pytest.mark.parametrize("breakage, message", [
    (lambda d: d["dose"].pop("approved_by"), "entry 'dose'"),
    (lambda d: d["session_length"].update(review_due="next spring"), "entry 'session_length' field 'review_due'"),
    (lambda d: d["location"].update(version="two"), "entry 'location' field 'version'"),
    (lambda d: d["greeting"].update(text="Hi {first_name}"), "entry 'greeting': unknown placeholder(s) {first_name}"),
    (lambda d: d["fallback"]["buttons"].append({"title": "x", "payload": "not a payload"}), "entry 'fallback' field 'buttons.4.payload'"),
    (lambda d: d["thanks"].update(colour="blue"), "entry 'thanks'"),
    (lambda d: d.pop("crisis"), "missing entries for required content ids: crisis"),
    (lambda d: d.update({"Bad Id": d["thanks"]}), "entry 'Bad Id'"),
])
def test_a_malformed_file_is_refused_naming_the_entry(tmp_path, raw, breakage, message):
    breakage(raw)
    with pytest.raises(ContentError) as error:
        ApprovedContent.load(write(tmp_path, raw))
    assert message in str(error.value)


def test_invalid_yaml_is_refused(tmp_path):
    path = tmp_path / "approved.yml"
    path.write_text("dose:\n  text: [unclosed\n")
    with pytest.raises(ContentError, match="not valid YAML"):
        ApprovedContent.load(path)


def test_an_expired_entry_is_withheld_and_staff_take_over(tmp_path, raw, caplog):
    raw["dose"]["review_due"] = dt.date(2020, 1, 1)
    raw["dose"]["approved_on"] = dt.date(2019, 1, 1)
    content = ApprovedContent.load(write(tmp_path, raw))
    with caplog.at_level(logging.ERROR):
        message = content.render("dose")
    assert message.content_id == "staff_handoff"
    assert "Approved content 'dose' v1 is past its review date (2020-01-01)" in caplog.text


def test_a_missing_entry_is_withheld_and_logged(caplog):
    content = ApprovedContent.load()
    with caplog.at_level(logging.ERROR):
        assert content.render("no_such_entry").content_id == "staff_handoff"
    assert "'no_such_entry' is missing" in caplog.text


def test_the_crisis_reply_is_never_withheld(tmp_path, raw):
    raw["crisis"]["review_due"] = dt.date(2020, 1, 1)
    raw["crisis"]["approved_on"] = dt.date(2019, 1, 1)
    message = ApprovedContent.load(write(tmp_path, raw)).render("crisis")
    assert message.content_id == "crisis" and "988" in message.text and "911" in message.text


def test_review_due_is_inclusive():
    entry = ApprovedContent.load().entries["dose"]
    assert entry.is_current(entry.review_due)
    assert not entry.is_current(entry.review_due + dt.timedelta(days=1))
