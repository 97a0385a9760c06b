"""Locust visitors for `python -m bench`: each one a website visitor, with its own conversation.

Run by bench/load.py as ``python -m locust -f bench/locustfile.py --headless ...``;
settings come from environment variables so the same file serves every phase:

  BENCH_WAIT      seconds a visitor waits after a reply before the next message (0 = flat out)
  BENCH_LAT_OUT   where to write every request's latency (JSON), for exact percentiles
  BENCH_SEED      seed of the message mix (each visitor derives its own)

A visit is a realistic chat: usually a greeting, two to five questions (mostly
article topics, some medical or staff questions, a few out-of-scope ones), often
a thanks or goodbye; then the visitor leaves and a new one (a new sender id, so
a new conversation) starts. The questions are the held-out lines of
bench/heldout.yml, which are never trained on, plus small talk written here.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import uuid
from pathlib import Path

import yaml
from locust import FastHttpUser, constant, events, task

HERE = Path(__file__).resolve().parent
HELDOUT = yaml.safe_load((HERE / "heldout.yml").read_text())


def _lines(group: str) -> list[str]:
    return [row[0] for row in HELDOUT.get(group, [])]


TOPIC = _lines("topic")
MEDICAL = _lines("medical")
STAFF = _lines("staff")
OOS = _lines("oos")
GREETING = ["hi", "hello", "hey there", "good morning", "hi, I have a few questions", "hello?"]
CLOSING = ["thanks", "thank you so much", "ok thanks, bye", "goodbye", "that helps, thank you",
           "are you a real person?", "great, have a nice day"]
# Share of the questions in a visit (crisis lines are left out: they are rare and
# take the cheap domain-response path, which would flatter the figures).
QUESTION_MIX = [(TOPIC, 0.72), (MEDICAL, 0.10), (STAFF, 0.08), (OOS, 0.10)]

SEED = int(os.environ.get("BENCH_SEED", "7"))
WAIT = float(os.environ.get("BENCH_WAIT", "0"))
_user_ids = itertools.count()
LATENCIES: list[list] = []  # [start time, ms, ok]


def visit(rnd: random.Random) -> list[str]:
    """The messages of one visit."""
    msgs = []
    if rnd.random() < 0.7:
        msgs.append(rnd.choice(GREETING))
    pools, weights = zip(*QUESTION_MIX)
    for _ in range(rnd.randint(2, 5)):
        msgs.append(rnd.choice(rnd.choices(pools, weights)[0]))
    if rnd.random() < 0.5:
        msgs.append(rnd.choice(CLOSING))
    return msgs


class Visitor(FastHttpUser):
    wait_time = constant(WAIT)

    def on_start(self) -> None:
        self.rnd = random.Random(SEED * 1000 + next(_user_ids))
        self.queue: list[str] = []
        self.sender = ""

    @task
    def send(self) -> None:
        if not self.queue:  # a new visitor arrives: a new conversation
            self.queue = visit(self.rnd)
            self.sender = f"bench-{uuid.uuid4().hex[:16]}"
        text = self.queue.pop(0)
        with self.client.post("/webhooks/rest/webhook", json={"sender": self.sender, "message": text},
                              name="message", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}")
            else:
                try:
                    replies = json.loads(r.content or b"[]")
                except ValueError:
                    replies = None
                if not replies:
                    r.failure("no reply")


@events.request.add_listener
def _record(request_type, name, response_time, response_length, exception, start_time=None, **_):
    LATENCIES.append([start_time, response_time, exception is None])


@events.quitting.add_listener
def _dump(environment, **_):
    out = os.environ.get("BENCH_LAT_OUT")
    if out:
        Path(out).write_text(json.dumps(LATENCIES))
