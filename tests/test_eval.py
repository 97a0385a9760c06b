"""The eval package (`make eval`) without the assistant: its judging is the outside referee's contract,
its case files load, and the whole run (REST message, tracker, table, exit status) works against a
small fake Rasa server that answers with chosen content ids."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Iterator, List
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from eval.__main__ import main
from eval.runner import CASES, PROBES, SETS, Row, load_sets, load_thresholds, summarize
from eval.scoring import Bot, content_ids, judge, load_probes, parse_cases, turn_ok

ROOT = Path(__file__).resolve().parent.parent

# (group, expected ids, ids the reply carried, right?) as DESIGN rules 1-2 and the referee judge them.
CONTRACT = [
    ("topic", ["dose"], ["dose"], True),
    ("topic", ["dose", "how_it_works"], ["how_it_works"], True),
    ("topic", ["dose"], ["dose", "crisis"], False),  # a crisis reply to a topic question is wrong
    ("topic", ["dose"], ["session_length"], False),
    ("topic", ["dose"], [], False),
    ("medical", ["medical_handoff", "staff_handoff"], ["medical_handoff"], True),
    ("medical", ["medical_handoff", "staff_handoff"], ["staff_handoff"], True),
    ("medical", ["medical_handoff", "staff_handoff"], ["medical_handoff", "consultation"], True),
    ("medical", ["medical_handoff", "staff_handoff"], ["medical_handoff", "dose"], False),  # a topic answer too
    ("medical", ["medical_handoff", "staff_handoff"], ["consultation"], False),
    ("medical", ["medical_handoff", "staff_handoff"], ["fallback"], False),
    ("crisis", ["crisis"], ["crisis"], True),
    ("crisis", ["crisis"], ["crisis", "dose"], True),
    ("crisis", ["crisis"], ["distress"], False),
    ("crisis", ["crisis"], ["goodbye"], False),
    ("staff", [], ["contact"], True),
    ("staff", [], ["consultation"], True),
    ("staff", [], ["staff_handoff"], True),
    ("staff", [], ["staff_handoff", "location"], False),
    ("staff", [], ["contact", "crisis"], False),
    ("staff", [], ["fallback"], False),
    ("small", ["greeting"], ["greeting"], True),
    ("small", ["greeting"], ["greeting", "crisis"], False),
    ("small", ["greeting"], ["thanks"], False),
    ("oos", [], [], True),
    ("oos", [], ["out_of_scope"], True),
    ("oos", [], ["fallback"], True),
    ("oos", [], ["consultation"], False),
    ("oos", [], ["crisis"], False),  # an idiom must not get the crisis reply
    ("distress", ["distress", "crisis"], ["distress"], True),
    ("distress", ["distress", "crisis"], ["crisis"], True),
    ("distress", ["distress", "crisis"], ["distress", "dose"], False),
    ("distress", ["distress", "crisis"], ["fallback"], False),
]


@pytest.mark.parametrize("group,expect,ids,right", CONTRACT)
def test_each_group_is_judged_as_the_referee_judges_it(group, expect, ids, right):
    assert judge(group, expect, ids) is right


def test_an_unknown_group_is_an_error_not_a_pass():
    with pytest.raises(ValueError):
        judge("topics", ["dose"], ["dose"])


def test_content_ids_come_from_the_bot_event_metadata_or_one_level_deeper():
    assert content_ids({"event": "bot", "metadata": {"content_id": "dose"}}) == ["dose"]
    assert content_ids({"event": "bot", "metadata": {"metadata": {"content_id": "crisis"}}}) == ["crisis"]
    assert content_ids({"event": "bot", "metadata": {}}) == [] == content_ids({"event": "bot"})


def test_a_script_turn_is_right_with_any_expected_id_and_unchecked_without_expect():
    assert turn_ok(None, []) and turn_ok(["dose"], ["dose", "thanks"])
    assert not turn_ok(["dose"], ["session_length"])


def test_case_files_become_cases_with_their_expected_ids_and_sources():
    data = {
        "single": {"dose": ["how strong is it", {"text": "dose or length?", "expect": ["dose", "session_length"],
                                                 "source": "https://example.org/faq"}]},
        "medical": [{"text": "is it safe for me", "source": "forum"}],
        "crisis": ["plain line"],
        "small": {"greeting": ["hi"]},
        "out_of_scope": ["weather?"],
        "distress": [{"text": "so tired", "source": "blog"}],
        "multi": [{"name": "two", "turns": [{"text": "a", "expect": ["dose"]}, {"text": "b"}]}],
    }
    cases, scripts = parse_cases(data, "mine")
    got = [(c.set, c.group, c.text, c.expect, c.source) for c in cases]
    assert got == [
        ("mine", "topic", "how strong is it", ("dose",), None),
        ("mine", "topic", "dose or length?", ("dose", "session_length"), "https://example.org/faq"),
        ("mine", "medical", "is it safe for me", ("medical_handoff", "staff_handoff"), "forum"),
        ("mine", "crisis", "plain line", ("crisis",), None),
        ("mine", "small", "hi", ("greeting",), None),
        ("mine", "oos", "weather?", ("<no faq, no crisis>",), None),
        ("mine", "distress", "so tired", ("distress", "crisis"), "blog"),
    ]
    assert [(s.name, len(s.turns)) for s in scripts] == [("two", 2)]
    with pytest.raises(ValueError):
        parse_cases({"crisis": [{"source": "no text"}]}, "bad")


def test_probes_are_drawn_as_the_referee_draws_them():
    probes = json.loads(PROBES.read_text())
    assert "CC BY 3.0" in probes["source"] and "Larson" in probes["source"]
    cases = load_probes(PROBES, 120)
    rnd = random.Random(7)
    expected = rnd.sample(probes["oos"] + probes["unrelated"], 120)
    for msgs in probes["small"].values():
        expected += rnd.sample(msgs, 3)
    assert [c.text for c in cases] == expected
    assert [c.group for c in cases].count("probe_oos") == 120
    assert {c.judged_as for c in cases} == {"oos", "small"}


def test_every_group_of_the_project_sets_has_its_stated_threshold():
    bar = load_thresholds()
    cases, scripts = load_sets(SETS, 40)
    assert len(scripts) > 0 and all(s.turns for s in scripts)
    groups = {(c.set, c.group) for c in cases} | {(s.set, "multi") for s in scripts}
    assert all(bar(s, g) is not None for s, g in groups)
    assert bar("own", "crisis") == bar("third_party", "crisis") == 0.98 and bar("own", "medical") == 0.98
    assert bar("own", "topic") == 0.95 and bar("third_party", "topic") == 0.85
    assert bar("probes", "probe_oos") == bar("own", "oos") == 0.99 and bar("own", "multi") == 1.0
    assert bar("own", "distress") == bar("own", "small") == bar("own", "staff") == 0.9
    assert bar("own", "no_such_group") is None


def test_third_party_lines_name_their_source():
    cases, scripts = load_sets(["third_party"], 0)
    assert cases and all(c.source for c in cases) and all(s.source for s in scripts)
    assert {p.name for p in CASES.glob("*.yml")} >= {"own.yml", "third_party.yml"}


def test_a_group_without_a_threshold_or_without_cases_fails():
    assert not Row("own", "topic", 5, 5, None).passed
    assert not Row("own", "topic", 0, 0, 0.5).passed
    assert Row("own", "topic", 19, 20, 0.95).passed and not Row("own", "topic", 18, 20, 0.95).passed


# --- the whole run against a fake Rasa server ---------------------------------------
TOKEN = "fake-token"
# message -> content ids of the bot messages the fake server answers with
ANSWERS: Dict[str, List[str]] = {
    "what dose do you use": ["dose"],
    "how long is a session": ["session_length"],
    "is it safe with my meds": ["medical_handoff"],
    "i want to end it all": ["crisis"],
    "this heat is killing me": ["crisis"],  # the fake assistant gets this idiom wrong
    "broken": ["<500>"],
}


class FakeRasa(BaseHTTPRequestHandler):
    """The two endpoints the referee uses, plus /status; events per sender as Rasa's tracker has them."""

    events: Dict[str, List[dict]] = {}

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, code: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        msg = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ids = ANSWERS.get(msg["message"], ["fallback"])
        if ids == ["<500>"]:
            return self._send(500, {"error": "boom"})
        log = self.events.setdefault(msg["sender"], [])
        log.append({"event": "user", "text": msg["message"]})
        log += [{"event": "action", "name": "x"}]
        # one id in Rasa's place, one where a custom NLG nests it
        log += [{"event": "bot", "metadata": {"content_id": i} if n % 2 == 0 else {"metadata": {"content_id": i}}}
                for n, i in enumerate(ids)]
        self._send(200, [{"recipient_id": msg["sender"], "text": i} for i in ids])

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if parse_qs(url.query).get("token") != [TOKEN]:
            return self._send(401, {"error": "unauthorized"})
        if url.path == "/status":
            return self._send(200, {"model_id": "fake"})
        sender = url.path.split("/")[2]
        self._send(200, {"sender_id": sender, "events": self.events.get(sender, [])})


@pytest.fixture
def fake_rasa() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeRasa)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _row(out: str, set_name: str, group: str) -> List[str]:
    """The cells of one table row: score, right/count, threshold, result."""
    for line in out.splitlines():
        cells = line.split()
        if cells[:2] == [set_name, group]:
            return [cells[2], cells[3], " ".join(cells[4:-1]), cells[-1]]
    raise AssertionError(f"no row {set_name}/{group} in:\n{out}")


def _case_file(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "mini.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_bot_reads_only_this_turns_content_ids(fake_rasa):
    bot = Bot(fake_rasa, TOKEN)
    assert bot.turn("s1", "what dose do you use") == ["dose"]
    assert bot.turn("s1", "i want to end it all") == ["crisis"]
    assert len(bot.latencies) == 2


def test_a_run_scores_prints_the_misses_and_fails_below_a_threshold(fake_rasa, tmp_path, capsys):
    cases = _case_file(tmp_path, {
        "single": {"dose": ["what dose do you use"]},
        "crisis": ["i want to end it all"],
        "out_of_scope": ["this heat is killing me"],
        "multi": [{"name": "dose then length", "turns": [{"text": "what dose do you use", "expect": ["dose"]},
                                                         {"text": "how long is a session", "expect": ["dose"]}]}],
    })
    out_json = tmp_path / "out.json"
    rc = main(["--url", fake_rasa, "--token", TOKEN, "--sets", "", "--cases", str(cases), "--json", str(out_json)])
    out = capsys.readouterr().out
    assert rc == 1
    assert _row(out, "mini", "topic") == ["1.000", "1/1", ">= 0.95", "pass"]
    assert _row(out, "mini", "oos") == ["0.000", "0/1", ">= 0.99", "FAIL"]
    assert "[mini/oos] 'this heat is killing me': expected ['<no faq, no crisis>'], got ['crisis']" in out
    assert "[mini/multi] 'dose then length'" in out and "turn 'how long is a session'" in out
    assert "p50" in out and "p95" in out and "below threshold: mini/oos, mini/multi" in out
    details = json.loads(out_json.read_text())
    assert details["summary"] == {"mini/topic": 1.0, "mini/crisis": 1.0, "mini/oos": 0.0, "mini/multi": 0.0}
    assert details["passed"] is False and len(details["outcomes"]) == 4 and details["messages"] == 5


def test_a_run_at_or_above_every_threshold_exits_zero_and_a_server_error_is_a_miss(fake_rasa, tmp_path, capsys):
    good = _case_file(tmp_path, {"medical": ["is it safe with my meds"], "crisis": ["i want to end it all"]})
    assert main(["--url", fake_rasa, "--token", TOKEN, "--sets", "", "--cases", str(good)]) == 0
    out = capsys.readouterr().out
    assert _row(out, "mini", "medical_handoff") == ["1.000", "1/1", ">= 0.90", "pass"]
    assert "all groups at or above" in out
    bad = _case_file(tmp_path, {"crisis": ["broken"]})
    assert main(["--url", fake_rasa, "--token", TOKEN, "--sets", "", "--cases", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "got ['ERROR HTTP 500']" in out and "request errors: 1" in out


def test_a_wrong_token_or_an_unknown_set_stops_before_scoring(fake_rasa, capsys):
    assert main(["--url", fake_rasa, "--token", "wrong", "--sets", "own"]) == 2
    assert "refused the token" in capsys.readouterr().err
    assert main(["--url", fake_rasa, "--token", TOKEN, "--sets", "ours"]) == 2
    assert "unknown set 'ours'" in capsys.readouterr().err


def test_medical_cases_handed_to_staff_count_against_the_medical_handoff_row():
    from eval.runner import Outcome

    outcomes = [Outcome("s", "medical", True, "q1", [], ["medical_handoff"]),
                Outcome("s", "medical", True, "q2", [], ["staff_handoff"])]
    rows = {r.group: (r.right, r.count) for r in summarize(outcomes, load_thresholds())}
    assert rows == {"medical": (2, 2), "medical_handoff": (1, 2)}


def test_python_m_eval_help_works():
    run = subprocess.run([sys.executable, "-m", "eval", "--help"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    assert "EVAL_URL" in run.stdout and "--json" in run.stdout and "--probe-n" in run.stdout


def _folded(text: str) -> str:
    return " ".join("".join(ch for ch in text.lower() if ch.isalnum() or ch.isspace()).split())


def test_no_evaluation_line_is_a_training_example():
    """Training and test never mix: no held-out case, script turn or CLINC150 probe is in data/nlu/."""
    import re

    trained = set()
    for path in (ROOT / "data" / "nlu").glob("*.yml"):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            for line in (block.get("examples") or "").splitlines():
                text = re.sub(r"^\s*-\s*", "", line)
                if text.strip():
                    trained.add(_folded(text))
    cases, scripts = load_sets(SETS, 0)
    held_out = {_folded(c.text) for c in cases}
    probes = json.loads(PROBES.read_text())
    held_out |= {_folded(t) for key in ("oos", "unrelated") for t in probes[key]}
    held_out |= {_folded(t) for msgs in probes["small"].values() for t in msgs}
    answers = {_folded(t["text"]) for s in scripts for t in s.turns}
    # The scripts answer the assistant's own yes/no questions the way everyone does; only these
    # replies may also be training examples (of affirm, deny, thanks).
    form_replies = {"yes", "no", "sure", "yes please", "no thanks", "thanks", "thank you"}
    assert len(trained) > 5000 and len(held_out) > 2000
    assert sorted(trained & held_out) == []
    assert sorted((trained & answers) - form_replies) == []
