"""Security settings of the production profile: no HTTP API without a token (the start
script refuses, the server answers 401), CORS and Socket.IO only for the clinic's site
origins, and no secret in the repository's files."""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import time
from collections import Counter
from fnmatch import fnmatch
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
import requests
import socketio

from tests.conftest import ROOT
from tests.prod.widget_client import Widget

FOREIGN = "https://evil.example"
GOOD = {
    "RASA_AUTH_TOKEN": "a-test-token-of-enough-length",
    "SESSION_SECRET": "s" * 40,
    "ACTION_SERVER_TOKEN": "an-action-server-token",
    "WIDGET_SESSION_SECRET": "w" * 40,
    "TRACKER_DB_URL": "postgresql://clinic:clinic-test-only@127.0.0.1:1/none",
    "CLINIC_DB_URL": "postgresql://clinic:clinic-test-only@127.0.0.1:1/none",
    "REDIS_URL": "redis://127.0.0.1:1/1",
}


def run_prod(**env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in GOOD and k not in ("ALLOWED_ORIGINS",)}
    base.update({"ENV_FILE": "/dev/null", **env})
    return subprocess.run([str(ROOT / "scripts" / "run_prod.sh")], cwd=ROOT, env=base, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("change, message", [
    ({"RASA_AUTH_TOKEN": ""}, "RASA_AUTH_TOKEN is empty"),
    ({"RASA_AUTH_TOKEN": None}, "RASA_AUTH_TOKEN is empty"),
    ({"RASA_AUTH_TOKEN": "short"}, "RASA_AUTH_TOKEN is shorter than 16"),
    ({"SESSION_SECRET": None}, "SESSION_SECRET must be at least 32"),
    ({"ACTION_SERVER_TOKEN": None}, "ACTION_SERVER_TOKEN must be at least 16"),
    ({"ACTION_SERVER_TOKEN": "short"}, "ACTION_SERVER_TOKEN must be at least 16"),
    ({"WIDGET_SESSION_SECRET": None}, "WIDGET_SESSION_SECRET must be at least 32"),
    ({"TRACKER_DB_URL": "sqlite:///var/rasa.db"}, "TRACKER_DB_URL is not a postgresql:// URL"),
    ({"TRACKER_DB_URL": None}, "TRACKER_DB_URL is not set"),
    ({"CLINIC_DB_URL": "sqlite:///var/clinic.db"}, "CLINIC_DB_URL is not a postgresql:// URL"),
    ({"REDIS_URL": None}, "REDIS_URL is not set"),
    ({"REDIS_URL": "localhost:6379"}, "REDIS_URL is not a redis://"),
    ({"LOG_LEVEL": "DEBUG"}, "LOG_LEVEL=DEBUG is refused in production"),  # debug records carry messages
    ({"RASA_ARGS": "--cors x --debug"}, "RASA_ARGS asks for debug logging"),
    ({}, "cannot connect to PostgreSQL"),  # all set, but nothing listens on port 1
])
def test_run_prod_refuses_to_start_without_a_token_or_the_production_stores(change, message):
    env = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    result = run_prod(**env)
    assert result.returncode != 0
    assert "Production profile not started" in result.stderr and message in result.stderr, result.stderr
    assert "Clinic assistant is running" not in result.stdout


def test_run_prod_reads_what_the_environment_does_not_set_from_the_env_file(tmp_path):
    env_file = tmp_path / "prod.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in GOOD.items() if k != "REDIS_URL")
                        + "REDIS_URL='redis://127.0.0.1:1/1'\nRASA_AUTH_TOKEN=\n")
    result = run_prod(ENV_FILE=str(env_file), RASA_AUTH_TOKEN=GOOD["RASA_AUTH_TOKEN"])
    # everything was found (the environment's token won over the file's empty one): only the
    # connection check, against nothing on port 1, stops it
    assert "cannot connect to PostgreSQL" in result.stderr and "is not set" not in result.stderr, result.stderr
    assert "RASA_AUTH_TOKEN" not in result.stderr


def test_the_http_api_needs_the_token(prod):
    base = prod.url_of("rasa2")
    for method, path in [("GET", "/conversations/someone/tracker"), ("GET", "/status"),
                         ("POST", "/conversations/someone/messages"), ("PUT", "/model"),
                         ("GET", "/domain"), ("POST", "/model/parse")]:
        for params in ({}, {"token": "wrong-" + prod.token}):
            r = requests.request(method, base + path, params=params, json={}, timeout=30)
            assert r.status_code == 401, (method, path, params, r.status_code)
    assert requests.get(base + "/status", params={"token": prod.token}, timeout=30).status_code == 200


def test_socketio_refuses_a_foreign_origin_and_accepts_the_site(prod):
    site = prod.env["ALLOWED_ORIGINS"].split(",")[0]
    with pytest.raises(socketio.exceptions.ConnectionError):
        Widget(prod.url_of("rasa"), FOREIGN, timeout=5)
    # the handshake itself (long-polling, as a browser would start it) is refused too
    r = requests.get(prod.url_of("rasa") + "/socket.io/", params={"EIO": "4", "transport": "polling"},
                     headers={"Origin": FOREIGN}, timeout=30)
    assert r.status_code == 400 and "Access-Control-Allow-Origin" not in r.headers
    widget = Widget(prod.url_of("rasa"), site)
    try:
        widget.start_session()
        assert widget.ask("hello")
    finally:
        widget.close()


def test_rest_cors_does_not_echo_a_foreign_origin(prod):
    site = prod.env["ALLOWED_ORIGINS"].split(",")[0]
    url = prod.url_of("rasa") + "/webhooks/rest/webhook"
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    for origin in (FOREIGN, "null", site + ".evil.example"):
        r = requests.options(url, headers={"Origin": origin, **preflight}, timeout=30)
        assert r.headers.get("Access-Control-Allow-Origin") not in (origin, "*"), (origin, r.headers)
        r = requests.post(url, json={"sender": "cors-test", "message": "hello"}, headers={"Origin": origin},
                          timeout=30)
        assert r.headers.get("Access-Control-Allow-Origin") not in (origin, "*"), (origin, r.headers)
    r = requests.options(url, headers={"Origin": site, **preflight}, timeout=30)
    assert r.headers.get("Access-Control-Allow-Origin") == site


# --- no secret in the repository -------------------------------------------------------------

ALLOWED_VALUES = {"clinic-test-only"}  # the test role's password, created by scripts/system_deps.sh
PLACEHOLDERS = {"pass", "password", "passwd", "pw", "secret", "changeme", "xxx", "xxxx"}  # in examples
PATTERNS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "secret assigned": re.compile(
        r"""(?i)\b[A-Z_]*(?:TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY)["']?\s*[:=]\s*["']?([A-Za-z0-9_\-+/=.]{20,})"""),
    "password in a URL": re.compile(r"\b(?:postgres(?:ql)?(?:\+\w+)?|mysql|redis|rediss|amqp)://[^:@\s/]*:([^@\s/]+)@"),
}


def _ignored_patterns() -> List[str]:
    lines = (ROOT / ".gitignore").read_text().splitlines() if (ROOT / ".gitignore").exists() else []
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")] + [".git"]


def repository_files() -> Iterator[Path]:
    """Files git would track: everything but .git and what .gitignore names."""
    ignored = _ignored_patterns()
    for path, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not any(fnmatch(d, p) for p in ignored)]
        for name in files:
            if not any(fnmatch(name, p) for p in ignored):
                yield Path(path) / name


def _entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(c / len(value) * math.log2(c / len(value)) for c in counts.values())


def _env_secrets() -> Dict[str, str]:
    env_file = ROOT / ".env"
    found = {}
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            name, _, value = line.partition("=")
            value = value.strip().strip("'\"")
            if re.search(r"TOKEN|SECRET|PASSWORD|KEY", name) and len(value) >= 12:
                found[name.strip()] = value
    return found


def test_no_secret_in_the_repository():
    secrets = _env_secrets()
    findings = []
    checked = 0
    for path in repository_files():
        try:
            if path.stat().st_size > 2_000_000:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if b"\x00" in data[:8192]:
            continue  # binary (images, the vendored archive)
        text = data.decode("utf-8", errors="replace")
        checked += 1
        where = path.relative_to(ROOT)
        for name, value in secrets.items():
            if value in text:
                findings.append(f"{where}: the value of {name} from .env")
        for what, pattern in PATTERNS.items():
            for m in pattern.finditer(text):
                value = m.group(1) if m.groups() else m.group(0)
                if value in ALLOWED_VALUES or value.lower() in PLACEHOLDERS or re.search(r"[<>${}]|\.\.\.", value):
                    continue  # documented test value or a placeholder
                if what == "secret assigned" and (_entropy(value) < 3.5 or not re.search(r"\d", value)):
                    continue  # words, not a generated secret
                line = text.count("\n", 0, m.start()) + 1
                findings.append(f"{where}:{line}: {what}")
    assert checked > 50, "the repository walk found too few files"
    assert not findings, "secrets in the repository:\n" + "\n".join(findings)


def test_run_prod_starts_two_rasa_servers_and_ctrl_c_stops_everything(databases, tmp_path):
    """`make run-prod` for real: everything answers, then Ctrl-C (SIGINT to the process group,
    as a terminal sends it) stops every process it started."""
    from tests.conftest import free_port
    from tests.prod.conftest import REDIS_URL, model_settled, redis_prefix

    ports = {name: str(free_port()) for name in ("RASA_PORT", "RASA_PORT_2", "ACTION_PORT", "WEB_PORT",
                                                 "NGINX_PORT")}
    env = {k: v for k, v in os.environ.items() if k not in GOOD}
    env.update(ports, ENV_FILE="/dev/null", RASA_AUTH_TOKEN="run-prod-test-" + os.urandom(12).hex(),
               SESSION_SECRET=os.urandom(24).hex(), ACTION_SERVER_TOKEN="run-prod-actions-" + os.urandom(12).hex(),
               WIDGET_SESSION_SECRET=os.urandom(24).hex(),
               TRACKER_DB_URL=databases.create("runprod_tracker"),
               CLINIC_DB_URL=databases.create("runprod_clinic"), REDIS_URL=REDIS_URL,
               REDIS_LOCK_PREFIX=redis_prefix(), MODEL="models/clinic.tar.gz", READY_TIMEOUT="240",
               LOG_DIR=str(tmp_path), NGINX_DIR=str(tmp_path / "nginx"))
    env.pop("ALLOWED_ORIGINS", None)
    log = tmp_path / "run_prod.log"
    model_settled()
    proc = subprocess.Popen([str(ROOT / "scripts" / "run_prod.sh")], cwd=ROOT, env=env, stdout=open(log, "w"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while "Clinic assistant is running" not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "run_prod.sh did not get ready"
            time.sleep(0.5)
        members = subprocess.run(["ps", "-o", "pid=", "-g", str(proc.pid)], capture_output=True,
                                 text=True).stdout.split()
        # the supervisor, the action server, two Rasa servers, the web app, nginx (and its workers)
        assert len(members) >= 7
        for port in (ports["RASA_PORT"], ports["RASA_PORT_2"], ports["NGINX_PORT"]):
            r = requests.post(f"http://127.0.0.1:{port}/webhooks/rest/webhook",
                              json={"sender": f"runprod-{port}", "message": "where is the clinic"}, timeout=30)
            assert r.status_code == 200 and r.json()[0]["text"], r.text
        assert requests.get(f"http://127.0.0.1:{ports['WEB_PORT']}/healthz", timeout=30).status_code == 200
        assert env["TRACKER_DB_URL"].split("@")[0] not in log.read_text()  # no password in the output

        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
        deadline = time.monotonic() + 30
        while subprocess.run(["ps", "-o", "pid=", "-g", str(proc.pid)], capture_output=True,
                             text=True).stdout.split():
            assert time.monotonic() < deadline, "processes left running after Ctrl-C"
            time.sleep(0.5)
        assert "Stopped." in log.read_text()
    finally:
        if proc.poll() is None or subprocess.run(["ps", "-o", "pid=", "-g", str(proc.pid)],
                                                 capture_output=True, text=True).stdout.split():
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
