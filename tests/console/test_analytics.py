"""The analytics page: a tracker store seeded with known conversations (Rasa's own
SQLTrackerStore) and a clinic database with known callback requests give exactly
the expected figures, per day and per week, on the page, in its charts and in the CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import sqlite3
import time
import zoneinfo
from typing import Dict

import pytest

from tests.console.conftest import bot, loop, seed_tracker, slot, user

LA = zoneinfo.ZoneInfo("America/Los_Angeles")
START, END = dt.date(2025, 3, 3), dt.date(2025, 3, 11)  # Monday to the Tuesday after (DST began 3/09)
NOW = dt.datetime(2025, 3, 12, 0, 0, tzinfo=LA).timestamp()


def at(month_day: int, hour: int, minute: int = 0) -> float:
    return dt.datetime(2025, 3, month_day, hour, minute, tzinfo=LA).timestamp()


def say(t: float, text: str, intent: str, content_id: str, conf: float = 0.9) -> list:
    return [user(text, intent, conf, ts=t), bot("(reply)", content_id, ts=t + 1)]


def new_session(t: float) -> list:
    from rasa.shared.core.events import ActionExecuted, SessionStarted

    return [ActionExecuted("action_session_start", timestamp=t - 0.002), SessionStarted(timestamp=t - 0.001),
            ActionExecuted("action_listen", timestamp=t - 0.0005)]


NAME_MESSAGE = "my name is Ann Lee, call me at 530-555-0142 about the weather"


def conversations() -> Dict[str, list]:
    c = at(4, 23, 30)
    return {
        # A: contained, three topics' worth of messages; comes back on 3/11 (a second conversation)
        "A": [*say(at(3, 10), "hello", "greeting", "greeting"),
              *say(at(3, 10, 1), "how long is a session", "session_length", "session_length"),
              *say(at(3, 10, 2), "and the dose?", "dose", "dose", 0.85),
              *new_session(at(11, 9)),
              *say(at(11, 9), "/unknown_button", "nlu_fallback", "fallback", 0.0),
              *say(at(11, 9, 1), "where are you located", "location", "location")],
        # B: not understood, then gone: abandoned
        "B": say(at(3, 11), "blorp", "nlu_fallback", "fallback", 0.3),
        # C: late on 3/04 clinic time (3/05 in UTC): medical hand-off, then the callback form
        "C": [*say(c, "can I take it with lithium", "medical_question", "medical_handoff"),
              user("yes", "affirm", 0.97, ts=c + 10), loop("callback_form", ts=c + 11),
              bot("(consent?)", "callback_consent", ts=c + 12),
              *say(c + 20, "yes", "affirm", "callback_name", 0.97),
              *say(c + 30, "Jane Doe", "nlu_fallback", "callback_contact", 0.2),
              *say(c + 40, "jane@example.com", "nlu_fallback", "callback_time", 0.2),
              user("mornings", "inform_time", 0.9, ts=c + 50), slot("callback_requested", True, ts=c + 51),
              bot("(confirmed)", "callback_confirmed", ts=c + 52), loop(None, ts=c + 53)],
        # D: crisis, then thanks
        "D": [user("I want to die", "crisis", 1.0, ts=at(5, 9)), slot("crisis_flag", True, ts=at(5, 9) + 0.5),
              bot("(crisis)", "crisis", ts=at(5, 9) + 1), *say(at(5, 9, 5), "thanks", "thanks", "thanks")],
        # E: a topic, then a hand-off offer, then gone: abandoned
        "E": [*say(at(5, 14), "what is ketamine", "what_is_ketamine", "what_is_ketamine"),
              *say(at(5, 14, 1), "how much does it cost", "ask_staff", "staff_handoff", 0.95)],
        # J: a session that never got a visitor message: not a conversation
        "J": [ActionExecutedAt(at(6, 8))],
        # M: on the day clocks went forward
        "M": say(at(9, 12), "thanks", "thanks", "thanks"),
        # F: not understood twice, then the offer of a person, then gone: abandoned
        "F": [*say(at(10, 9), "Blorp!", "nlu_fallback", "fallback", 0.2),
              *say(at(10, 9, 1), "zzz qqq", "nlu_fallback", "fallback_repeat", 0.1)],
        # G: out of scope (with a name and a phone number), then a low-confidence topic answer
        "G": [*say(at(10, 15), NAME_MESSAGE, "out_of_scope", "out_of_scope", 0.8),
              *say(at(10, 15, 1), "how long is a session", "session_length", "session_length", 0.5)],
        # H: not understood ten minutes before "now": still going, not abandoned (yet)
        "H": say(at(11, 23, 50), "qwerty asdf", "nlu_fallback", "fallback", 0.2),
        # outside the range: 3/02 23:30 clinic time (3/03 in UTC) and 3/12
        "O": say(at(2, 23, 30), "hello", "greeting", "greeting"),
        "N": say(at(12, 10), "hello", "greeting", "greeting"),
    }


def ActionExecutedAt(t: float):
    from rasa.shared.core.events import ActionExecuted

    return ActionExecuted("action_listen", timestamp=t)


def utc(month_day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2025, 3, month_day, hour, minute)


def clinic_tables(url: str) -> None:
    """The clinic database's tables, made by whoever comes first: a freshly started web app
    may be creating them at this moment (then this process's CREATE TABLE fails; try again)."""
    from sqlalchemy.exc import OperationalError

    from clinic.models import engine

    for attempt in range(50):
        try:
            engine(url)
            return
        except OperationalError as e:
            if "already exists" not in str(e) or attempt == 49:
                raise
            time.sleep(0.1)


def seed_clinic(url: str) -> None:
    """Callback requests (created_at is naive UTC) and their status changes in the audit trail."""
    from clinic.models import AuditEntry, CallbackRequest, session_factory

    clinic_tables(url)

    requests = {  # id: (conversation, created, [(at, from, to)])
        1: ("C", utc(5, 7, 31), [(utc(5, 9, 31), "new", "contacted"), (utc(6, 9), "contacted", "closed")]),
        2: ("K", utc(10, 19), [(utc(10, 19, 30), "new", "contacted"), (utc(10, 20), "contacted", "closed")]),
        3: ("L", utc(11, 17), []),
        4: ("P", utc(12, 18), [(utc(12, 19), "new", "contacted")]),  # 3/12: outside
        5: ("Q", utc(3, 7), [(utc(3, 8), "new", "contacted")]),  # 3/02 23:00 clinic time: outside
    }
    with session_factory(url)() as s:
        for rid, (conv, created, changes) in requests.items():
            s.add(CallbackRequest(id=rid, conversation_id=conv, name="x", contact="x", contact_kind="phone",
                                  created_at=created, status=changes[-1][2] if changes else "new"))
            for when, before, after in changes:
                s.add(AuditEntry(at=when, actor="nurse", action="callback_status", target=f"callback:{rid}",
                                 detail=f'{{"from": "{before}", "to": "{after}"}}'))
        s.commit()


# Expected figures: (conversations, visitor messages, contained, handoff, fallback, crisis, abandoned,
#                    callbacks requested, contacted, median seconds to first contact)
DAYS = {
    "2025-03-03": (2, 4, 2, 0, 1, 0, 1, 0, 0, None),
    "2025-03-04": (1, 6, 0, 1, 0, 0, 0, 1, 1, 7200.0),
    "2025-03-05": (2, 4, 0, 1, 0, 1, 1, 0, 0, None),
    "2025-03-06": (0, 0, 0, 0, 0, 0, 0, 0, 0, None),
    "2025-03-07": (0, 0, 0, 0, 0, 0, 0, 0, 0, None),
    "2025-03-08": (0, 0, 0, 0, 0, 0, 0, 0, 0, None),
    "2025-03-09": (1, 1, 1, 0, 0, 0, 0, 0, 0, None),
    "2025-03-10": (2, 4, 2, 0, 2, 0, 1, 1, 1, 1800.0),
    "2025-03-11": (2, 3, 2, 0, 2, 0, 0, 1, 0, None),
}
WEEKS = {
    "2025-03-03": (6, 15, 3, 2, 1, 1, 2, 1, 1, 7200.0),
    "2025-03-10": (4, 7, 4, 0, 4, 0, 1, 2, 1, 1800.0),
}
TOTAL = (10, 22, 7, 2, 5, 1, 3, 3, 2, 4500.0)
TOPICS = [("session_length", 2, 2), ("dose", 1, 1), ("location", 1, 1), ("what_is_ketamine", 1, 1)]
UNANSWERED = [("blorp", 2, 2), ("my name is [name], call me at [phone] about the weather", 1, 1),
              ("qwerty asdf", 1, 1), ("zzz qqq", 1, 1)]


def as_tuple(f) -> tuple:
    return (f.conversations, f.visitor_messages, f.contained, f.handoff, f.fallback, f.crisis, f.abandoned,
            f.callbacks_requested, f.callbacks_contacted, f.median_first_contact)


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> Dict[str, str]:
    tmp = tmp_path_factory.mktemp("analytics")
    seed_tracker(tmp / "rasa.db", conversations())
    clinic = f"sqlite:///{tmp / 'clinic.db'}"
    seed_clinic(clinic)
    return {"tracker": f"sqlite:///{tmp / 'rasa.db'}", "clinic": clinic, "path": str(tmp / "rasa.db")}


def report(stores, by: str, start=START, end=END, now=NOW):
    from webapp.console import analytics

    scanner = analytics.EventScanner(stores["tracker"])
    return analytics.compute(scanner, start, end, by, LA, stores["clinic"], now=now)


def test_per_day_figures_are_exactly_the_seeded_ones(stores):
    r = report(stores, "day")
    assert {b.start.isoformat(): as_tuple(b) for b in r.buckets} == DAYS
    assert as_tuple(r.total) == TOTAL
    assert r.total.containment == pytest.approx(0.7)
    assert r.total.handoff_rate == pytest.approx(0.2) and r.total.fallback_rate == pytest.approx(0.5)
    assert r.total.crisis_rate == pytest.approx(0.1) and r.total.abandonment == pytest.approx(0.3)
    assert [b.containment for b in r.buckets][3] is None  # no conversations: no rate, not 0 %


def test_per_week_figures_are_exactly_the_seeded_ones(stores):
    r = report(stores, "week")
    assert {b.start.isoformat(): as_tuple(b) for b in r.buckets} == WEEKS
    assert as_tuple(r.total) == TOTAL
    assert [b.label for b in r.buckets] == ["2025-W10 (Mar 3)", "2025-W11 (Mar 10)"]


def test_top_topics_and_top_unanswered_messages(stores):
    r = report(stores, "day")
    assert [(t.content_id, t.conversations, t.shown) for t in r.topics] == TOPICS
    # form answers ("Jane Doe"), button payloads and out-of-range days are not in it; names and numbers scrubbed
    assert [(u.text, u.messages, u.conversations) for u in r.unanswered] == UNANSWERED


def test_abandonment_waits_until_a_conversation_is_over(stores):
    later = report(stores, "day", now=NOW + 3600)  # H has now been silent for 70 minutes
    assert later.total.abandoned == TOTAL[6] + 1
    assert {b.start.isoformat(): b.abandoned for b in later.buckets}["2025-03-11"] == 1


def test_a_live_chat_with_staff_is_a_hand_off_and_leaving_after_its_offer_is_abandonment(tmp_path, stores):
    from webapp.console import analytics

    path = tmp_path / "rasa.db"
    seed_tracker(path, {
        "T1": [*say(at(5, 10), "can I talk to a person", "request_human", "staff_handoff"),
               bot("(Ann from the clinic has joined)", "live_chat_joined", ts=at(5, 10, 2)),
               bot("Hi, this is Ann", "staff_message", ts=at(5, 10, 3)),
               *say(at(5, 10, 4), "thanks", "thanks", "thanks")],
        "T2": [*say(at(5, 11), "what is ketamine", "what_is_ketamine", "what_is_ketamine"),
               bot("(a member of our team can chat with you now)", "live_chat_offer", ts=at(5, 11, 2))],
    })
    r = analytics.compute(analytics.EventScanner(f"sqlite:///{path}"), START, END, "week", LA, stores["clinic"],
                          now=NOW)
    assert (r.total.conversations, r.total.contained, r.total.handoff, r.total.abandoned) == (2, 1, 1, 1)


def test_a_range_of_one_day_and_the_clinic_time_zone(stores):
    r = report(stores, "day", dt.date(2025, 3, 3), dt.date(2025, 3, 3))
    # O (3/02 23:30 clinic time, 3/03 in UTC) is not in it; callback Q (3/02 23:00 clinic time) neither
    assert as_tuple(r.total) == DAYS["2025-03-03"]


def test_new_events_are_folded_in_and_deleted_ones_forgotten(stores, tmp_path):
    from webapp.console import analytics

    path = tmp_path / "rasa.db"
    seed_tracker(path, {"X1": say(at(3, 12), "what is ketamine", "what_is_ketamine", "what_is_ketamine")})
    scanner = analytics.EventScanner(f"sqlite:///{path}")
    first = analytics.compute(scanner, START, END, "week", LA, stores["clinic"], now=NOW)
    assert first.total.conversations == 1
    seed_tracker(path, {"X2": say(at(4, 12), "blorp", "nlu_fallback", "fallback", 0.1)})
    second = analytics.compute(scanner, START, END, "week", LA, stores["clinic"], now=NOW)
    assert (second.total.conversations, second.total.fallback, second.total.abandoned) == (2, 1, 1)
    assert scanner.rebuilds == 0  # read incrementally
    # a finished day's figures are kept, but counted again when one of its conversations changes
    import json

    with sqlite3.connect(path) as db:
        db.executemany("INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
                       "VALUES ('X1', ?, ?, ?, NULL, ?)", [
                           ("user", at(3, 12, 5), "dose", json.dumps({"event": "user", "text": "and the dose?",
                            "parse_data": {"intent": {"name": "dose", "confidence": 0.9}}})),
                           ("bot", at(3, 12, 6), None, json.dumps({"event": "bot", "metadata": {"content_id": "dose"}}))])
    changed = analytics.compute(scanner, START, END, "week", LA, stores["clinic"], now=NOW)
    assert (changed.total.conversations, changed.total.visitor_messages) == (2, 3)
    assert [(t.content_id, t.conversations) for t in changed.topics] == [("dose", 1), ("what_is_ketamine", 1)]
    with sqlite3.connect(path) as db:  # retention deletes a conversation
        db.execute("DELETE FROM events WHERE sender_id = 'X1'")
    third = analytics.compute(scanner, START, END, "week", LA, stores["clinic"], now=NOW)
    assert (third.total.conversations, third.topics) == (1, [])
    assert scanner.rebuilds == 1


def test_a_row_committed_late_below_the_highest_id_is_picked_up(tmp_path):
    """Two Rasa servers on PostgreSQL: a turn with lower ids can commit after one with higher ids."""
    import json
    import time

    from webapp.console import analytics

    path = tmp_path / "rasa.db"
    seed_tracker(path, {"Y": say(time.time() - 5, "hello", "greeting", "greeting")})
    scanner = analytics.EventScanner(f"sqlite:///{path}")
    scanner.refresh()
    now = time.time()
    rows = [(1000, "Z", "session_started", now - 2, None, None, "{}"),
            (1002, "Z", "bot", now, None, None, json.dumps({"event": "bot", "metadata": {"content_id": "fallback"}}))]
    with sqlite3.connect(path) as db:
        db.executemany("INSERT INTO events (id, sender_id, type_name, timestamp, intent_name, action_name, data) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)", [(r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows])
    scanner.refresh()
    assert [c.sender_id for c in scanner.conversations] == ["Y"]  # Z has no visitor message yet
    with sqlite3.connect(path) as db:  # the late one
        db.execute("INSERT INTO events (id, sender_id, type_name, timestamp, intent_name, action_name, data) "
                   "VALUES (1001, 'Z', 'user', ?, 'blorp', NULL, ?)",
                   (now - 1, json.dumps({"event": "user", "text": "blorp", "parse_data": {
                       "intent": {"name": "nlu_fallback", "confidence": 0.1}}})))
    scanner.refresh()
    z = [c for c in scanner.conversations if c.sender_id == "Z"]
    assert len(z) == 1 and z[0].visitor_messages == 1 and scanner.rebuilds == 0


def test_the_same_figures_from_postgresql(stores):
    """The production profile's tracker store: the same seeded conversations, the same figures."""
    import asyncio
    import threading

    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.events import ActionExecuted, SessionStarted
    from rasa.shared.core.trackers import DialogueStateTracker

    from tests.prod.conftest import PG_HOST, PG_PASSWORD, PG_PORT, PG_USER, Databases
    from webapp.console import analytics

    dbs = Databases()
    try:
        url = dbs.create("analytics")
        store = SQLTrackerStore(dialect="postgresql", host=PG_HOST, port=PG_PORT, db=url.rsplit("/", 1)[1],
                                username=PG_USER, password=PG_PASSWORD)

        async def save_all() -> None:
            for sender, events in conversations().items():
                first = events[0].timestamp
                head = [ActionExecuted("action_session_start", timestamp=first - 0.002),
                        SessionStarted(timestamp=first - 0.001), ActionExecuted("action_listen", timestamp=first - 0.0005)]
                await store.save(DialogueStateTracker.from_events(sender, head + list(events)))

        worker = threading.Thread(target=lambda: asyncio.run(save_all()))
        worker.start()
        worker.join()
        store.engine.dispose()
        scanner = analytics.EventScanner(url)
        for by, expected in (("day", DAYS), ("week", WEEKS)):
            r = analytics.compute(scanner, START, END, by, LA, stores["clinic"], now=NOW)
            assert {b.start.isoformat(): as_tuple(b) for b in r.buckets} == expected
            assert as_tuple(r.total) == TOTAL
        assert [(u.text, u.messages, u.conversations) for u in r.unanswered] == UNANSWERED
        scanner._engine.dispose()
    finally:
        dbs.drop_all()


# --- the page, its charts and its CSV ----------------------------------------------------------

@pytest.fixture(scope="module")
def app(webapp_factory, stores):
    import shutil

    app = webapp_factory()
    shutil.copy(stores["path"], app.tracker_path)
    seed_clinic(app.clinic_url)
    app.account("sam", "staff")
    return app


# On the web page "now" is today: H (3/11 23:50) is over, so it is abandoned too.
WEB_DAYS = {**DAYS, "2025-03-11": DAYS["2025-03-11"][:6] + (1,) + DAYS["2025-03-11"][7:]}
WEB_TOTAL = TOTAL[:6] + (4,) + TOTAL[7:]


def page_cells(body: str) -> Dict[str, Dict[str, str]]:
    rows = {}
    for period, cells in re.findall(r'<tr data-period="([^"]+)">(.*?)</tr>', body, re.S):
        rows[period] = dict(re.findall(r'data-figure="([a-z_]+)">([^<]*)</td>', cells))
    return rows


def test_the_page_shows_the_figures_for_a_chosen_range(app):
    from webapp.console import analytics

    client = app.signed_in("sam")
    r = client.get("/staff/analytics?from=2025-03-03&to=2025-03-11&by=day")
    assert r.status_code == 200, r.text[:500]
    cells = page_cells(r.text)
    assert set(cells) == set(DAYS) | {"total"}
    names = [k for k, _n in analytics.FIGURE_COLUMNS]
    for day, expected in WEB_DAYS.items():
        conv, msgs, contained, handoff, fallback, crisis, abandoned, requested, contacted, median = expected
        row = cells[day]
        assert (row["conversations"], row["visitor_messages"]) == (str(conv), str(msgs))
        assert row["containment"] == (analytics.pct(contained / conv) if conv else "–")
        assert row["abandonment"] == (analytics.pct(abandoned / conv) if conv else "–")
        assert (row["callbacks_requested"], row["callbacks_contacted"]) == (str(requested), str(contacted))
        assert row["median_first_contact"] == analytics.duration(median)
        assert set(row) == set(names)
    assert cells["total"]["conversations"] == "10" and cells["total"]["abandonment"] == "40.0%"
    assert cells["total"]["median_first_contact"] == "1.2 h"
    # four charts, inline SVG, one bar per day per series in the volume chart
    assert r.text.count("<svg class=\"chart") == 4
    volume = r.text.split('id="chart-volume"')[1].split("</figure>")[0]
    values = re.findall(r'<rect class="s0 bar"[^>]*data-value="([^"]+)"', volume)
    assert values == [str(WEB_DAYS[d][0]) for d in sorted(WEB_DAYS)]
    assert "[phone]" in r.text and "555-0142" not in r.text and "Ann Lee" not in r.text
    assert not re.search(r"(src|href)=\"(https?:)?//", r.text)  # nothing fetched from another host


def test_per_week_on_the_page(app):
    client = app.signed_in("sam")
    r = client.get("/staff/analytics?from=2025-03-03&to=2025-03-11&by=week")
    cells = page_cells(r.text)
    assert {k: v["conversations"] for k, v in cells.items()} == {"2025-03-03": "6", "2025-03-10": "4", "total": "10"}
    assert cells["2025-03-10"]["fallback_rate"] == "100.0%"


def test_csv_exports_and_audit(app):
    from clinic.models import AuditEntry, session_factory

    client = app.signed_in("sam")
    client.get("/staff/analytics?from=2025-03-03&to=2025-03-11&by=week")
    r = client.post("/staff/analytics/export", {"from": "2025-03-03", "to": "2025-03-11", "by": "day",
                                               "kind": "figures"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [row["period_start"] for row in rows] == sorted(DAYS) + ["2025-03-03"]
    by_day = {row["period_start"]: row for row in rows[:-1]}
    for day, expected in WEB_DAYS.items():
        got = by_day[day]
        assert (int(got["conversations"]), int(got["visitor_messages"]), int(got["contained"]), int(got["handoffs"]),
                int(got["fallbacks"]), int(got["crisis"]), int(got["abandoned"]), int(got["callbacks_requested"]),
                int(got["callbacks_contacted"])) == expected[:9]
    total = rows[-1]
    assert total["period"] == "total" and total["containment"] == "0.7000" and total["abandonment"] == "0.4000"
    assert total["median_hours_to_first_contact"] == "1.25"

    topics = client.post("/staff/analytics/export", {"from": "2025-03-03", "to": "2025-03-11", "by": "day",
                                                    "kind": "topics"})
    assert list(csv.reader(io.StringIO(topics.content.decode("utf-8-sig"))))[1:] == \
        [[c, str(n), str(s)] for c, n, s in TOPICS]
    unanswered = client.post("/staff/analytics/export", {"from": "2025-03-03", "to": "2025-03-11", "by": "day",
                                                        "kind": "unanswered"})
    assert list(csv.reader(io.StringIO(unanswered.content.decode("utf-8-sig"))))[1:] == \
        [[t, str(m), str(c)] for t, m, c in UNANSWERED]

    with session_factory(app.clinic_url)() as s:
        actions = [(e.actor, e.action) for e in s.query(AuditEntry).filter(AuditEntry.action.like("analytics%"))]
    assert ("sam", "analytics_view") in actions and actions.count(("sam", "analytics_export")) == 3


def test_signed_out_and_bad_input(app):
    anonymous = app.client()
    r = anonymous.get("/staff/analytics", allow_redirects=False)
    assert r.status_code in (302, 303) and "/staff/login" in r.headers["location"]
    r = anonymous.post("/staff/analytics/export", {"from": "2025-03-03", "to": "2025-03-11"}, csrf=False)
    assert r.status_code == 403 and "sign in" in r.text.lower()

    client = app.signed_in("sam")
    for query in ("from=2025-13-01", "from=2025-03-11&to=2025-03-01", "days=abc", "from=2000-01-01&to=2025-01-01",
                  "by=month", "from=%00%ff"):
        r = client.get(f"/staff/analytics?{query}")
        assert r.status_code == 400, (query, r.status_code)
        assert 'class="error"' in r.text and "<svg" in r.text  # explained, and the default range shown
    r = client.post("/staff/analytics/export", {"from": "2025-03-03", "to": "2025-03-11", "kind": "passwords"})
    assert r.status_code == 400
    r = client.post("/staff/analytics/export", {"from": "garbage", "kind": "figures"})
    assert r.status_code == 400
    r = client.post("/staff/analytics/export", {"from": "2025-03-03", "to": "2025-03-11"}, csrf=False)
    assert r.status_code == 403
    r = client.get("/staff/analytics?days=7")
    assert r.status_code == 200 and "Last 7 days" in r.text


def test_the_page_says_so_when_the_store_has_no_conversations_yet(webapp_factory):
    app = webapp_factory()  # its tracker store file does not exist
    clinic_tables(app.clinic_url)
    app.account("eve", "staff")
    r = app.signed_in("eve").get("/staff/analytics")
    assert r.status_code == 200 and 'id="kpi-conversations">0<' in r.text
