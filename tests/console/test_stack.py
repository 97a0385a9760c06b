"""The console on conversations held with the real assistant (action server + Rasa +
web app, the ``stack`` fixture): the filters find exactly the right ones, and each
transcript shows what Rasa recorded: intents, confidences, content ids and versions."""

from __future__ import annotations

import datetime as dt
import html
import re
import zoneinfo

import pytest
import requests


FALLBACK_CONTENT = {"fallback", "fallback_repeat", "out_of_scope"}


@pytest.fixture(scope="module")
def staff(real):
    real.account("stack-sam")
    return real.signed_in("stack-sam")


def facts(stack, sender):
    """What Rasa's own tracker API says about a conversation (independent of the console)."""
    events = stack.tracker(sender)["events"]
    slots = [(e["name"], e["value"]) for e in events if e["event"] == "slot"]
    intents = [e["parse_data"]["intent"]["name"] for e in events if e["event"] == "user"]
    content = [(e.get("metadata") or {}).get("content_id") for e in events if e["event"] == "bot"]
    return events, slots, intents, content


def test_filters_on_real_conversations(stack, real, staff):
    from webapp.console import queue

    mine = set(real.senders.values())
    crisis, callback, fallback = (set(staff.senders(q)) for q in ("crisis=1", "callback=1", "fallback=1"))
    s = real.senders
    assert crisis & mine == {s["crisis"]}
    assert callback & mine == {s["callback"]}
    assert fallback & mine == {s["fallback"]}
    assert set(staff.senders("q=lithium")) & mine == {s["callback"]}
    assert set(staff.senders("content_id=session_length")) & mine == {s["plain"]}
    assert set(staff.senders("content_id=what_is_ketamine")) & mine == {s["plain"], s["xss"]}
    assert set(staff.senders("content_id=medical_handoff")) & mine == {s["callback"]}
    assert s["crisis"] in staff.senders("crisis_first=1")[:len(crisis)]

    # Every conversation the filters list (also other tests' ones) really has the property,
    # judged from Rasa's tracker API, and every one of ours that has it is listed.
    for sender in crisis | mine:
        _, slots, intents, _ = facts(stack, sender)
        assert (sender in crisis) == ("crisis" in intents or ("crisis_flag", True) in slots), sender
    for sender in callback | mine:
        _, slots, _, _ = facts(stack, sender)
        has = ("callback_requested", True) in slots or queue.for_conversation(sender, real.clinic_url) is not None
        assert (sender in callback) == has, sender
    for sender in fallback | mine:
        _, _, _, content = facts(stack, sender)
        assert (sender in fallback) == bool(FALLBACK_CONTENT & set(content)), sender

    # The callback form stored a request for the callback conversation, and it is in the queue.
    request = queue.for_conversation(s["callback"], real.clinic_url)
    assert request is not None and request.name == "Jane Doe" and request.content_id == "medical_handoff"
    assert "Jane Doe" in staff.get("/staff/queue").text

    # dates: everything happened today (clinic time), nothing yesterday
    today = dt.datetime.now(zoneinfo.ZoneInfo("America/Los_Angeles")).date()
    yesterday = today - dt.timedelta(days=1)
    assert set(staff.senders(f"from={today}&to={today}")) >= mine
    assert not set(staff.senders(f"from={yesterday}&to={yesterday}")) & mine


def test_transcript_matches_what_rasa_recorded(stack, real, staff):
    sender = real.senders["callback"]
    page = staff.get("/staff/conversation?id=" + sender).text
    events, _, _, _ = facts(stack, sender)
    users = [e for e in events if e["event"] == "user"]
    bots = [e for e in events if e["event"] == "bot"]
    assert users and bots
    shown_users = re.findall(r'<div class="msg user[^"]*"[^>]*>.*?intent <code>([^<]*)</code>(?: \(([\d.]+)\))?.*?'
                             r'<div class="text">(.*?)</div>', page, re.S)
    assert [(i, float(c), html.unescape(t)) for i, c, t in shown_users] == [
        (e["parse_data"]["intent"]["name"], round(e["parse_data"]["intent"]["confidence"], 2), e["text"])
        for e in users]
    shown_bots = re.findall(r'<div class="msg bot"[^>]*>.*?content <code>([^<]*)</code> v(\S+?)\s.*?'
                            r'<div class="text">(.*?)</div>', page, re.S)
    expected = [(e["metadata"]["content_id"], str(e["metadata"].get("content_version")), e["text"]) for e in bots]
    assert [(c, v, html.unescape(t)) for c, v, t in shown_bots] == expected
    assert all(v != "None" for _, v, _ in expected), "every bot message carries its content version"


def test_script_from_a_real_visitor_is_text(real, staff):
    page = staff.get("/staff/conversation?id=" + real.senders["xss"]).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; what is ketamine" in page
    assert "<script>alert(1)" not in page


def test_anonymous_requests_to_the_stack_web_app_are_refused(stack, real, monkeypatch):
    from tests.console.test_access import console_routes

    routes = console_routes(stack.env, monkeypatch)
    assert len(routes) >= 15
    for method, path, access, static in routes:
        if static or access == "public":
            continue
        r = requests.request(method, stack.web_url + path, allow_redirects=False, timeout=30,
                             params={"id": real.senders["crisis"]})
        assert r.status_code in (302, 303, 401, 403), (method, path, r.status_code)
        assert "kill myself" not in r.text and "Jane Doe" not in r.text
