"""A staff member in headless Chromium: signs in, filters crisis conversations,
opens a transcript, moves a callback request to `contacted`; a visitor's
`<script>` shows as text and never runs."""

from __future__ import annotations

from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from tests.console.conftest import PASSWORD, in_browser

OUTPUT = Path(__file__).resolve().parents[2] / "test-output"


def with_page(scenario: Callable) -> None:
    """``scenario(page)`` in a fresh browser session that may reach 127.0.0.1 only;
    fails if a request left it, a JavaScript dialog opened or a script error occurred."""
    def body(browser) -> None:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
        context.set_default_timeout(20_000)
        record = {"external": [], "dialogs": [], "errors": []}

        def block(route) -> None:
            record["external"].append(route.request.url)
            route.abort()

        context.route(lambda url: urlsplit(url).hostname not in ("127.0.0.1", None), block)
        page = context.new_page()
        page.on("dialog", lambda d: (record["dialogs"].append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: record["errors"].append(str(e)))
        try:
            scenario(page)
        finally:
            context.close()
        assert not record["external"], f"the console asked another host: {record['external']}"
        assert not record["dialogs"], f"a script ran and opened a dialog: {record['dialogs']}"
        assert not record["errors"], record["errors"]

    in_browser(body)


def sign_in(page, web: str, username: str) -> None:
    page.goto(web + "/staff/conversations")
    assert urlsplit(page.url).path == "/staff/login"
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/staff/conversations")
    assert page.get_by_text(username).first.is_visible()


def test_sign_in_filter_crisis_open_transcript_and_work_the_queue(real):
    from webapp.console import queue

    real.account("browser-nurse")
    web = real.stack.web_url
    crisis, callback, plain = real.senders["crisis"], real.senders["callback"], real.senders["plain"]
    assert queue.for_conversation(callback, real.clinic_url).status == "new"

    def scenario(page) -> None:
        sign_in(page, web, "browser-nurse")

        # crisis only
        page.get_by_label("Crisis", exact=True).check()
        page.get_by_role("button", name="Filter").click()
        page.wait_for_url("**crisis=1**")
        rows = page.locator("#conversation-list tbody tr[data-sender]")
        senders = rows.evaluate_all("rows => rows.map(r => r.dataset.sender)")
        assert crisis in senders and plain not in senders and callback not in senders
        assert rows.count() == page.locator("#conversation-list tbody tr[data-sender] .badge.crisis").count()
        OUTPUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUTPUT / "console-crisis-list.png"), full_page=True)

        # the transcript
        page.locator(f'tr[data-sender="{crisis}"] td a').first.click()
        page.wait_for_url("**/staff/conversation?id=**")
        transcript = page.locator("#transcript")
        assert transcript.get_by_text("I want to kill myself").is_visible()
        assert "content crisis v" in " ".join(transcript.locator(".msg.bot .meta").all_inner_texts())
        assert "intent crisis" in " ".join(transcript.locator(".msg.user .meta").all_inner_texts())
        page.screenshot(path=str(OUTPUT / "console-transcript.png"), full_page=True)

        # the callback queue: the medical request moves to "contacted"
        page.get_by_role("link", name="Callback queue").click()
        page.wait_for_url("**/staff/queue")
        row = page.locator(f'#queue tr[data-conversation="{callback}"]')
        assert row.get_by_text("Jane Doe").is_visible()
        row.locator("select[name=status]").select_option("contacted")
        row.get_by_role("button", name="Change").click()
        page.wait_for_url("**msg=status_changed**")
        assert page.get_by_text("Status changed.").is_visible()
        row = page.locator(f'#queue tr[data-conversation="{callback}"]')
        assert row.locator(".status").inner_text() == "contacted"
        page.screenshot(path=str(OUTPUT / "console-queue.png"), full_page=True)

    with_page(scenario)
    stored = queue.for_conversation(callback, real.clinic_url)
    assert stored.status == "contacted" and stored.status_changed_by == "browser-nurse"


def test_script_in_a_transcript_shows_as_text(real):
    real.account("browser-nurse2")
    web = real.stack.web_url

    def scenario(page) -> None:
        sign_in(page, web, "browser-nurse2")
        page.goto(web + "/staff/conversation?id=" + real.senders["xss"])
        message = page.locator("#transcript .msg.user .text").first
        assert message.inner_text() == "<script>alert(1)</script> what is ketamine"
        assert page.locator("main script").count() == 0

    with_page(scenario)
