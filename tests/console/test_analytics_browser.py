"""The analytics page and the learning inbox in headless Chromium: the charts render (SVG
with the seeded values), and no request leaves 127.0.0.1 (fonts, scripts, chart libraries)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, List
from urllib.parse import urlsplit

import pytest

from tests.console.conftest import PASSWORD, in_browser, seed_tracker
from tests.console.test_analytics import clinic_tables, conversations, seed_clinic

OUTPUT = Path(__file__).resolve().parents[2] / "test-output"


@pytest.fixture(scope="module")
def app(webapp_factory, tmp_path_factory):
    app = webapp_factory(INBOX_ENCODER="ngram",
                         INBOX_TRAINING_FILE=str(tmp_path_factory.mktemp("nlu") / "nlu" / "reviewed_inbox.yml"))
    seed_tracker(app.tracker_path, conversations())
    seed_clinic(app.clinic_url)
    clinic_tables(app.clinic_url)
    app.account("nurse", "staff")
    return app


def with_page(scenario: Callable) -> Dict[str, List[str]]:
    """``scenario(page)`` in a fresh browser that may reach 127.0.0.1 only; every request is recorded."""
    record: Dict[str, List[str]] = {"requests": [], "external": [], "errors": [], "console": []}

    def body(browser) -> None:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
        context.set_default_timeout(20_000)

        def block(route) -> None:
            record["external"].append(route.request.url)
            route.abort()

        context.route(lambda url: urlsplit(url).hostname not in ("127.0.0.1", None), block)
        page = context.new_page()
        page.on("request", lambda r: record["requests"].append(r.url))
        page.on("pageerror", lambda e: record["errors"].append(str(e)))
        page.on("console", lambda m: record["console"].append(m.text) if m.type == "error" else None)
        try:
            scenario(page)
        finally:
            context.close()

    in_browser(body)
    return record


def test_analytics_page_renders_in_chromium_with_no_request_leaving_the_machine(app):
    def scenario(page) -> None:
        page.goto(app.url + "/staff/analytics?from=2025-03-03&to=2025-03-11&by=day")
        page.get_by_label("Username").fill("nurse")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/staff/analytics?**")
        charts = page.locator("svg.chart")
        assert charts.count() == 4
        for i in range(4):
            box = charts.nth(i).bounding_box()
            assert box and box["width"] > 300 and box["height"] > 80, box
        # the volume chart: one bar per day, as tall as its count (the 2s are twice the 1s)
        bars = page.locator("#chart-volume rect.s0.bar")
        heights = [float(h) for h in bars.evaluate_all("els => els.map(e => e.getBoundingClientRect().height)")]
        values = [int(v) for v in bars.evaluate_all("els => els.map(e => e.dataset.value)")]
        assert values == [2, 1, 2, 0, 0, 0, 1, 2, 2]
        assert heights[1] > 0 and abs(heights[0] - 2 * heights[1]) < 1.0 and heights[3] == 0
        # colours come from the stylesheet (the CSP refuses inline styles)
        fill = bars.first.evaluate("e => getComputedStyle(e).fill")
        assert fill not in ("", "none", "rgb(0, 0, 0)"), fill
        assert page.locator("#chart-rates circle.point").count() > 0
        assert page.locator("#kpi-conversations").inner_text() == "10"
        assert page.locator("#topics tbody tr").first.get_attribute("data-content") == "session_length"
        page.locator("#chart-volume rect.s0.bar").first.hover()
        OUTPUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUTPUT / "console-analytics.png"), full_page=True)

        # per week, through the form
        page.get_by_label("Per").select_option("week")
        page.get_by_role("button", name="Show").click()
        page.wait_for_url("**by=week**")
        assert page.locator("#figures tbody tr").count() == 2

        # the learning inbox
        page.get_by_role("link", name="Learning inbox", exact=True).click()
        page.wait_for_url("**/staff/inbox**")
        page.goto(app.url + "/staff/inbox?from=2025-03-01&to=2025-03-31")
        assert page.locator("section.group").count() >= 3
        page.screenshot(path=str(OUTPUT / "console-inbox.png"), full_page=True)

    record = with_page(scenario)
    assert not record["external"], f"the console asked another host: {record['external']}"
    hosts = {urlsplit(u).hostname for u in record["requests"]}
    assert hosts == {"127.0.0.1"}, hosts
    assert not record["errors"], record["errors"]
    assert not [m for m in record["console"] if "Content Security Policy" in m], record["console"]
