"""The one helper that starts the servers tests need: action server, Rasa server(s), web app, on free ports.

``make_stack(tmp)`` gives a :class:`Stack` with its own environment (token,
SQLite files under ``tmp``, never ``var/``); ``start_actions()``,
``start_rasa(name)`` and ``start_web()`` start each server and wait until it
answers; tests talk to them the way visitors and staff do (``say``, ``turn``,
``tracker``). tests/conftest.py, tests/prod/ (PostgreSQL, Redis, several Rasa
servers) and the editor tests all start their servers through it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Coroutine, Dict, List

from scripts.wait_ready import free_port, wait_for  # noqa: F401 (also imported from here by other tests)

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
MODEL = ROOT / "models" / "clinic.tar.gz"
TOKEN = "test-token-" + uuid.uuid4().hex
# endpoints.yml names it (the action server refuses calls without it): every Rasa server and
# action server a test starts, in this process or a child, gets the same one.
os.environ.setdefault("ACTION_SERVER_TOKEN", "test-action-token-" + uuid.uuid4().hex)
# The widget's session ids are signed with it, the same on every Rasa server a test starts.
os.environ.setdefault("WIDGET_SESSION_SECRET", "test-widget-secret-" + uuid.uuid4().hex)
# Every test visitor comes from 127.0.0.1: the per-address limits (tests/test_socketio_sessions.py
# tests them on a server of their own) must not slow the other tests' barrages down.
os.environ.setdefault("WIDGET_MAX_CONNECTIONS_PER_ADDRESS", "100000")
os.environ.setdefault("WIDGET_MESSAGES_PER_MINUTE", "1000000")



def run_coroutine(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` to the end in a thread of its own: a browser test in the same session
    may hold this thread's event loop (Playwright's sync API)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@dataclass
class Stack:
    """A running assistant: URLs, token, environment and process handles."""

    env: Dict[str, str]
    tmp: Path
    rasa_port: int
    action_port: int
    web_port: int
    procs: Dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: Dict[str, Path] = field(default_factory=dict)
    # Extra Rasa servers on the same stores (start_rasa(name=...)): name -> port.
    rasa_ports: Dict[str, int] = field(default_factory=dict)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    def url_of(self, rasa: str = "rasa") -> str:
        """The URL of the Rasa server started as ``rasa`` (the first one by default)."""
        return f"http://127.0.0.1:{self.rasa_ports.get(rasa, self.rasa_port)}"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def token(self) -> str:
        return self.env["RASA_AUTH_TOKEN"]

    def _spawn(self, name: str, args: List[str]) -> subprocess.Popen:
        log = self.tmp / f"{name}.log"
        self.logs[name] = log
        proc = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=open(log, "ab"),
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def start_actions(self) -> None:
        proc = self._spawn("actions", [str(VENV_BIN / "python"), "-m", "actions.server",
                                       "--port", str(self.action_port)])
        wait_for(f"http://127.0.0.1:{self.action_port}/health", proc=proc)

    def start_rasa(self, name: str = "rasa", wait: bool = True) -> None:
        """Start a Rasa server; another ``name`` starts one more on its own port, same stores."""
        port = self.rasa_port if name == "rasa" else self.rasa_ports.setdefault(name, free_port())
        self._spawn(name, [
            str(VENV_BIN / "rasa"), "run", "--enable-api", "--auth-token", self.token,
            "--port", str(port), "--cors", f"http://127.0.0.1:{self.web_port}",
            "--credentials", "credentials.yml", "--endpoints", "endpoints.yml",
            "--model", str(MODEL)])
        if wait:
            self.wait_rasa(name)

    def wait_rasa(self, name: str = "rasa") -> None:
        wait_for(f"{self.url_of(name)}/status?token={self.token}", proc=self.procs[name])

    def start_web(self) -> None:
        proc = self._spawn("web", [str(VENV_BIN / "python"), "-m", "webapp", "--port", str(self.web_port)])
        wait_for(f"{self.web_url}/healthz", proc=proc)

    def stop(self, name: str, sig: int = 15) -> None:
        proc = self.procs.pop(name, None)
        if proc and proc.poll() is None:
            os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    # --- talking to it -------------------------------------------------
    def say(self, sender: str, text: str, rasa: str = "rasa") -> List[dict]:
        """Send one REST message; the bot's replies."""
        req = urllib.request.Request(f"{self.url_of(rasa)}/webhooks/rest/webhook",
                                     data=json.dumps({"sender": sender, "message": text}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"[]")

    def tracker(self, sender: str, rasa: str = "rasa") -> dict:
        with urllib.request.urlopen(f"{self.url_of(rasa)}/conversations/{sender}/tracker?token={self.token}",
                                    timeout=30) as r:
            return json.loads(r.read())

    def turn(self, sender: str, text: str, rasa: str = "rasa") -> List[str]:
        """Send one message; the content ids of this turn's bot messages."""
        self.say(sender, text, rasa)
        events = self.tracker(sender, rasa)["events"]
        last_user = max(i for i, e in enumerate(events) if e["event"] == "user")
        return [(e.get("metadata") or {}).get("content_id") for e in events[last_user + 1:]
                if e["event"] == "bot"]


def make_stack(tmp: Path, **extra_env: str) -> Stack:
    rasa_port, action_port, web_port = free_port(), free_port(), free_port()
    env = dict(os.environ)
    env.update({
        "RASA_AUTH_TOKEN": TOKEN,
        "SESSION_SECRET": "test-secret-" + uuid.uuid4().hex,
        "ACTION_SERVER_URL": f"http://127.0.0.1:{action_port}/webhook",
        "TRACKER_DB_URL": f"sqlite:///{tmp / 'rasa.db'}",
        "CLINIC_DB_URL": f"sqlite:///{tmp / 'clinic.db'}",
        "RASA_URL": f"http://127.0.0.1:{rasa_port}",
        "WEB_PORT": str(web_port),
        "ALLOWED_ORIGINS": f"http://127.0.0.1:{web_port},http://localhost:{web_port}",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "RASA_TELEMETRY_ENABLED": "false",
        "SANIC_REQUEST_MAX_SIZE": "65536",  # as scripts/env.sh
        "MAX_MESSAGE_CHARS": "2000",
        "TOTP_REQUIRED_FOR": "none",  # staff console tests sign admins in with a password only
    })
    env.update(extra_env)
    return Stack(env=env, tmp=tmp, rasa_port=rasa_port, action_port=action_port, web_port=web_port)


def audit_actions(stack: Any, sender: str, waiting_for: str = "", timeout: float = 15.0) -> List[str]:
    """The audit trail of a conversation in ``stack``'s clinic database (``env["CLINIC_DB_URL"]``);
    with ``waiting_for``, once that action is in it (a hand-back is recorded once the Rasa server
    has answered, a moment after the visitor saw the notice)."""
    import time

    from clinic.models import AuditEntry, session_factory

    deadline = time.monotonic() + timeout
    while True:
        with session_factory(stack.env["CLINIC_DB_URL"])() as s:
            actions = [e.action for e in s.query(AuditEntry).filter(AuditEntry.target == f"conversation:{sender}")
                       .order_by(AuditEntry.id)]
        if not waiting_for or waiting_for in actions or time.monotonic() > deadline:
            return actions
        time.sleep(0.2)
