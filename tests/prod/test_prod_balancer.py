"""`make run-prod` for real (scripts/run_prod.sh): nginx (deploy/nginx/) in front of two Rasa servers,
the action server and the web app, on PostgreSQL and Redis, kept running by the supervisor. Every
visitor message here goes through nginx, as a browser's does.

* kill -9 each process in turn in the middle of a conversation: the next message is answered at
  once (the other Rasa server takes over; topics and crisis without the action server; the callback
  form again once it is back), each process is back within 5 s, and the tracker has every turn;
* a turn caught by a crash holds its conversation's lock for TICKET_LOCK_LIFETIME (10 s), not a minute;
* a reconnection storm: hundreds of widgets lose their Rasa server at once and reconnect through
  nginx; every visitor is answered, no traceback in any log;
* nothing secret on a command line, every server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest
import redis
import requests

from tests.prod.conftest import REDIS_URL, model_settled, redis_prefix
from tests.prod.phrases import CRISIS, MEDICAL, TOPICS, turns_of
from tests.run_script import RunScript, session_processes

STORM_VISITORS = int(os.environ.get("STORM_VISITORS", 300))
# One Rasa server answers every widget at once: allow for its throughput on a busy machine.
STORM_TIMEOUT = 120 + 0.3 * STORM_VISITORS


@pytest.fixture(scope="module")
def run_prod(databases, tmp_path_factory) -> Iterator[RunScript]:
    tmp = tmp_path_factory.mktemp("run_prod")
    model_settled()
    run = RunScript.prod(tmp, databases.create("balancer_tracker"), databases.create("balancer_clinic"),
                         REDIS_URL, redis_prefix())
    try:
        run.wait_ready(timeout=400)
        yield run
    finally:
        run.stop()


def rasa_names(run: RunScript) -> Tuple[str, str]:
    return f"rasa-{run.env['RASA_PORT']}", f"rasa-{run.env['RASA_PORT_2']}"


class Visitor:
    """One visitor talking REST through nginx; remembers every answered turn."""

    def __init__(self, run: RunScript, base: Optional[str] = None) -> None:
        self.run = run
        self.base = base or run.url("NGINX_PORT")
        self.sender = "bal-" + uuid.uuid4().hex[:12]
        self.answered: List[Tuple[str, List[Optional[str]]]] = []

    def turn(self, text: str, expected: Optional[List[str]] = None) -> List[Optional[str]]:
        r = requests.post(f"{self.base}/webhooks/rest/webhook", json={"sender": self.sender, "message": text},
                          timeout=30)
        assert r.status_code == 200, (text, r.status_code, r.text[:300])
        ids = self.ids_of_last_turn()
        self.answered.append((text, ids))
        if expected is not None:
            assert ids == expected, (text, ids)
        return ids

    def ids_of_last_turn(self) -> List[Optional[str]]:
        events = self.tracker()["events"]
        last_user = max(i for i, e in enumerate(events) if e["event"] == "user")
        return [(e.get("metadata") or {}).get("content_id") for e in events[last_user + 1:] if e["event"] == "bot"]

    def tracker(self) -> dict:
        # The HTTP API is not routed through nginx: ask a Rasa server directly, whichever is up.
        for port in ("RASA_PORT", "RASA_PORT_2"):
            try:
                return self.run.tracker(self.run.url(port), self.sender)
            except OSError:
                continue
        raise AssertionError("no Rasa server answers the HTTP API")

    def assert_nothing_lost(self) -> None:
        stored = [(text, ids) for text, _, ids in turns_of(self.tracker())]
        assert stored == self.answered, "an answered turn is lost or doubled"


def test_nothing_secret_on_a_command_line_and_every_server_on_127_0_0_1(run_prod):
    lines = session_processes(run_prod.proc.pid)
    assert sum("scripts.rasa_server" in line for line in lines) == 2, lines
    assert any("nginx" in line for line in lines), lines
    password = run_prod.env["TRACKER_DB_URL"].split("@")[0].rsplit(":", 1)[-1]
    for line in lines:
        for secret in (run_prod.env["RASA_AUTH_TOKEN"], run_prod.env["SESSION_SECRET"],
                       run_prod.env["ACTION_SERVER_TOKEN"], password):
            assert secret not in line, line
    out = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True, check=True).stdout
    listening = {int(p.split()[3].rpartition(":")[2]): p.split()[3].rpartition(":")[0] for p in out.splitlines()}
    for name in ("RASA_PORT", "RASA_PORT_2", "ACTION_PORT", "WEB_PORT", "NGINX_PORT"):
        assert listening.get(int(run_prod.env[name])) == "127.0.0.1", (name, listening.get(int(run_prod.env[name])))


def test_the_http_api_is_not_reachable_through_nginx(run_prod):
    token = run_prod.env["RASA_AUTH_TOKEN"]
    base = run_prod.url("NGINX_PORT")
    for path in (f"/status?token={token}", f"/conversations/x/tracker?token={token}", "/model", "/version"):
        r = requests.get(base + path, timeout=10)
        assert r.status_code == 404, (path, r.status_code)  # the web app's 404, not Rasa
    assert requests.get(f"{base}/webhooks/rest/", timeout=10).json() == {"status": "ok"}
    assert requests.get(f"{base}/healthz", timeout=10).status_code == 200


def test_a_turn_caught_by_a_crash_holds_its_conversation_for_the_short_lock_lifetime(run_prod):
    """The action server is paused so that a turn on the first Rasa server waits inside its lock;
    that server is killed; the visitor's next message (to the other server) is answered once the
    dead turn's ticket expires: TICKET_LOCK_LIFETIME (10 s by default in run_prod.sh), not 60 s."""
    first, second = rasa_names(run_prod)
    v = Visitor(run_prod, base=run_prod.url("RASA_PORT"))
    v.turn(MEDICAL[0], MEDICAL[1])
    v.turn("yes", ["callback_name"])
    red = redis.Redis.from_url(REDIS_URL)
    key = f"{run_prod.env['REDIS_LOCK_PREFIX']}:lock:{v.sender}"
    actions = run_prod.pid("actions")
    os.kill(actions, signal.SIGSTOP)
    try:
        caught = threading.Thread(target=lambda: _quietly(requests.post, f"{v.base}/webhooks/rest/webhook",
                                                          json={"sender": v.sender, "message": "Jane Doe"},
                                                          timeout=60))
        caught.start()
        deadline = time.monotonic() + 10
        while not red.exists(key):
            assert time.monotonic() < deadline, "the turn never took its lock"
            time.sleep(0.01)
        locked_at = time.monotonic()
        time.sleep(0.5)  # inside the turn: waiting for the (paused) action server
        run_prod.kill(first)
    finally:
        os.kill(actions, signal.SIGCONT)
    caught.join(timeout=60)
    v.base = run_prod.url("RASA_PORT_2")
    v.turn("Jane Doe", ["callback_contact"])
    waited = time.monotonic() - locked_at
    lifetime = float(run_prod.env.get("TICKET_LOCK_LIFETIME") or 10)
    assert lifetime - 1.5 <= waited <= lifetime + 4, f"answered {waited:.1f}s after the crashed turn took the lock"
    v.assert_nothing_lost()
    run_prod.wait_serving_again(first)


def test_kill_9_each_process_in_turn_and_every_next_message_is_answered(run_prod):
    first, second = rasa_names(run_prod)
    for name in (first, second):  # a previous test may have restarted one
        _wait_serving(run_prod, name)
    v = Visitor(run_prod)
    v.turn("how long does a session take", ["session_length"])
    v.turn(MEDICAL[0], MEDICAL[1])
    v.turn("yes", ["callback_name"])

    # The action server: crisis and topics answered without it, the form again once it is back.
    assert run_prod.kill("actions") < 5
    v.turn(CRISIS[0], CRISIS[1])
    v.turn("where is the clinic", ["location"])
    run_prod.wait_serving_again("actions", timeout=60)
    ids = v.turn(MEDICAL[0])
    if ids == MEDICAL[1]:
        v.turn("yes", ["callback_name"])
    else:
        assert ids == ["medical_handoff", "callback_name"], ids
    v.turn("Jane Doe", ["callback_contact"])

    # Each Rasa server: the other one answers the very next message, through nginx, at once.
    assert run_prod.kill(first) < 5
    started = time.monotonic()
    v.turn(CRISIS[0], CRISIS[1])  # still in the form: the crisis reply first
    assert time.monotonic() - started < 5, "the surviving Rasa server did not answer at once"
    run_prod.wait_serving_again(first)
    assert run_prod.kill(second) < 5
    started = time.monotonic()
    v.turn("how long does a session take", ["session_length"])
    assert time.monotonic() - started < 5, "the surviving Rasa server did not answer at once"
    run_prod.wait_serving_again(second)
    for _ in range(4):  # both servers answer again (least_conn spreads these)
        v.turn("where are you located", ["location"])

    # The web app: the chat goes on; its pages are back within seconds.
    assert run_prod.kill("web") < 5
    v.turn("how many sessions do I need", ["multiple_sessions"])
    run_prod.wait_serving_again("web", timeout=60)
    assert requests.get(f"{run_prod.url('NGINX_PORT')}/", timeout=10).status_code == 200

    # nginx itself: back within 5 s; the Rasa servers never noticed.
    assert run_prod.kill("nginx") < 5
    run_prod.wait_serving_again("nginx", timeout=30)
    time.sleep(3)  # the new nginx keeps running (a dead master's workers would keep its port)
    assert not re.search(rf"nginx \(pid {run_prod.pid('nginx')}\) exited", run_prod.text()), run_prod.text()[-3000:]
    v.turn("how fast does ketamine work", ["how_fast_it_works"])

    v.assert_nothing_lost()
    for name in ("actions", first, second, "web", "nginx"):
        assert re.search(rf"{re.escape(name)} \(pid \d+\) was killed by SIGKILL after [\d.]+s; restarting in",
                         run_prod.text()), name
    assert run_prod.proc.poll() is None


# --- the reconnection storm ----------------------------------------------------------------

class StormVisitor:
    """A widget as the browser runs it, speaking Engine.IO 4 / Socket.IO 5 over one WebSocket
    (the ``websockets`` library: hundreds of them in one event loop; python-socketio's asyncio
    client needs a newer aiohttp than Rasa allows): the site's Origin, ``session_request`` on every
    connect, pongs to the server's pings, and reconnection by itself after a random 0.5-1.5 s, as
    socket.io-client does."""

    def __init__(self, base: str, origin: str, address: str) -> None:
        self.url = base.replace("http://", "ws://", 1) + "/socket.io/?EIO=4&transport=websocket"
        self.origin = origin
        self.address = address  # its own client address (127.0.0.0/8 is all loopback)
        self.session_id: Optional[str] = None
        self.connects = 0
        self.confirmed = asyncio.Event()
        self.replies: "asyncio.Queue[dict]" = asyncio.Queue()
        self.ws = None
        self.closing = False
        self.task: Optional[asyncio.Task] = None

    async def start(self, timeout: float) -> None:
        self.task = asyncio.ensure_future(self._run())
        await asyncio.wait_for(self.confirmed.wait(), timeout)

    async def _run(self) -> None:
        import random

        import websockets

        while not self.closing:
            try:
                async with websockets.connect(self.url, origin=self.origin, open_timeout=30,
                                              local_addr=(self.address, 0),
                                              ping_interval=None, max_size=2 ** 20) as ws:
                    self.ws = ws
                    async for frame in ws:
                        await self._on_frame(ws, frame)
            except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException):
                pass
            self.ws = None
            self.confirmed.clear()
            if not self.closing:
                await asyncio.sleep(0.5 + random.random())

    async def _on_frame(self, ws, frame: str) -> None:
        kind = frame[:1]
        if kind == "0":  # Engine.IO open: connect to the default namespace
            await ws.send("40")
        elif kind == "2":  # ping
            await ws.send("3")
        elif frame.startswith("40"):  # Socket.IO connected
            self.connects += 1
            await self._emit(ws, "session_request", {"session_id": self.session_id})
        elif frame.startswith("42"):
            name, *args = json.loads(frame[2:])
            data = args[0] if args else None
            if name == "session_confirm":
                self.session_id = data if isinstance(data, str) else data.get("session_id")
                self.confirmed.set()
            elif name == "bot_uttered":
                await self.replies.put(data)

    @staticmethod
    async def _emit(ws, event: str, data: object) -> None:
        await ws.send("42" + json.dumps([event, data]))

    async def ask(self, text: str, timeout: float) -> List[str]:
        while not self.replies.empty():
            self.replies.get_nowait()
        await self._emit(self.ws, "user_uttered", {"message": text, "session_id": self.session_id})
        first = await asyncio.wait_for(self.replies.get(), timeout)
        texts = [first.get("text", "")]
        while True:
            try:
                texts.append((await asyncio.wait_for(self.replies.get(), 0.5)).get("text", ""))
            except asyncio.TimeoutError:
                return texts

    async def close(self) -> None:
        self.closing = True
        if self.ws is not None:
            await self.ws.close()
        if self.task:
            await asyncio.wait([self.task], timeout=10)


def _established_to(port: str) -> int:
    out = subprocess.run(["ss", "-Htn", "state", "established", f"( dport = :{port} )"],
                         capture_output=True, text=True).stdout
    return len([line for line in out.splitlines() if line.strip()])


def test_a_reconnection_storm_through_nginx_ends_with_every_visitor_answered(run_prod):
    """STORM_VISITORS widgets (300 by default), each from an address of its own, connect through nginx
    (sticky by address: spread over both Rasa servers) and are answered; the server holding more of
    them is killed: its widgets reconnect at once, through nginx, to the other one; every visitor asks
    again and is answered; every conversation holds both turns; no log has a traceback."""
    from clinic.content import ApprovedContent

    content = ApprovedContent.load()
    first_q, first_id = TOPICS[4]    # how long does a session take
    second_q, second_id = TOPICS[7]  # where are you located
    expected_1 = content.render(first_id[0]).text
    expected_2 = content.render(second_id[0]).text
    for name in rasa_names(run_prod):
        _wait_serving(run_prod, name)
    base = run_prod.url("NGINX_PORT")
    origin = base
    logs = Path(run_prod.env["LOG_DIR"])
    before = {log: log.stat().st_size for log in logs.glob("*.log")}  # earlier tests' lines are theirs

    async def storm() -> Dict[str, object]:
        visitors = [StormVisitor(base, origin, f"127.1.{i // 250}.{i % 250 + 1}") for i in range(STORM_VISITORS)]
        await _gather_in_waves([v.start(STORM_TIMEOUT) for v in visitors])
        answers = await _gather_in_waves([v.ask(first_q, STORM_TIMEOUT) for v in visitors])
        assert all(expected_1 in a for a in answers), [a for a in answers if expected_1 not in a][:3]

        holders = {name: _established_to(run_prod.env[port]) for name, port in
                   zip(rasa_names(run_prod), ("RASA_PORT", "RASA_PORT_2"))}
        holder = max(holders, key=holders.get)
        run_prod.kill(holder)  # its sockets drop at once; its widgets reconnect at once
        await asyncio.sleep(2)  # every widget of the dead server has noticed
        deadline = time.monotonic() + STORM_TIMEOUT
        while not all(v.confirmed.is_set() for v in visitors):
            assert time.monotonic() < deadline, \
                f"{sum(not v.confirmed.is_set() for v in visitors)} of {len(visitors)} not reconnected"
            await asyncio.sleep(0.2)
        reconnected = sum(v.connects >= 2 for v in visitors)
        assert reconnected >= STORM_VISITORS // 4, (reconnected, holders)  # a storm: a good part moved
        answers = await asyncio.gather(*(v.ask(second_q, STORM_TIMEOUT) for v in visitors), return_exceptions=True)
        unanswered = [a for a in answers if isinstance(a, BaseException) or expected_2 not in a]
        sessions = [v.session_id for v in visitors]
        await asyncio.gather(*(v.close() for v in visitors), return_exceptions=True)
        return {"unanswered": unanswered, "sessions": sessions, "holder": holder,
                "connects": sorted(v.connects for v in visitors), "reconnected": reconnected}

    result = asyncio.run(storm())
    print(f"storm: {STORM_VISITORS} widgets, {result['reconnected']} reconnected after the kill of {result['holder']}")
    connects = result["connects"]
    assert not result["unanswered"], (f"{len(result['unanswered'])} visitors unanswered: "
                                      f"{result['unanswered'][:3]}; connections per visitor: "
                                      f"{ {n: connects.count(n) for n in set(connects)} }")
    assert len(set(result["sessions"])) == STORM_VISITORS
    for session_id in result["sessions"][:: max(1, STORM_VISITORS // 25)]:
        turns = turns_of(_tracker_anywhere(run_prod, session_id.split(".")[0]))  # the signed id's conversation
        assert [text for text, _, _ in turns] == [first_q, second_q], (session_id, turns)
    run_prod.wait_serving_again(result["holder"])
    for log in logs.glob("*.log"):
        with open(log, errors="replace") as f:
            f.seek(before.get(log, 0))
            text = f.read()
        assert "Traceback" not in text, f"{log.name}:\n{text[max(0, text.index('Traceback') - 300):][:3000]}"
        assert "is_closing" not in text and "write_eof" not in text, log.name


async def _gather_in_waves(coros, wave: int = 100) -> list:
    """Start ``coros`` in waves (a browser population does not all arrive in the same millisecond
    either), gather every result."""
    tasks = []
    for i, coro in enumerate(coros):
        tasks.append(asyncio.ensure_future(coro))
        if (i + 1) % wave == 0:
            await asyncio.sleep(0.2)
    return await asyncio.gather(*tasks)


def _tracker_anywhere(run: RunScript, sender: str) -> dict:
    for port in ("RASA_PORT", "RASA_PORT_2"):
        try:
            return run.tracker(run.url(port), sender)
        except OSError:
            continue
    raise AssertionError("no Rasa server answers the HTTP API")


def _wait_serving(run: RunScript, name: str, timeout: float = 240) -> None:
    """Wait until the current ``name`` process serves (it may be a restart of an earlier test)."""
    if len(run.pids(name)) > 1:
        run.wait_serving_again(name, timeout)


def _quietly(fn, *args, **kwargs) -> None:
    try:
        fn(*args, **kwargs)
    except Exception:
        pass
