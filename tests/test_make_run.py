"""`make run`'s script: starts all three servers, prints where they are, and Ctrl-C stops them all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request

from tests.conftest import MODEL, ROOT, free_port, wait_for


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_run_starts_everything_and_ctrl_c_stops_it(tmp_path):
    assert MODEL.exists(), "make test trains the model first"
    ports = {"RASA_PORT": free_port(), "ACTION_PORT": free_port(), "WEB_PORT": free_port()}
    env = dict(os.environ, **{k: str(v) for k, v in ports.items()})
    env.update(
        ACTION_SERVER_URL=f"http://127.0.0.1:{ports['ACTION_PORT']}/webhook",
        RASA_URL=f"http://127.0.0.1:{ports['RASA_PORT']}",
        TRACKER_DB_URL=f"sqlite:///{tmp_path / 'rasa.db'}",
        CLINIC_DB_URL=f"sqlite:///{tmp_path / 'clinic.db'}",
        RASA_AUTH_TOKEN="run-test-token",
        SESSION_SECRET="run-test-secret-" + "x" * 32,
        RASA_ARGS=f"--log-file {tmp_path / 'rasa.log'}",
    )
    env.pop("ALLOWED_ORIGINS", None)
    log = open(tmp_path / "run.log", "w+")
    proc = subprocess.Popen(["scripts/run.sh"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        wait_for(f"http://127.0.0.1:{ports['WEB_PORT']}/healthz", proc=proc)
        wait_for(f"http://127.0.0.1:{ports['RASA_PORT']}/status?token=run-test-token", proc=proc)
        deadline = time.monotonic() + 30
        while "Ctrl-C stops everything" not in (tmp_path / "run.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.3)
        printed = (tmp_path / "run.log").read_text()
        assert f"http://127.0.0.1:{ports['WEB_PORT']}/" in printed
        # the HTTP API refuses a request without the token
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{ports['RASA_PORT']}/status", timeout=5)
            raise AssertionError("the HTTP API answered without a token")
        except urllib.error.HTTPError as e:
            assert e.code == 401
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        proc.wait(timeout=60)
    deadline = time.monotonic() + 20
    while any(port_open(p) for p in ports.values()) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert not any(port_open(p) for p in ports.values()), "a server outlived Ctrl-C"

