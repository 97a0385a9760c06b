"""The chat widget on the demo clinic page, in headless Chromium, against the real stack.

The ``stack`` fixture (tests/conftest.py) runs the action server, Rasa and the
web app on free ports; every test talks to them the way a visitor's browser
does: the page, the widget's script, a WebSocket to Rasa's Socket.IO channel.
Every browser context records its requests; the ``contexts`` fixture fails a
test when anything tried to leave 127.0.0.1 or a JavaScript dialog opened.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path
from typing import Callable, List, Optional
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from clinic.content import ApprovedContent

ROOT = Path(__file__).resolve().parents[2]
WIDGET = ROOT / "webapp" / "static" / "widget"
CONTENT = ApprovedContent.load()
EMERGENCY_LINE = "Not for emergencies — call or text 988, or call 911"
REPLY_TIMEOUT = 30_000
HTML_PAYLOAD = "<img src=x onerror=alert(1)>"


def approved(content_id: str) -> str:
    return CONTENT.render(content_id).text


ACTIVE_JS = """() => {
    const a = document.activeElement;
    return {tag: a.tagName, cls: a.className || '', id: a.id || '',
            text: (a.textContent || '').trim(), label: a.getAttribute('aria-label') || ''};
}"""


class Chat:
    """The demo page with the widget, driven like a visitor would.

    The page has the launcher; the conversation is in the widget's iframe (/widget/frame).
    """

    def __init__(self, page: Page, web_url: str) -> None:
        self.page = page
        self.web_url = web_url
        self.iframe = page.locator("iframe.cc-frame")
        self.frame = page.frame_locator("iframe.cc-frame")
        self.launcher = page.locator(".cc-launcher")
        self.panel = self.frame.locator(".cc-panel")
        self.input = self.frame.get_by_label("Your message")
        self.bot = self.frame.locator(".cc-msg-bot .cc-bubble")
        self.user = self.frame.locator(".cc-msg-user .cc-bubble")
        self.typing = self.frame.locator(".cc-typing")
        self.status = self.frame.locator(".cc-status")
        self.live = self.frame.locator(".cc-root [aria-live='polite']")

    def goto(self, path: str = "/") -> "Chat":
        self.page.goto(self.web_url + path)
        expect(self.launcher).to_be_visible()
        return self

    def inside(self):
        """The frame itself (for evaluate)."""
        handle = self.iframe.element_handle()
        frame = handle.content_frame() if handle else None
        assert frame is not None, "the widget's frame is not there"
        frame.wait_for_selector(".cc-root", state="attached")
        return frame

    def open(self, greeting: bool = True) -> "Chat":
        self.launcher.click()
        expect(self.panel).to_be_visible()
        if greeting:  # a new conversation starts with the approved greeting
            expect(self.bot.first).to_have_text(approved("greeting"), timeout=REPLY_TIMEOUT)
            self.settle()
        return self

    def settle(self) -> None:
        expect(self.typing).to_be_hidden(timeout=REPLY_TIMEOUT)
        self.page.wait_for_timeout(250)  # a reply may come in several messages

    def bot_texts(self) -> List[str]:
        return self.bot.all_text_contents()

    def user_texts(self) -> List[str]:
        return self.user.all_text_contents()

    def wait_replies(self, before: int, count: int = 1) -> List[str]:
        """The bot messages after the first ``before``, once at least ``count`` of them came."""
        self.bot.nth(before + count - 1).wait_for(timeout=REPLY_TIMEOUT)
        self.settle()
        return self.bot_texts()[before:]

    def ask(self, text: str, count: int = 1) -> List[str]:
        before = self.bot.count()
        self.input.fill(text)
        self.input.press("Enter")
        return self.wait_replies(before, count)

    def click_reply(self, title: str) -> List[str]:
        before = self.bot.count()
        self.frame.locator(".cc-replies").get_by_role("button", name=title, exact=True).click()
        return self.wait_replies(before)

    def storage(self) -> dict:
        return self.inside().evaluate("""() => {
            const key = Object.keys(sessionStorage).find(k => k.startsWith('clinic-chat:'));
            return key ? JSON.parse(sessionStorage.getItem(key)) : null;
        }""")

    def session_id(self) -> str:
        """The conversation id (what Rasa stores): the signed token's first part."""
        state = self.storage()
        assert state and state.get("sessionId"), f"no session id in sessionStorage: {state}"
        return state["sessionId"].split(".")[0]

    def active(self) -> dict:
        """The focused element: on the page, or inside the widget's frame when the frame has focus."""
        if self.page.evaluate("() => document.activeElement && document.activeElement.tagName") == "IFRAME":
            return self.inside().evaluate(ACTIVE_JS)
        return self.page.evaluate(ACTIVE_JS)

    def local_storage_used(self) -> int:
        return self.page.evaluate("() => localStorage.length") + self.inside().evaluate("() => localStorage.length")


@pytest.fixture
def chat(stack, contexts) -> Chat:
    context, _ = contexts.new()
    return Chat(context.new_page(), stack.web_url).goto()


def user_events(stack, session_id: str) -> List[dict]:
    return [e for e in stack.tracker(session_id)["events"] if e["event"] == "user"]


def bot_content_ids(stack, session_id: str) -> List[Optional[str]]:
    return [(e.get("metadata") or {}).get("content_id")
            for e in stack.tracker(session_id)["events"] if e["event"] == "bot"]


def wait_until(page: Page, check: Callable[[], bool], timeout: float = 20.0,
               what: str = "condition") -> None:
    """Poll ``check``; waits through Playwright so its event handlers keep running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        page.wait_for_timeout(200)
    raise AssertionError(f"timed out waiting for {what}")


# --- answers ---------------------------------------------------------------------------


def test_three_topic_questions_get_the_approved_replies(stack, chat: Chat, output_dir: Path):
    chat.open()
    questions = [
        ("what is ketamine", "what_is_ketamine"),
        ("how long does a session take", "session_length"),
        ("where is the clinic located", "location"),
    ]
    for question, content_id in questions:
        replies = chat.ask(question)
        assert replies == [approved(content_id)], f"{question!r}: {replies}"
    assert chat.user_texts() == [q for q, _ in questions]
    # The tracker agrees: the same conversation, the approved entries by id.
    ids = bot_content_ids(stack, chat.session_id())
    assert ids[-3:] == [cid for _, cid in questions]
    # The placeholder details shown are the clinic's configured ones.
    assert CONTENT.clinic["address"] in chat.bot_texts()[-1]
    chat.page.screenshot(path=str(output_dir / "widget-desktop.png"))


def test_quick_reply_sends_the_payload_and_shows_the_title(stack, chat: Chat):
    chat.open()
    greeting_buttons = chat.frame.locator(".cc-replies button")
    expect(greeting_buttons).to_have_text(
        [b["title"] for b in CONTENT.render("greeting").buttons])

    replies = chat.click_reply("How long is a session?")
    assert replies == [approved("session_length")]
    assert chat.user_texts()[-1] == "How long is a session?"
    last_user = user_events(stack, chat.session_id())[-1]
    assert last_user["text"] == "/session_length"
    assert last_user["parse_data"]["intent"]["name"] == "session_length"
    # Only the newest message's quick replies are offered, and focus is back in the input.
    expect(chat.frame.locator(".cc-replies button")).to_have_text(["How many sessions?"])
    assert chat.active()["id"] == chat.input.get_attribute("id")

    assert chat.click_reply("How many sessions?") == [approved("multiple_sessions")]
    assert user_events(stack, chat.session_id())[-1]["text"] == "/multiple_sessions"


def test_talk_to_a_person_sends_request_human(stack, chat: Chat):
    chat.open()
    before = chat.bot.count()
    chat.frame.get_by_role("button", name="Talk to a person", exact=True).click()
    replies = chat.wait_replies(before)
    assert replies, "no reply to /request_human"
    assert chat.user_texts()[-1] == "Talk to a person"
    last_user = user_events(stack, chat.session_id())[-1]
    assert last_user["text"] == "/request_human"
    assert last_user["parse_data"]["intent"]["name"] == "request_human"


def test_crisis_message_gets_the_crisis_reply(stack, chat: Chat):
    chat.open()
    replies = chat.ask("I want to kill myself")
    assert replies[0] == approved("crisis")
    assert "988" in replies[0] and "911" in replies[0]
    assert bot_content_ids(stack, chat.session_id())[-len(replies)] == "crisis"
    expect(chat.frame.locator(".cc-emergency")).to_have_text(EMERGENCY_LINE)
    expect(chat.frame.locator(".cc-emergency")).to_be_in_viewport()
    # The crisis reply is set apart from the others, with tappable crisis lines under it.
    crisis = chat.frame.locator(".cc-msg-crisis")
    expect(crisis).to_have_count(1)
    expect(crisis.locator(".cc-bubble")).to_have_text(approved("crisis"))
    links = crisis.locator("a.cc-safety-link")
    assert [(a.get_attribute("href"), a.text_content()) for a in links.all()] == [
        ("tel:988", "Call 988"), ("sms:988", "Text 988"), ("tel:911", "Call 911")]
    crisis_style = crisis.locator(".cc-bubble").evaluate("e => getComputedStyle(e).borderLeftWidth")
    other_style = chat.frame.locator(".cc-msg-bot:not(.cc-msg-crisis) .cc-bubble").first.evaluate(
        "e => getComputedStyle(e).borderLeftWidth")
    assert crisis_style != other_style
    box = links.first.bounding_box()
    assert box and box["height"] >= 44  # a thumb-sized target


# --- conversation kept in the tab, never across browser sessions ---------------------------


def test_reload_and_navigation_keep_the_conversation(stack, chat: Chat):
    chat.open()
    chat.ask("what is ketamine")
    chat.ask("how long does a session take")
    before_bot, before_user, sid = chat.bot_texts(), chat.user_texts(), chat.session_id()

    chat.page.reload()
    expect(chat.panel).to_be_visible()  # still open in this tab
    expect(chat.bot).to_have_text(before_bot)
    expect(chat.user).to_have_text(before_user)
    assert chat.session_id() == sid

    chat.goto("/#about")  # navigating within the site: same tab, same conversation
    expect(chat.bot).to_have_text(before_bot)
    assert chat.ask("where is the clinic located") == [approved("location")]
    assert chat.session_id() == sid
    texts = [e["text"] for e in user_events(stack, sid)]
    assert texts == ["/greeting", "what is ketamine", "how long does a session take",
                     "where is the clinic located"]
    assert chat.local_storage_used() == 0


def test_a_new_browser_session_starts_empty(stack, contexts):
    first_context, _ = contexts.new()
    first = Chat(first_context.new_page(), stack.web_url).goto().open()
    first.ask("what is ketamine")

    second_context, _ = contexts.new()
    second = Chat(second_context.new_page(), stack.web_url).goto()
    expect(second.panel).to_be_hidden()
    expect(second.frame.locator(".cc-msg")).to_have_count(0)
    second.open()
    assert second.bot_texts() == [approved("greeting")]
    assert second.user_texts() == []
    assert second.session_id() != first.session_id()
    for c in (first, second):
        assert c.local_storage_used() == 0


# --- text only ------------------------------------------------------------------------------


def test_html_in_a_message_is_shown_literally(stack, contexts):
    context, rec = contexts.new()
    chat = Chat(context.new_page(), stack.web_url).goto().open()
    replies = chat.ask(HTML_PAYLOAD)
    assert replies, "no reply"
    assert chat.user_texts()[-1] == HTML_PAYLOAD
    assert "&lt;img" in chat.user.last.inner_html()
    expect(chat.frame.locator(".cc-root img")).to_have_count(0)
    assert not rec.dialogs
    assert not [u for u in rec.requests if urlsplit(u).path.endswith("/x")]
    assert user_events(stack, chat.session_id())[-1]["text"] == HTML_PAYLOAD


def test_html_in_a_bot_message_is_shown_literally(stack, contexts):
    """A bot message (and its quick replies) with markup, injected into the real WebSocket."""
    context, rec = contexts.new()
    sockets = []

    def route(ws):
        server = ws.connect_to_server()
        sockets.append((ws, server))

    context.route_web_socket(re.compile(r"/socket\.io/"), route)
    chat = Chat(context.new_page(), stack.web_url).goto().open()
    bot_html = '<b>bold</b><img src=y onerror=alert(2)><script>alert(3)</script>'
    frame = "42" + json.dumps(["bot_uttered", {
        "text": bot_html,
        "quick_replies": [{"title": "<i>title</i><img src=z onerror=alert(4)>", "payload": "/greeting"}],
    }])
    ws, _ = sockets[-1]
    before = chat.bot.count()
    ws.send(frame)
    chat.bot.nth(before).wait_for()
    assert chat.bot_texts()[-1] == bot_html
    expect(chat.frame.locator(".cc-replies button")).to_have_text(
        ["<i>title</i><img src=z onerror=alert(4)>"])
    expect(chat.frame.locator(".cc-root img, .cc-root b, .cc-root i, .cc-root script")).to_have_count(0)
    chat.page.wait_for_timeout(300)
    assert not rec.dialogs


# --- keyboard and accessibility ---------------------------------------------------------------


def test_keyboard_only_conversation(stack, chat: Chat):
    page = chat.page
    for _ in range(60):  # Tab through the page to the launcher
        page.keyboard.press("Tab")
        if "cc-launcher" in chat.active()["cls"]:
            break
    else:
        pytest.fail("the chat launcher is not reachable with Tab")
    assert chat.launcher.evaluate("el => getComputedStyle(el).boxShadow") != "none"  # visible focus

    page.keyboard.press("Enter")
    expect(chat.panel).to_be_visible()
    input_id = chat.input.get_attribute("id")
    wait_until(page, lambda: chat.active()["id"] == input_id, what="focus in the input")
    expect(chat.launcher).to_have_attribute("aria-expanded", "true")
    expect(chat.bot.first).to_have_text(approved("greeting"), timeout=REPLY_TIMEOUT)
    chat.settle()

    before = chat.bot.count()
    page.keyboard.type("how long does a session take")
    page.keyboard.press("Enter")
    assert chat.wait_replies(before) == [approved("session_length")]
    assert chat.active()["id"] == chat.input.get_attribute("id")

    # Shift+Tab: "Talk to a person", then the quick reply of the last message.
    page.keyboard.press("Shift+Tab")
    assert chat.active()["text"] == "Talk to a person"
    page.keyboard.press("Shift+Tab")
    assert chat.active()["text"] == "How many sessions?"
    assert page.evaluate("() => getComputedStyle(document.activeElement).boxShadow") != "none"
    before = chat.bot.count()
    page.keyboard.press("Enter")
    assert chat.wait_replies(before) == [approved("multiple_sessions")]
    assert chat.user_texts()[-1] == "How many sessions?"

    # Escape closes and gives focus back to the launcher; Enter reopens into the input.
    page.keyboard.press("Escape")
    expect(chat.panel).to_be_hidden()
    wait_until(page, lambda: "cc-launcher" in chat.active()["cls"], what="focus back on the launcher")
    expect(chat.launcher).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Enter")
    expect(chat.panel).to_be_visible()
    wait_until(page, lambda: chat.active()["id"] == input_id, what="focus in the input")
    # The close button works from the keyboard too.
    for _ in range(20):
        page.keyboard.press("Shift+Tab")
        if chat.active()["label"] == "Close chat":
            break
    else:
        pytest.fail("the close button is not reachable with Shift+Tab")
    page.keyboard.press("Enter")
    expect(chat.panel).to_be_hidden()
    wait_until(page, lambda: "cc-launcher" in chat.active()["cls"], what="focus back on the launcher")


def test_controls_are_labelled_and_bot_messages_are_announced(stack, chat: Chat):
    chat.open()
    page, frame = chat.page, chat.frame
    expect(chat.panel).to_have_attribute("role", "dialog")
    expect(frame.get_by_role("dialog", name=CONTENT.clinic["name"])).to_be_visible()
    expect(frame.get_by_role("textbox", name="Your message")).to_be_visible()
    expect(frame.get_by_role("button", name="Send message")).to_be_visible()
    expect(frame.get_by_role("button", name="Close chat")).to_be_visible()
    expect(frame.get_by_role("button", name="End chat and clear it from this browser")).to_be_visible()
    expect(frame.get_by_role("button", name="Talk to a person")).to_be_visible()
    expect(frame.get_by_role("group", name="Suggested replies")).to_be_visible()
    expect(page.locator("iframe.cc-frame")).to_have_attribute("title", "Chat with " + CONTENT.clinic["name"])
    unnamed_js = """() => [...document.querySelectorAll('.cc-root button, .cc-root input')]
        .filter(el => !(el.getAttribute('aria-label') || el.textContent.trim() ||
                        (el.id && document.querySelector(`label[for="${el.id}"]`))))
        .map(el => el.outerHTML)"""
    assert page.evaluate(unnamed_js) == [] and chat.inside().evaluate(unnamed_js) == []

    chat.ask("what is ketamine")
    expect(chat.live).to_contain_text("Assistant: " + approved("what_is_ketamine"))
    # The live region is outside the panel, so it exists before any message arrives.
    assert chat.inside().evaluate("() => !document.querySelector('.cc-panel [aria-live]')")
    expect(frame.locator(".cc-emergency")).to_have_text(EMERGENCY_LINE)


CONTRAST_JS = """() => {
  const parse = c => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(',').map(Number); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const bgOf = el => { for (let n = el; n; n = n.parentElement) {
      const c = parse(getComputedStyle(n).backgroundColor); if (c && c.a >= 0.99) return c; }
    return {r: 255, g: 255, b: 255, a: 1}; };
  const out = [];
  for (const el of document.querySelectorAll('.cc-root *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.closest('.cc-sr-only') || !el.offsetParent) continue;
    const s = getComputedStyle(el);
    const fg = parse(s.color), bg = bgOf(el);
    const a = lum(fg), b = lum(bg);
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    out.push({text: el.textContent.trim().slice(0, 40), ratio: Math.round(ratio * 100) / 100,
              opacity: s.opacity});
  }
  return out;
}"""


def test_widget_text_meets_aa_contrast(stack, chat: Chat):
    chat.open()
    chat.ask("what is ketamine")
    chat.input.fill("typed text")
    results = chat.page.evaluate(CONTRAST_JS) + chat.inside().evaluate(CONTRAST_JS)
    assert len(results) > 8, results
    low = [r for r in results if r["ratio"] < 4.5]
    assert low == [], f"below WCAG AA 4.5:1: {low}"


# --- layout -------------------------------------------------------------------------------------


def test_phone_375px_full_screen_and_nothing_overflows(stack, contexts, output_dir: Path):
    context, _ = contexts.new(viewport={"width": 375, "height": 740}, is_mobile=True,
                              has_touch=True, device_scale_factor=2)
    chat = Chat(context.new_page(), stack.web_url).goto()
    page = chat.page
    def width() -> int:
        return page.evaluate("() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
    assert width() <= 375
    page.screenshot(path=str(output_dir / "widget-phone-page.png"), full_page=True)

    chat.open()
    chat.ask("what is ketamine")
    chat.ask(HTML_PAYLOAD + " " + "x" * 120)  # a long unbroken word must wrap, not overflow
    assert width() <= 375
    box = chat.panel.bounding_box()
    assert box is not None
    assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 375, 740)
    for sel in (".cc-input", ".cc-send", ".cc-emergency", ".cc-close", ".cc-end"):
        b = chat.frame.locator(sel).bounding_box()
        assert b and b["x"] >= 0 and b["x"] + b["width"] <= 375, f"{sel} is off screen: {b}"
    expect(chat.frame.locator(".cc-emergency")).to_be_in_viewport()
    page.screenshot(path=str(output_dir / "widget-phone.png"))
    # Escape closes the full-screen panel and the launcher is back.
    page.keyboard.press("Escape")
    expect(chat.launcher).to_be_visible()


# --- network ---------------------------------------------------------------------------------------


def test_no_request_leaves_127_0_0_1(stack, contexts):
    context, rec = contexts.new()
    page = context.new_page()
    response = page.goto(stack.web_url + "/")
    csp = response.headers.get("content-security-policy", "")
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    chat = Chat(page, stack.web_url).open()
    chat.ask("how long does a session take")
    chat.click_reply("How many sessions?")
    chat.page.reload()
    expect(chat.panel).to_be_visible()

    hosts = {urlsplit(u).netloc for u in rec.all_urls if urlsplit(u).scheme not in ("data", "blob")}
    rasa = urlsplit(stack.rasa_url).netloc
    web = urlsplit(stack.web_url).netloc
    assert hosts == {web, rasa}, hosts
    assert rec.external() == [] and rec.aborted == []
    assert any(u.startswith(f"ws://{rasa}/socket.io/") for u in rec.websockets)
    # WebSocket only: no HTTP long-polling requests to the Socket.IO endpoint.
    assert not [u for u in rec.requests if "/socket.io/" in u]


def test_widget_js_and_css_are_under_60_kb(stack):
    total = 0
    for name in ("clinic-chat.js", "clinic-chat.css", "clinic-chat-frame.js", "clinic-chat-frame.css"):
        with urllib.request.urlopen(f"{stack.web_url}/static/widget/{name}", timeout=10) as r:
            body = r.read()
        assert body == (WIDGET / name).read_bytes()
        total += len(body)
    assert total < 60_000, f"widget JS+CSS is {total} bytes"


# --- connection problems --------------------------------------------------------------------------


def test_unreachable_server_shows_a_message_and_reconnects(stack, contexts):
    context, _ = contexts.new()
    mode = {"up": False}
    live_sockets = []
    sent_frames: List[str] = []

    def route(ws):
        if not mode["up"]:
            ws.close()
            return
        server = ws.connect_to_server()

        def to_server(message):
            sent_frames.append(message if isinstance(message, str) else "")
            server.send(message)

        ws.on_message(to_server)
        server.on_message(lambda message: ws.send(message))
        live_sockets.append(ws)

    context.route_web_socket(re.compile(r"/socket\.io/"), route)
    chat = Chat(context.new_page(), stack.web_url).goto()
    chat.open(greeting=False)
    expect(chat.status).to_contain_text("can't reach the chat service", timeout=15_000)
    expect(chat.status).to_be_visible()

    # Typed while offline: shown as waiting, sent once the server is back.
    chat.input.fill("what is ketamine")
    chat.input.press("Enter")
    expect(chat.frame.locator(".cc-pending-note")).to_have_text("Waiting to send…")

    mode["up"] = True
    expect(chat.status).to_be_hidden(timeout=20_000)
    expect(chat.bot.last).to_have_text(approved("what_is_ketamine"), timeout=REPLY_TIMEOUT)
    expect(chat.frame.locator(".cc-pending-note")).to_have_count(0)
    sid = chat.session_id()
    assert any(f.startswith('42["session_request"') for f in sent_frames)

    # The connection drops mid-conversation: the widget says so, reconnects by itself,
    # asks for the same session again and carries on in the same conversation.
    sent_frames.clear()
    live_sockets[-1].close()
    wait_until(chat.page, lambda: any(f.startswith('42["session_request"') for f in sent_frames),
               what="session_request after reconnecting")
    requests = [json.loads(f[2:]) for f in sent_frames if f.startswith('42["session_request"')]
    assert requests[-1][1]["session_id"].split(".")[0] == sid  # the signed id of the same conversation
    expect(chat.status).to_be_hidden(timeout=20_000)
    assert chat.ask("how long does a session take") == [approved("session_length")]
    assert chat.session_id() == sid
    texts = [e["text"] for e in user_events(stack, sid)]
    assert texts == ["what is ketamine", "how long does a session take"]


def test_typing_indicator_shows_while_waiting(stack, contexts):
    context, _ = contexts.new()
    held: List = []
    state = {"hold": False}

    def route(ws):
        server = ws.connect_to_server()

        def to_page(message):
            if state["hold"] and isinstance(message, str) and message.startswith('42["bot_uttered"'):
                held.append(message)
            else:
                ws.send(message)

        server.on_message(to_page)
        ws.on_message(lambda message: server.send(message))
        state["ws"] = ws

    context.route_web_socket(re.compile(r"/socket\.io/"), route)
    chat = Chat(context.new_page(), stack.web_url).goto().open()
    state["hold"] = True
    before = chat.bot.count()
    chat.input.fill("what is ketamine")
    chat.input.press("Enter")
    expect(chat.typing).to_be_visible()
    expect(chat.typing).to_contain_text("The assistant is typing")
    wait_until(chat.page, lambda: bool(held), what="the bot reply to reach the test's proxy")
    expect(chat.typing).to_be_visible()
    state["hold"] = False
    for message in held:
        state["ws"].send(message)
    assert chat.wait_replies(before) == [approved("what_is_ketamine")]
    expect(chat.typing).to_be_hidden()


# --- the demo page -------------------------------------------------------------------------------


def test_demo_page_states_no_numbers_beyond_the_article(stack, contexts):
    """No invented prices, phone numbers or doses: every number on the page is accounted for."""
    context, _ = contexts.new()
    page = context.new_page()
    page.goto(stack.web_url + "/")
    text = page.locator("body").inner_text()
    allowed = {"988", "911", "25", "2022"}  # crisis lines; the article's date (March 25, 2022)
    allowed |= {n for value in CONTENT.clinic.values() for n in re.findall(r"\d+", value)}
    assert set(re.findall(r"\d+", text)) <= allowed, set(re.findall(r"\d+", text)) - allowed
    assert "$" not in text and not re.search(r"\b(mg|milligram|price|cost)s?\b", text, re.I)
    for value in ("name", "city", "phone", "email", "address", "hours"):
        assert CONTENT.clinic[value] in text
    assert "Dr. James R. Taggart" in text
    # Exactly one script tag: the widget, configured by data attributes.
    scripts = page.evaluate("() => [...document.querySelectorAll('script[src]')].map(s => s.getAttribute('src'))")
    assert scripts.count("/static/widget/clinic-chat.js") == 1
    tag = page.locator("script[src='/static/widget/clinic-chat.js']")
    expect(tag).to_have_attribute("data-server-url", stack.rasa_url)
    expect(tag).to_have_attribute("data-clinic-name", CONTENT.clinic["name"])


# --- the conversation belongs to the assistant's origin, and the visitor can clear it ------------

HOST_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Clinic site</title></head>
<body><h1>Our clinic</h1>
<script>
  // What an analytics or session-replay tag on the clinic's own site could do.
  window.seenMessages = [];
  window.addEventListener("message", function (e) { window.seenMessages.push(JSON.stringify(e.data)); });
</script>
<script src="{widget}/static/widget/clinic-chat.js" defer data-clinic-name="Shasta Meadows Wellness Center"
        data-init-payload="/greeting"></script>
</body></html>"""


def test_scripts_on_the_clinics_own_site_cannot_read_the_conversation(stack, contexts):
    """The clinic's site (another origin) embeds the widget: its scripts get the launcher only,
    neither the messages (DOM), nor where they are kept (storage), nor what the frame says."""
    context, _ = contexts.new()
    # The test's stand-in for the clinic's site is fulfilled by Playwright, so Chromium counts it
    # as a public page calling a loopback server: allow that (a real site and assistant are public).
    context.grant_permissions(["local-network-access"])
    page = context.new_page()
    web = urlsplit(stack.web_url)
    site = f"http://localhost:{web.port}"  # another origin than the widget's 127.0.0.1 (ALLOWED_ORIGINS has it)
    page.route(site + "/clinic-site.html", lambda route: route.fulfill(
        status=200, content_type="text/html", body=HOST_PAGE.replace("{widget}", stack.web_url)))
    page.goto(site + "/clinic-site.html")
    chat = Chat(page, stack.web_url)
    expect(chat.launcher).to_be_visible()
    chat.open()
    answer = approved("session_length")
    assert chat.ask("how long does a session take") == [answer]

    looked = page.evaluate("""() => {
        const frame = document.querySelector('iframe.cc-frame');
        let storage = 'readable';
        try { frame.contentWindow.sessionStorage.length; } catch (e) { storage = e.name; }
        return {text: document.body.innerText, html: document.documentElement.outerHTML,
                contentDocument: frame.contentDocument === null ? null : 'readable', storage: storage,
                ownStorage: Object.keys(sessionStorage).concat(Object.keys(localStorage)),
                cookies: document.cookie, messages: window.seenMessages};
    }""")
    assert looked["contentDocument"] is None and looked["storage"] == "SecurityError"
    assert looked["ownStorage"] == [] and looked["cookies"] == ""
    for where in ("text", "html"):
        assert "couple of hours" not in looked[where] and "how long does a session take" not in looked[where]
    assert looked["messages"], "the frame said nothing to the page"
    for message in looked["messages"]:
        data = json.loads(message)
        assert set(data) <= {"source", "type", "open"}, data
    # The frame is served to be framed only by the clinic's sites (and itself).
    frame_csp = urllib.request.urlopen(stack.web_url + "/widget/frame", timeout=10).headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' " in frame_csp and site in frame_csp and "https://evil" not in frame_csp


def test_end_chat_clears_the_conversation_from_the_browser(stack, chat: Chat):
    chat.open()
    chat.ask("what is ketamine")
    sid = chat.session_id()
    chat.frame.get_by_role("button", name="End chat and clear it from this browser").click()
    chat.frame.get_by_role("button", name="End and clear").click()
    expect(chat.frame.locator(".cc-msg")).to_have_count(0)
    expect(chat.frame.locator(".cc-ended")).to_contain_text("nothing of it is kept in this browser")
    assert chat.storage() is None
    assert chat.inside().evaluate("() => sessionStorage.length + localStorage.length") == 0
    chat.page.reload()
    expect(chat.launcher).to_be_visible()
    expect(chat.panel).to_be_hidden()
    expect(chat.frame.locator(".cc-msg")).to_have_count(0)
    assert chat.storage() is None
    # The clinic keeps its record (the staff console still has the conversation).
    assert [e["text"] for e in user_events(stack, sid)] == ["/greeting", "what is ketamine"]
    # A new chat is a new conversation.
    chat.open()
    assert chat.session_id() != sid


def test_a_new_long_answer_opens_at_its_start(stack, contexts):
    context, _ = contexts.new(viewport={"width": 375, "height": 520}, is_mobile=True, has_touch=True)
    chat = Chat(context.new_page(), stack.web_url).goto().open()
    chat.ask("what is ketamine")
    replies = chat.ask("how does ketamine work")
    assert replies == [approved("how_it_works")]
    geometry = chat.inside().evaluate("""() => {
        const log = document.querySelector('.cc-log');
        const bubbles = document.querySelectorAll('.cc-msg-bot');
        const last = bubbles[bubbles.length - 1];
        const l = log.getBoundingClientRect(), b = last.getBoundingClientRect();
        return {logTop: l.top, logBottom: l.bottom, top: b.top, bottom: b.bottom,
                atEnd: log.scrollTop + log.clientHeight >= log.scrollHeight - 2};
    }""")
    assert geometry["bottom"] - geometry["top"] > geometry["logBottom"] - geometry["logTop"], geometry  # taller than the view
    assert geometry["logTop"] - 1 <= geometry["top"] <= geometry["logTop"] + 24, geometry  # its start is in view
    assert not geometry["atEnd"], "scrolled past the start of the answer"


def test_a_repeated_greeting_is_short(stack, chat: Chat):
    chat.open()
    replies = chat.ask("hello")
    assert replies == [approved("greeting_again")]
    assert len(approved("greeting_again")) < len(approved("greeting")) / 3


def test_topic_answers_offer_next_questions(stack, chat: Chat):
    topics = ("what_is_ketamine", "how_it_works", "conditions_treated", "how_fast_it_works", "dose",
              "session_length", "multiple_sessions", "consultation", "location", "about_clinic")
    for topic in topics:  # every article topic's approved entry offers a next question
        assert CONTENT.render(topic).buttons, topic
    chat.open()
    assert chat.ask("where is the clinic located") == [approved("location")]
    titles = [b["title"] for b in CONTENT.render("location").buttons]
    expect(chat.frame.locator(".cc-replies button")).to_have_text(titles)
    assert chat.click_reply(titles[0]) == [approved("contact")]
