"""Live chat with a person, in headless Chromium: a visitor (the demo page's widget) and a nurse
(the staff console) in two browser contexts, against a whole stack of its own (action server,
Rasa, web app) whose content/staffing.yml stand-in keeps live chat open all day with short
timeouts. Nothing here pins wording: every text comes from content/approved.yml.
"""

from __future__ import annotations

import time
from typing import Iterator, List

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from clinic import live_chat
from clinic.content import ApprovedContent
from clinic.models import AuditEntry, session_factory
from tests.support import audit_actions
from tests.browser.test_widget import Chat, approved, bot_content_ids
from tests.conftest import MODEL, Stack, make_stack
from tests.prod.conftest import start_rasa_servers

PASSWORD = "correct horse battery staple"
CONTENT = ApprovedContent.load()
ANSWER_WITHIN_MINUTES = 0.25  # a waiting visitor nobody joins: the callback offer after 15 s
HAND_BACK_MINUTES = 0.4       # a silent takeover goes back to the assistant after 24 s
STAFFING = f"""\
live_chat: yes
timezone: America/Los_Angeles
opening_hours: {{monday: all day, tuesday: all day, wednesday: all day, thursday: all day,
                friday: all day, saturday: all day, sunday: all day}}
answer_within_minutes: {ANSWER_WITHIN_MINUTES}
hand_back_after_minutes: {HAND_BACK_MINUTES}
presence_seconds: 60
max_staff_message_chars: 500
"""
LIVE_WITHIN_S = 5.0


@pytest.fixture(scope="module")
def live_stack(tmp_path_factory) -> Iterator[Stack]:
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make train`")
    tmp = tmp_path_factory.mktemp("live-stack")
    (tmp / "staffing.yml").write_text(STAFFING)
    stack = make_stack(tmp, STAFFING_CONFIG=str(tmp / "staffing.yml"))
    try:
        stack.start_actions()
        start_rasa_servers(stack, ("rasa",))  # waits while the model file is being rewritten, retries
        stack.start_web()
        from webapp.console import accounts

        for name in ("nina", "sam"):
            accounts.create(name, "staff", PASSWORD, actor="test", url=stack.env["CLINIC_DB_URL"])
        accounts.create("ann", "admin", PASSWORD, actor="test", url=stack.env["CLINIC_DB_URL"])
        # The first message a fresh Rasa server understands builds its sentence model's graph (seconds):
        # once here, so the timings below are the live console's, not that.
        stack.say("warm-up", "how long does a session take at the clinic")
        yield stack
    finally:
        stack.stop_all()


def clinic_url(stack: Stack) -> str:
    return stack.env["CLINIC_DB_URL"]


def nobody_available(stack: Stack) -> None:
    for name in ("nina", "sam", "ann"):
        live_chat.set_availability(name, False, None, clinic_url(stack))


class Nurse:
    """A staff member in the console, in their own browser context."""

    def __init__(self, context: BrowserContext, stack: Stack, username: str) -> None:
        self.page: Page = context.new_page()
        self.stack = stack
        self.username = username
        self.page.goto(stack.web_url + "/staff/conversations")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url("**/staff/conversations")
        self.live_status = self.page.locator("#live-status")

    def available(self, first_name: str) -> None:
        bar = self.page.locator("#live-availability")
        bar.get_by_label("Available for live chat").check()
        bar.get_by_label("Your first name as visitors see it").fill(first_name)
        bar.get_by_role("button", name="Save").click()
        self.page.wait_for_load_state()
        expect(bar.get_by_label("Available for live chat")).to_be_checked()
        self.connected()

    def connected(self) -> None:
        expect(self.live_status).to_have_text("Live updates: connected", timeout=15_000)

    def row(self, sender: str):
        return self.page.locator(f'#conversation-list tr[data-sender="{sender}"]')

    def open_conversation(self, sender: str) -> None:
        self.page.goto(self.stack.web_url + "/staff/conversation?id=" + sender)
        self.connected()

    def take_over(self) -> None:
        self.page.get_by_role("button", name="Take over this conversation").click()
        expect(self.page.locator("#takeover-form")).to_be_visible()

    def send(self, text: str) -> None:
        self.page.locator("#takeover-text").fill(text)
        self.page.get_by_role("button", name="Send", exact=True).click()
        expect(self.page.locator("#takeover-text")).to_have_value("")
        expect(self.page.locator("#takeover-error")).to_be_hidden()


def visitor(contexts, stack: Stack) -> Chat:
    context, _ = contexts.new()
    return Chat(context.new_page(), stack.web_url).goto().open()


def staff_events(stack: Stack, sender: str) -> List[dict]:
    return [e for e in stack.tracker(sender)["events"]
            if e["event"] == "bot" and (e.get("metadata") or {}).get("content_id") == "staff_message"]


def notices(chat: Chat) -> List[str]:
    return chat.frame.locator(".cc-notice").all_text_contents()


# --- the whole story --------------------------------------------------------------------------

def test_hand_off_shows_live_nurse_takes_over_messages_both_ways_hands_back(live_stack, contexts):
    stack = live_stack
    nurse = Nurse(contexts.new()[0], stack, "nina")
    nurse.available("Nina")
    chat = visitor(contexts, stack)
    sid = chat.session_id()

    # The visitor asks for a person while someone is available: the offer of a live chat.
    before = chat.bot.count()
    chat.frame.get_by_role("button", name="Talk to a person", exact=True).click()
    replies = chat.wait_replies(before, 2)
    asked_at = time.monotonic()
    assert replies == [approved("staff_handoff"), approved("live_chat_offer")]
    # ...and it is on the nurse's open console within 5 s, without a reload.
    row = nurse.row(sid)
    expect(row).to_be_visible(timeout=LIVE_WITHIN_S * 1000)
    expect(row.locator('[data-flag="handoff"]')).to_be_visible()
    expect(nurse.page.locator(f'#live-alerts li[data-kind="handoff"][data-sender="{sid}"]')).to_be_visible()
    assert time.monotonic() - asked_at < LIVE_WITHIN_S
    expect(row.locator('[data-cell="preview"]')).to_have_text("Talk to a person")  # the click, not /request_human

    # The visitor takes the offer; the nurse sees them waiting, and the count in the navigation.
    assert chat.click_reply("Yes, chat now") == [approved("live_chat_waiting")]
    expect(row.locator('[data-flag="waiting"]')).to_be_visible(timeout=LIVE_WITHIN_S * 1000)
    expect(nurse.page.locator('[data-live-count="waiting"]')).to_have_text("1", timeout=10_000)

    # The nurse takes it over from the transcript: the visitor is told who joined.
    nurse.open_conversation(sid)
    nurse.take_over()
    joined = CONTENT.render("live_chat_joined", {"staff_name": "Nina"}).text
    expect(chat.frame.locator(".cc-notice")).to_have_text([joined], timeout=10_000)
    expect(chat.frame.locator(".cc-subtitle")).to_have_text("Chatting with Nina from the clinic")

    # Nurse -> visitor: a person's message, with her name, shown literally.
    staff_text = "Hi, I'm Nina. <b>How can I help?</b>"
    nurse.send(staff_text)
    staff = chat.frame.locator(".cc-msg-staff")
    expect(staff).to_have_count(1, timeout=10_000)
    expect(staff.locator(".cc-bubble")).to_have_text(staff_text)
    expect(staff.locator(".cc-sender")).to_contain_text("Nina")
    expect(chat.frame.locator(".cc-msg-staff b")).to_have_count(0)

    # Visitor -> nurse: live on her transcript; the assistant stays silent.
    bots_before = chat.bot.count()
    chat.input.fill("how long does a session take")
    chat.input.press("Enter")
    expect(nurse.page.locator("#transcript .msg.user .text").last).to_have_text(
        "how long does a session take", timeout=LIVE_WITHIN_S * 1000)
    chat.page.wait_for_timeout(3000)
    assert chat.bot.count() == bots_before, "the assistant answered during the takeover"
    expect(chat.frame.locator(".cc-typing")).to_be_hidden()
    nurse.send("A session takes a couple of hours; your clinician will go through it with you.")
    expect(staff).to_have_count(2, timeout=10_000)

    # Hand back: the visitor is told, and the assistant answers the next question.
    nurse.page.get_by_role("button", name="Hand back to the assistant").click()
    ended = CONTENT.render("live_chat_ended", {"staff_name": "Nina"}).text
    expect(chat.frame.locator(".cc-notice").last).to_have_text(ended, timeout=10_000)
    expect(chat.frame.locator(".cc-subtitle")).to_have_text("Automated assistant · not medical advice")
    assert chat.ask("where is the clinic located") == [approved("location")]

    # Stored in the tracker: who said what; and every step is audited.
    said = staff_events(stack, sid)
    assert [e["text"] for e in said] == [staff_text, "A session takes a couple of hours; your clinician will go "
                                                      "through it with you."]
    assert all(e["metadata"]["staff_name"] == "Nina" and e["metadata"]["staff_user"] == "nina" for e in said)
    ids = bot_content_ids(stack, sid)
    assert ids.index("live_chat_joined") < ids.index("staff_message") < ids.index("live_chat_ended")
    assert [e["event"] for e in stack.tracker(sid)["events"] if e["event"] in ("pause", "resume")] == [
        "pause", "resume"]
    actions = audit_actions(stack, sid, waiting_for="takeover_hand_back")
    for action in ("conversation_view", "takeover_start", "takeover_message", "takeover_hand_back"):
        assert action in actions, (action, actions)
    assert actions.count("takeover_message") == 2
    # The console's transcript shows the staff member by name.
    nurse.page.reload()
    expect(nurse.page.locator("#transcript .msg.staff .meta").first).to_contain_text("Nina (staff)")


def test_crisis_language_during_a_takeover_gets_the_crisis_reply_and_alerts_the_nurse(live_stack, contexts):
    stack = live_stack
    nurse = Nurse(contexts.new()[0], stack, "nina")
    chat = visitor(contexts, stack)
    sid = chat.session_id()
    chat.ask("what is ketamine")
    nurse.open_conversation(sid)
    nurse.take_over()
    expect(chat.frame.locator(".cc-notice")).to_have_count(1, timeout=10_000)

    before = chat.bot.count()
    chat.input.fill("I want to kill myself")
    chat.input.press("Enter")
    assert chat.wait_replies(before) == [approved("crisis")]
    expect(chat.frame.locator(".cc-msg-crisis a[href='tel:988']")).to_be_visible()
    # The first test holds the 5 s bound for hand-offs; this alert came after 5 s once in a clean-clone
    # run while the suite's first servers were still warming up, so it gets twice as long here.
    expect(nurse.page.locator("#live-crisis")).to_be_visible(timeout=2 * LIVE_WITHIN_S * 1000)
    expect(nurse.page.locator("#transcript .msg.user.crisis")).to_have_count(1)
    # Still the nurse's conversation: the assistant answers nothing else.
    before = chat.bot.count()
    chat.input.fill("how many sessions will I need")
    chat.input.press("Enter")
    chat.page.wait_for_timeout(3000)
    assert chat.bot.count() == before
    nurse.send("I'm here with you. Please call or text 988 now; I'll stay in the chat.")
    expect(chat.frame.locator(".cc-msg-staff")).to_have_count(1, timeout=10_000)
    # A second staff member is told who has it.
    sam = Nurse(contexts.new()[0], stack, "sam")
    sam.open_conversation(sid)
    expect(sam.page.locator("#takeover-state")).to_contain_text("Nina (nina) has this conversation")
    expect(sam.page.get_by_role("button", name="Take over this conversation")).to_be_hidden()
    nurse.page.get_by_role("button", name="Close the chat").click()
    closed = CONTENT.render("live_chat_closed", {"staff_name": "Nina"}).text
    expect(chat.frame.locator(".cc-notice").last).to_have_text(closed, timeout=10_000)
    assert "takeover_close" in audit_actions(stack, sid, waiting_for="takeover_close")


def test_nobody_available_gets_the_callback_form(live_stack, contexts):
    nobody_available(live_stack)
    chat = visitor(contexts, live_stack)
    before = chat.bot.count()
    chat.frame.get_by_role("button", name="Talk to a person", exact=True).click()
    assert chat.wait_replies(before, 2) == [approved("staff_handoff"), approved("callback_consent")]
    assert chat.click_reply("Yes, please") == [approved("callback_name")]


def test_nobody_answering_in_time_gets_the_callback_form(live_stack, contexts):
    stack = live_stack
    nurse = Nurse(contexts.new()[0], stack, "sam")
    nurse.available("Sam")
    chat = visitor(contexts, stack)
    replies = chat.ask("can I take ketamine while on lithium", count=2)
    assert replies == [approved("medical_handoff"), approved("live_chat_offer")]
    assert chat.click_reply("Yes, chat now") == [approved("live_chat_waiting")]
    # Nobody takes it: after answer_within_minutes, a notice and the callback form, as without live chat.
    expect(chat.frame.locator(".cc-notice").last).to_have_text(
        approved("live_chat_unanswered"), timeout=int(ANSWER_WITHIN_MINUTES * 60_000) + 15_000)
    expect(chat.bot.last).to_have_text(approved("callback_consent"), timeout=10_000)
    chat.settle()
    assert chat.click_reply("Yes, please") == [approved("callback_name")]
    assert "live_chat_unanswered" in audit_actions(stack, chat.session_id(), waiting_for="live_chat_unanswered")
    nobody_available(stack)


def test_a_silent_takeover_goes_back_to_the_assistant_and_the_visitor_is_told(live_stack, contexts):
    stack = live_stack
    nurse = Nurse(contexts.new()[0], stack, "nina")
    chat = visitor(contexts, stack)
    sid = chat.session_id()
    nurse.open_conversation(sid)
    nurse.take_over()
    expect(chat.frame.locator(".cc-notice")).to_have_count(1, timeout=10_000)
    nurse.page.close()  # the nurse is called away
    timeout = CONTENT.render("live_chat_timeout", {"staff_name": "Nina"}).text
    expect(chat.frame.locator(".cc-notice").last).to_have_text(timeout, timeout=int(HAND_BACK_MINUTES * 60_000) + 15_000)
    assert chat.ask("how long does a session take") == [approved("session_length")]
    assert "takeover_timeout" in audit_actions(stack, sid, waiting_for="takeover_timeout")


def test_an_admin_hands_back_a_colleagues_takeover_and_a_colleague_cannot(live_stack, contexts):
    """Nina took a conversation over and walked away: Sam (staff) cannot end it, Ann (admin) can."""
    stack = live_stack
    nina = Nurse(contexts.new()[0], stack, "nina")
    nina.available("Nina")
    chat = visitor(contexts, stack)
    sid = chat.session_id()
    before = chat.bot.count()
    chat.frame.get_by_role("button", name="Talk to a person", exact=True).click()
    chat.wait_replies(before, 2)
    assert chat.click_reply("Yes, chat now") == [approved("live_chat_waiting")]
    nina.open_conversation(sid)
    nina.take_over()
    joined = CONTENT.render("live_chat_joined", {"staff_name": "Nina"}).text
    expect(chat.frame.locator(".cc-notice")).to_have_text([joined], timeout=10_000)

    sam = Nurse(contexts.new()[0], stack, "sam")
    sam.open_conversation(sid)
    expect(sam.page.locator("#takeover-state")).to_contain_text("(nina) has this conversation")
    expect(sam.page.locator("#takeover-hand-back")).to_be_hidden()

    ann = Nurse(contexts.new()[0], stack, "ann")
    ann.open_conversation(sid)
    hand_back = ann.page.get_by_role("button", name="Hand Nina's chat back to the assistant")
    expect(hand_back).to_be_visible()
    expect(ann.page.locator("#takeover-form")).to_be_hidden()  # she does not chat as Nina
    hand_back.click()
    ended = CONTENT.render("live_chat_ended", {"staff_name": "Nina"}).text
    expect(chat.frame.locator(".cc-notice").last).to_have_text(ended, timeout=10_000)
    assert chat.ask("where is the clinic located") == [approved("location")]
    # Nina's console follows: the conversation is the assistant's again.
    expect(nina.page.locator("#takeover-form")).to_be_hidden(timeout=LIVE_WITHIN_S * 1000)
    actions = audit_actions(stack, sid, waiting_for="takeover_hand_back")
    assert "takeover_hand_back" in actions
    with session_factory(clinic_url(stack))() as s:
        entry = s.query(AuditEntry).filter(AuditEntry.target == f"conversation:{sid}",
                                           AuditEntry.action == "takeover_hand_back").one()
    assert entry.actor == "ann"
