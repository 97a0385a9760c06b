"""Reloading wording into running servers, without a restart, in the same conversation.

One action server and one Rasa server (tests/conftest.py ``make_stack``) run on
a temporary COPY of the approved texts (``APPROVED_CONTENT``); the tests edit
that copy the way an editor edits content/approved.yml.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest

from clinic.content import ApprovedContent
from editor_support import ROOT, set_field
from tests.support import MODEL, make_stack


SESSION_NEW = "NEW WORDING: a session, including time to rest afterwards, takes about two hours."
CRISIS_NEW = ("NEW WORDING: please call or text 988, the 988 Suicide & Crisis Lifeline, or call 911 "
              "now if you are in danger. Shasta Meadows is not an emergency service.")


def post(url: str, body: dict | None = None, method: str = "POST") -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else b""
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, {"raw": raw.decode()}


def bot_messages(stack, sender: str) -> list[dict]:
    return [e for e in stack.tracker(sender)["events"] if e["event"] == "bot"]


def last_bot(stack, sender: str) -> dict:
    return bot_messages(stack, sender)[-1]


def reload_env(stack, approved: Path) -> dict:
    env = dict(stack.env)
    env.update({"RASA_URL": stack.rasa_url, "ACTION_PORT": str(stack.action_port),
                "RASA_AUTH_TOKEN": stack.token, "APPROVED_CONTENT": str(approved)})
    env.pop("RASA_URLS", None)
    env.pop("ACTION_URLS", None)
    return env


@pytest.fixture(scope="module")
def approved_copy(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("content") / "approved.yml"
    path.write_text((ROOT / "content" / "approved.yml").read_text())
    return path


@pytest.fixture(scope="module")
def running(tmp_path_factory, approved_copy):
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make train`")
    stack = make_stack(tmp_path_factory.mktemp("reload-stack"), APPROVED_CONTENT=str(approved_copy))
    try:
        stack.start_actions()
        stack.start_rasa()
        yield stack
    finally:
        stack.stop_all()


@pytest.fixture
def restore(approved_copy):
    good = approved_copy.read_text()
    yield
    approved_copy.write_text(good)


def test_new_wording_reaches_the_same_conversation_after_reload(running, approved_copy, restore):
    sender = "reload-" + uuid.uuid4().hex[:12]
    approved_before = ApprovedContent.load(approved_copy).render("session_length").text
    first = running.say(sender, "how long is a ketamine infusion session?")
    assert first[0]["text"] == approved_before
    before = last_bot(running, sender)
    assert before["metadata"]["content_id"] == "session_length"
    old_version = before["metadata"]["content_version"]
    crisis_before = running.say(sender, "i want to kill myself")[0]["text"]

    # The editor changes two texts (one shown by the action server, one by the
    # Rasa server's response generator) and raises their versions.
    set_field(approved_copy, "session_length", "text", json.dumps(SESSION_NEW))
    set_field(approved_copy, "session_length", "version", str(old_version + 1))
    set_field(approved_copy, "crisis", "text", json.dumps(CRISIS_NEW))
    set_field(approved_copy, "crisis", "version", "2")

    # Saving the file alone changes nothing for visitors.
    assert running.say(sender, "how long is a session?")[0]["text"] == approved_before

    done = subprocess.run([sys.executable, "-m", "editorial.reload", "--model", str(MODEL)],
                          cwd=ROOT, env=reload_env(running, approved_copy), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("RELOAD OK")

    # Same conversation, next message: new text and version, earlier turns still there.
    reply = running.say(sender, "how long is a session?")
    assert reply[0]["text"] == SESSION_NEW
    after = last_bot(running, sender)
    assert after["metadata"]["content_id"] == "session_length"
    assert after["metadata"]["content_version"] == old_version + 1
    texts = [e.get("text") for e in running.tracker(sender)["events"] if e["event"] == "user"]
    assert texts[0] == "how long is a ketamine infusion session?" and len(texts) == 4

    crisis = running.say(sender, "i want to kill myself")[0]["text"]
    assert crisis == CRISIS_NEW and crisis != crisis_before
    assert last_bot(running, sender)["metadata"].get("content_id") == "crisis"

    with urllib.request.urlopen(f"http://127.0.0.1:{running.action_port}/content/version") as r:
        assert json.loads(r.read())["session_length"] == old_version + 1


def test_reload_refuses_a_malformed_file_and_keeps_serving(running, approved_copy, restore):
    sender = "malformed-" + uuid.uuid4().hex[:12]
    served = running.say(sender, "how long is a session?")[0]["text"]
    version = last_bot(running, sender)["metadata"]["content_version"]
    crisis = running.say(sender, "i want to kill myself")[0]["text"]

    set_field(approved_copy, "session_length", "version", "two")
    set_field(approved_copy, "session_length", "text", "BROKEN WORDING that must never be shown.")

    status, body = post(f"http://127.0.0.1:{running.action_port}/content/reload?token={running.token}")
    assert status == 422
    assert "session_length" in body["error"] and "version" in body["error"]
    # The Rasa server refuses to load a model whose wording is malformed, and keeps the old one.
    status, _ = post(f"{running.rasa_url}/model?token={running.token}", {"model_file": str(MODEL)}, method="PUT")
    assert status >= 400
    # make reload's last step refuses too, before touching anything.
    done = subprocess.run([sys.executable, "-m", "editorial.reload", "--model", str(MODEL)],
                          cwd=ROOT, env=reload_env(running, approved_copy), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 1 and "RELOAD FAILED" in done.stderr and "session_length" in done.stderr

    assert running.say(sender, "how long is a session?")[0]["text"] == served
    assert last_bot(running, sender)["metadata"]["content_version"] == version
    assert running.say(sender, "i want to kill myself")[0]["text"] == crisis


def test_reload_script_leaves_servers_alone_when_validation_fails(running, approved_copy, restore):
    sender = "script-" + uuid.uuid4().hex[:12]
    served = running.say(sender, "how long is a session?")[0]["text"]
    set_field(approved_copy, "session_length", "text", "This treatment is guaranteed to work.")
    set_field(approved_copy, "dose", "version", "two")
    env = reload_env(running, approved_copy)
    env["MAKE"] = "false"  # training must not even be attempted
    done = subprocess.run(["scripts/reload.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "entry 'dose'" in out and "RELOAD FAILED: validation found errors" in out
    assert "The running assistant was not changed." in out
    assert "Step 2/3" not in out
    assert running.say(sender, "how long is a session?")[0]["text"] == served


def test_action_server_refuses_to_start_with_malformed_content(tmp_path):
    broken = tmp_path / "approved.yml"
    broken.write_text((ROOT / "content" / "approved.yml").read_text())
    set_field(broken, "session_length", "approved_on", "yesterday")
    stack = make_stack(tmp_path, APPROVED_CONTENT=str(broken))
    try:
        with pytest.raises(RuntimeError, match="exited"):
            stack.start_actions()
        assert stack.procs["actions"].returncode != 0
        log = stack.logs["actions"].read_text()
        assert "Action server not started: approved content is invalid" in log
        assert "entry 'session_length' field 'approved_on'" in log
    finally:
        stack.stop_all()
