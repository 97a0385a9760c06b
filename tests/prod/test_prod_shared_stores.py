"""Two Rasa servers on one PostgreSQL tracker store and one Redis lock store: concurrent turns
of one conversation, a server killed with SIGKILL mid-conversation, the action server down."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
import uuid
from typing import Dict, List, Tuple

import aiohttp
import requests

from clinic.models import CallbackRequest, session_factory
from tests.prod.conftest import start_rasa_servers
from tests.prod.phrases import CRISIS, EVERYTHING, MEDICAL, TOPICS, expected_texts, turns_of


async def _post(session: aiohttp.ClientSession, base: str, sender: str, text: str) -> List[dict]:
    async with session.post(f"{base}/webhooks/rest/webhook", json={"sender": sender, "message": text}) as r:
        body = await r.text()
        assert r.status == 200, (r.status, body[:300])
        return json.loads(body)


def test_two_servers_answer_one_conversation_sent_to_both_at_once(prod, sender):
    """6 rounds of 4 simultaneous turns (2 to each server): each turn is stored once, whole,
    rounds in order; each visitor got exactly the replies stored; both servers agree."""
    urls = [prod.url_of("rasa"), prod.url_of("rasa2")] * 2
    phrases = EVERYTHING[:24]
    rounds = [phrases[i:i + 4] for i in range(0, len(phrases), 4)]

    async def converse() -> Dict[str, List[str]]:
        seen: Dict[str, List[str]] = {}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            for batch in rounds:
                replies = await asyncio.gather(*(_post(session, url, sender, text)
                                                 for (text, _), url in zip(batch, urls)))
                for (text, _), reply in zip(batch, replies):
                    seen[text] = [m.get("text", "") for m in reply]
        return seen

    seen = asyncio.run(converse())

    tracker_a, tracker_b = prod.tracker(sender, "rasa"), prod.tracker(sender, "rasa2")
    assert tracker_a == tracker_b, "the two servers return different trackers for one conversation"
    turns = turns_of(tracker_a)
    stored = [text for text, _, _ in turns]
    assert sorted(stored) == sorted(text for text, _ in phrases), "a turn is missing or stored twice"
    for i, batch in enumerate(rounds):
        assert set(stored[4 * i:4 * i + 4]) == {text for text, _ in batch}, f"round {i} out of order: {stored}"
    expected_ids = dict(phrases)
    for text, bot_texts, content_ids in turns:
        # every reply directly follows its own question (no interleaving) ...
        assert content_ids == expected_ids[text], (text, content_ids)
        # ... and is exactly what that visitor's request returned
        assert bot_texts == seen[text], text
        assert bot_texts == expected_texts(expected_ids[text])


def test_a_server_killed_mid_conversation_loses_nothing_the_visitor_was_answered(prod):
    """SIGKILL the second server while it answers several visitors; the conversations go on
    on the first one at once and on the second once it is back; every answered turn is stored."""
    visitor = "kill-" + uuid.uuid4().hex[:12]
    assert prod.turn(visitor, MEDICAL[0], "rasa2") == MEDICAL[1]
    assert prod.turn(visitor, "yes", "rasa2") == ["callback_name"]

    url_b = prod.url_of("rasa2")
    answered: Dict[str, List[Tuple[str, List[str]]]] = {}
    cut: Dict[str, str] = {}  # sender -> the message whose request the kill cut off
    failures: List[str] = []
    stop = threading.Event()

    def chat(name: str) -> None:
        log = answered.setdefault(name, [])
        i = 0
        while not stop.is_set():
            text = TOPICS[i % len(TOPICS)][0]
            i += 1
            try:
                r = requests.post(f"{url_b}/webhooks/rest/webhook", json={"sender": name, "message": text},
                                  timeout=30)
            except requests.RequestException:
                cut[name] = text
                return
            if r.status_code != 200:
                failures.append(f"{name}: {r.status_code} {r.text[:300]}")
                return
            log.append((text, [m["text"] for m in r.json()]))

    names = [f"busy-{k}-{uuid.uuid4().hex[:8]}" for k in range(4)]
    threads = [threading.Thread(target=chat, args=(n,)) for n in names]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while min(len(answered.get(n, [])) for n in names) < 3:
        assert not failures, failures
        assert time.monotonic() < deadline, "the second server did not answer the busy visitors"
        time.sleep(0.05)
    prod.stop("rasa2", signal.SIGKILL)  # mid-turn: four requests are in flight
    for t in threads:
        t.join(timeout=40)
    stop.set()
    assert not failures, failures
    assert len(cut) == len(names), "every busy visitor's last request should have been cut by the kill"

    # The visitor carries on at once on the other server, in the middle of the form.
    assert prod.turn(visitor, "Jane Doe", "rasa") == ["callback_contact"]

    for name, log in answered.items():
        turns = turns_of(prod.tracker(name, "rasa"))
        assert [(text, bots) for text, bots, _ in turns[:len(log)]] == log, f"{name}: an answered turn is lost"
        extra = turns[len(log):]
        # The request cut by the kill was stored whole (user message and reply) or not at all.
        assert len(extra) <= 1, (name, extra)
        if extra:
            assert extra[0][0] == cut[name] and extra[0][1], (name, extra)

    start_rasa_servers(prod, ("rasa2",))
    assert prod.turn(visitor, "jane@example.com", "rasa2") == ["callback_time"]
    assert prod.turn(visitor, "weekday mornings", "rasa2") == ["callback_confirmed"]
    with session_factory(prod.env["CLINIC_DB_URL"])() as session:
        row = session.query(CallbackRequest).filter_by(conversation_id=visitor).one()
    assert row.contact == "jane@example.com" and row.content_id == "medical_handoff"
    for name in names:  # the busy visitors too, on the restarted server
        assert prod.turn(name, "where is the clinic", "rasa2") == ["location"]


def test_with_the_action_server_down_both_servers_answer_every_message(prod):
    in_form = "down-form-" + uuid.uuid4().hex[:8]
    assert prod.turn(in_form, "can I drink alcohol after an infusion", "rasa") == ["medical_handoff",
                                                                                   "callback_consent"]
    assert prod.turn(in_form, "yes", "rasa2") == ["callback_name"]
    prod.stop("actions")
    try:
        assert prod.turn(in_form, "I'm going to kill myself tonight", "rasa2") == ["crisis"]
        for rasa in ("rasa", "rasa2"):
            topic = f"down-topic-{rasa}-" + uuid.uuid4().hex[:8]
            assert prod.turn(topic, "how long does a session take", rasa) == ["session_length"]
            assert prod.turn(topic, "where are you located", rasa) == ["location"]
            assert prod.turn(f"down-crisis-{rasa}-" + uuid.uuid4().hex[:8], CRISIS[0], rasa) == ["crisis"]
            offer = f"down-offer-{rasa}-" + uuid.uuid4().hex[:8]
            assert prod.turn(offer, "how do I get in touch with the clinic", rasa) == ["contact"]
            reply = prod.say(offer, "yes please", rasa)
            assert [m["text"] for m in reply] == expected_texts(["action_unavailable"])
    finally:
        prod.start_actions()
    for rasa in ("rasa", "rasa2"):
        assert prod.turn("down-back-" + uuid.uuid4().hex[:8], "where are you located", rasa) == ["location"]
