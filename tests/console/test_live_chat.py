"""Live chat without servers: opening hours, availability, who wins a takeover, timeouts,
what a staff member may send, the front desk's phone numbers and flags, and the conversation
list's first visitor message (a button's title, never a payload)."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import List

import pytest

from clinic import live_chat
from clinic.live_chat import StaffingError, load_staffing

STAFFING = """\
live_chat: yes
timezone: America/Los_Angeles
opening_hours:
  monday: "09:00-12:00, 13:00-17:00"
  tuesday: "09:00-17:00"
  wednesday: closed
  thursday: all day
  friday: "09:00-17:00"
  saturday: closed
  sunday: closed
closed_dates: [2026-12-25]
answer_within_minutes: 2
hand_back_after_minutes: 5
presence_seconds: 60
max_staff_message_chars: 50
"""


@pytest.fixture
def staffing_file(tmp_path: Path, monkeypatch) -> Path:
    path = tmp_path / "staffing.yml"
    path.write_text(STAFFING)
    monkeypatch.setenv("STAFFING_CONFIG", str(path))
    return path


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'clinic.db'}"


def utc(y, m, d, h, mi=0) -> dt.datetime:
    """A Pacific wall-clock time as naive UTC (December: UTC-8)."""
    return dt.datetime(y, m, d, h, mi) + dt.timedelta(hours=8)


# --- opening hours ------------------------------------------------------------------------

def test_opening_hours_are_read_in_clinic_time(staffing_file: Path):
    config = load_staffing(staffing_file)
    # Monday 2026-12-07
    assert config.is_open(utc(2026, 12, 7, 9, 0))
    assert not config.is_open(utc(2026, 12, 7, 12, 30))  # the lunch gap
    assert config.is_open(utc(2026, 12, 7, 16, 59))
    assert not config.is_open(utc(2026, 12, 7, 17, 0))
    assert not config.is_open(utc(2026, 12, 7, 8, 59))
    assert not config.is_open(utc(2026, 12, 9, 10))      # Wednesday closed
    assert config.is_open(utc(2026, 12, 10, 3))          # Thursday all day
    assert not config.is_open(utc(2026, 12, 25, 10))     # Friday, but a closed date
    assert config.answer_within == dt.timedelta(minutes=2)
    assert config.max_message_chars == 50
    assert dict(config.hours_text())["Wednesday"] == "closed"


@pytest.mark.parametrize("change, named", [
    ("  monday: \"9-17\"", "monday"),
    ("  monday: \"17:00-09:00\"", "monday"),
    ("timezone: Mars/Olympus", "timezone"),
    ("answer_within_minutes: soon", "answer_within_minutes"),
    ("max_staff_message_chars: 0", "max_staff_message_chars"),
    ("colour: blue", "colour"),
])
def test_a_broken_staffing_file_names_what_is_wrong(tmp_path: Path, change: str, named: str):
    key = change.strip().split(":")[0]
    lines = [line for line in STAFFING.splitlines() if line.strip().split(":")[0] != key]
    lines.insert(0 if not change.startswith("  ") else lines.index("opening_hours:") + 1, change)
    path = tmp_path / "staffing.yml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(StaffingError) as e:
        load_staffing(path)
    assert named in str(e.value)


def test_the_shipped_staffing_file_is_valid():
    config = load_staffing(Path(__file__).resolve().parents[2] / "content" / "staffing.yml")
    assert config.enabled and config.answer_within > dt.timedelta(0)


# --- availability -------------------------------------------------------------------------

def test_live_chat_is_offered_only_with_someone_available_and_present(staffing_file: Path, db: str):
    config = load_staffing(staffing_file)
    monday_10 = utc(2026, 12, 7, 10)
    assert not live_chat.live_chat_open(monday_10, db, config)  # nobody marked available

    live_chat.set_availability("nina", True, "Nina", db)
    # presence is refreshed "now"; judge at "now" for presence but Monday 10:00 for hours:
    now = live_chat.utcnow()
    assert live_chat.available_staff(now, db, config)[0].display_name == "Nina"
    assert not live_chat.available_staff(now + dt.timedelta(seconds=61), db, config)  # console closed
    open_config = load_staffing(staffing_file)
    assert live_chat.live_chat_open(now, db, _always_open(open_config))
    assert not live_chat.live_chat_open(now, db, _never_open(open_config))

    live_chat.set_availability("nina", False, None, db)
    assert not live_chat.live_chat_open(now, db, _always_open(open_config))
    assert live_chat.presence_of("nina", db).display_name == "Nina"  # the name is kept


def _always_open(config):
    return live_chat.Staffing(**{**config.__dict__, "hours": tuple(((0, 1440),) for _ in range(7)),
                                 "closed_dates": frozenset()})


def _never_open(config):
    return live_chat.Staffing(**{**config.__dict__, "hours": tuple(() for _ in range(7))})


def test_offer_not_repeated_while_waiting_or_soon_after_nobody_answered(staffing_file: Path, db: str):
    config = _always_open(load_staffing(staffing_file))
    live_chat.set_availability("nina", True, "Nina", db)
    assert live_chat.offer_allowed("c1", None, db, config)
    created, chat = live_chat.request("c1", db)
    assert created and chat.state == "waiting"
    assert not live_chat.offer_allowed("c1", None, db, config)
    again, _ = live_chat.request("c1", db)
    assert not again

    later = live_chat.utcnow() + config.answer_within + dt.timedelta(seconds=1)
    claimed = live_chat.due(later, db, config)
    assert [(c.sender_id, c.state, c.ended_reason) for c in claimed] == [("c1", "ending", "unanswered")]
    assert live_chat.due(claimed[0].updated_at + dt.timedelta(seconds=1), db, config) == []  # claimed once
    assert live_chat.finish_end(claimed[0], db)
    assert live_chat.get("c1", db).state == "ended"
    assert not live_chat.offer_allowed("c1", None, db, config)  # not again right after nobody answered
    patient = live_chat.Staffing(**{**config.__dict__, "presence": dt.timedelta(hours=2)})
    assert not live_chat.offer_allowed("c1", live_chat.utcnow() + dt.timedelta(minutes=29), db, patient)
    assert live_chat.offer_allowed("c1", live_chat.utcnow() + dt.timedelta(minutes=31), db, patient)


# --- taking over ----------------------------------------------------------------------------

def test_two_staff_take_the_same_conversation_one_wins_the_other_is_told_who(db: str):
    first = live_chat.take("c2", "nina", "Nina", db)
    second = live_chat.take("c2", "sam", "Sam", db)
    assert first.won and not first.already
    assert not second.won and second.holder_user == "nina" and second.holder_name == "Nina"
    assert live_chat.take("c2", "nina", "Nina", db).already  # a second click of the winner


def test_a_race_of_eight_staff_has_exactly_one_winner(db: str):
    live_chat.get("warmup", db)  # create the tables before the race
    results: List[live_chat.TakeResult] = []
    barrier = threading.Barrier(8)

    def go(i: int) -> None:
        barrier.wait()
        results.append(live_chat.take("race", f"staff{i}", f"S{i}", db))

    threads = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if r.won]
    assert len(winners) == 1
    holder = winners[0].chat.staff_user
    assert all(r.holder_user == holder for r in results if not r.won)


def test_an_idle_takeover_is_handed_back_once_and_a_touch_keeps_it(staffing_file: Path, db: str):
    config = load_staffing(staffing_file)
    live_chat.take("c3", "nina", "Nina", db)
    soon = live_chat.utcnow() + dt.timedelta(minutes=4)
    assert live_chat.due(soon, db, config) == []
    assert live_chat.touch("c3", "nina", db) is not None
    assert live_chat.touch("c3", "sam", db) is None  # not Sam's
    late = live_chat.utcnow() + config.hand_back_after + dt.timedelta(seconds=1)
    claimed = live_chat.due(late, db, config)
    assert [(c.state, c.ended_reason, c.ended_by) for c in claimed] == [("ending", "timeout", "system")]
    assert live_chat.touch("c3", "nina", db) is None  # too late to write
    assert live_chat.due(claimed[0].updated_at + dt.timedelta(seconds=1), db, config) == []
    # A process that died mid-hand-back: another one finishes it later, once.
    stale = claimed[0].updated_at + live_chat.STALE_ENDING + dt.timedelta(seconds=1)
    again = live_chat.due(stale, db, config)
    assert [c.sender_id for c in again] == ["c3"]
    assert live_chat.due(again[0].updated_at + dt.timedelta(seconds=1), db, config) == []


def test_only_the_holder_ends_a_takeover(db: str):
    live_chat.take("c4", "nina", "Nina", db)
    assert live_chat.begin_end("c4", "handed_back", "sam", db, only_user="sam") is None
    chat = live_chat.begin_end("c4", "handed_back", "nina", db, only_user="nina")
    assert chat is not None and chat.state == "ending"
    assert live_chat.begin_end("c4", "closed", "nina", db, only_user="nina") is None  # once
    assert live_chat.finish_end(chat, db)
    assert live_chat.get("c4", db).ended_reason == "handed_back"


# --- what a staff member may send ----------------------------------------------------------

def test_staff_text_is_plain_and_limited():
    clean = live_chat.clean_staff_text
    assert clean("  Hello\u202e there\x00\x1b[31m  ", 50) == "Hello there[31m"
    assert clean("<b>bold</b> & <script>", 50) == "<b>bold</b> & <script>"  # literal, shown as text
    assert clean("a\r\n\r\n\r\n\r\nb", 50) == "a\n\nb"
    assert clean(" \u200b\u2066 ", 50) is None
    with pytest.raises(ValueError, match="limit is 10"):
        clean("x" * 11, 10)


def test_display_names():
    assert live_chat.clean_display_name(" Mary-Jo ") == "Mary-Jo"
    assert live_chat.clean_display_name("Nina") == "Nina"
    for bad in ("", "<b>", "n1na", "Nina!!", "x" * 41 + "<"):
        assert live_chat.clean_display_name(bad) is None, bad
    assert live_chat.default_display_name("anna.smith") == "Anna"


# --- the front desk -------------------------------------------------------------------------

def test_phone_numbers_are_formatted_and_linked():
    from webapp.console import frontdesk

    assert frontdesk.format_phone("+15305550123") == "(530) 555-0123"
    assert frontdesk.tel_href("+15305550123") == "tel:+15305550123"
    assert frontdesk.tel_href("(530) 555-0123") == "tel:+15305550123"
    assert frontdesk.format_phone("+447911123456").startswith("+44 ")
    assert frontdesk.tel_href("not a number") == ""
    assert frontdesk.contact_link("email", "jane@example.com") == ("jane@example.com", "mailto:jane@example.com")


def test_a_medical_hand_off_that_declined_a_callback_is_flagged():
    from webapp.console import frontdesk

    flags = frontdesk.flags_of({"greeting", "medical_handoff", "callback_consent", "callback_declined"}, False)
    assert flags["medical"] and flags["handoff"] and flags["declined_medical"]
    assert not frontdesk.flags_of({"medical_handoff", "callback_declined"}, True)["declined_medical"]
    assert not frontdesk.flags_of({"staff_handoff", "callback_declined"}, False)["declined_medical"]


def test_the_list_shows_what_the_visitor_typed_or_clicked_never_a_payload(tmp_path: Path):
    from tests.console.conftest import bot, seed_tracker, user
    from webapp.console.conversations import TrackerReader

    path = tmp_path / "rasa.db"
    greeting = bot("Hello", "greeting")
    greeting.data = {"buttons": [{"title": "How long is a session?", "payload": "/session_length"}]}
    seed_tracker(path, {
        "clicked": [user("/greeting", "greeting", ts=1000.0), greeting,
                    user("/session_length", "session_length", ts=1002.0), bot("...", "session_length")],
        "typed": [user("/greeting", "greeting", ts=1000.0), bot("Hello", "greeting"),
                  user("how long is a session", "session_length", ts=1003.0)],
        "human": [user("/request_human", "request_human", ts=1004.0)],
    })
    reader = TrackerReader(f"sqlite:///{path}")
    summaries = reader.refresh()
    assert summaries["clicked"].preview == "How long is a session?"
    assert summaries["typed"].preview == "how long is a session"
    assert summaries["human"].preview == "Talk to a person"
    assert "/greeting" not in summaries["typed"].search_text
    items = [i for i in reader.transcript("clicked") if i.kind == "user"]
    assert (items[1].text, items[1].payload) == ("How long is a session?", "/session_length")
    assert all(i.event_id > 0 for i in reader.transcript("clicked") if i.kind != "marker")


def test_retention_forgets_old_live_chats_and_the_notes_of_purged_callbacks(db: str):
    from clinic.models import CallbackRequest, session_factory
    from webapp.console import frontdesk

    live_chat.take("old", "nina", "Nina", db)
    chat = live_chat.begin_end("old", "closed", "nina", db)
    live_chat.finish_end(chat, db)
    live_chat.take("open", "nina", "Nina", db)
    assert live_chat.purge(live_chat.utcnow() + dt.timedelta(seconds=1), db) == 1  # the ended one only
    assert live_chat.get("old", db) is None and live_chat.get("open", db).state == "active"

    from clinic import models  # noqa: F401 (the console's tables on this database)
    with session_factory(db)() as s:
        request = CallbackRequest(conversation_id="cb", name="Jo", contact="+15305550123", contact_kind="phone")
        s.add(request)
        s.commit()
        rid = request.id
    frontdesk.record_attempt(rid, "no_answer", "tried twice", "nina", url=db)
    assert frontdesk.purge_orphans(db) == 0
    with session_factory(db)() as s:
        s.query(CallbackRequest).filter_by(id=rid).delete()
        s.commit()
    assert frontdesk.purge_orphans(db) == 2  # the attempt and the work row
    assert frontdesk.work_for([rid], db, with_history=True)[rid].history == ()


def test_an_export_says_which_staff_member_wrote(tmp_path: Path):
    from tests.console.conftest import bot, seed_tracker, user
    from webapp.console.conversations import TrackerReader
    from webapp.console.export import conversation_csv

    path = tmp_path / "rasa.db"
    staff = bot("Hello, I'm Nina", "staff_message", version=None)
    staff.metadata = {"content_id": "staff_message", "staff_name": "Nina", "staff_user": "nina"}
    seed_tracker(path, {"c": [user("a person please", "request_human", ts=1.0), staff]})
    import csv
    import io

    body = conversation_csv("c", TrackerReader(f"sqlite:///{path}").transcript("c"), str)
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert [(r["speaker"], r["text"]) for r in rows if r["speaker"] != "event"] == [
        ("visitor", "a person please"), ("staff: Nina", "Hello, I'm Nina")]
