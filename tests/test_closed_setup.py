"""The default setup is closed (issue 14): every server of `make run` listens on 127.0.0.1 only,
the API token is on no command line (`ps` shows every local user every command line), every
process runs with umask 077, var/ and the log folder are 0700 and the databases and logs 0600."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import uuid
from pathlib import Path
from typing import Dict, Iterator

import pytest

from scripts.rasa_server import rasa_argv
from scripts.supervise import dev_profile, prod_profile
from tests.conftest import MODEL, ROOT
from tests.run_script import RunScript, session_processes


# --- the launcher that keeps the token off the command line -----------------------------

def test_the_launcher_puts_the_token_into_rasas_argv_inside_the_process():
    argv = rasa_argv(["--port", "5005"], {"RASA_AUTH_TOKEN": "secret-token-value"})
    assert argv == ["rasa", "run", "--enable-api", "--auth-token", "secret-token-value", "--port", "5005"]


@pytest.mark.parametrize("args, env, message", [
    ([], {}, "RASA_AUTH_TOKEN is empty"),
    (["--auth-token", "x"], {"RASA_AUTH_TOKEN": "t"}, "do not pass --auth-token"),
    (["--auth-token=x"], {"RASA_AUTH_TOKEN": "t"}, "do not pass --auth-token"),
    (["--auth", "x"], {"RASA_AUTH_TOKEN": "t"}, "do not pass --auth-token"),  # argparse abbreviation
    (["-tx"], {"RASA_AUTH_TOKEN": "t"}, "do not pass --auth-token"),
    (["--debug"], {"RASA_AUTH_TOKEN": "t", "CLINIC_PROFILE": "production"}, "Debug logging is refused"),
    (["-vv"], {"RASA_AUTH_TOKEN": "t", "CLINIC_PROFILE": "production"}, "Debug logging is refused"),
    ([], {"RASA_AUTH_TOKEN": "t", "CLINIC_PROFILE": "production", "LOG_LEVEL": "debug"}, "Debug logging is refused"),
])
def test_the_launcher_refuses(args, env, message):
    with pytest.raises(SystemExit, match=message):
        rasa_argv(args, env)


def test_no_profile_puts_a_secret_on_a_command_line_and_every_server_binds_127_0_0_1():
    pg_password, redis_password = "pg" + uuid.uuid4().hex, "rd" + uuid.uuid4().hex
    env = {"RASA_AUTH_TOKEN": "tok-" + uuid.uuid4().hex, "SESSION_SECRET": "sec-" + uuid.uuid4().hex,
           "TRACKER_DB_URL": "postgresql://rasa:" + pg_password + "@db/x",
           "REDIS_URL": "redis://:" + redis_password + "@r/1",
           "RASA_PORT": "5005", "RASA_PORT_2": "5006", "ALLOWED_ORIGINS": "https://a.example"}
    for profile in (dev_profile, prod_profile):
        env_now = dict(env, NGINX="off")
        programs, _ = profile(env_now)
        for program in programs:
            line = " ".join(program.argv)
            for secret in ("tok-", "sec-", pg_password, redis_password):
                assert secret not in line, (program.name, line)
        for program in programs:
            if "scripts.rasa_server" in program.argv:
                assert program.argv[program.argv.index("--interface") + 1] == "127.0.0.1"
        configured = dict(env_now, RASA_HOST="10.1.2.3")
        rasa = next(p for p in profile(configured)[0] if "scripts.rasa_server" in p.argv)
        assert rasa.argv[rasa.argv.index("--interface") + 1] == "10.1.2.3"  # only when configured


# --- `make run` for real ----------------------------------------------------------------

@pytest.fixture(scope="module")
def running(tmp_path_factory) -> Iterator[RunScript]:
    assert MODEL.exists(), "make test trains the model first"
    tmp = tmp_path_factory.mktemp("closed")
    run = RunScript.dev(tmp)
    try:
        run.wait_ready()
        # a conversation and a callback request, so both databases hold visitor data
        base = run.env["RASA_URL"]
        sender = "closed-" + uuid.uuid4().hex[:10]
        for text in ("can I take ketamine while on lithium", "yes", "Jane Doe", "jane@example.com",
                     "weekday mornings"):
            run.say(base, sender, text)
        yield run
    finally:
        run.stop()


def _listening() -> Dict[int, tuple]:
    """port -> (address, backlog) of every listening TCP socket (`ss`: Send-Q is the backlog)."""
    out = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        parts = line.split()
        address, _, port = parts[3].rpartition(":")
        found[int(port)] = (address, int(parts[2]))
    return found


def test_ps_shows_no_token_or_secret(running):
    lines = session_processes(running.proc.pid)
    assert sum("scripts.rasa_server" in line for line in lines) == 1, lines
    assert len(lines) >= 4, lines  # the supervisor and its three processes
    for line in lines:
        assert running.env["RASA_AUTH_TOKEN"] not in line
        assert running.env["SESSION_SECRET"] not in line
        assert running.env["ACTION_SERVER_TOKEN"] not in line
    cmdline = Path(f"/proc/{running.pid('rasa')}/cmdline").read_bytes()
    assert running.env["RASA_AUTH_TOKEN"].encode() not in cmdline
    assert running.env["RASA_AUTH_TOKEN"] not in running.text()  # nor in the output


def test_every_server_listens_on_127_0_0_1_only_and_rasa_queues_more_than_100(running):
    listening = _listening()
    for name in ("RASA_PORT", "ACTION_PORT", "WEB_PORT"):
        port = int(running.env[name])
        assert port in listening, f"nothing listens on {name}={port}"
        assert listening[port][0] == "127.0.0.1", (name, listening[port])
    assert listening[int(running.env["RASA_PORT"])][1] >= 1024  # SANIC_BACKLOG, not Rasa's 100


def test_every_process_runs_with_umask_077(running):
    for name in ("actions", "rasa", "web"):
        status = Path(f"/proc/{running.pid(name)}/status").read_text()
        assert re.search(r"^Umask:\s+0077$", status, re.M), (name, status)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_var_and_logs_are_owner_only(running):
    assert _mode(ROOT / "var") == 0o700
    logs = Path(running.env["LOG_DIR"])
    assert _mode(logs) == 0o700
    log_files = list(logs.iterdir())
    assert {f.name for f in log_files} >= {"rasa.log", "actions.log", "web.log", "supervise.log"}
    assert {f.name: _mode(f) for f in log_files} == {f.name: 0o600 for f in log_files}
    databases = [f for f in running.tmp.iterdir() if f.name.startswith(("rasa.db", "clinic.db"))]
    assert {"rasa.db", "clinic.db"} <= {f.name for f in databases}, databases
    assert {f.name: _mode(f) for f in databases} == {f.name: 0o600 for f in databases}


def test_env_and_var_files_left_open_by_an_older_version_are_closed(tmp_path):
    """Files an older version created 0644 are made owner-only when the scripts start."""
    from scripts.supervise import secure_runtime_dirs

    var = tmp_path / "var"
    (var / "log").mkdir(parents=True)
    for name in ("rasa.db", "rasa.db-wal", "log/rasa.log"):
        (var / name).write_text("x")
        os.chmod(var / name, 0o644)
    os.chmod(var, 0o755)
    old = os.umask(0o022)
    try:
        secure_runtime_dirs(var)
        assert os.umask(0o022) == 0o077
    finally:
        os.umask(old)
    assert _mode(var) == 0o700 and _mode(var / "log") == 0o700
    assert {_mode(var / n) for n in ("rasa.db", "rasa.db-wal", "log/rasa.log")} == {0o600}
