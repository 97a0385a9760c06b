"""Only the Rasa server may run actions: the action server refuses calls without
``ACTION_SERVER_TOKEN`` (a forged ``POST /webhook`` once stored a crisis-priority
callback for an invented person), while the Rasa server's own calls, which carry
the token from endpoints.yml, still work."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
import requests

from tests.conftest import ROOT, free_port, wait_for

CRISIS_NAME = "Invented Person " + uuid.uuid4().hex[:6]


def forged_call(sender: str) -> dict:
    """What the security review sent: a finished, crisis-flagged callback form."""
    slots = {"callback_name": CRISIS_NAME, "callback_contact": "invented@example.com",
             "callback_time": "now", "crisis_flag": True, "handoff_reason": "crisis",
             "handoff_content_id": "staff_handoff"}
    return {"next_action": "action_submit_callback", "sender_id": sender, "version": "3.6.21",
            "domain": {}, "tracker": {"sender_id": sender, "slots": slots, "latest_message": {},
                                      "events": [], "paused": False, "followup_action": None,
                                      "active_loop": {}, "latest_action_name": "action_listen"}}


def stored_names(clinic_url: str) -> List[str]:
    from clinic.models import CallbackRequest, session_factory

    with session_factory(clinic_url)() as session:
        return [r.name for r in session.query(CallbackRequest)]


class ActionServer:
    def __init__(self, tmp: Path, **env: str) -> None:
        self.port = free_port()
        self.token = "act-" + uuid.uuid4().hex
        self.env = {**os.environ, "ACTION_SERVER_TOKEN": self.token, "RASA_AUTH_TOKEN": "reload-" + uuid.uuid4().hex,
                    "CLINIC_DB_URL": f"sqlite:///{tmp / 'clinic.db'}", "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
                    **env}
        self.log = tmp / f"actions-{self.port}.log"
        self.proc = subprocess.Popen([sys.executable, "-m", "actions.server", "--port", str(self.port)], cwd=ROOT,
                                     env=self.env, stdout=open(self.log, "wb"), stderr=subprocess.STDOUT,
                                     start_new_session=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            self.proc.wait(timeout=20)


@pytest.fixture(scope="module")
def actions(tmp_path_factory) -> Iterator[ActionServer]:
    server = ActionServer(tmp_path_factory.mktemp("actions-auth"))
    try:
        wait_for(f"{server.url}/health", proc=server.proc)
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("how", ["none", "wrong", "bearer-wrong", "non-ascii", "empty"])
def test_a_forged_webhook_call_is_refused_and_stores_nothing(actions, how):
    params: Dict[str, str] = {}
    headers: Dict[str, object] = {}
    if how == "wrong":
        params["token"] = actions.token[:-1] + "x"
    elif how == "bearer-wrong":
        headers["Authorization"] = "Bearer not-" + actions.token
    elif how == "non-ascii":
        params["token"] = "tökén-" + actions.token
    elif how == "empty":
        params["token"] = ""
    r = requests.post(f"{actions.url}/webhook", params=params, headers=headers,
                      json=forged_call("forged-" + how), timeout=30)
    assert r.status_code == 401, (r.status_code, r.text[:300])
    assert CRISIS_NAME not in stored_names(actions.env["CLINIC_DB_URL"])
    assert requests.get(f"{actions.url}/actions", params=params, headers=headers, timeout=30).status_code == 401


def test_the_token_rasa_sends_runs_the_action(actions):
    """Rasa sends ``?token=`` (EndpointConfig.token); a Bearer header works too."""
    r = requests.post(f"{actions.url}/webhook", params={"token": actions.token},
                      json=forged_call("with-token-query"), timeout=30)
    assert r.status_code == 200, r.text[:300]
    assert any(e.get("name") == "callback_requested" for e in r.json()["events"])
    r = requests.get(f"{actions.url}/actions", headers={"Authorization": f"Bearer {actions.token}"}, timeout=30)
    assert r.status_code == 200 and any(a["name"] == "action_submit_callback" for a in r.json())
    assert stored_names(actions.env["CLINIC_DB_URL"]).count(CRISIS_NAME) == 1


def test_health_and_content_version_stay_open_and_reload_refuses_a_non_ascii_token(actions):
    assert requests.get(f"{actions.url}/health", timeout=30).status_code == 200
    assert requests.get(f"{actions.url}/content/version", timeout=30).status_code == 200
    for kwargs in ({"params": {"token": "é" * 20}},
                   {"headers": {"Authorization": "Bearer ".encode() + "é-ü".encode("utf-8")}},
                   {"params": {"token": actions.token}}):  # the action token is not the reload token
        r = requests.post(f"{actions.url}/content/reload", timeout=30, **kwargs)
        assert r.status_code == 401, (kwargs, r.status_code, r.text[:200])
    r = requests.post(f"{actions.url}/content/reload", params={"token": actions.env["RASA_AUTH_TOKEN"]}, timeout=60)
    assert r.status_code == 200, r.text[:300]
    log = actions.log.read_text(errors="replace")
    assert "Traceback" not in log and actions.token not in log


@pytest.mark.parametrize("token", ["", "too-short"])
def test_the_action_server_does_not_start_without_a_token(tmp_path, token):
    env = {**os.environ, "ACTION_SERVER_TOKEN": token, "CLINIC_DB_URL": f"sqlite:///{tmp_path / 'c.db'}"}
    r = subprocess.run([sys.executable, "-m", "actions.server", "--port", str(free_port())], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "ACTION_SERVER_TOKEN" in r.stderr, r.stderr[-500:]


def test_rasa_calls_the_action_server_with_its_token(stack, sender):
    """The callback form through the real Rasa server: the name is checked by the action server
    (validate_callback_form), which answers Rasa only because Rasa sends the token; without
    it the visitor would get the action_unavailable reply instead of the next question."""
    assert stack.env["ACTION_SERVER_TOKEN"]
    assert stack.turn(sender, "can I take ketamine while on lithium")[-1] == "callback_consent"
    assert stack.turn(sender, "yes") == ["callback_name"]
    assert stack.turn(sender, "Jane Doe") == ["callback_contact"]  # validated by the action server
    events = stack.tracker(sender)["events"]
    assert {"event": "slot", "name": "callback_name", "value": "Jane Doe"}.items() <= next(
        e for e in reversed(events) if e.get("event") == "slot" and e.get("name") == "callback_name").items()
    log = stack.logs["actions"].read_text(errors="replace")
    assert "no valid action server token" not in log
