"""The widget's Socket.IO sessions against a real Rasa server: the server issues every session id,
signed; a second socket that sends visitor A's conversation id (unsigned, or with a forged or
foreign signature) gets neither A's replies nor a place in A's conversation; the visitor's own
signed id survives a reconnection; per-address limits on connections and messages."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from typing import List

import pytest
import socketio

from clinic import session_tokens
from tests.conftest import make_stack
from tests.prod.widget_client import Widget


def origin(stack) -> str:
    return stack.env["ALLOWED_ORIGINS"].split(",")[0]


def widget(stack, **kw) -> Widget:
    return Widget(stack.rasa_url, origin(stack), **{"timeout": 60, **kw})


@pytest.fixture(scope="module", autouse=True)
def warm(request):
    """The first message a Rasa server handles takes a while (the encoder warms up)."""
    if "stack" in request.fixturenames:
        stack = request.getfixturevalue("stack")
        stack.say("warm-" + uuid.uuid4().hex[:8], "hello")


def user_texts(stack, conversation_id: str) -> List[str]:
    return [e["text"] for e in stack.tracker(conversation_id)["events"] if e["event"] == "user"]


def bot_texts(events) -> List[str]:
    return [data.get("text", "") for name, data in events if name == "bot_uttered"]


def test_the_server_issues_a_signed_session_id_and_stores_only_the_conversation_part(stack):
    a = widget(stack)
    try:
        token = a.start_session()  # no id of its own
        conversation_id = session_tokens.verify(token)
        assert conversation_id and token.startswith(conversation_id + ".") and len(conversation_id) == 32
        assert a.ask("where is the clinic")
        assert user_texts(stack, conversation_id) == ["where is the clinic"]
        # an id the browser makes up is not taken: a new, signed one comes back
        own = widget(stack)
        try:
            issued = own.start_session("my-own-chosen-session-id")
            assert issued != "my-own-chosen-session-id" and session_tokens.verify(issued)
        finally:
            own.close()
    finally:
        a.close()


@pytest.mark.parametrize("how", ["bare id", "forged signature", "another deployment's secret", "expired"])
def test_a_second_socket_with_visitor_as_id_gets_nothing_of_as_conversation(stack, how):
    a = widget(stack)
    b = widget(stack)
    try:
        token = a.start_session()
        conversation_id = session_tokens.conversation_of(token)
        a.ask("how long does a session take")
        issued = format(int(time.time()), "x")
        if how == "bare id":
            stolen = conversation_id
        elif how == "forged signature":
            stolen = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        elif how == "another deployment's secret":
            mac = hmac.new(b"another-deployments-secret-0123456789", f"widget-session|{conversation_id}|{issued}"
                           .encode(), hashlib.sha256).digest()
            stolen = f"{conversation_id}.{issued}.{base64.urlsafe_b64encode(mac[:24]).decode().rstrip('=')}"
        else:  # A's own token from yesterday, rightly signed (WIDGET_SESSION_MAX_HOURS is 24)
            old = format(int(time.time()) - 25 * 3600, "x")
            stolen = f"{conversation_id}.{old}.{session_tokens._signature(conversation_id, old)}"
        got = b.start_session(stolen)
        assert session_tokens.conversation_of(got) != conversation_id  # a new conversation, not A's
        # B writes with the stolen id directly: refused, nothing stored in A's conversation
        b.emit({"message": "what is my name and number?", "session_id": stolen})
        name, data = b.next_event()
        assert name == "error" and "session_request" in data["error"]
        # A goes on: A gets the reply, B hears nothing of it
        assert a.ask("where is the clinic")
        assert bot_texts(b.drain(0.8)) == []
        assert user_texts(stack, conversation_id) == ["how long does a session take", "where is the clinic"]
    finally:
        a.close()
        b.close()


def test_the_visitor_reconnects_with_its_signed_id_to_the_same_conversation(stack):
    a = widget(stack)
    token = a.start_session()
    a.ask("what is ketamine")
    a.close()
    again = widget(stack)
    try:
        assert again.start_session(token) == token
        assert again.ask("how many sessions will I need")
        assert user_texts(stack, session_tokens.conversation_of(token)) == ["what is ketamine",
                                                                           "how many sessions will I need"]
    finally:
        again.close()


def test_an_expired_token_even_correctly_signed_starts_a_new_conversation():
    old = session_tokens.issue(now=time.time() - 25 * 3600)
    assert session_tokens.verify(old) is None
    assert session_tokens.verify(session_tokens.issue()) is not None
    assert session_tokens.verify(session_tokens.issue(now=time.time() + 3600)) is None  # from the future


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """A Rasa server of its own with small per-address limits (the shared stack has them raised)."""
    s = make_stack(tmp_path_factory.mktemp("limits"), WIDGET_MAX_CONNECTIONS_PER_ADDRESS="3",
                   WIDGET_MESSAGES_PER_MINUTE="6")
    try:
        s.start_rasa()
        s.say("warm-up", "hello")  # over REST: not counted against the Socket.IO limits
        yield s
    finally:
        s.stop_all()


def test_connections_per_address_are_limited_and_freed_on_disconnect(limited):
    open_ = [widget(limited) for _ in range(3)]
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            widget(limited, timeout=5)
        open_.pop().close()
        time.sleep(0.5)
        open_.append(widget(limited))  # a freed place is given again
    finally:
        for w in open_:
            w.close()


def test_messages_per_address_are_limited(limited):
    w = widget(limited)
    try:
        token = w.start_session()  # 1 of 6 in this minute
        answered = [bool(w.ask(text)) for text in ("hello", "where is the clinic", "what is ketamine",
                                                   "how long does a session take", "thanks")]
        assert all(answered)  # 6 of 6
        w.emit({"message": "one more", "session_id": token})
        name, data = w.next_event()
        assert name == "error" and "too many messages" in data["error"]
        conversation_id = session_tokens.conversation_of(token)
        assert "one more" not in user_texts(limited, conversation_id)
        log = limited.logs["rasa"].read_text(errors="replace")
        assert "one more" not in log and "over 6 a minute" in log
    finally:
        w.close()
