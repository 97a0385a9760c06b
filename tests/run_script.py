"""`make run` (scripts/run.sh) and `make run-prod` (scripts/run_prod.sh) started for real by a test,
on free ports, with their output in a file: the pids the supervisor started, kill -9 one of them,
wait for it to be back, stop everything as Ctrl-C does."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional

from tests.conftest import MODEL, ROOT, free_port


def private_model(tmp: Path) -> Path:
    """A copy of models/clinic.tar.gz for this run: a restart in the middle of a test then loads the
    same model even when someone retrains meanwhile (a half-written model loads as no model)."""
    import shutil
    import tarfile

    from tests.prod.conftest import model_settled

    target = tmp / "model" / "clinic.tar.gz"
    target.parent.mkdir(exist_ok=True)
    for _ in range(5):
        model_settled()
        shutil.copy2(MODEL, target)
        try:
            with tarfile.open(target, "r:gz") as tar:
                for member in tar:
                    if member.isfile():
                        tar.extractfile(member).read()  # type: ignore[union-attr]
            return target
        except (OSError, tarfile.TarError, EOFError):
            continue
    raise RuntimeError(f"{MODEL} could not be copied whole")


class RunScript:
    """One run of ``script`` in its own session; ``env`` on top of the test's environment."""

    def __init__(self, script: str, tmp: Path, env: Dict[str, str]) -> None:
        self.tmp = tmp
        self.env = env
        self.out = tmp / f"{Path(script).stem}.out"
        self.proc = subprocess.Popen([str(ROOT / "scripts" / script)], cwd=ROOT, env=env,
                                     stdout=open(self.out, "w"), stderr=subprocess.STDOUT,
                                     start_new_session=True)

    @classmethod
    def dev(cls, tmp: Path, **extra: str) -> "RunScript":
        ports = {"RASA_PORT": free_port(), "ACTION_PORT": free_port(), "WEB_PORT": free_port()}
        env = {k: v for k, v in os.environ.items() if k not in ("ALLOWED_ORIGINS", "WIDGET_RASA_URL")}
        env.update({k: str(v) for k, v in ports.items()})
        env.update(
            ACTION_SERVER_URL=f"http://127.0.0.1:{ports['ACTION_PORT']}/webhook",
            RASA_URL=f"http://127.0.0.1:{ports['RASA_PORT']}",
            TRACKER_DB_URL=f"sqlite:///{tmp / 'rasa.db'}",
            CLINIC_DB_URL=f"sqlite:///{tmp / 'clinic.db'}",
            LOG_DIR=str(tmp / "logs"),
            RASA_AUTH_TOKEN="run-test-token-" + os.urandom(12).hex(),
            SESSION_SECRET="run-test-secret-" + os.urandom(20).hex(),
            ACTION_SERVER_TOKEN="run-test-action-" + os.urandom(12).hex(),
            WIDGET_SESSION_SECRET="run-test-widget-" + os.urandom(20).hex(),
            MODEL=str(private_model(tmp)),
            RASA_TELEMETRY_ENABLED="false",
        )
        env.update(extra)
        return cls("run.sh", tmp, env)

    @classmethod
    def prod(cls, tmp: Path, tracker_url: str, clinic_url: str, redis_url: str, redis_prefix: str,
             **extra: str) -> "RunScript":
        """`make run-prod` on free ports: nginx in front of two Rasa servers, on the given stores."""
        names = ("RASA_PORT", "RASA_PORT_2", "ACTION_PORT", "WEB_PORT", "NGINX_PORT")
        ports = {name: str(free_port()) for name in names}
        inherited = ("ALLOWED_ORIGINS", "WIDGET_RASA_URL", "TICKET_LOCK_LIFETIME", "LOG_LEVEL", "RASA_ARGS",
                     "ACTION_SERVER_URL", "RASA_URL", "SANIC_BACKLOG")
        env = {k: v for k, v in os.environ.items() if k not in inherited}
        env.update(ports)
        env.update(
            ENV_FILE="/dev/null",
            TRACKER_DB_URL=tracker_url, CLINIC_DB_URL=clinic_url,
            REDIS_URL=redis_url, REDIS_LOCK_PREFIX=redis_prefix,
            RASA_AUTH_TOKEN="run-prod-token-" + os.urandom(12).hex(),
            SESSION_SECRET="run-prod-secret-" + os.urandom(24).hex(),
            ACTION_SERVER_TOKEN="run-prod-action-" + os.urandom(12).hex(),
            WIDGET_SESSION_SECRET="run-prod-widget-" + os.urandom(20).hex(),
            MODEL=str(private_model(tmp)), LOG_DIR=str(tmp / "logs"), NGINX_DIR=str(tmp / "nginx"),
            READY_TIMEOUT="300", RASA_TELEMETRY_ENABLED="false",
        )
        env.update(extra)
        return cls("run_prod.sh", tmp, env)

    def url(self, port_name: str) -> str:
        return f"http://127.0.0.1:{self.env[port_name]}"

    # --- what it printed -------------------------------------------------------
    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def wait_for_text(self, needle: str, timeout: float = 300, after: int = 0) -> int:
        """Wait until ``needle`` appears after offset ``after``; its offset."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            at = text.find(needle, after)
            if at >= 0:
                return at
            assert self.proc.poll() is None, f"{self.out.name} ended:\n{text[-4000:]}"
            assert time.monotonic() < deadline, f"{needle!r} not printed in {timeout}s:\n{text[-4000:]}"
            time.sleep(0.2)

    def wait_ready(self, timeout: float = 300) -> None:
        self.wait_for_text("Clinic assistant is running", timeout)

    def pids(self, name: str) -> List[int]:
        return [int(p) for p in re.findall(rf"started {re.escape(name)} \(pid (\d+)\)", self.text())]

    def pid(self, name: str) -> int:
        return self.pids(name)[-1]

    def kill(self, name: str, timeout: float = 5.0) -> float:
        """``kill -9`` the current ``name`` process; seconds until the supervisor started it again
        (fails beyond ``timeout``)."""
        before = len(self.pids(name))
        os.kill(self.pid(name), signal.SIGKILL)
        killed = time.monotonic()
        while len(self.pids(name)) == before:
            assert time.monotonic() - killed < timeout, f"{name} not restarted within {timeout}s:\n" \
                                                        f"{self.text()[-3000:]}"
            time.sleep(0.05)
        return time.monotonic() - killed

    def wait_serving_again(self, name: str, timeout: float = 240) -> None:
        pid = self.pid(name)
        self.wait_for_text(f"{name} (pid {pid}) is serving again", timeout)

    def stop(self) -> None:
        """SIGINT to the script's process group, as Ctrl-C in a terminal; SIGKILL as a last resort."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    # --- talking to it -----------------------------------------------------------
    def say(self, base: str, sender: str, text: str, timeout: float = 30) -> List[dict]:
        req = urllib.request.Request(f"{base}/webhooks/rest/webhook",
                                     data=json.dumps({"sender": sender, "message": text}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read() or b"[]")

    def turn(self, base: str, sender: str, text: str) -> List[Optional[str]]:
        """Send one message; the content ids of this turn's bot messages (from the tracker)."""
        self.say(base, sender, text)
        events = self.tracker(base, sender)["events"]
        last_user = max(i for i, e in enumerate(events) if e["event"] == "user")
        return [(e.get("metadata") or {}).get("content_id") for e in events[last_user + 1:] if e["event"] == "bot"]

    def tracker(self, base: str, sender: str) -> dict:
        url = f"{base}/conversations/{sender}/tracker?token={self.env['RASA_AUTH_TOKEN']}"
        with urllib.request.urlopen(url, timeout=30) as r:
            return json.loads(r.read())


def session_processes(sid: int) -> List[str]:
    """The command lines of every process in session ``sid`` (what `ps` shows any local user)."""
    out = subprocess.run(["ps", "-o", "args=", "-s", str(sid)], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.strip()]

