"""The Rasa-side piece of live chat (addons/takeover.py), without a server: a paused
conversation answers crisis language and nothing else, the widget is told content ids and
staff names (and never an image), and the relay hands each message to the right sockets."""

from __future__ import annotations

import asyncio
import json

import pytest
from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import ActionExecuted, ConversationPaused, ConversationResumed, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from addons import takeover


def tracker(*events) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("t", [ActionExecuted("action_listen"), *events])


def said(text: str, intent: str) -> UserUttered:
    return UserUttered(text, intent={"name": intent, "confidence": 0.99})


def test_a_paused_conversation_answers_crisis_and_nothing_else():
    takeover.install()
    should = MessageProcessor._should_handle_message
    original = should.__wrapped__
    paused_crisis = tracker(ConversationPaused(), said("I want to end it all", "crisis"))
    paused_topic = tracker(ConversationPaused(), said("how long is a session", "session_length"))
    # Rasa's own check stays silent for both (which is why the patch exists)...
    assert original(paused_crisis) is False and original(paused_topic) is False
    # ...the patched one answers the crisis message only.
    assert should(paused_crisis) is True
    assert should(paused_topic) is False
    assert should(tracker(ConversationPaused(), ConversationResumed(), said("hi", "greeting"))) is True
    assert should(tracker(said("hi", "greeting"))) is True


def test_install_refuses_another_rasa(monkeypatch):
    monkeypatch.setattr(takeover, "_installed", False)
    monkeypatch.setattr(takeover.rasa, "__version__", "3.7.0")
    with pytest.raises(takeover.PatchError, match="3.6.21"):
        takeover.install()


def test_the_widget_is_told_content_ids_and_staff_names_only():
    payload = takeover.widget_payload({
        "text": "Nina's words", "content_id": "staff_message", "staff_name": "  Nina  ", "staff_user": "nina",
        "image": "https://elsewhere.example/x.png", "custom": {"html": "<b>"}, "timestamp": 1.0})
    assert payload == {"text": "Nina's words", "content_id": "staff_message", "staff_name": "Nina"}
    crisis = takeover.widget_payload({"text": "Call 988", "content_id": "crisis", "content_version": 1,
                                      "buttons": [{"title": "Talk to a person", "payload": "/request_human"},
                                                  {"title": 3, "payload": None}]})
    assert crisis == {"text": "Call 988", "content_id": "crisis",
                      "quick_replies": [{"title": "Talk to a person", "payload": "/request_human"}]}
    # a staff name rides only on staff messages and the "has joined" notice
    assert "staff_name" not in takeover.widget_payload({"text": "x", "content_id": "greeting", "staff_name": "Eve"})
    assert takeover.widget_payload({"text": " ", "image": "x.png"}) is None


class FakeSio:
    def __init__(self) -> None:
        self.sent = []

    async def emit(self, event, data, room=None, namespace=None):
        self.sent.append((event, data, room))


class FakeRedis:
    def __init__(self) -> None:
        self.published = []

    async def publish(self, channel, body):
        self.published.append((channel, json.loads(body)))


def test_the_relay_emits_locally_and_publishes_for_the_other_servers():
    relay = takeover.Relay()
    relay.sio, relay.redis = FakeSio(), FakeRedis()
    asyncio.run(relay.deliver("visitor-1", {"text": "hello", "content_id": "staff_message"}))
    assert relay.sio.sent == [("bot_uttered", {"text": "hello", "content_id": "staff_message"}, "visitor-1")]
    (channel, body), = relay.redis.published
    assert channel.endswith(":live-delivery") and body["to"] == "visitor-1" and body["from"] == relay.server_id


def test_the_live_output_channel_sends_through_the_relay():
    relay = takeover.Relay()
    relay.sio = FakeSio()
    out = takeover.LiveChatInput.__new__(takeover.LiveChatInput)
    out.relay = relay
    channel = out.get_output_channel()
    assert channel.name() == "live"
    asyncio.run(channel.send_response("v2", {"text": "Nina from the clinic has joined", "content_id": "live_chat_joined",
                                            "staff_name": "Nina"}))
    assert relay.sio.sent[0][1]["staff_name"] == "Nina" and relay.sio.sent[0][2] == "v2"
