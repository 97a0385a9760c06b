"""Console fixtures: the real web app (``python -m webapp``) on a free port with its
own clinic and tracker databases, staff accounts, a signed-in HTTP client, and
helpers to seed a tracker store the way Rasa writes it.

The full stack (action server + Rasa + web app) is the ``stack`` fixture of
tests/conftest.py; tests that need real conversations use it.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import pytest
import requests

from tests.conftest import ROOT, free_port, wait_for

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SENDER = re.compile(r'data-sender="([^"]*)"')
REQUEST_ROW = re.compile(r'data-request="(\d+)" data-conversation="([^"]*)"')


def base_env(tmp: Path, **extra: str) -> Dict[str, str]:
    env = dict(os.environ)
    for name in ("SESSION_IDLE_MINUTES", "SESSION_MAX_HOURS", "LOGIN_LOCK_AFTER", "LOGIN_LOCK_MINUTES",
                 "LOGIN_DELAY_BASE_SECONDS", "LOGIN_DELAY_MAX_SECONDS", "RETENTION_DAYS",
                 "SESSION_COOKIE_SECURE", "TRUSTED_PROXY_COUNT", "REAL_IP_HEADER", "CLINIC_PROFILE"):
        env.pop(name, None)
    env.update({
        "SESSION_SECRET": "console-test-" + uuid.uuid4().hex + uuid.uuid4().hex,
        "CLINIC_DB_URL": f"sqlite:///{tmp / 'clinic.db'}",
        "TRACKER_DB_URL": f"sqlite:///{tmp / 'rasa.db'}",
        "RASA_URL": "http://127.0.0.1:5005",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "RASA_TELEMETRY_ENABLED": "false",
        "CLINIC_TZ": "America/Los_Angeles",
        # Admins sign in with a password only here (tests/console/test_totp.py tests the second
        # factor, which is required for admins by default and refused off in production).
        "TOTP_REQUIRED_FOR": "none",
    })
    env.update(extra)
    return env


@dataclass
class WebApp:
    """One running ``python -m webapp`` with its environment."""

    env: Dict[str, str]
    tmp: Path
    port: int
    proc: Optional[subprocess.Popen] = None
    log: Optional[Path] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def clinic_url(self) -> str:
        return self.env["CLINIC_DB_URL"]

    @property
    def tracker_path(self) -> Path:
        return Path(self.env["TRACKER_DB_URL"][len("sqlite:///"):])

    def start(self) -> "WebApp":
        self.log = self.tmp / f"web-{self.port}.log"
        self.proc = subprocess.Popen([sys.executable, "-m", "webapp", "--port", str(self.port)], cwd=ROOT,
                                     env=self.env, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        wait_for(f"{self.url}/healthz", timeout=60, proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""

    def account(self, username: str, role: str = "staff", password: str = PASSWORD) -> str:
        """Create an account in this app's clinic database (the accounts module's Python API)."""
        from webapp.console import accounts

        accounts.create(username, role, password, actor="test", url=self.clinic_url)
        return username

    def client(self) -> "StaffClient":
        return StaffClient(self.url)

    def signed_in(self, username: str, password: str = PASSWORD) -> "StaffClient":
        c = self.client()
        r = c.login(username, password)
        assert r.status_code == 200 and "/staff/login" not in r.url, (r.status_code, r.url, r.text[:500])
        return c


class StaffClient:
    """A browser-like HTTP client: keeps cookies and the latest CSRF token."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.s = requests.Session()
        self.csrf: Optional[str] = None

    def _remember(self, r: requests.Response) -> requests.Response:
        m = CSRF.search(r.text) if r.headers.get("content-type", "").startswith("text/html") else None
        if m:
            self.csrf = html.unescape(m.group(1))
        return r

    def get(self, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 30)
        return self._remember(self.s.get(self.base + path, **kw))

    def post(self, path: str, data: Optional[dict] = None, csrf: bool = True, **kw) -> requests.Response:
        data = dict(data or {})
        if csrf:
            if self.csrf is None:
                self.get("/staff/conversations")
            data["csrf_token"] = self.csrf
        kw.setdefault("timeout", 30)
        return self._remember(self.s.post(self.base + path, data=data, **kw))

    def login(self, username: str, password: str) -> requests.Response:
        self.get("/staff/login")
        return self.post("/staff/login", {"username": username, "password": password})

    def senders(self, query: str = "") -> List[str]:
        """Sender ids listed on every page of the conversation list for ``query``."""
        found: List[str] = []
        page = 1
        while True:
            sep = "&" if query else ""
            r = self.get(f"/staff/conversations?{query}{sep}page={page}")
            assert r.status_code == 200, r.text[:300]
            found += [html.unescape(s) for s in SENDER.findall(r.text)]
            if 'rel="next"' not in r.text:
                return found
            page += 1


@pytest.fixture(scope="module")
def webapp_factory(tmp_path_factory) -> Iterator[Callable[..., WebApp]]:
    """Start web apps with their own databases; all stopped when the module ends."""
    apps: List[WebApp] = []

    def make(**extra_env: str) -> WebApp:
        tmp = tmp_path_factory.mktemp("console")
        app = WebApp(env=base_env(tmp, **extra_env), tmp=tmp, port=free_port())
        apps.append(app)
        return app.start()

    yield make
    for app in apps:
        app.stop()


@pytest.fixture(scope="module")
def console(webapp_factory) -> WebApp:
    """A web app with an admin 'ada' and a staff member 'sam'."""
    app = webapp_factory()
    app.account("ada", "admin")
    app.account("sam", "staff")
    return app


# --- seeding a tracker store the way Rasa does ------------------------------------------

def user(text: str, intent: str, confidence: float = 0.95, ts: Optional[float] = None):
    from rasa.shared.core.events import UserUttered

    return UserUttered(text, intent={"name": intent, "confidence": confidence},
                       parse_data={"text": text, "intent": {"name": intent, "confidence": confidence},
                                   "entities": []}, timestamp=ts)


def bot(text: str, content_id: Optional[str], version: Optional[int] = 1, ts: Optional[float] = None):
    from rasa.shared.core.events import BotUttered

    meta = {} if content_id is None else {"content_id": content_id, "content_version": version}
    return BotUttered(text, data={}, metadata=meta, timestamp=ts)


def slot(name: str, value, ts: Optional[float] = None):
    from rasa.shared.core.events import SlotSet

    return SlotSet(name, value, timestamp=ts)


def loop(name: Optional[str], ts: Optional[float] = None):
    from rasa.shared.core.events import ActiveLoop

    return ActiveLoop(name, timestamp=ts)


def seed_tracker(path: Path, conversations: Dict[str, Sequence]) -> None:
    """Store each conversation's events with Rasa's own SQLTrackerStore (as ``rasa run`` does)."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.events import ActionExecuted, SessionStarted
    from rasa.shared.core.trackers import DialogueStateTracker

    store = SQLTrackerStore(dialect="sqlite", db=str(path))

    async def save_all() -> None:
        for sender, events in conversations.items():
            first = next((e.timestamp for e in events), time.time())
            head = [ActionExecuted("action_session_start", timestamp=first - 0.002),
                    SessionStarted(timestamp=first - 0.001),
                    ActionExecuted("action_listen", timestamp=first - 0.0005)]
            tracker = DialogueStateTracker.from_events(sender, head + list(events))
            await store.save(tracker)

    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    errors: List[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(save_all())
        except BaseException as e:  # re-raised below, in the test's thread
            errors.append(e)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    store.engine.dispose()
    if errors:
        raise errors[0]


# --- real conversations through the running assistant (the ``stack`` fixture) -----------

CALLBACK_TURNS = ("can I take ketamine while on lithium", "yes", "Jane Doe", "jane@example.com",
                  "weekday mornings")
REAL_TURNS = {
    "crisis": ("hello", "I want to kill myself"),
    "callback": CALLBACK_TURNS,
    "fallback": ("blorp snarfle quux", "zzzq wibble frob"),
    "plain": ("what is ketamine", "how long does a session take"),
    "xss": ("<script>alert(1)</script> what is ketamine",),
}


@dataclass
class RealConversations:
    stack: object
    senders: Dict[str, str] = field(default_factory=dict)  # kind -> sender id

    @property
    def clinic_url(self) -> str:
        return self.stack.env["CLINIC_DB_URL"]

    def account(self, username: str, role: str = "staff") -> str:
        from webapp.console import accounts

        if accounts.get(username, self.clinic_url) is None:
            accounts.create(username, role, PASSWORD, actor="test", url=self.clinic_url)
        return username

    def client(self) -> StaffClient:
        return StaffClient(self.stack.web_url)

    def signed_in(self, username: str) -> StaffClient:
        c = self.client()
        r = c.login(username, PASSWORD)
        assert r.status_code == 200 and "/staff/login" not in r.url, (r.status_code, r.text[:300])
        return c


@pytest.fixture(scope="session")
def real(stack) -> RealConversations:
    """Five conversations held with the real assistant: crisis, callback, fallback, plain, and <script>."""
    out = RealConversations(stack)
    run = uuid.uuid4().hex[:8]
    for kind, turns in REAL_TURNS.items():
        sender = f"console-{kind}-{run}"
        for text in turns:
            stack.say(sender, text)
        out.senders[kind] = sender
    return out


# --- headless Chromium (the system's, never a downloaded one) -------------------------------

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def in_browser(scenario: Callable[[object], None]) -> None:
    """Run ``scenario(browser)`` with a fresh headless Chromium, in a thread of its own.

    Playwright's sync API refuses to start a second instance in a thread where
    one runs already (tests/browser keeps one for the whole session), so the
    console's browser tests never share the test thread with it.
    """
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (never `playwright install`)")
    errors: List[BaseException] = []

    def run() -> None:
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    scenario(browser)
                finally:
                    browser.close()
        except BaseException as e:  # re-raised in the test's thread, traceback and all
            errors.append(e)

    worker = threading.Thread(target=run, name="console-browser")
    worker.start()
    worker.join(timeout=300)
    assert not worker.is_alive(), "the browser scenario did not finish in 5 minutes"
    if errors:
        raise errors[0]
