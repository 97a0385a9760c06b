"""Live chat with a person on the production profile: two Rasa servers and two web apps on one
PostgreSQL and one Redis.

The visitor's widget is served by web app B and talks to Rasa server 2; the nurse's console is
web app A, which talks to Rasa server 1. So every live update crosses processes: a hand-off
stored by Rasa 2 appears on a console of web app A (both poll the shared tracker store), and
what the nurse sends through Rasa 1 reaches the visitor's socket on Rasa 2 (the Redis relay of
addons/takeover.py). Two staff members on two web apps take the same conversation: one wins.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from typing import Iterator, List

import pytest

from clinic import live_chat
from clinic.content import ApprovedContent
from tests.support import audit_actions
from tests.console.conftest import PASSWORD, StaffClient, in_browser
from tests.conftest import ROOT, free_port, wait_for
from tests.prod.conftest import make_stack, prod_env, start_all
from tests.prod.widget_client import Widget

CONTENT = ApprovedContent.load()
STAFFING = """\
live_chat: yes
timezone: America/Los_Angeles
opening_hours: {monday: all day, tuesday: all day, wednesday: all day, thursday: all day,
                friday: all day, saturday: all day, sunday: all day}
answer_within_minutes: 2
hand_back_after_minutes: 2
presence_seconds: 60
max_staff_message_chars: 500
"""
LIVE_WITHIN_S = 5.0


def approved(content_id: str, **values: str) -> str:
    return CONTENT.render(content_id, values).text


@pytest.fixture(scope="module")
def live_prod(databases, tmp_path_factory) -> Iterator:
    tmp = tmp_path_factory.mktemp("live-prod")
    (tmp / "staffing.yml").write_text(STAFFING)
    web_b = free_port()
    tracker_url, clinic_url = databases.create("live_tracker"), databases.create("live_clinic")
    stack = make_stack(tmp, **prod_env(tracker_url, clinic_url, STAFFING_CONFIG=str(tmp / "staffing.yml")))
    stack.env["ALLOWED_ORIGINS"] += f",http://127.0.0.1:{web_b}"
    try:
        start_all(stack, ("rasa", "rasa2"))  # web app A: RASA_URL is Rasa server 1
        env_b = dict(stack.env, WEB_PORT=str(web_b), WIDGET_RASA_URL=stack.url_of("rasa2"))
        log = tmp / "web_b.log"
        stack.logs["web_b"] = log
        stack.procs["web_b"] = subprocess.Popen([sys.executable, "-m", "webapp", "--port", str(web_b)], cwd=ROOT,
                                                env=env_b, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                                                start_new_session=True)
        wait_for(f"http://127.0.0.1:{web_b}/healthz", proc=stack.procs["web_b"])
        stack.web_b_url = f"http://127.0.0.1:{web_b}"
        from webapp.console import accounts

        for name in ("nina", "sam"):
            accounts.create(name, "staff", PASSWORD, actor="test", url=clinic_url)
        for rasa in ("rasa", "rasa2"):  # each server's first understood message builds its sentence model
            stack.say(f"warm-up-{rasa}", "how long does a session take at the clinic", rasa)
        yield stack
    finally:
        stack.stop_all()


def clinic(stack) -> str:
    return stack.env["CLINIC_DB_URL"]


def signed_in(base: str, username: str) -> StaffClient:
    client = StaffClient(base)
    r = client.login(username, PASSWORD)
    assert r.status_code == 200 and "/staff/login" not in r.url, r.text[:300]
    return client


def test_across_servers_hand_off_live_takeover_both_ways_crisis_and_hand_back(live_prod):
    stack = live_prod
    a, b = stack.web_url, stack.web_b_url
    rasa2 = stack.url_of("rasa2").split("//")[1]

    def scenario(browser) -> None:
        from playwright.sync_api import expect

        from tests.browser.test_widget import Chat

        nurse_context = browser.new_context(viewport={"width": 1280, "height": 900})
        visitor_context = browser.new_context(viewport={"width": 1280, "height": 800})
        for context in (nurse_context, visitor_context):
            context.set_default_timeout(20_000)
        sockets: List[str] = []
        nurse = nurse_context.new_page()
        nurse.goto(a + "/staff/conversations")
        nurse.get_by_label("Username").fill("nina")
        nurse.get_by_label("Password").fill(PASSWORD)
        nurse.get_by_role("button", name="Sign in").click()
        nurse.wait_for_url("**/staff/conversations")
        bar = nurse.locator("#live-availability")
        bar.get_by_label("Available for live chat").check()
        bar.get_by_label("Your first name as visitors see it").fill("Nina")
        bar.get_by_role("button", name="Save").click()
        expect(nurse.locator("#live-status")).to_have_text("Live updates: connected", timeout=15_000)

        page = visitor_context.new_page()
        page.on("websocket", lambda ws: sockets.append(ws.url))
        chat = Chat(page, b).goto().open()
        assert any(rasa2 in url for url in sockets), sockets  # the visitor is on Rasa server 2
        sid = chat.session_id()
        before = chat.bot.count()
        chat.frame.get_by_role("button", name="Talk to a person", exact=True).click()
        assert chat.wait_replies(before, 2) == [approved("staff_handoff"), approved("live_chat_offer")]
        asked = time.monotonic()
        row = nurse.locator(f'#conversation-list tr[data-sender="{sid}"]')
        expect(row.locator('[data-flag="handoff"]')).to_be_visible(timeout=LIVE_WITHIN_S * 1000)
        assert time.monotonic() - asked < LIVE_WITHIN_S
        assert chat.click_reply("Yes, chat now") == [approved("live_chat_waiting")]
        expect(row.locator('[data-flag="waiting"]')).to_be_visible(timeout=LIVE_WITHIN_S * 1000)

        nurse.goto(a + "/staff/conversation?id=" + sid)
        expect(nurse.locator("#live-status")).to_have_text("Live updates: connected", timeout=15_000)
        nurse.get_by_role("button", name="Take over this conversation").click()
        expect(chat.frame.locator(".cc-notice")).to_have_text([approved("live_chat_joined", staff_name="Nina")],
                                                              timeout=10_000)
        nurse.locator("#takeover-text").fill("Hello, this is Nina from the clinic.")
        nurse.get_by_role("button", name="Send", exact=True).click()
        expect(chat.frame.locator(".cc-msg-staff .cc-bubble")).to_have_text(["Hello, this is Nina from the clinic."],
                                                                           timeout=10_000)
        bots = chat.bot.count()
        chat.input.fill("what is ketamine exactly")
        chat.input.press("Enter")
        expect(nurse.locator("#transcript .msg.user .text").last).to_have_text("what is ketamine exactly",
                                                                              timeout=LIVE_WITHIN_S * 1000)
        page.wait_for_timeout(2500)
        assert chat.bot.count() == bots, "the assistant answered during the takeover"

        # Crisis language during the takeover: the crisis reply (from Rasa server 2), and the nurse is alerted.
        assert chat.ask("i want to kill myself") == [approved("crisis")]
        expect(nurse.locator("#live-crisis")).to_be_visible(timeout=LIVE_WITHIN_S * 1000)

        nurse.get_by_role("button", name="Hand back to the assistant").click()
        expect(chat.frame.locator(".cc-notice").last).to_have_text(approved("live_chat_ended", staff_name="Nina"),
                                                                   timeout=10_000)
        assert chat.ask("where is the clinic located") == [approved("location")]
        state["sid"] = sid
        for context in (nurse_context, visitor_context):
            context.close()

    state: dict = {}
    in_browser(scenario)
    sid = state["sid"]
    staff = [e for e in stack.tracker(sid, "rasa2")["events"]
             if e["event"] == "bot" and (e.get("metadata") or {}).get("content_id") == "staff_message"]
    assert [(e["text"], e["metadata"]["staff_name"]) for e in staff] == [("Hello, this is Nina from the clinic.", "Nina")]
    assert stack.tracker(sid, "rasa") == stack.tracker(sid, "rasa2")
    actions = audit_actions(stack, sid, waiting_for="takeover_hand_back")
    for action in ("takeover_start", "takeover_message", "takeover_hand_back"):
        assert action in actions, actions


def test_two_staff_on_two_web_apps_take_one_conversation_one_wins(live_prod):
    stack = live_prod
    widget = Widget(stack.url_of("rasa2"), stack.web_b_url)
    try:
        widget.start_session()
        sid = widget.session_id.split(".")[0]
        widget.ask("I'd like to talk to someone")
        nina, sam = signed_in(stack.web_url, "nina"), signed_in(stack.web_b_url, "sam")
        for c in (nina, sam):
            c.get("/staff/conversations")  # a CSRF token
        results: dict = {}
        barrier = threading.Barrier(2)

        def take(name: str, client: StaffClient) -> None:
            barrier.wait()
            results[name] = client.post("/staff/takeover/start", {"id": sid})

        threads = [threading.Thread(target=take, args=(n, c)) for n, c in (("nina", nina), ("sam", sam))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(r.status_code for r in results.values())
        assert statuses == [200, 409], {n: (r.status_code, r.text[:200]) for n, r in results.items()}
        winner = next(n for n, r in results.items() if r.status_code == 200)
        loser = next(n for n, r in results.items() if r.status_code == 409)
        assert f"({winner})" in results[loser].json()["error"]
        assert live_chat.get(sid, clinic(stack)).staff_user == winner
        # The visitor (on Rasa server 2) was told exactly once.
        joined = [d.get("content_id") for name, d in widget.drain(2.0) if name == "bot_uttered"]
        assert joined.count("live_chat_joined") == 1
        assert audit_actions(stack, sid).count("takeover_start") == 1
        client = nina if winner == "nina" else sam
        assert client.post("/staff/takeover/end", {"id": sid, "how": "hand_back"}).status_code == 200
    finally:
        widget.close()


def test_nobody_available_gets_the_callback_form_on_either_server(live_prod):
    stack = live_prod
    for name in ("nina", "sam"):
        live_chat.set_availability(name, False, None, clinic(stack))
    for rasa in ("rasa", "rasa2"):
        sender = f"prod-nobody-{rasa}-{uuid.uuid4().hex[:8]}"
        assert stack.turn(sender, "I want to talk to a person", rasa) == ["staff_handoff", "callback_consent"]
        assert stack.turn(sender, "yes", rasa) == ["callback_name"]
