"""The supervisor behind `make run` and `make run-prod` (scripts/supervise.py).

First with small stand-in processes (fast, every rule: restart within 5 s with a
log line, back-off, the others untouched, Ctrl-C, a process that cannot start,
no orphans when the supervisor itself is killed), then `make run` for real:
kill -9 each of its three processes in turn in the middle of a conversation.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Dict, List, Optional


from tests.conftest import MODEL, ROOT, free_port, wait_for

PY = sys.executable

# A stand-in server: answers 200 on /, or exits at once with status 3 when asked to fail.
STAND_IN = textwrap.dedent("""
    import http.server, os, sys, time
    if os.environ.get("FAIL_" + sys.argv[2]):
        sys.exit(3)
    counter = os.environ.get("HANG_ON_START_" + sys.argv[2])  # "N:file": the Nth start never serves
    if counter:
        nth, path = counter.split(":", 1)
        starts = int(open(path).read()) + 1 if os.path.exists(path) else 1
        open(path, "w").write(str(starts))
        if starts == int(nth):
            print("hanging without serving", flush=True)
            time.sleep(3600)
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
        def log_message(self, *a):
            pass
    server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
    if os.environ.get("FORK_" + sys.argv[2]):  # as nginx: the master binds, a worker serves
        worker = os.fork()
        if worker == 0:
            print("worker", os.getpid(), flush=True)
            server.serve_forever()
        server.socket.close()
        os.waitpid(worker, 0)
        sys.exit(0)
    print("stand-in", sys.argv[2], "listening", flush=True)
    server.serve_forever()
""")

DRIVER = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {root!r})
    from scripts.supervise import Program, Supervisor, http_ok
    spec = json.loads(sys.argv[1])
    programs = [Program(name, [sys.executable, {stand_in!r}, str(port), name],
                        http_ok(f"http://127.0.0.1:{{port}}/")) for name, port in spec["programs"]]
    sys.exit(Supervisor(programs, spec["logs"], banner="ALL SERVING", stable_after=spec.get("stable", 30),
                        start_attempts=3, ready_timeout=spec.get("ready_timeout", 60), stop_timeout=10).run())
""")


class Supervised:
    """A supervisor run in a process of its own, with its output in a file."""

    def __init__(self, tmp: Path, names: List[str], env: Optional[Dict[str, str]] = None, stable: float = 30,
                 ready_timeout: float = 60):
        self.tmp = tmp
        self.ports = {name: free_port() for name in names}
        (tmp / "stand_in.py").write_text(STAND_IN)
        (tmp / "driver.py").write_text(DRIVER.format(root=str(ROOT), stand_in=str(tmp / "stand_in.py")))
        spec = {"programs": list(self.ports.items()), "logs": str(tmp / "logs"), "stable": stable,
                "ready_timeout": ready_timeout}
        self.out = tmp / "supervisor.out"
        self.proc = subprocess.Popen([PY, str(tmp / "driver.py"), json.dumps(spec)], cwd=ROOT,
                                     env=dict(os.environ, **(env or {})), stdout=open(self.out, "w"),
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def wait_for_text(self, needle: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            assert time.monotonic() < deadline, f"{needle!r} not in:\n{self.text()[-3000:]}"
            assert self.proc.poll() is None or needle in self.text(), self.text()[-3000:]
            time.sleep(0.05)

    def pids(self, name: str) -> List[int]:
        """Every pid ``name`` was started with, in order."""
        return [int(p) for p in re.findall(rf"started {re.escape(name)} \(pid (\d+)\)", self.text())]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            self.proc.wait(timeout=30)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead too
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as r:
            return r.status == 200
    except Exception:
        return False


def test_a_killed_process_is_restarted_within_5s_with_a_log_line_and_the_others_keep_serving(tmp_path):
    sup = Supervised(tmp_path, ["alpha", "beta", "gamma"])
    try:
        sup.wait_for_text("ALL SERVING")
        first = {name: sup.pids(name)[0] for name in sup.ports}
        for victim in sup.ports:  # each in turn
            os.kill(sup.pids(victim)[-1], signal.SIGKILL)
            killed_at = time.monotonic()
            deadline = killed_at + 5
            while len(sup.pids(victim)) < 2 or not answers(sup.ports[victim]):
                assert time.monotonic() < deadline, f"{victim} not back within 5 s:\n{sup.text()[-2000:]}"
                time.sleep(0.05)
            assert re.search(rf"{victim} \(pid \d+\) was killed by SIGKILL after [\d.]+s; restarting in", sup.text())
            for other in sup.ports:
                if other != victim and len(sup.pids(other)) == 1:
                    assert alive(first[other]) and answers(sup.ports[other]), f"{other} was disturbed"
        assert sup.proc.poll() is None
    finally:
        sup.stop()


def test_repeated_crashes_back_off_up_to_4s_and_ctrl_c_stops_everything(tmp_path):
    sup = Supervised(tmp_path, ["flaky", "steady"])
    try:
        sup.wait_for_text("ALL SERVING")
        for _ in range(5):
            count = len(sup.pids("flaky"))
            os.kill(sup.pids("flaky")[-1], signal.SIGKILL)
            deadline = time.monotonic() + 6
            while len(sup.pids("flaky")) == count:
                assert time.monotonic() < deadline, sup.text()[-2000:]
                time.sleep(0.05)
        delays = [float(d) for d in re.findall(r"flaky \(pid \d+\) was killed by SIGKILL after [\d.]+s; "
                                                r"restarting in ([\d.]+)s", sup.text())]
        assert delays == [0.5, 1.0, 2.0, 4.0, 4.0], delays
        pids = [sup.pids("flaky")[-1], sup.pids("steady")[-1]]
        assert all(alive(p) for p in pids)
    finally:
        os.killpg(sup.proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        assert sup.proc.wait(timeout=30) == 0
    assert "Stopped." in sup.text()
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids):
        assert time.monotonic() < deadline, "a process outlived Ctrl-C"
        time.sleep(0.1)


def test_back_off_returns_to_half_a_second_once_a_process_ran_for_a_while(tmp_path):
    sup = Supervised(tmp_path, ["one"], stable=1.0)
    try:
        sup.wait_for_text("ALL SERVING")
        for _ in range(3):
            count = len(sup.pids("one"))
            wait_for(f"http://127.0.0.1:{sup.ports['one']}/", timeout=10)
            time.sleep(1.2)  # longer than `stable`
            os.kill(sup.pids("one")[-1], signal.SIGKILL)
            deadline = time.monotonic() + 6
            while len(sup.pids("one")) == count:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert re.findall(r"restarting in ([\d.]+)s", sup.text()) == ["0.5"] * 3
    finally:
        sup.stop()


def test_a_process_that_cannot_start_stops_everything_with_its_name(tmp_path):
    sup = Supervised(tmp_path, ["good", "broken"], env={"FAIL_broken": "1"})
    assert sup.proc.wait(timeout=60) == 1
    out = sup.text()
    assert "STOPPING EVERYTHING: broken exited with status 3 3 times before it was ready" in out
    assert not alive(sup.pids("good")[-1])
    assert "ALL SERVING" not in out


def test_no_process_outlives_a_killed_supervisor(tmp_path):
    sup = Supervised(tmp_path, ["a", "b"])
    sup.wait_for_text("ALL SERVING")
    pids = [sup.pids("a")[-1], sup.pids("b")[-1]]
    os.kill(sup.proc.pid, signal.SIGKILL)
    sup.proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids):
        assert time.monotonic() < deadline, "orphans kept running after the supervisor died"
        time.sleep(0.1)


def test_what_a_killed_process_started_is_ended_before_it_is_started_again(tmp_path):
    """nginx's workers outlive a kill -9 of their master: they keep its port (the new master cannot
    bind) and answer in its place. The supervisor ends the whole process group first."""
    sup = Supervised(tmp_path, ["master"], env={"FORK_master": "1"})
    try:
        sup.wait_for_text("ALL SERVING")
        workers = lambda: [int(p) for p in re.findall(r"master \| worker (\d+)", sup.text())]  # noqa: E731
        old_worker = workers()[0]
        os.kill(sup.pids("master")[-1], signal.SIGKILL)
        deadline = time.monotonic() + 5
        while len(workers()) < 2:
            assert time.monotonic() < deadline, sup.text()[-2000:]
            time.sleep(0.05)
        assert not alive(old_worker), "the dead master's worker is still running"
        time.sleep(1.5)
        assert len(sup.pids("master")) == 2, "the new master could not start: " + sup.text()[-2000:]
        assert answers(sup.ports["master"])
    finally:
        sup.stop()


def test_a_restarted_process_that_never_serves_is_started_once_more(tmp_path):
    """A Rasa server restarted while its model was being rewritten runs, but serves nothing."""
    sup = Supervised(tmp_path, ["slow"], env={"HANG_ON_START_slow": f"2:{tmp_path / 'starts'}"}, ready_timeout=3)
    try:
        sup.wait_for_text("ALL SERVING")
        os.kill(sup.pids("slow")[-1], signal.SIGKILL)
        sup.wait_for_text("hanging without serving")
        sup.wait_for_text("is not serving", timeout=10)
        sup.wait_for_text("is serving again", timeout=10)
        assert len(sup.pids("slow")) == 3 and answers(sup.ports["slow"])
    finally:
        sup.stop()


def test_each_process_output_goes_to_its_own_owner_only_log_file(tmp_path):
    sup = Supervised(tmp_path, ["alpha", "beta"])
    try:
        sup.wait_for_text("ALL SERVING")
        logs = tmp_path / "logs"
        assert "stand-in alpha listening" in (logs / "alpha.log").read_text()
        assert "stand-in beta listening" in (logs / "beta.log").read_text()
        assert "started alpha" in (logs / "supervise.log").read_text()
        assert "    alpha | stand-in alpha listening" in sup.text()  # and on the terminal
        assert {(logs / n).stat().st_mode & 0o777 for n in ("alpha.log", "beta.log", "supervise.log")} == {0o600}
    finally:
        sup.stop()


# --- `make run` for real --------------------------------------------------------------

def test_make_run_keeps_answering_while_each_process_is_killed_in_turn(tmp_path):
    """kill -9 the action server, the Rasa server and the web app, one after the other, in the
    middle of a callback form: each is back within 5 s of the kill (the Rasa server then loads its
    model), topics and crisis are answered while the action server is gone, the form goes on once
    it is back, and the tracker has every answered turn, once, in order."""
    from tests.prod.phrases import CRISIS, MEDICAL, turns_of
    from tests.run_script import RunScript

    assert MODEL.exists(), "make test trains the model first"
    run = RunScript.dev(tmp_path)
    try:
        run.wait_ready()
        rasa = run.env["RASA_URL"]
        visitor = "sup-" + uuid.uuid4().hex[:12]
        answered: List[tuple] = []

        def turn(text: str, expected: List[str]) -> None:
            ids = run.turn(rasa, visitor, text)
            assert ids == expected, (text, ids)
            answered.append((text, ids))

        turn("how long does a session take", ["session_length"])
        turn(MEDICAL[0], MEDICAL[1])
        turn("yes", ["callback_name"])

        # 1. The action server: the Rasa server answers topics and crisis without it ...
        assert run.kill("actions") < 5
        turn(CRISIS[0], CRISIS[1])  # in the middle of the form: the crisis reply ends it
        turn("where is the clinic", ["location"])
        # ... and the callback form works again once it is back.
        run.wait_serving_again("actions", timeout=60)
        ids = run.turn(rasa, visitor, MEDICAL[0])
        answered.append((MEDICAL[0], ids))
        if ids == MEDICAL[1]:  # consent asked again (else it was remembered from the first offer)
            turn("yes", ["callback_name"])
        else:
            assert ids == ["medical_handoff", "callback_name"], ids
        turn("Jane Doe", ["callback_contact"])

        # 2. The Rasa server, while another visitor's message is in flight.
        busy = "busy-" + uuid.uuid4().hex[:12]
        in_flight = threading.Thread(target=lambda: _ignore_errors(run.say, rasa, busy, "how many sessions do I need"))
        in_flight.start()
        time.sleep(0.05)
        assert run.kill("rasa") < 5
        in_flight.join(timeout=40)
        deadline = time.monotonic() + 240  # the restarted server loads its model first
        while True:
            try:
                ids = run.turn(rasa, visitor, CRISIS[0])  # still in the form: the crisis reply first
                break
            except OSError:  # refused while it starts
                assert time.monotonic() < deadline, run.text()[-3000:]
                time.sleep(0.5)
        assert ids == CRISIS[1], ids
        answered.append((CRISIS[0], ids))
        busy_turns = turns_of(run.tracker(rasa, busy))
        assert len(busy_turns) <= 1 and all(bots for _, bots, _ in busy_turns), busy_turns  # whole or not at all

        # 3. The web app: the Rasa server keeps answering meanwhile.
        assert run.kill("web") < 5
        turn("how many sessions do I need", ["multiple_sessions"])
        run.wait_serving_again("web", timeout=60)
        wait_for(f"http://127.0.0.1:{run.env['WEB_PORT']}/healthz", timeout=10)

        turns = turns_of(run.tracker(rasa, visitor))
        assert [(text, ids) for text, _, ids in turns] == answered, "an answered turn is lost or doubled"
        for name in ("actions", "rasa", "web"):
            assert re.search(rf"{name} \(pid \d+\) was killed by SIGKILL after [\d.]+s; restarting in", run.text())
    finally:
        run.stop()
    assert "Stopped." in run.text()


def _ignore_errors(fn, *args) -> None:
    try:
        fn(*args)
    except Exception:
        pass
