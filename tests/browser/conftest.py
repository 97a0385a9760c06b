"""Browser fixtures: headless Chromium (the system's /usr/bin/chromium) through Playwright.

Every page opened in a test context has each request URL and WebSocket URL
recorded, requests to any host but 127.0.0.1 aborted (and recorded), and
every JavaScript dialog recorded and dismissed. A test fails if anything tried
to leave 127.0.0.1 or a dialog opened, whatever the test itself checks.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the tests import clinic.content
    sys.path.insert(0, str(ROOT))
OUTPUT = ROOT / "test-output"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
# localhost: the clinic's "own site" of the widget's isolation test (fulfilled by the test, never fetched).
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
IGNORED_SCHEMES = {"data", "blob", "about"}


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in IGNORED_SCHEMES or parts.hostname in LOCAL_HOSTS


@dataclass
class Recorder:
    """What the pages of one browser context did on the network, and any dialogs."""

    requests: List[str] = field(default_factory=list)
    websockets: List[str] = field(default_factory=list)
    aborted: List[str] = field(default_factory=list)
    dialogs: List[str] = field(default_factory=list)
    page_errors: List[str] = field(default_factory=list)

    @property
    def all_urls(self) -> List[str]:
        return self.requests + self.websockets + self.aborted

    def external(self) -> List[str]:
        return [u for u in self.all_urls if not is_local(u)]

    def watch(self, page: Page) -> None:
        page.on("websocket", lambda ws: self.websockets.append(ws.url))
        page.on("pageerror", lambda err: self.page_errors.append(str(err)))

        def on_dialog(dialog) -> None:
            self.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)


# Module scope, not session: Playwright's sync API holds this thread's event loop
# while it runs, and later tests (tests/prod) use asyncio.run in this thread.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (never `playwright install`)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(exist_ok=True)
    for old in OUTPUT.glob("widget-*.png"):  # screenshots of this run only
        old.unlink()
    return OUTPUT


class ContextFactory:
    """Opens browser contexts (fresh browser sessions) that are recorded and checked."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.contexts: List[BrowserContext] = []
        self.recorders: List[Recorder] = []

    def new(self, **options) -> "tuple[BrowserContext, Recorder]":
        options.setdefault("viewport", {"width": 1280, "height": 800})
        options.setdefault("locale", "en-US")
        context = self.browser.new_context(**options)
        context.set_default_timeout(20_000)
        rec = Recorder()
        context.on("request", lambda r: rec.requests.append(r.url))
        context.on("page", rec.watch)

        def abort(route) -> None:
            rec.aborted.append(route.request.url)
            route.abort()

        context.route(lambda url: not is_local(url), abort)
        self.contexts.append(context)
        self.recorders.append(rec)
        return context, rec

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def contexts(chromium: Browser) -> Iterator[ContextFactory]:
    factory = ContextFactory(chromium)
    yield factory
    factory.close()
    for rec in factory.recorders:
        assert not rec.external(), f"requests left 127.0.0.1: {rec.external()}"
        assert not rec.dialogs, f"a JavaScript dialog opened: {rec.dialogs}"
        assert not rec.page_errors, f"JavaScript errors on the page: {rec.page_errors}"


