"""Locust visitors for `python -m bench`: each one a website visitor, with its own conversation.

Run by bench/load.py as ``python -m locust -f bench/locustfile.py --headless ...``;
settings come from environment variables so the same file serves every phase:

  BENCH_WAIT      seconds a visitor waits after a reply before the next message (0 = flat out);
                  paced visitors also arrive at a random moment within the first BENCH_WAIT
                  seconds, as independent visitors do, instead of all in the same instant
  BENCH_LAT_OUT   where to write every request's latency (JSON), for exact percentiles
  BENCH_SEED      seed of the message mix (each visitor derives its own)
  BENCH_HOSTS     optional: several Rasa base URLs, comma-separated, served in turns of
  BENCH_SLICE     seconds (all visitors switch together, from BENCH_T0): a paired A/B
                  comparison in which both servers see the same messages and the same
                  background load. Each visitor keeps one conversation per server.

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
import time
import uuid
from pathlib import Path

import gevent
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
HOSTS = [h for h in os.environ.get("BENCH_HOSTS", "").split(",") if h]
SLICE = float(os.environ.get("BENCH_SLICE", "3"))
T0 = float(os.environ.get("BENCH_T0", "0"))
_user_ids = itertools.count()
LATENCIES: list[list] = []  # [start time, ms, ok, host index]


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
        uid = next(_user_ids)
        # one conversation state per server, with the same sequence of visits on each
        self.state = [{"rnd": random.Random(SEED * 1000 + uid), "queue": [], "sender": ""}
                      for _ in (HOSTS or [""])]
        if WAIT > 0:
            # Locust starts every user within a fraction of a second; left so, 20 paced
            # visitors send in lockstep forever and each measures the queue of the 19 others.
            gevent.sleep(random.Random(SEED * 7919 + uid).uniform(0, WAIT))

    @task
    def send(self) -> None:
        host = int((time.time() - T0) // SLICE) % len(HOSTS) if HOSTS else 0
        st = self.state[host]
        if not st["queue"]:  # a new visitor arrives: a new conversation
            st["queue"] = visit(st["rnd"])
            st["sender"] = f"bench-{uuid.uuid4().hex[:16]}"
        text = st["queue"].pop(0)
        url = f"{HOSTS[host]}/webhooks/rest/webhook" if HOSTS else "/webhooks/rest/webhook"
        with self.client.post(url, json={"sender": st["sender"], "message": text},
                              name=f"message{host}", catch_response=True) as r:
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
    host = int(name[len("message"):] or 0) if name.startswith("message") else 0
    LATENCIES.append([start_time, response_time, exception is None, host])


@events.quitting.add_listener
def _dump(environment, **_):
    out = os.environ.get("BENCH_LAT_OUT")
    if out:
        Path(out).write_text(json.dumps(LATENCIES))
