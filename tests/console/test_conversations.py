"""The conversation list, its filters, transcripts, review notes, the callback queue,
exports and the audit page, on a tracker store seeded with Rasa's own SQLTrackerStore."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
import zoneinfo

import pytest

from tests.console.conftest import REQUEST_ROW, bot, loop, seed_tracker, slot, user

LA = zoneinfo.ZoneInfo("America/Los_Angeles")
D1, D2, D3 = dt.date(2025, 3, 10), dt.date(2025, 3, 12), dt.date(2025, 3, 15)
XSS = "<script>alert('owned')</script> hello"


def at(day: dt.date, hour: int, minute: int = 0) -> float:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=LA).timestamp()


def turn(day, hour, text, intent, content_id, reply="(reply)", version=1, conf=0.93):
    t = at(day, hour)
    return [user(text, intent, conf, ts=t), bot(reply, content_id, version, ts=t + 1)]


CONVERSATIONS = {
    "c-crisis-intent": turn(D2, 10, "I want to end it all", "crisis", "crisis"),
    "c-crisis-slot": [*turn(D2, 11, "everything is too much lately", "out_of_scope_x", "crisis"),
                      slot("crisis_flag", True, ts=at(D2, 11) + 0.5)],
    "c-callback-slot": [*turn(D1, 9, "can I take ketamine with lithium", "medical_question", "medical_handoff"),
                        slot("callback_requested", True, ts=at(D1, 9, 5))],
    "c-callback-row": turn(D3, 14, "I'd like someone to call me", "request_human", "staff_handoff"),
    "c-fallback-bot": turn(D3, 15, "blorp snarf", "greeting", "fallback", conf=0.31),
    "c-fallback-intent": turn(D1, 16, "qwzx vvv", "nlu_fallback", "staff_handoff", conf=0.2),
    "c-out-of-scope": turn(D2, 17, "what's the weather in Paris", "out_of_scope", "out_of_scope"),
    "c-plain": [*turn(D3, 18, "what is ketamine", "what_is_ketamine", "what_is_ketamine", "Ketamine is..."),
                *turn(D3, 19, "how long is a session", "session_length", "session_length", "About...", version=99)],
    "c-xss": turn(D3, 20, XSS, "greeting", "greeting", reply="<b>Hello</b> & welcome"),
    "c-not-crisis": [*turn(D1, 8, "hi there", "greeting", "greeting"), slot("crisis_flag", False, ts=at(D1, 8, 1))],
    "c-formula": turn(D1, 7, '=HYPERLINK("http://evil.example","click")', "nlu_fallback", "fallback"),
    # a medical question handed to staff, and the visitor said no to the callback
    "c-declined": [*turn(D1, 10, "is it ok with my heart condition", "medical_question", "medical_handoff"),
                   *turn(D1, 10, "no thanks", "deny", "callback_declined")],
    # a form's free-text answer comes out as nlu_fallback: it was understood, not a fallback
    "c-form-answer": [*turn(D1, 6, "please call me", "request_human", "staff_handoff"),
                      loop("callback_form", ts=at(D1, 6, 1)),
                      *turn(D1, 6, "Jane Doe", "nlu_fallback", "callback_contact"),
                      loop(None, ts=at(D1, 6, 3)), *turn(D1, 7, "ok", "affirm", "acknowledge")],
}
FILLERS = {f"c-fill-{i:02d}": turn(D1 - dt.timedelta(days=1), 1 + i % 20, f"hello number {i}", "greeting",
                                   "greeting") for i in range(20)}
ALL = set(CONVERSATIONS) | set(FILLERS)


@pytest.fixture(scope="module")
def app(console):
    from actions.callback_store import save_request
    from clinic.models import CallbackRequest

    seed_tracker(console.tracker_path, {**CONVERSATIONS, **FILLERS})
    base = dt.datetime(2025, 3, 15, 12, 0)
    for i, (cid, crisis, content_id, name) in enumerate([
        ("c-callback-row", False, "staff_handoff", "Olive Other"),      # oldest, least urgent
        ("c-callback-slot", False, "medical_handoff", "Mel Medical"),
        ("c-crisis-intent", True, "crisis", "Cris Crisis"),            # newest, most urgent
    ]):
        assert save_request(CallbackRequest(conversation_id=cid, reason="why " + name, content_id=content_id,
                                            crisis=crisis, name=name, contact=f"{i}@example.com",
                                            contact_kind="email", preferred_time="mornings",
                                            created_at=base + dt.timedelta(hours=i)), url=console.clinic_url)
    return console


@pytest.fixture(scope="module")
def staff(app):
    return app.signed_in("sam")


def ids(staff, query=""):
    found = staff.senders(query)
    assert len(found) == len(set(found)), "a conversation was listed twice"
    return set(found)


@pytest.mark.parametrize("query, expected", [
    ("", ALL),
    ("crisis=1", {"c-crisis-intent", "c-crisis-slot"}),
    ("callback=1", {"c-callback-slot", "c-callback-row", "c-crisis-intent"}),
    ("fallback=1", {"c-fallback-bot", "c-fallback-intent", "c-out-of-scope", "c-formula"}),
    ("from=2025-03-12&to=2025-03-12", {"c-crisis-intent", "c-crisis-slot", "c-out-of-scope"}),
    ("from=2025-03-15", {"c-callback-row", "c-fallback-bot", "c-plain", "c-xss"}),
    ("to=2025-03-09", set(FILLERS)),
    ("content_id=session_length", {"c-plain"}),
    ("content_id=medical_handoff", {"c-callback-slot", "c-declined"}),
    ("declined=1", {"c-declined"}),  # c-callback-slot: medical too, but the callback was requested
    ("q=LITHIUM", {"c-callback-slot"}),
    ("q=ketamine", {"c-callback-slot", "c-plain"}),
    ("q=%3Cscript%3E", {"c-xss"}),
    ("crisis=1&callback=1", {"c-crisis-intent"}),
    ("fallback=1&from=2025-03-12&to=2025-03-14", {"c-out-of-scope"}),
    ("q=nothing+matches+this", set()),
])
def test_filters_return_exactly_the_right_conversations(staff, query, expected):
    assert ids(staff, query) == expected


def test_newest_first_and_crisis_first(staff):
    plain = staff.senders("from=2025-03-12")
    assert plain[:3] == ["c-xss", "c-plain", "c-fallback-bot"]
    first = staff.senders("from=2025-03-12&crisis_first=1")
    assert first[:2] == ["c-crisis-slot", "c-crisis-intent"]
    assert first[2:5] == ["c-xss", "c-plain", "c-fallback-bot"]


def test_pagination(staff):
    r = staff.get("/staff/conversations")
    assert f"{len(ALL)} conversations" in r.text and "Page 1 of 2" in r.text
    assert len(re.findall(r'data-sender="', r.text)) == 25
    r2 = staff.get("/staff/conversations?page=2")
    assert len(re.findall(r'data-sender="', r2.text)) == len(ALL) - 25


def test_crisis_is_marked(staff):
    r = staff.get("/staff/conversations")
    assert "2 crisis conversations not yet reviewed" in r.text
    row = re.search(r'<tr class="crisis" data-sender="c-crisis-slot">(.*?)</tr>', r.text, re.S)
    assert row and "CRISIS" in row.group(1)


def test_transcript_shows_intents_confidence_and_content_versions(app, staff):
    from webapp.console import audit

    r = staff.get("/staff/conversation?id=c-plain")
    assert r.status_code == 200
    page = r.text
    assert "what is ketamine" in page and "<code>what_is_ketamine</code> (0.93)" in page
    assert "2025-03-15 18:00:00" in page  # clinic time
    assert "content <code>what_is_ketamine</code> v1" in page
    assert "content <code>session_length</code> v99" in page and "current version is v1" in page
    views = [e for e in audit.entries_for_target("conversation:c-plain", app.clinic_url)
             if e.action == "conversation_view"]
    assert views and views[-1].actor == "sam" and views[-1].role == "staff"


def test_script_in_a_transcript_is_shown_as_text(staff):
    page = staff.get("/staff/conversation?id=c-xss").text
    assert "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt; hello" in page
    assert "<script>alert" not in page and "<b>Hello</b>" not in page
    assert "&lt;b&gt;Hello&lt;/b&gt; &amp; welcome" in page
    listing = staff.get("/staff/conversations?q=hello").text
    assert "<script>alert" not in listing and "&lt;script&gt;" in listing


def test_unknown_conversation_is_404(staff):
    assert staff.get("/staff/conversation?id=no-such-thing").status_code == 404


def test_review_status_note_and_tags(app, staff):
    r = staff.post("/staff/conversation/review", {"id": "c-plain", "status": "reviewed",
                                                  "note": "<i>ok</i> answered", "tags": "info, Follow-up ,info"})
    assert r.status_code == 200 and "Saved." in r.text
    assert "&lt;i&gt;ok&lt;/i&gt; answered" in r.text
    assert ids(staff, "status=reviewed") == {"c-plain"}
    assert "c-plain" not in ids(staff, "status=new")
    assert ids(staff, "tag=follow-up") == {"c-plain"}
    listing = staff.get("/staff/conversations?status=reviewed").text
    assert 'class="tag">info<' in listing and 'class="tag">Follow-up<' in listing
    bad = staff.post("/staff/conversation/review", {"id": "c-plain", "status": "deleted"})
    assert bad.status_code == 400
    missing = staff.post("/staff/conversation/review", {"id": "nope", "status": "reviewed"})
    assert missing.status_code == 400


def queue_rows(staff, view="open"):
    return [(int(i), html.unescape(c)) for i, c in REQUEST_ROW.findall(staff.get(f"/staff/queue?view={view}").text)]


def test_queue_is_most_urgent_first_and_links_to_the_conversation(staff):
    rows = queue_rows(staff)
    assert [c for _, c in rows] == ["c-crisis-intent", "c-callback-slot", "c-callback-row"]
    page = staff.get("/staff/queue").text
    assert 'href="/staff/conversation?id=c-crisis-intent"' in page
    # the conversation page shows the request too
    assert "Cris Crisis" in staff.get("/staff/conversation?id=c-crisis-intent").text


def test_queue_status_changes_are_recorded(app, staff):
    from webapp.console import audit, queue

    rid = dict((c, i) for i, c in queue_rows(staff))["c-callback-slot"]
    r = staff.post(f"/staff/queue/{rid}/status", {"status": "contacted", "expected": "new",
                                                   "back": "/staff/queue?view=open"})
    assert r.status_code == 200 and "Status changed." in r.text
    req = queue.get(rid, app.clinic_url)
    assert req.status == "contacted" and req.status_changed_by == "sam" and req.status_changed_at
    # someone else's view is stale now: refused, not overwritten
    stale = staff.post(f"/staff/queue/{rid}/status", {"status": "closed", "expected": "new"})
    assert stale.status_code == 409
    assert staff.post(f"/staff/queue/{rid}/status", {"status": "bogus"}).status_code == 400
    assert staff.post(f"/staff/queue/{rid}/status", {"status": "closed", "expected": "contacted"}).ok
    assert rid not in [i for i, _ in queue_rows(staff, "open")]
    assert rid in [i for i, _ in queue_rows(staff, "closed")]
    history = [audit.detail_of(e) for e in audit.entries_for_target(f"callback:{rid}", app.clinic_url)]
    assert [(h["from"], h["to"]) for h in history] == [("new", "contacted"), ("contacted", "closed")]
    assert staff.post("/staff/queue/99999/status", {"status": "closed"}).status_code == 400


def parse_csv(body: str):
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body[1:])))


def test_export_one_conversation_is_audited_and_formula_safe(app, staff):
    from webapp.console import audit

    r = staff.post("/staff/conversation/export", {"id": "c-formula"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = parse_csv(r.text)
    visitor = [row for row in rows if row["speaker"] == "visitor"]
    assert visitor[0]["text"] == "'" + '=HYPERLINK("http://evil.example","click")'
    assert visitor[0]["intent"] == "nlu_fallback"
    assistant = [row for row in rows if row["speaker"] == "assistant"]
    assert assistant[0]["content_id"] == "fallback" and assistant[0]["content_version"] == "1"
    entries = [e for e in audit.entries_for_target("conversation:c-formula", app.clinic_url)
               if e.action == "export_conversation"]
    assert entries and entries[-1].actor == "sam"


def test_export_filtered_list(app, staff):
    from webapp.console import audit

    r = staff.post("/staff/conversations/export", {"crisis": "1"})
    assert r.status_code == 200
    rows = parse_csv(r.text)
    assert {row["conversation"] for row in rows} == {"c-crisis-intent", "c-crisis-slot"}
    assert all(row["crisis"] == "yes" for row in rows)
    entry = audit.query(audit.AuditFilter(action="export_list"), url=app.clinic_url)[0][0]
    assert audit.detail_of(entry) == {"filters": {"crisis": "1"}, "conversations": 2}


@pytest.mark.parametrize("value, expected", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1+2", "'-1+2"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("  =1", "'  =1"), ("＝1", "'＝1"),
    ("hello", "hello"), ("", ""), (None, ""), (-3, "-3"), (2.5, "2.5"), (True, "yes"),
])
def test_csv_cells_cannot_be_formulas(value, expected):
    from webapp.console.export import safe_cell

    assert safe_cell(value) == expected


AUDIT_ROW = re.compile(r'<tr><td class="nowrap">[^<]*</td><td>([^<\s]+)(?: <span[^>]*>[^<]*</span>)?</td>\s*'
                       r'<td><code>([^<]*)</code></td><td>([^<]*)</td>')


def audit_rows(client, query):
    page = client.get("/staff/audit?" + query)
    assert page.status_code == 200
    return [tuple(html.unescape(x) for x in m) for m in AUDIT_ROW.findall(page.text)]


def test_audit_log_is_readable_filterable_and_not_editable(app):
    from sqlalchemy.exc import DatabaseError

    from clinic.models import AuditEntry, session_factory

    admin = app.signed_in("ada")
    admin.get("/staff/conversation?id=c-xss")
    everything = audit_rows(admin, "")
    assert {"sign_in", "conversation_view", "callback_status", "export_list", "account_create"} <= \
        {action for _, action, _ in everything}
    views = audit_rows(admin, "action=conversation_view")
    assert views and {action for _, action, _ in views} == {"conversation_view"}
    assert ("ada", "conversation_view", "conversation:c-xss") in views
    by_sam = audit_rows(admin, "action=conversation_view&actor=sam")
    assert by_sam and {who for who, _, _ in by_sam} == {"sam"}
    assert audit_rows(admin, "target=c-formula&action=export_conversation") == [
        ("sam", "export_conversation", "conversation:c-formula")]
    assert audit_rows(admin, "from=2000-01-01&to=2000-01-02") == []
    # the page offers no way to change anything
    assert "<form method=\"post\"" not in admin.get("/staff/audit").text.split("</header>")[1]
    # the database refuses to change or remove an entry
    with session_factory(app.clinic_url)() as s:
        entry = s.query(AuditEntry).first()
        entry.actor = "someone-else"
        with pytest.raises(DatabaseError):
            s.commit()
        s.rollback()
        with pytest.raises(DatabaseError):
            s.query(AuditEntry).delete()
            s.commit()
