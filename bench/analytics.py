"""Measurements behind docs/ANALYTICS.md: ``python -m bench.analytics {seed,page,source,grouping,all}``.

* ``seed``: a year of conversations in a tracker store written the way Rasa writes it
  (Rasa's own event classes and ``events`` table), with the callback requests and
  their status changes in a clinic database.
* ``page``: how fast the analytics page and the inbox are on that store: the first
  reading of the store, then each page, in process and over HTTP from a running web app.
* ``source``: what each source of figures costs the Rasa server: the time of a
  tracker-store save per turn with no event broker (the console reads the store),
  with Rasa's SQL event broker, and while the console reads the store meanwhile.
* ``grouping``: the inbox's similarity thresholds, measured on the clinic's own
  training examples (never on eval/): how pure the groups are at each threshold.

Nothing here runs in ``make test``; it needs a few minutes and the venv.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zoneinfo
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parent.parent
LA = zoneinfo.ZoneInfo("America/Los_Angeles")

TOPICS = {
    "what_is_ketamine": ["what is ketamine", "is ketamine a medication", "tell me about ketamine"],
    "how_it_works": ["how does ketamine work", "how does it help depression"],
    "conditions_treated": ["what conditions do you treat", "does it help ptsd"],
    "how_fast_it_works": ["how fast does it work", "when will I feel better"],
    "dose": ["what dose do you use", "how much ketamine is given"],
    "session_length": ["how long is a session", "how long does an infusion take"],
    "multiple_sessions": ["how many sessions will I need", "is it one infusion or several"],
    "consultation": ["how do I get started", "what happens at the consultation"],
    "location": ["where are you located", "what's your address"],
    "about_clinic": ["who runs the clinic", "tell me about the clinic"],
}
UNKNOWN = ["blorp", "can you do my taxes", "what's the weather", "do you validate parking", "asdf", "is it open on labor day",
           "can my dog come", "how do i cancel", "do you have wifi", "what should i wear"]
WORDS = "please thanks today again maybe really so ok hmm".split()


def _parse(text: str, intent: str, confidence: float) -> Dict[str, Any]:
    others = [t for t in TOPICS if t != intent][:9]
    ranking = [{"name": intent, "confidence": confidence}] + [
        {"name": o, "confidence": round((1 - confidence) / 10, 4)} for o in others]
    return {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": [],
            "intent_ranking": ranking, "message_id": uuid.uuid4().hex}


def _conversation(rng: random.Random, start: float) -> Tuple[List[Any], Optional[str]]:
    """The events of one conversation (Rasa's event classes) and its callback kind, if any."""
    from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SessionStarted, SlotSet, UserUttered

    t = start
    events: List[Any] = [ActionExecuted("action_session_start", timestamp=t), SessionStarted(timestamp=t),
                         ActionExecuted("action_listen", timestamp=t)]

    def turn(text: str, intent: str, conf: float, content_id: str, slots: Sequence[Tuple[str, Any]] = ()) -> None:
        nonlocal t
        t += rng.uniform(5, 90)
        events.append(UserUttered(text, intent={"name": intent, "confidence": conf},
                                  parse_data=_parse(text, intent, conf), timestamp=t, input_channel="socketio"))
        for name, value in slots:
            events.append(SlotSet(name, value, timestamp=t + 0.1))
        events.append(ActionExecuted("utter_answer", timestamp=t + 0.2))
        events.append(BotUttered(f"(approved text of {content_id}) " + "lorem ipsum " * 30,
                                 data={"buttons": None}, metadata={"content_id": content_id, "content_version": 1},
                                 timestamp=t + 0.3))
        events.append(ActionExecuted("action_listen", timestamp=t + 0.4))

    def noise(text: str) -> str:
        return text + (" " + rng.choice(WORDS) if rng.random() < 0.5 else "")

    turn("/greeting", "greeting", 1.0, "greeting")
    kind = rng.random()
    callback = None
    if kind < 0.55:
        for _ in range(rng.randint(1, 4)):
            topic = rng.choice(list(TOPICS))
            turn(noise(rng.choice(TOPICS[topic])), topic, rng.uniform(0.5, 0.99), topic)
    elif kind < 0.67:
        turn(noise(rng.choice(UNKNOWN)), "nlu_fallback", 0.45, "fallback")
        if rng.random() < 0.4:
            turn(noise(rng.choice(UNKNOWN)), "nlu_fallback", 0.45, "fallback_repeat")
        elif rng.random() < 0.5:
            topic = rng.choice(list(TOPICS))
            turn(rng.choice(TOPICS[topic]), topic, 0.9, topic)
    elif kind < 0.85:
        medical = kind < 0.77
        turn(noise("can I take it with my antidepressant" if medical else "how much does it cost"),
             "medical_question" if medical else "ask_staff", 0.9, "medical_handoff" if medical else "staff_handoff",
             [("handoff_reason", "..."), ("handoff_content_id", "medical_handoff" if medical else "staff_handoff")])
        if rng.random() < 0.4:
            callback = "medical_handoff" if medical else "staff_handoff"
            turn("yes", "affirm", 0.97, "callback_consent")
            events.append(ActiveLoop("callback_form", timestamp=t + 0.5))
            for answer, content_id in (("yes", "callback_name"), ("Jane Doe", "callback_contact"),
                                       ("jane@example.com", "callback_time")):
                turn(answer, "nlu_fallback", 0.3, content_id)
            turn("mornings", "inform_time", 0.9, "callback_confirmed", [("callback_requested", True)])
            events.append(ActiveLoop(None, timestamp=t + 0.5))
    elif kind < 0.9:
        turn(noise(rng.choice(UNKNOWN)), "out_of_scope", 0.8, "out_of_scope")
    elif kind < 0.92:
        turn("i want to die", "crisis", 1.0, "crisis", [("crisis_flag", True)])
    else:
        turn("thanks", "thanks", 0.95, "thanks")
    return events, callback


def seed(out: Path, days: int = 365, per_day: int = 50, seed_value: int = 16) -> Dict[str, Any]:
    """A tracker store (``out/rasa.db``) and a clinic database (``out/clinic.db``) with ``days`` of conversations."""
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    from rasa.core.tracker_store import SQLTrackerStore

    from clinic.models import AuditEntry, CallbackRequest, session_factory

    out.mkdir(parents=True, exist_ok=True)
    for name in ("rasa.db", "clinic.db"):
        (out / name).unlink(missing_ok=True)
    rng = random.Random(seed_value)
    store = SQLTrackerStore(dialect="sqlite", db=str(out / "rasa.db"))
    table = store.SQLEvent.__table__
    today = dt.datetime.now(LA).date()
    began = time.perf_counter()
    events_written = conversations = 0
    callbacks: List[Tuple[str, str, dt.datetime]] = []
    with store.engine.begin() as conn:
        for d in range(days, 0, -1):
            day = today - dt.timedelta(days=d)
            rows = []
            for _ in range(rng.randint(int(per_day * 0.6), int(per_day * 1.4))):
                start = dt.datetime(day.year, day.month, day.day, rng.randint(7, 22), rng.randint(0, 59),
                                    tzinfo=LA).timestamp()
                sender = uuid.UUID(int=rng.getrandbits(128)).hex
                events, callback = _conversation(rng, start)
                for e in events:
                    data = e.as_dict()
                    rows.append({"sender_id": sender, "type_name": e.type_name, "timestamp": data.get("timestamp"),
                                 "intent_name": (data.get("parse_data") or {}).get("intent", {}).get("name"),
                                 "action_name": data.get("name"), "data": json.dumps(data)})
                if callback:
                    callbacks.append((sender, callback, dt.datetime.fromtimestamp(events[-1].timestamp, dt.timezone.utc)
                                      .replace(tzinfo=None)))
                conversations += 1
            conn.execute(table.insert(), rows)
            events_written += len(rows)
    store.engine.dispose()
    clinic_url = f"sqlite:///{out / 'clinic.db'}"
    with session_factory(clinic_url)() as s:
        for i, (sender, content_id, created) in enumerate(callbacks, start=1):
            contacted = created + dt.timedelta(minutes=rng.randint(20, 60 * 30)) if rng.random() < 0.85 else None
            s.add(CallbackRequest(id=i, conversation_id=sender, content_id=content_id, name="Jane Doe",
                                  contact="jane@example.com", contact_kind="email", created_at=created,
                                  status="contacted" if contacted else "new"))
            if contacted:
                s.add(AuditEntry(at=contacted, actor="nurse", action="callback_status", target=f"callback:{i}",
                                 detail=json.dumps({"from": "new", "to": "contacted", "conversation": sender})))
        s.commit()
    return {"days": days, "conversations": conversations, "events": events_written, "callbacks": len(callbacks),
            "seconds": round(time.perf_counter() - began, 1),
            "tracker_mb": round((out / "rasa.db").stat().st_size / 1e6, 1)}


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def page(out: Path) -> Dict[str, Any]:
    """The page's cost on the seeded store: in process, then over HTTP from a running web app."""
    from webapp.console import analytics, inbox

    tracker, clinic = f"sqlite:///{out / 'rasa.db'}", f"sqlite:///{out / 'clinic.db'}"
    today = dt.datetime.now(LA).date()
    result: Dict[str, Any] = {}
    scanner = analytics.EventScanner(tracker)
    began = time.perf_counter()
    scanner.refresh()
    result["first_reading_s"] = round(time.perf_counter() - began, 2)
    result["conversations_in_memory"] = len(scanner.conversations)
    for label, days, by in (("30 days per day", 30, "day"), ("365 days per week", 365, "week"),
                            ("365 days per day", 365, "day")):
        times = []
        for _ in range(5):
            began = time.perf_counter()
            analytics.compute(scanner, today - dt.timedelta(days=days - 1), today, by, LA, clinic)
            times.append(time.perf_counter() - began)
        result[f"compute {label} ms (median of 5)"] = _ms(statistics.median(times))
    choice = inbox.EncoderChoice((inbox.ngram_encode, "ngram"))
    lo = dt.datetime.now(LA).timestamp() - 90 * 86400
    began = time.perf_counter()
    view = inbox.inbox_view(scanner, choice, lo, time.time(), "", False, out / "reviewed.yml")
    result["inbox 90 days, first (encodes) ms"] = _ms(time.perf_counter() - began)
    began = time.perf_counter()
    inbox.inbox_view(scanner, choice, lo, time.time(), "", False, out / "reviewed.yml")
    result["inbox 90 days, again ms"] = _ms(time.perf_counter() - began)
    result["inbox groups"] = view.total_groups
    result.update(_http(out))
    return result


def _http(out: Path) -> Dict[str, Any]:
    """GET the pages from ``python -m webapp`` on the seeded stores, as a signed-in nurse would."""

    from scripts.wait_ready import free_port, wait_for
    from tests.console.conftest import PASSWORD, StaffClient
    from webapp.console import accounts

    port = free_port()
    env = {**os.environ, "TRACKER_DB_URL": f"sqlite:///{out / 'rasa.db'}", "CLINIC_DB_URL": f"sqlite:///{out / 'clinic.db'}",
           "SESSION_SECRET": uuid.uuid4().hex * 2, "INBOX_ENCODER": "ngram",
           "INBOX_TRAINING_FILE": str(out / "reviewed.yml"), "LOG_LEVEL": "WARNING"}
    if accounts.get("bench", env["CLINIC_DB_URL"]) is None:
        accounts.create("bench", "staff", PASSWORD, actor="bench", url=env["CLINIC_DB_URL"])
    proc = subprocess.Popen([sys.executable, "-m", "webapp", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    result: Dict[str, Any] = {}
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", timeout=60, proc=proc)
        client = StaffClient(f"http://127.0.0.1:{port}")
        client.login("bench", PASSWORD)
        for label, path in (("analytics 30 days per day", "/staff/analytics?days=30&by=day"),
                            ("analytics 365 days per week", "/staff/analytics?days=365&by=week"),
                            ("inbox 90 days", "/staff/inbox?days=90")):
            times = []
            for _ in range(6):
                began = time.perf_counter()
                r = client.get(path, timeout=300)
                r.raise_for_status()
                times.append(time.perf_counter() - began)
            result[f"HTTP {label}: first ms"] = _ms(times[0])
            result[f"HTTP {label}: later, median ms"] = _ms(statistics.median(times[1:]))
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
    return result


# --- what each source of figures costs the Rasa server -------------------------------------------

READER = """
import sys, time, datetime as dt, zoneinfo
from webapp.console import analytics
scanner = analytics.EventScanner(sys.argv[1])
tz = zoneinfo.ZoneInfo("America/Los_Angeles")
today = dt.datetime.now(tz).date()
until = time.time() + float(sys.argv[2])
n = 0
while time.time() < until:
    analytics.compute(scanner, today - dt.timedelta(days=30), today, "day", tz, sys.argv[3])
    n += 1
    time.sleep(0.05)
print(n)
"""


async def _saves(store: Any, turns: int, rng: random.Random) -> List[float]:
    """Seconds per ``store.save`` over ``turns`` turns spread over 40 conversations (Rasa's save of a turn)."""
    from rasa.shared.core.trackers import DialogueStateTracker

    slots = store.domain.slots

    trackers: Dict[str, DialogueStateTracker] = {}
    times: List[float] = []
    start = time.time()
    for i in range(turns):
        sender = f"bench-{i % 40}-{id(store)}"
        events, _cb = _conversation(rng, start + i)
        if sender not in trackers:
            trackers[sender] = DialogueStateTracker.from_events(sender, events[:3], slots=slots)
            await store.save(trackers[sender])
        tracker = trackers[sender]
        for e in events[3:8]:  # one turn: user, slot or action, bot, listen
            tracker.update(e)
        began = time.perf_counter()
        await store.save(tracker)
        times.append(time.perf_counter() - began)
    return times


def source(turns: int = 400) -> Dict[str, Any]:
    """Median and p95 of a tracker-store save per turn, three ways, on SQLite (the default profile)."""
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    from rasa.core.brokers.sql import SQLEventBroker
    from rasa.shared.core.domain import Domain

    from addons.stores import EnvSQLTrackerStore

    domain = Domain.load(str(ROOT / "domain.yml"))
    result: Dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        def fresh(name: str, broker: Any = None) -> Any:
            os.environ["TRACKER_DB_URL"] = f"sqlite:///{tmp}/{name}.db"
            return EnvSQLTrackerStore(domain=domain, event_broker=broker)

        def summary(times: List[float]) -> Tuple[float, float]:
            times = sorted(times)
            return _ms(statistics.median(times)), _ms(times[int(len(times) * 0.95) - 1])

        rng = random.Random(1)
        plain = asyncio.run(_saves(fresh("plain"), turns, rng))
        result["save per turn, no broker (console reads the store): median / p95 ms"] = summary(plain)
        broker = SQLEventBroker(dialect="sqlite", db=f"{tmp}/broker.db")
        brokered = asyncio.run(_saves(fresh("brokered", broker), turns, random.Random(1)))
        result["save per turn, Rasa's SQL event broker: median / p95 ms"] = summary(brokered)

        # The console reading the same store in another process all along.
        store = fresh("read")
        asyncio.run(_saves(store, 200, random.Random(2)))  # something to read
        clinic = f"sqlite:///{tmp}/clinic.db"
        reader = subprocess.Popen([sys.executable, "-c", READER, f"sqlite:///{tmp}/read.db", "600", clinic],
                                  cwd=ROOT, stdout=subprocess.PIPE, text=True)
        time.sleep(3)
        try:
            read = asyncio.run(_saves(store, turns, random.Random(1)))
        finally:
            reader.terminate()
            reader.wait(timeout=30)
        result["save per turn, console reading the store meanwhile: median / p95 ms"] = summary(read)
    return result


# --- the inbox's thresholds ----------------------------------------------------------------------

def grouping() -> Dict[str, Any]:
    """Group the training examples (every intent but crisis) and score the groups against their intents."""
    import yaml

    from webapp.console import inbox

    examples: List[Tuple[str, str]] = []
    for file in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        data = yaml.safe_load(file.read_text()) or {}
        for item in data.get("nlu") or []:
            body = item.get("examples")
            if item.get("intent") in (None, "crisis") or not isinstance(body, str):
                continue
            examples += [(line.strip()[2:], item["intent"]) for line in body.splitlines()
                         if line.strip().startswith("- ")]
    texts = [t for t, _i in examples]
    encoders: List[Tuple[str, Any]] = [("ngram", inbox.ngram_encode)]
    try:
        from semantics import encoder as semantic

        encoders.insert(0, ("semantic", semantic.encode))
    except Exception as e:  # no sentence model installed: n-grams only
        print(f"(no sentence encoder: {e})", file=sys.stderr)
    result: Dict[str, Any] = {"examples": len(texts), "intents": len({i for _t, i in examples})}
    intents = [i for _t, i in examples]
    for name, encode in encoders:
        began = time.perf_counter()
        vectors = encode(texts)
        result[f"{name}: encode ms per message"] = round((time.perf_counter() - began) * 1000 / len(texts), 2)
        for threshold in (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8):
            labels = inbox.greedy_groups(vectors, threshold)
            groups: Dict[int, List[int]] = {}
            for row, label in enumerate(labels):
                groups.setdefault(label, []).append(row)
            # B-cubed precision: for each example, the share of its group with its intent
            # (high: one assignment fits the whole group); examples per group: the editor's work saved.
            precision = statistics.mean(
                sum(intents[o] == intents[row] for o in members) / len(members)
                for members in groups.values() for row in members)
            result[f"{name} @ {threshold}: precision / examples per group"] = (
                round(precision, 3), round(len(texts) / len(groups), 2))
    return result


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("seed", "page", "source", "grouping", "all"))
    parser.add_argument("--out", type=Path, default=ROOT / "bench-output" / "analytics")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=50)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    print(f"machine load: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} cores")
    steps = ["seed", "page", "source", "grouping"] if args.what == "all" else [args.what]
    for step in steps:
        if step == "seed":
            figures = seed(args.out, args.days, args.per_day)
        elif step == "page":
            figures = page(args.out)
        elif step == "source":
            figures = source()
        else:
            figures = grouping()
        print(f"\n## {step}")
        for key, value in figures.items():
            print(f"| {key} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
