"""PostgreSQL (the tracker store) stops while visitors are chatting: each message gets the
approved "try again" reply (REST: 503 with the reply and Retry-After; widget: the reply), never
a 500, silence or an out-of-context answer; nothing is half-stored; and when the database is
back the conversations carry on exactly where they were.

The tracker store here is a private PostgreSQL cluster (tests/prod/conftest.py), stopped
the way a crash looks to clients (``pg_ctl stop -m immediate``); the lock store a private
Redis, killed. The shared servers are never stopped."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid

import pytest

from clinic.session_tokens import conversation_of
from tests.prod.conftest import make_stack, prod_env, start_all
from tests.prod.phrases import CRISIS, MEDICAL, expected_texts, turns_of
from tests.prod.widget_client import Widget


@pytest.fixture(scope="module")
def outage_stack(private_postgres, private_redis, databases, tmp_path_factory):
    """One Rasa server (and the action server) on a private PostgreSQL and a private Redis."""
    stack = make_stack(tmp_path_factory.mktemp("outage"), **prod_env(private_postgres.create_db("tracker"), databases.create("outage_clinic"),
                                            REDIS_URL=private_redis.url))
    try:
        start_all(stack, ("rasa",), web=False)
        yield stack, private_postgres, private_redis
    finally:
        stack.stop_all()


def post(stack, sender: str, text: str):
    """(status, headers, body) of one REST message, whatever the status."""
    req = urllib.request.Request(f"{stack.rasa_url}/webhooks/rest/webhook",
                                 data=json.dumps({"sender": sender, "message": text}).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b"null")


def wait_for_recovery(stack, within: float = 10.0) -> None:
    back = time.monotonic()
    probe = "outage-probe-" + uuid.uuid4().hex[:8]
    while post(stack, probe, "hello")[0] != 200:
        assert time.monotonic() - back < within, f"the assistant did not recover within {within} s"
        time.sleep(0.2)


def test_database_down_polite_reply_then_recovery(outage_stack):
    stack, pg, _ = outage_stack
    polite = expected_texts(["action_unavailable"])
    origin = stack.env["ALLOWED_ORIGINS"].split(",")[0]
    form = "outage-form-" + uuid.uuid4().hex[:8]
    assert stack.turn(form, MEDICAL[0]) == MEDICAL[1]
    assert stack.turn(form, "yes") == ["callback_name"]
    widget = Widget(stack.rasa_url, origin)
    try:
        session = widget.start_session()
        assert widget.ask("what is ketamine") == expected_texts(["what_is_ketamine"])

        pg.stop("immediate")
        try:
            for sender, text in [(form, "Jane Doe"), ("outage-new-" + uuid.uuid4().hex[:8], "what is ketamine"),
                                 ("outage-crisis-" + uuid.uuid4().hex[:8], CRISIS[0])]:
                started = time.monotonic()
                status, headers, body = post(stack, sender, text)
                assert status == 503, (status, body)
                assert headers.get("Retry-After") == "5"
                assert [m["text"] for m in body] == polite and body[0]["recipient_id"] == sender
                assert time.monotonic() - started < 10
            assert "988" in polite[0] and "911" in polite[0]  # also what a visitor in crisis needs
            # the widget's visitor gets the same reply, not silence
            assert widget.ask("how long does a session take") == polite
            # Rasa's HTTP API meanwhile (its own error handling applies) must not write anything
            # into the stored conversation when the database comes back (checked below)
            urllib.request.urlopen(f"{stack.rasa_url}/conversations/{form}/tracker?token={stack.token}",
                                   timeout=30).close()
        finally:
            pg.start()
        wait_for_recovery(stack)  # the store fails fast for a second after giving up

        # Back: the conversations go on where they were; the outage left nothing behind.
        assert stack.turn(form, "Jane Doe") == ["callback_contact"]
        assert [text for text, _, _ in turns_of(stack.tracker(form))] == [MEDICAL[0], "yes", "Jane Doe"]
        assert widget.ask("how long does a session take") == expected_texts(["session_length"])
        assert [text for text, _, _ in turns_of(stack.tracker(conversation_of(session)))] == [
            "what is ketamine", "how long does a session take"]
    finally:
        widget.close()


def test_redis_down_polite_reply_then_recovery(outage_stack):
    """The lock store (Redis) down: the same polite 503, nothing stored, then back to normal."""
    stack, _, redis_server = outage_stack
    polite = expected_texts(["action_unavailable"])
    sender = "redis-down-" + uuid.uuid4().hex[:8]
    assert stack.turn(sender, "what is ketamine") == ["what_is_ketamine"]
    redis_server.stop()
    try:
        status, headers, body = post(stack, sender, "where is the clinic")
        assert status == 503 and [m["text"] for m in body] == polite, (status, body)
    finally:
        redis_server.start()
    wait_for_recovery(stack)
    assert stack.turn(sender, "where is the clinic") == ["location"]
    assert [text for text, _, _ in turns_of(stack.tracker(sender))] == ["what is ketamine", "where is the clinic"]
