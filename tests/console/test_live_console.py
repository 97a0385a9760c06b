"""The live console and the takeover routes against a real web app (``python -m webapp``)
and a stand-in for the Rasa server's HTTP API that records what the console asks of it.

What is checked: the event stream sends nothing to anyone not signed in and ends with the
session; a conversation stored in the tracker store reaches an open stream as a list row
and an alert (with no visitor text in the alert); taking over sends ConversationPaused and
the approved "has joined" notice; a second staff member is told who has it; staff
messages are plain text, limited and go to Rasa with the staff_message content id and the
name; hand-back sends ConversationResumed; a takeover nobody writes in is handed back by
the web app on its own; every step is in the audit log; the queue's work (attempts,
assignee) and phone links.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator, List

import pytest
import requests

from clinic.models import AuditEntry, CallbackRequest, session_factory
from clinic.content import ApprovedContent
from tests.console.conftest import bot, seed_tracker, user
from tests.conftest import free_port

TOKEN = "fake-rasa-token"
STAFFING = """\
live_chat: yes
timezone: America/Los_Angeles
opening_hours: {monday: all day, tuesday: all day, wednesday: all day, thursday: all day,
                friday: all day, saturday: all day, sunday: all day}
answer_within_minutes: 0.1
hand_back_after_minutes: 0.15
presence_seconds: 60
max_staff_message_chars: 40
"""
CONTENT = ApprovedContent.load()


class FakeRasa:
    """Records POST /conversations/{id}/tracker/events; answers 200 (or ``status``)."""

    def __init__(self) -> None:
        self.calls: "queue.Queue[dict]" = queue.Queue()
        self.status = 200
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                url = urllib.parse.urlsplit(self.path)
                fake.calls.put({"path": urllib.parse.unquote(url.path), "query": dict(urllib.parse.parse_qsl(url.query)),
                                "events": body})
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def next_call(self, timeout: float = 10.0) -> dict:
        return self.calls.get(timeout=timeout)

    def drain(self) -> List[dict]:
        out = []
        while not self.calls.empty():
            out.append(self.calls.get())
        return out


@pytest.fixture(scope="module")
def rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa()
    yield fake
    fake.server.shutdown()


@pytest.fixture(scope="module")
def app(webapp_factory, rasa, tmp_path_factory):
    staffing = tmp_path_factory.mktemp("staffing") / "staffing.yml"
    staffing.write_text(STAFFING)
    web = webapp_factory(RASA_URL=rasa.url, RASA_AUTH_TOKEN=TOKEN, STAFFING_CONFIG=str(staffing))
    web.account("nina", "staff")
    web.account("sam", "staff")
    web.account("ada", "admin")
    return web


class Stream:
    """An open /staff/live/stream: its events, parsed, as they come."""

    def __init__(self, client, query: str = "") -> None:
        self.events: "queue.Queue[dict]" = queue.Queue()
        self.seen: List[dict] = []
        self.response = client.s.get(client.base + "/staff/live/stream" + query, stream=True, timeout=60)
        self.status = self.response.status_code
        self.content_type = self.response.headers.get("content-type", "")
        if self.status == 200 and self.content_type.startswith("text/event-stream"):
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for line in self.response.iter_lines(decode_unicode=True):
                if line and line.startswith("data: "):
                    self.events.put(json.loads(line[6:]))
        except Exception:
            pass
        self.events.put({"type": "__closed__"})

    def wait(self, predicate, timeout: float = 10.0) -> dict:
        """The first event (already received or still to come) that ``predicate`` accepts."""
        for event in self.seen:
            if predicate(event):
                return event
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=max(0.05, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(event)
            if predicate(event):
                return event
        raise AssertionError("the stream sent no such event in time")

    def close(self) -> None:
        self.response.close()


def audit_rows(app, action: str, target: str) -> List[AuditEntry]:
    with session_factory(app.clinic_url)() as s:
        return s.query(AuditEntry).filter_by(action=action, target=target).order_by(AuditEntry.id).all()


def test_the_stream_is_for_signed_in_staff_only(app):
    anonymous = requests.get(app.url + "/staff/live/stream", timeout=10, allow_redirects=False)
    assert anonymous.status_code in (302, 303) and "/staff/login" in anonymous.headers["location"]
    assert "text/event-stream" not in anonymous.headers.get("content-type", "")
    for path in ("/staff/takeover/start", "/staff/takeover/send", "/staff/live/availability"):
        assert requests.post(app.url + path, data={"id": "x"}, timeout=10).status_code == 403
    signed = app.signed_in("sam")
    # CSRF: a signed-in post without the token is refused
    assert signed.s.post(app.url + "/staff/takeover/start", data={"id": "x"}, timeout=10).status_code == 403
    page = signed.get("/staff/conversations")
    assert "connect-src 'self'" in page.headers["content-security-policy"]


def test_a_new_conversation_and_a_hand_off_reach_an_open_console(app):
    nurse = app.signed_in("nina")
    stream = Stream(nurse)
    try:
        assert stream.status == 200 and stream.content_type.startswith("text/event-stream")
        hello = stream.wait(lambda e: e["type"] == "hello")
        assert hello["me"]["username"] == "nina"
        time.sleep(1.5)  # the hub has looked at the store once: what comes next is new
        now = time.time()
        seed_tracker(app.tracker_path, {"live-visitor-1": [
            user("/greeting", "greeting", ts=now), bot("Hello", "greeting", ts=now + 0.1),
            user("can I take it with lithium", "medical_question", ts=now + 1),
            bot(CONTENT.render("medical_handoff").text, "medical_handoff", ts=now + 1.1)]})
        started = time.monotonic()
        row = stream.wait(lambda e: e["type"] == "conversation" and e["sender"] == "live-visitor-1")
        alert = stream.wait(lambda e: e["type"] == "alert" and e["kind"] == "handoff")
        assert time.monotonic() - started < 5
        assert row["preview"] == "can I take it with lithium"  # not the /greeting payload
        assert row["flags"]["medical"] and row["flags"]["handoff"] and row["new"]
        assert set(alert) == {"type", "kind", "sender", "at"}  # no visitor text in an alert
    finally:
        stream.close()


def test_the_stream_ends_when_the_session_does(app):
    nurse = app.signed_in("sam")
    stream = Stream(nurse)
    try:
        stream.wait(lambda e: e["type"] == "hello")
        nurse.post("/staff/logout")
        event = stream.wait(lambda e: e["type"] in ("signed_out", "__closed__"), timeout=25)
        assert event["type"] in ("signed_out", "__closed__")
    finally:
        stream.close()


def test_take_over_message_and_hand_back_through_rasas_api(app, rasa):
    sender = "live-visitor-2"
    seed_tracker(app.tracker_path, {sender: [user("I'd like to talk to someone", "request_human")]})
    rasa.drain()
    nina, sam = app.signed_in("nina"), app.signed_in("sam")
    assert nina.post("/staff/live/availability", {"available": "1", "name": "Nina"}).status_code == 200

    r = nina.post("/staff/takeover/start", {"id": sender}, headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["chat"]["state"] == "active"
    call = rasa.next_call()
    assert call["path"] == f"/conversations/{sender}/tracker/events"
    assert call["query"] == {"execute_side_effects": "true", "output_channel": "live", "token": TOKEN}
    kinds = [e["event"] for e in call["events"]]
    assert kinds == ["active_loop", "slot", "pause", "bot"]
    joined = call["events"][-1]
    assert joined["text"] == CONTENT.render("live_chat_joined", {"staff_name": "Nina"}).text
    assert joined["metadata"]["content_id"] == "live_chat_joined" and joined["metadata"]["staff_name"] == "Nina"

    # A second staff member is told who has it.
    lost = sam.post("/staff/takeover/start", {"id": sender})
    assert lost.status_code == 409 and "Nina (nina)" in lost.json()["error"]
    assert rasa.drain() == []
    # Only the holder writes; plain text, limited, shown literally.
    assert sam.post("/staff/takeover/send", {"id": sender, "text": "hi"}).status_code == 409
    too_long = nina.post("/staff/takeover/send", {"id": sender, "text": "x" * 41})
    assert too_long.status_code == 400 and "limit is 40" in too_long.json()["error"]
    assert nina.post("/staff/takeover/send", {"id": sender, "text": " \u200b "}).status_code == 400
    sent = nina.post("/staff/takeover/send", {"id": sender, "text": "<b>Hi</b>, I'm\u202e here"})
    assert sent.status_code == 200, sent.text
    staff = rasa.next_call()["events"]
    assert staff == [{"event": "bot", "text": "<b>Hi</b>, I'm here",
                      "metadata": {"content_id": "staff_message", "staff_name": "Nina", "staff_user": "nina"}}]

    back = nina.post("/staff/takeover/end", {"id": sender, "how": "hand_back"})
    assert back.status_code == 200 and back.json()["chat"]["state"] == "ended"
    events = rasa.next_call()["events"]
    assert events[0] == {"event": "resume"}
    assert events[1]["metadata"]["content_id"] == "live_chat_ended"
    assert nina.post("/staff/takeover/send", {"id": sender, "text": "still there?"}).status_code == 409

    target = f"conversation:{sender}"
    assert [e.actor for e in audit_rows(app, "takeover_start", target)] == ["nina"]
    assert [json.loads(e.detail)["chars"] for e in audit_rows(app, "takeover_message", target)] == [19]
    assert [e.actor for e in audit_rows(app, "takeover_hand_back", target)] == ["nina"]
    assert "I'm here" not in "".join(e.detail for e in audit_rows(app, "takeover_message", target))


def test_a_takeover_is_not_made_when_rasa_cannot_be_told(app, rasa):
    sender = "live-visitor-3"
    seed_tracker(app.tracker_path, {sender: [user("hello", "greeting")]})
    nina = app.signed_in("nina")
    rasa.drain()
    rasa.status = 500
    try:
        r = nina.post("/staff/takeover/start", {"id": sender})
        assert r.status_code == 502 and "not taken over" in r.json()["error"]
    finally:
        rasa.status = 200
    rasa.drain()
    assert nina.post("/staff/takeover/send", {"id": sender, "text": "hi"}).status_code == 409
    assert nina.post("/staff/takeover/start", {"id": "no-such-conversation"}).status_code == 404


def test_a_silent_takeover_goes_back_to_the_assistant_by_itself(app, rasa):
    sender = "live-visitor-4"
    seed_tracker(app.tracker_path, {sender: [user("hello", "greeting")]})
    nina = app.signed_in("nina")
    assert nina.post("/staff/takeover/start", {"id": sender}).status_code == 200
    rasa.next_call()
    call = rasa.next_call(timeout=30)  # hand_back_after_minutes: 0.15 (9 s), the worker looks every 2 s
    assert call["events"][0] == {"event": "resume"}
    assert call["events"][1]["metadata"]["content_id"] == "live_chat_timeout"
    assert "Nina" in call["events"][1]["text"]
    deadline = time.monotonic() + 10  # recorded once Rasa has answered
    while not audit_rows(app, "takeover_timeout", f"conversation:{sender}") and time.monotonic() < deadline:
        time.sleep(0.2)
    rows = audit_rows(app, "takeover_timeout", f"conversation:{sender}")
    assert [r.actor for r in rows] == ["system"]


def test_the_queue_records_attempts_and_an_assignee_and_links_phone_numbers(app):
    with session_factory(app.clinic_url)() as s:
        request = CallbackRequest(conversation_id="live-callback-1", reason="dose", content_id="medical_handoff",
                                  name="Jane Roe", contact="+15305550123", contact_kind="phone",
                                  preferred_time="mornings")
        s.add(request)
        s.commit()
        rid = request.id
    nina = app.signed_in("nina")
    page = nina.get("/staff/queue")
    assert 'href="tel:+15305550123"' in page.text and "(530) 555-0123" in page.text
    r = nina.post(f"/staff/queue/{rid}/attempt", {"outcome": "left_voicemail", "note": "  asked to call back  "})
    assert r.status_code == 200 and r.url.endswith("/staff/queue")
    assert nina.post(f"/staff/queue/{rid}/attempt", {"outcome": "teleported"}).status_code == 400
    assert nina.post(f"/staff/queue/{rid}/assign", {"assignee": "me"}).status_code == 200
    assert nina.post(f"/staff/queue/{rid}/assign", {"assignee": "nobody-here"}).status_code == 400
    page = nina.get("/staff/queue").text
    assert "1 attempt · last: left voicemail" in page
    assert '<option value="nina" selected>' in page
    target = f"callback:{rid}"
    assert [json.loads(e.detail)["outcome"] for e in audit_rows(app, "callback_attempt", target)] == ["left_voicemail"]
    assert [json.loads(e.detail)["to"] for e in audit_rows(app, "callback_assign", target)] == ["nina"]
