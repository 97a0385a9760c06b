"""The learning inbox: which messages it lists, how it groups them (a fake encoder), the
scrubbing of names, phone numbers and e-mail addresses, the reviewed training file
(`make validate` accepts it), the page (signed-in staff only, audited), and the whole
loop on a running assistant: an assignment becomes a training example and, after
`make reload`, the assistant answers that message with the assigned topic."""

from __future__ import annotations

import datetime as dt
import html
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
import zoneinfo
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import yaml

from tests.conftest import MODEL, ROOT, make_stack
from tests.console.conftest import PASSWORD, StaffClient, bot, loop, seed_tracker, slot, user
from tests.console.test_analytics import clinic_tables

LA = zoneinfo.ZoneInfo("America/Los_Angeles")


# --- grouping, with a fake encoder ----------------------------------------------------------

def unit(*xs: float) -> np.ndarray:
    v = np.array(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


FAKE = {
    "how long is it": unit(1, 0, 0, 0),
    "how long does it last": unit(0.9, 0.436, 0, 0),     # cos 0.90 with the first
    "whats the length of it": unit(0.75, 0, 0.661, 0),   # cos 0.75 with the first
    "where are you": unit(0, 1, 0, 0),
    "where is it": unit(0.1, 0.995, 0, 0),               # cos 0.995 with "where are you", 0.1 with the first
    "the weather": unit(0, 0, 0, 1),
    "nearly weather": unit(0.69, 0, 0, 0.724),           # cos 0.69 with the first: just below 0.7
}


def fake_encode(texts: List[str]) -> np.ndarray:
    return np.vstack([FAKE[t] for t in texts])


def test_greedy_grouping_joins_the_most_similar_lead_at_the_threshold():
    from webapp.console.inbox import greedy_groups

    order = ["how long is it", "where are you", "how long does it last", "where is it", "whats the length of it",
             "the weather", "nearly weather"]
    labels = greedy_groups(fake_encode(order), 0.7)
    groups: Dict[int, List[str]] = {}
    for text, label in zip(order, labels):
        groups.setdefault(label, []).append(text)
    assert sorted(groups.values()) == sorted([
        ["how long is it", "how long does it last", "whats the length of it"],
        ["where are you", "where is it"],
        ["the weather", "nearly weather"],  # 0.69 to "how long is it", 0.72 to "the weather"
    ])
    # a higher threshold splits the looser members off: only "where is it" (0.995) still joins
    assert greedy_groups(fake_encode(order), 0.95) == [0, 1, 2, 1, 3, 4, 5]
    assert greedy_groups(np.zeros((0, 4), dtype=np.float32), 0.7) == []


def member_messages() -> list:
    from webapp.console.analytics import Message

    def m(text, n, when, intent="nlu_fallback", conf=0.2, reply="fallback"):
        return [Message(f"s-{text}-{i}", when + i, text, intent, conf, reply, True) for i in range(n)]

    # equal counts: the most recent first
    return (m("where are you", 2, 1000) + m("how long is it", 3, 1000) + m("how long does it last", 1, 3000)
            + m("the weather", 1, 2000, "out_of_scope", 0.9, "out_of_scope"))


def test_groups_most_messages_first_with_counts():
    from webapp.console.inbox import EncoderChoice, group_members, members_from

    members = members_from(member_messages(), reviewed={})
    assert [(m.text, m.messages) for m in members] == [("how long is it", 3), ("where are you", 2),
                                                        ("how long does it last", 1), ("the weather", 1)]
    groups, name = group_members(members, EncoderChoice((fake_encode, "fake")), threshold=0.7)
    assert name == "fake"
    assert [([m.text for m in g.members], g.messages, g.conversations, g.reasons) for g in groups] == [
        (["how long is it", "how long does it last"], 4, 4, ["fallback"]),
        (["where are you"], 2, 2, ["fallback"]),
        (["the weather"], 1, 1, ["out_of_scope"]),
    ]


def test_the_spelling_encoder_stands_in_when_there_is_no_sentence_model(monkeypatch):
    from webapp.console import inbox

    vectors = inbox.ngram_encode(["How long is a session?", "how long is a sesion", "where do I park"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert vectors[0] @ vectors[1] > 0.7 > 0.3 > vectors[0] @ vectors[2]
    monkeypatch.setenv("INBOX_ENCODER", "ngram")
    assert inbox.EncoderChoice().get()[1] == "ngram"

    def broken(texts):
        raise RuntimeError("model files missing")

    choice = inbox.EncoderChoice((broken, "semantic"))
    out, name = choice.encode(["a b c", "d e f"])
    assert name == "ngram" and out.shape == (2, inbox.NGRAM_DIMENSIONS)


def test_the_sentence_model_never_runs_while_a_page_waits():
    """Its first load takes half a minute: a view is grouped by spelling until a worker has encoded it."""
    import threading

    from webapp.console import inbox

    release = threading.Event()

    def slow_semantic(texts):
        release.wait(10)
        return fake_encode(texts)

    choice = inbox.EncoderChoice()
    choice._choice = (slow_semantic, "semantic")  # as resolved when the model is installed
    texts = ["how long is it", "where are you"]
    started = time.monotonic()
    vectors, name = choice.encode(texts)
    assert name == "ngram" and time.monotonic() - started < 5 and choice.preparing
    release.set()
    for _ in range(100):
        if not choice.preparing:
            break
        time.sleep(0.05)
    vectors, name = choice.encode(texts)
    assert name == "semantic" and np.allclose(vectors, fake_encode(texts))


# --- scrubbing -----------------------------------------------------------------------------------

SCRUB_CASES = [
    ("my name is ann lee and I want to know the cost", "my name is [name] and I want to know the cost"),
    ("Hi, I'm Sarah. can you call me at (530) 555-0142?", "Hi, I'm [name]. can you call me at [phone]?"),
    ("email me at jane.doe+k@example.co.uk please", "email me at [email] please"),
    ("this is Tom, what's the dose", "this is [name], what's the dose"),
    ("my wife Maria wants to know if it's safe", "my wife [name] wants to know if it's safe"),
    ("Dr. Patel referred me", "Dr. [name] referred me"),
    ("thanks, Jen", "thanks, [name]"),
    ("what time do you open - Mike", "what time do you open - [name]"),
    ("call 530.555.0199 or +1 530 555 0100", "call [phone] or [phone]"),
    ("my number is 5305550142", "my number is [phone]"),
    ("Can Jessica come with me?", "Can [name] come with me?"),
    ("[click](here) {x}", "(click)(here) (x)"),  # never an entity annotation to Rasa
    ("line one\nline two\ttab", "line one line two tab"),
    # not names, not phone numbers
    ("I'm tired of waiting, how long is a session", "I'm tired of waiting, how long is a session"),
    ("i'm looking for info on ketamine", "i'm looking for info on ketamine"),
    ("Will it hurt? May I bring someone? Hope so", "Will it hurt? May I bring someone? Hope so"),
    ("how much is 12 sessions in 2024", "how much is 12 sessions in 2024"),
    ("thank you so much", "thank you so much"),
]


@pytest.mark.parametrize("raw,expected", SCRUB_CASES)
def test_scrub(raw, expected):
    from webapp.console.scrub import scrub

    assert scrub(raw) == expected


# --- the reviewed training file ------------------------------------------------------------------

COPIED = ("Makefile", "requirements.txt", "requirements-models.txt", "constraints.txt", "config.yml", "domain.yml",
          "credentials.yml", "endpoints.yml", "data", "content", "actions", "addons", "clinic", "editorial",
          "semantics", "scripts", "tests/stories")


def copy_project(dst: Path) -> Path:
    """What `make validate`, `make train` and `make reload` need, and the venv (linked)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for item in COPIED:
        src = ROOT / item
        if src.is_dir():
            shutil.copytree(src, dst / item, ignore=ignore)
        elif src.exists():
            (dst / item).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / item)
    (dst / ".venv").symlink_to(ROOT / ".venv")
    return dst


def some_example(project: Path, intent: str) -> str:
    """A training example of ``intent`` as the project's files have it today."""
    for file in sorted((project / "data").rglob("*.yml")):
        data = yaml.safe_load(file.read_text()) or {}
        for item in data.get("nlu") or []:
            if item.get("intent") == intent and isinstance(item.get("examples"), str):
                for line in item["examples"].splitlines():
                    if line.strip().startswith("- "):
                        return line.strip()[2:]
    raise AssertionError(f"no example of {intent}")


@pytest.fixture
def project(tmp_path) -> Path:
    return copy_project(tmp_path / "project")


def test_assignments_are_written_with_who_and_when_and_scrubbed(project):
    from webapp.console import inbox

    path = project / "data" / "nlu" / "reviewed_inbox.yml"
    when = dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=dt.timezone.utc)
    result = inbox.assign(["how long am I stuck there, I'm Sarah (530) 555-0142",
                           "How long am I stuck there, I'm Sarah 530 555 0142!",
                           "mail me sam@example.org how long am i stuck there"],
                          "session_length", "ann", path, now=when)
    assert result.added == ["how long am I stuck there, I'm [name] [phone]",
                            "mail me [email] how long am i stuck there"]  # the second is the first again
    body = path.read_text()
    assert "Sarah" not in body and "555-0142" not in body and "sam@example.org" not in body
    examples = inbox.read_reviewed(path)
    assert [(e["intent"], e["text"], e["assigned_by"], e["assigned_at"]) for e in examples] == [
        ("session_length", "how long am I stuck there, I'm [name] [phone]", "ann", "2025-03-04T05:06:07Z"),
        ("session_length", "mail me [email] how long am i stuck there", "ann", "2025-03-04T05:06:07Z"),
    ]

    # Rasa reads it as training data, with the metadata on each example
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    data = RasaYAMLReader().read(str(path))
    assert [(m.get("intent"), m.get("metadata")["example"]["assigned_by"]) for m in data.intent_examples] == \
        [("session_length", "ann"), ("session_length", "ann")]

    # assigned again to another intent: moved, with the new editor and time
    later = when + dt.timedelta(hours=1)
    moved = inbox.assign(["mail me bob@example.org how long am i stuck there"], "out_of_scope", "bea", path, now=later)
    assert moved.moved == ["mail me [email] how long am i stuck there"]
    assert [(e["intent"], e["assigned_by"]) for e in inbox.read_reviewed(path)] == [
        ("session_length", "ann"), ("out_of_scope", "bea")]
    assert inbox.assign(["How long am I stuck there, I'm Sarah (530) 555-0142!"], "session_length", "cy",
                        path).already == ["How long am I stuck there, I'm [name] [phone]!"]


def test_assignments_that_would_break_validation_are_refused(project):
    from webapp.console import inbox

    path = project / "data" / "nlu" / "reviewed_inbox.yml"
    before = path.read_text()
    taken = some_example(project, "location")
    with pytest.raises(inbox.AssignError, match="already an example of 'location'"):
        inbox.assign([taken.upper() + "!"], "dose", "ann", path)
    with pytest.raises(inbox.AssignError, match="not an intent"):
        inbox.assign(["some message"], "no_such_intent", "ann", path)
    with pytest.raises(inbox.AssignError, match="at least one"):
        inbox.assign(["  ", "?!"], "dose", "ann", path)
    assert path.read_text() == before
    # the same example under the same intent elsewhere: nothing to do
    assert inbox.assign([taken], "location", "ann", path).already == [taken]
    assert path.read_text() == before


def test_make_validate_accepts_the_reviewed_file(project):
    from webapp.console import inbox

    path = project / "data" / "nlu" / "reviewed_inbox.yml"
    inbox.assign(["how long am I stuck there for, my name is Ann Lee"], "session_length", "ann", path)
    inbox.assign(["can you book me a table for two tonight", "what's the capital of peru"], "out_of_scope", "ann",
                 path)
    inbox.assign(["is it ok if i'm on prozac, call 530 555 0100"], "medical_question", "bea", path)
    done = subprocess.run(["scripts/validate.sh"], cwd=project, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"})
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert "VALIDATION PASSED" in out and "reviewed_inbox" not in out  # not even a warning about it


# --- the page ---------------------------------------------------------------------------------

def at(day: int, hour: int, minute: int = 0) -> float:
    return dt.datetime(2025, 3, day, hour, minute, tzinfo=LA).timestamp()


def say(t: float, text: str, intent: str, content_id: str, conf: float = 0.9) -> list:
    return [user(text, intent, conf, ts=t), bot("(reply)", content_id, ts=t + 1)]


INBOX_CONVERSATIONS = {
    "in-1": [*say(at(10, 9), "blorp snarfle", "nlu_fallback", "fallback", 0.2),
             *say(at(10, 9, 1), "what is ketamine", "what_is_ketamine", "what_is_ketamine", 0.95)],
    "in-2": say(at(10, 10), "Blorp snarfle!", "nlu_fallback", "fallback", 0.3),
    "in-3": [*say(at(11, 9), "can I bring my dog Rex, I'm Sarah 530-555-0142", "out_of_scope", "out_of_scope", 0.8),
             *say(at(11, 9, 1), "/unknown_button", "nlu_fallback", "fallback", 0.0)],
    "in-4": say(at(11, 10), "how long am I stuck there", "session_length", "session_length", 0.41),
    # the callback form's answers are not questions: never in the inbox
    "in-form": [*say(at(12, 9), "can I take it with lithium", "medical_question", "medical_handoff"),
                loop("callback_form", ts=at(12, 9, 1)),
                *say(at(12, 9, 2), "Jane Doe", "nlu_fallback", "callback_contact", 0.1),
                *say(at(12, 9, 3), "jane@example.com", "nlu_fallback", "callback_time", 0.1),
                slot("callback_requested", True, ts=at(12, 9, 4)), loop(None, ts=at(12, 9, 5))],
}
RANGE = "from=2025-03-01&to=2025-03-31"


@pytest.fixture(scope="module")
def inbox_app(webapp_factory, tmp_path_factory):
    project = copy_project(tmp_path_factory.mktemp("inbox-project") / "p")
    app = webapp_factory(INBOX_ENCODER="ngram",
                         INBOX_TRAINING_FILE=str(project / "data" / "nlu" / "reviewed_inbox.yml"))
    seed_tracker(app.tracker_path, INBOX_CONVERSATIONS)
    clinic_tables(app.clinic_url)
    app.account("ed", "editor")
    app.account("sam", "staff")
    app.project = project
    return app


def groups_on(body: str) -> Dict[str, List[str]]:
    """Group key -> member wordings, as listed on the page."""
    out = {}
    for key, section in re.findall(r'<section class="group" data-group="([0-9a-f]+)">(.*?)</section>', body, re.S):
        out[key] = [html.unescape(t).strip() for t in
                    re.findall(r'<input type="checkbox" name="key" value="[0-9a-f]+"[^>]*>\s*(.*?)</label>', section, re.S)]
    return out


def test_the_inbox_lists_and_groups_what_was_not_understood(inbox_app):
    from clinic.models import AuditEntry, session_factory

    client = inbox_app.signed_in("ed")
    r = client.get(f"/staff/inbox?{RANGE}")
    assert r.status_code == 200, r.text[:500]
    groups = groups_on(r.text)
    assert sorted(groups.values()) == [["blorp snarfle"], ["can I bring my dog Rex, I'm Sarah 530-555-0142"],
                                       ["how long am I stuck there"]]
    assert "Jane Doe" not in r.text and "jane@example.com" not in r.text and "/unknown_button" not in r.text
    assert "2 messages in 2 conversations" in r.text  # "blorp snarfle" and "Blorp snarfle!"
    assert "saved as: can I bring my dog Rex, I&#39;m [name] [phone]" in r.text
    assert 'href="/staff/conversation?id=in-1"' in r.text and 'href="/staff/conversation?id=in-2"' in r.text
    assert 'id="inbox-count">4 messages in 3 groups' in r.text
    low = client.get(f"/staff/inbox?{RANGE}&reason=low_confidence")
    assert list(groups_on(low.text).values()) == [["how long am I stuck there"]]
    with session_factory(inbox_app.clinic_url)() as s:
        views = s.query(AuditEntry).filter(AuditEntry.action == "inbox_view", AuditEntry.actor == "ed").count()
    assert views == 2


def test_only_signed_in_staff_see_the_inbox(inbox_app):
    anonymous = inbox_app.client()
    r = anonymous.get(f"/staff/inbox?{RANGE}", allow_redirects=False)
    assert r.status_code in (302, 303) and "/staff/login" in r.headers["location"]
    r = anonymous.get(f"/staff/inbox?{RANGE}")
    assert "blorp" not in r.text.lower()
    r = anonymous.post("/staff/inbox/assign", {"intent": "dose", "key": "0" * 16}, csrf=False)
    assert r.status_code == 403
    client = inbox_app.signed_in("ed")
    r = client.post("/staff/inbox/assign", {"intent": "dose", "key": "0" * 16}, csrf=False)
    assert r.status_code == 403  # no CSRF token


def test_staff_read_the_inbox_but_only_editors_and_admins_change_the_training_data(inbox_app):
    path = inbox_app.project / "data" / "nlu" / "reviewed_inbox.yml"
    before = path.read_text() if path.exists() else ""
    staff = inbox_app.signed_in("sam")
    page = staff.get(f"/staff/inbox?{RANGE}")
    assert page.status_code == 200 and "blorp snarfle" in page.text
    assert "Save as training examples" not in page.text and "Only content editors and admins" in page.text
    key = next(iter(groups_on(page.text)))
    r = staff.post("/staff/inbox/assign", {"intent": "out_of_scope", "key": key})
    assert r.status_code == 403 and "content editors" in r.text
    assert (path.read_text() if path.exists() else "") == before
    assert "Save as training examples" in inbox_app.signed_in("ed").get(f"/staff/inbox?{RANGE}").text


def test_an_assignment_from_the_page_goes_into_the_training_file(inbox_app):
    from clinic.models import AuditEntry, session_factory
    from webapp.console import audit, inbox

    path = inbox_app.project / "data" / "nlu" / "reviewed_inbox.yml"
    client = inbox_app.signed_in("ed")
    page = client.get(f"/staff/inbox?{RANGE}")
    key = next(k for k, members in groups_on(page.text).items() if members == ["can I bring my dog Rex, I'm Sarah 530-555-0142"])
    r = client.post("/staff/inbox/assign", {"intent": "out_of_scope", "key": key, "from": "2025-03-01",
                                           "to": "2025-03-31"})
    assert r.status_code == 200 and "Saved to the reviewed training file" in r.text
    examples = inbox.read_reviewed(path)
    assert [(e["intent"], e["text"], e["assigned_by"]) for e in examples] == [
        ("out_of_scope", "can I bring my dog Rex, I'm [name] [phone]", "ed")]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", examples[0]["assigned_at"])
    # reviewed messages leave the inbox, and come back with who assigned them when asked
    assert key not in groups_on(r.text)
    shown = client.get(f"/staff/inbox?{RANGE}&reviewed=1")
    assert key in groups_on(shown.text) and "assigned to <code>out_of_scope</code> by ed" in shown.text
    with session_factory(inbox_app.clinic_url)() as s:
        entry = s.query(AuditEntry).filter(AuditEntry.action == "inbox_assign").one()
    detail = audit.detail_of(entry)
    assert entry.actor == "ed" and detail["intent"] == "out_of_scope" and detail["keys"] == [key]
    assert "Sarah" not in entry.detail and "dog" not in entry.detail  # keys, never the visitor's words

    # refused politely, nothing written
    before = path.read_text()
    for form, says in (({"intent": "not_an_intent", "key": key}, "not an intent"),
                       ({"intent": "dose"}, "Choose an intent"),
                       ({"intent": "dose", "key": "f" * 16}, "no longer in the conversation store"),
                       ({"intent": "dose", "key": "<script>"}, "Choose an intent")):
        r = client.post("/staff/inbox/assign", form)
        assert r.status_code == 200 and says in html.unescape(r.text), (form, r.text[:300])
    assert path.read_text() == before

    # a reviewed file broken by hand: the inbox still shows, says what is wrong, and writes nothing
    path.write_text("nlu:\n- intent: [unclosed\n")
    try:
        page = client.get(f"/staff/inbox?{RANGE}")
        assert page.status_code == 200 and "not valid YAML" in html.unescape(page.text)
        r = client.post("/staff/inbox/assign", {"intent": "dose", "key": key})
        assert "not valid YAML" in html.unescape(r.text) and path.read_text() == "nlu:\n- intent: [unclosed\n"
    finally:
        path.write_text(before)


# --- the whole loop on a running assistant ---------------------------------------------------------

TOPIC = "session_length"


def content_ids_of_reply(stack, sender: str, text: str) -> List[str]:
    return [c for c in stack.turn(sender, text) if c]


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    """Action server, Rasa and web app, with the model and training data of a copy of the project."""
    tmp = tmp_path_factory.mktemp("inbox-loop")
    project = copy_project(tmp / "project")
    models = project / "models"
    models.mkdir()
    if MODEL.exists():
        shutil.copy2(MODEL, models / "clinic.tar.gz")  # make train in the copy retrains only if data changed
    env_for_make = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    train = subprocess.run(["make", "--no-print-directory", "train"], cwd=project, env=env_for_make,
                           capture_output=True, text=True, timeout=1800)
    assert train.returncode == 0, (train.stdout + train.stderr)[-3000:]
    stack = make_stack(tmp, INBOX_ENCODER="ngram",
                       INBOX_TRAINING_FILE=str(project / "data" / "nlu" / "reviewed_inbox.yml"))
    stack.project = project
    try:
        stack.start_actions()
        stack._spawn("rasa", [str(Path(sys.executable).parent / "rasa"), "run", "--enable-api", "--auth-token",
                              stack.token, "--port", str(stack.rasa_port), "--credentials", "credentials.yml",
                              "--endpoints", "endpoints.yml", "--model", str(models / "clinic.tar.gz")])
        stack.wait_rasa()
        stack.start_web()
        yield stack
    finally:
        stack.stop_all()


# Words no training file has and no meaning the assistant could guess (a "how long ... in the
# zorblatt chair" was understood as a session-length question once the scope gate read meaning):
# only the assignment can teach these, however much the understanding improves meanwhile.
MESSAGES = ("what is the quarble for a frumious bandersnatch", "quarble for the frumious bandersnatch?",
            "frumious bandersnatch, what quarble")


def test_an_assignment_is_learned_after_make_reload(assistant):
    from webapp.console import accounts, inbox

    # 1. A visitor asks something the assistant does not understand yet.
    sender = "loop-" + uuid.uuid4().hex[:10]
    for message in MESSAGES:
        before = content_ids_of_reply(assistant, sender, message)
        assert before and before[0] in ("fallback", "fallback_repeat", "out_of_scope"), (message, before)

    # 2. An editor finds the messages in the inbox and assigns the topic.
    clinic_tables(assistant.env["CLINIC_DB_URL"])
    accounts.create("editor", "editor", PASSWORD, actor="test", url=assistant.env["CLINIC_DB_URL"])
    client = StaffClient(assistant.web_url)
    client.login("editor", PASSWORD)
    today = dt.datetime.now(LA).date()
    page = client.get(f"/staff/inbox?from={today - dt.timedelta(days=1)}&to={today + dt.timedelta(days=1)}")
    keys = {m: k for k, members in groups_on(page.text).items() for m in members}
    member_keys = re.findall(r'data-member="([0-9a-f]+)">\s*<label class="inline"><input type="checkbox" name="key" '
                             r'value="[0-9a-f]+"[^>]*>\s*(.*?)</label>', page.text, re.S)
    wanted = [k for k, text in member_keys if html.unescape(text).strip() in MESSAGES]
    assert len(wanted) == len(MESSAGES), (keys, member_keys)
    r = client.post("/staff/inbox/assign", {"intent": TOPIC, "key": wanted})
    assert "Saved to the reviewed training file" in r.text
    path = assistant.project / "data" / "nlu" / "reviewed_inbox.yml"
    assert sorted((e["intent"], e["text"]) for e in inbox.read_reviewed(path)) == sorted((TOPIC, m) for m in MESSAGES)

    # 3. make reload: validate, retrain, load into the running servers.
    env = {**os.environ, "RASA_URL": assistant.rasa_url, "ACTION_PORT": str(assistant.action_port),
           "RASA_AUTH_TOKEN": assistant.token, "RASA_TELEMETRY_ENABLED": "false"}
    env.pop("RASA_URLS", None)
    env.pop("ACTION_URLS", None)
    done = subprocess.run(["make", "--no-print-directory", "reload"], cwd=assistant.project, env=env,
                          capture_output=True, text=True, timeout=1800)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert "RELOAD OK" in out, out[-2000:]

    # 4. The same message now gets the topic's answer, in a new conversation and in the old one.
    assert content_ids_of_reply(assistant, "loop2-" + uuid.uuid4().hex[:10], MESSAGES[0])[0] == TOPIC
    assert content_ids_of_reply(assistant, sender, MESSAGES[1])[0] == TOPIC
