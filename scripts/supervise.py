"""Keeps the assistant's processes running: ``make run`` and ``make run-prod`` start them through it.

``python -m scripts.supervise dev`` (``scripts/run.sh``) runs the action server,
the Rasa server and the web app; ``python -m scripts.supervise prod``
(``scripts/run_prod.sh``) runs the action server, two Rasa servers, the web app
and nginx in front of them.

Why: without supervision one crashed process (``kill -9``, out of memory) took
the others down, and a visitor in crisis got no reply at all. Here a process
that exits is started again after a back-off (0.5 s, doubling up to 4 s; back to
0.5 s once it ran for a while), with a log line saying what happened; the
others keep serving. A process that cannot even start (it exits
``START_ATTEMPTS`` times before it ever got ready: a port in use, no model)
stops everything with its name, so a broken setup does not loop silently.
Ctrl-C (SIGINT), SIGTERM or SIGHUP stops every process (SIGTERM to each
process group, SIGKILL after ``STOP_TIMEOUT`` seconds); a second Ctrl-C kills at once.

Each process's output goes to the terminal and to ``LOG_DIR/NAME.log``
(``clinic/logfiles.py``: rotated daily and by size, owner-only). Nothing secret
is on any command line: the Rasa server gets its token through
``scripts/rasa_server.py``, and the readiness checks add it to their requests here.
Every process starts with umask 077, ``var/`` and the log folder are made 0700
and the files in them 0600.
"""

from __future__ import annotations

import ctypes
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, TextIO, Tuple

from clinic import settings
from clinic.logfiles import DEFAULT_MAX_BYTES, RotatingLog, log_dir

ROOT = Path(__file__).resolve().parent.parent
PR_SET_PDEATHSIG = 1


@dataclass
class Program:
    """One process to keep running: a name, its argv (no secret in it) and how to tell it is ready."""

    name: str
    argv: List[str]
    ready: Optional[Callable[[], bool]] = None
    url: str = ""  # where it serves, for the banner and the log


@dataclass
class _Child:
    program: Program
    proc: Optional[subprocess.Popen] = None
    started: float = 0.0
    restart_at: float = 0.0
    delay: float = 0.0
    restarts: int = 0
    start_failures: int = 0
    ready: bool = False
    ever_ready: bool = False
    pump: Optional[threading.Thread] = None
    log: Optional[RotatingLog] = None


def _libc_prctl() -> Optional[Callable[..., int]]:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None


_PRCTL = _libc_prctl() if sys.platform.startswith("linux") else None


def _child_setup(parent: int) -> Callable[[], None]:
    """Runs in the child between fork and exec: its own process group (the terminal's
    Ctrl-C reaches only the supervisor, which stops everyone in order), and SIGTERM
    when the supervisor dies, even by SIGKILL, so no orphan keeps a port."""
    def setup() -> None:
        os.setpgrp()
        if _PRCTL is not None:
            _PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM)
            if os.getppid() != parent:  # the supervisor died before prctl took effect
                os._exit(1)
    return setup


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


class Supervisor:
    """Starts ``programs``, restarts any that exits, stops them all on a signal."""

    def __init__(self, programs: Sequence[Program], logs: Path, *, env: Optional[Dict[str, str]] = None,
                 out: TextIO = sys.stdout, banner: str = "", min_delay: float = 0.5, max_delay: float = 4.0,
                 stable_after: float = 30.0, start_attempts: int = 3, ready_timeout: float = 180.0,
                 stop_timeout: float = 20.0, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.children = [_Child(p, delay=min_delay) for p in programs]
        self.logs = Path(logs)
        self.env = dict(os.environ if env is None else env)
        self.out = out
        self.banner = banner
        self.min_delay, self.max_delay, self.stable_after = min_delay, max_delay, stable_after
        self.start_attempts, self.ready_timeout, self.stop_timeout = start_attempts, ready_timeout, stop_timeout
        self.max_bytes = max_bytes
        self._stop = threading.Event()
        self._kill_now = False
        self._fatal: Optional[str] = None
        self._out_lock = threading.Lock()
        self._own_log = RotatingLog(self.logs / "supervise.log", max_bytes)

    # --- output -----------------------------------------------------------------
    def _emit(self, line: str) -> None:
        with self._out_lock:
            try:
                self.out.write(line if line.endswith("\n") else line + "\n")
                self.out.flush()
            except (OSError, ValueError):  # the terminal is gone; the files still get it
                pass

    def say(self, message: str) -> None:
        """A line of the supervisor's own, on the terminal and in ``supervise.log``."""
        line = f"{datetime.now().strftime('%Y-%m-%d %H:%M:%S')} supervise: {message}"
        self._own_log.write(line)
        self._emit(line)

    def _pump(self, child: _Child, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None and child.log is not None
        name, log = child.program.name, child.log
        for raw in iter(proc.stdout.readline, b""):
            text = raw.decode("utf-8", errors="replace").rstrip("\n")
            log.write(text)
            self._emit(f"{name:>10} | {text}")
        proc.stdout.close()

    # --- lifecycle --------------------------------------------------------------
    def _spawn(self, child: _Child) -> None:
        program = child.program
        if child.log is None:
            child.log = RotatingLog(self.logs / f"{program.name}.log", self.max_bytes)
        try:
            proc = subprocess.Popen(program.argv, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, close_fds=True,
                                    preexec_fn=_child_setup(os.getpid()))
        except OSError as e:
            self._fatal = f"{program.name} could not be started: {e}"
            return
        child.proc, child.started, child.ready = proc, time.monotonic(), False
        child.pump = threading.Thread(target=self._pump, args=(child, proc), daemon=True,
                                      name=f"pump-{program.name}")
        child.pump.start()
        again = f" (restart {child.restarts})" if child.restarts else ""
        self.say(f"started {program.name} (pid {proc.pid}){again}")
        threading.Thread(target=self._await_ready, args=(child, proc), daemon=True,
                         name=f"ready-{program.name}").start()

    def _await_ready(self, child: _Child, proc: subprocess.Popen) -> None:
        check = child.program.ready
        while not self._stop.is_set() and child.proc is proc and proc.poll() is None:
            try:
                ok = check() if check else time.monotonic() - child.started > 1.0
            except Exception:
                ok = False
            if ok:
                if child.proc is proc:
                    child.ready = child.ever_ready = True
                    child.start_failures = 0
                    if child.restarts:
                        self.say(f"{child.program.name} (pid {proc.pid}) is serving again, "
                                 f"{time.monotonic() - child.started:.1f}s after its restart")
                return
            self._stop.wait(0.25)

    def _exited(self, child: _Child, proc: subprocess.Popen, now: float) -> None:
        program = child.program
        ran = now - child.started
        child.proc, child.ready = None, False
        # What it started lives on in its process group (nginx's workers keep the port, and
        # would answer for a master that is gone): end them before starting it again.
        self._signal(proc, signal.SIGKILL)
        if child.pump:
            child.pump.join(timeout=2)
        if not child.ever_ready:
            child.start_failures += 1
            if child.start_failures >= self.start_attempts:
                self._fatal = (f"{program.name} {describe_exit(proc.returncode)} {child.start_failures} times "
                               f"before it was ready; see {self.logs / (program.name + '.log')}")
                return
        if ran >= self.stable_after:
            child.delay = self.min_delay
        delay = child.delay
        child.delay = min(child.delay * 2, self.max_delay)
        child.restarts += 1
        child.restart_at = now + delay
        self.say(f"{program.name} (pid {proc.pid}) {describe_exit(proc.returncode)} after {ran:.1f}s; "
                 f"restarting in {delay:.1f}s; the other processes keep serving")

    def _on_signal(self, signum: int, _frame: object) -> None:
        if self._stop.is_set():
            self._kill_now = True
        self._stop.set()

    def run(self) -> int:
        """Run until a signal (0) or a process that cannot start (1)."""
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        started = time.monotonic()
        announced = False
        for child in self.children:
            self._spawn(child)
        code = 0
        while not self._stop.is_set() and self._fatal is None:
            now = time.monotonic()
            for child in self.children:
                if child.proc is not None and child.proc.poll() is not None:
                    self._exited(child, child.proc, now)
                elif child.proc is None and now >= child.restart_at and self._fatal is None:
                    self._spawn(child)
                elif (child.proc is not None and child.ever_ready and not child.ready
                      and now - child.started > self.ready_timeout):
                    # Restarted, running, but never serving (a Rasa server that found no valid
                    # model while it was being rewritten serves nothing): start it once more.
                    self.say(f"{child.program.name} (pid {child.proc.pid}) is not serving "
                             f"{now - child.started:.0f}s after its restart; stopping it to start it again")
                    self._signal(child.proc, signal.SIGKILL)
            if not announced:
                if all(c.ready for c in self.children):
                    announced = True
                    self.say(f"all {len(self.children)} processes are serving")
                    if self.banner:
                        self._emit(self.banner)
                elif now - started > self.ready_timeout:
                    waiting = ", ".join(c.program.name for c in self.children if not c.ready)
                    self._fatal = f"not ready after {self.ready_timeout:.0f}s: {waiting}"
            self._stop.wait(0.1)
        if self._fatal:
            self.say(f"STOPPING EVERYTHING: {self._fatal}")
            code = 1
        self.shutdown()
        return code

    def shutdown(self) -> None:
        """SIGTERM to every process group, SIGKILL to what is left after ``stop_timeout``."""
        alive = [(c, c.proc) for c in self.children if c.proc is not None and c.proc.poll() is None]
        for _, proc in alive:
            self._signal(proc, signal.SIGKILL if self._kill_now else signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        while any(p.poll() is None for _, p in alive) and time.monotonic() < deadline and not self._kill_now:
            time.sleep(0.1)
        for child, proc in alive:
            if proc.poll() is None:
                self.say(f"{child.program.name} did not stop in time: killing it")
                self._signal(proc, signal.SIGKILL)
            proc.wait()
            self._signal(proc, signal.SIGKILL)  # anything it left in its group
        for child in self.children:
            if child.pump:
                child.pump.join(timeout=2)
        self._emit("Stopped.")

    @staticmethod
    def _signal(proc: subprocess.Popen, sig: int) -> None:
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


# --- readiness checks ----------------------------------------------------------------

def http_ok(url: str, token: str = "", expect: Optional[Callable[[bytes], bool]] = None) -> Callable[[], bool]:
    """A check: ``url`` answers 200 (and ``expect(body)``). Rasa takes its token only as a
    query parameter: it is added here, inside this process, and the URL is never logged."""
    def check() -> bool:
        full = f"{url}?{urllib.parse.urlencode({'token': token})}" if token else url
        with urllib.request.urlopen(full, timeout=2) as r:
            return r.status == 200 and (expect is None or expect(r.read()))
    return check


def _has_model(body: bytes) -> bool:
    return bool(json.loads(body or b"{}").get("model_file"))


def _local(host: str) -> str:
    """Where a server bound to ``host`` is reached from this machine."""
    return {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}.get(host, host)


# --- the two profiles ------------------------------------------------------------------

def rasa_program(env: Dict[str, str], name: str, port: str) -> Program:
    host = settings.get("RASA_HOST", env)
    origins = [o for o in (env.get("ALLOWED_ORIGINS") or "").replace(",", " ").split() if o]
    argv = [sys.executable, "-m", "scripts.rasa_server", "--port", port, "--interface", host,
            "--credentials", "credentials.yml", "--endpoints", "endpoints.yml",
            "--model", env.get("MODEL") or "models"]
    if origins:
        argv += ["--cors", *origins]
    argv += shlex.split(env.get("RASA_ARGS") or "")
    base = f"http://{_local(host)}:{port}"
    # Rasa's /status answers with the token only; it says which model is loaded.
    return Program(name, argv, http_ok(f"{base}/status", env.get("RASA_AUTH_TOKEN", ""), _has_model), base)


def actions_program(env: Dict[str, str]) -> Program:
    port = settings.get("ACTION_PORT", env)
    base = f"http://{_local(settings.get('ACTION_HOST', env))}:{port}"
    return Program("actions", [sys.executable, "-m", "actions.server", "--port", port],
                   http_ok(f"{base}/health"), base)


def web_program(env: Dict[str, str]) -> Program:
    port = settings.get("WEB_PORT", env)
    base = f"http://{_local(settings.get('WEB_HOST', env))}:{port}"
    return Program("web", [sys.executable, "-m", "webapp", "--port", port], http_ok(f"{base}/healthz"), base)


def retention_program(env: Dict[str, str]) -> Program:
    """The daily purge (webapp/console/retention.py): a process that sleeps between purges."""
    every = env.get("RETENTION_EVERY_HOURS") or "24"
    return Program("retention", [sys.executable, "-m", "webapp.console.retention", "--every-hours", every])


def nginx_program(env: Dict[str, str], prefix: Path) -> Program:
    from scripts import nginx_conf

    binary = env.get("NGINX_BIN") or shutil.which("nginx") or "/usr/sbin/nginx"
    conf = nginx_conf.write(prefix, env)
    base = f"http://{_local(settings.get('NGINX_HOST', env))}:{settings.get('NGINX_PORT', env)}"
    return Program("nginx", [binary, "-e", "stderr", "-p", str(prefix), "-c", str(conf)],
                   http_ok(f"{base}/lb-health"), base)


def dev_profile(env: Dict[str, str]) -> Tuple[List[Program], str]:
    rasa = rasa_program(env, "rasa", settings.get("RASA_PORT", env))
    actions, web = actions_program(env), web_program(env)
    banner = f"""
  Clinic assistant is running.
    Demo clinic page with the chat widget:  {web.url}/
    Staff console:                          {web.url}/staff/
    Rasa server (REST, Socket.IO, API):     {rasa.url}   (API token in .env)
    Action server:                          {actions.url}
    Logs:                                   {log_dir(env)}/
    Retention:                              conversations older than RETENTION_DAYS purged daily
  A process that stops is started again. Ctrl-C stops everything.
"""
    return [actions, rasa, web, retention_program(env)], banner


def prod_profile(env: Dict[str, str]) -> Tuple[List[Program], str]:
    ports = [settings.get("RASA_PORT", env), settings.get("RASA_PORT_2", env)]
    rasas = [rasa_program(env, f"rasa-{port}", port) for port in ports]
    actions, web = actions_program(env), web_program(env)
    programs = [actions, *rasas, web, retention_program(env)]  # one host: the one daily purge
    front = ""
    if (env.get("NGINX") or "on").lower() not in ("0", "off", "no", "false"):
        nginx = nginx_program(env, Path(env.get("NGINX_DIR") or ROOT / "var" / "nginx"))
        programs.append(nginx)
        front = f"""    Load balancer (nginx):  {nginx.url}/   (demo page, widget, staff console, Socket.IO, REST)
                            configuration: {nginx.argv[-1]} (from deploy/nginx/)
"""
    tracker = (env.get("TRACKER_DB_URL") or "").rsplit("@", 1)[-1]
    redis = (env.get("REDIS_URL") or "").rsplit("@", 1)[-1]
    banner = f"""
  Clinic assistant is running (production profile).
{front}    Rasa servers:   {rasas[0].url}  and  {rasas[1].url}
    Action server:  {actions.url}
    Web app:        {web.url}/   staff console: {web.url}/staff/
    Conversations:  PostgreSQL {tracker}   locks: Redis {redis}
    Logs:           {log_dir(env)}/
  A process that stops is started again. Ctrl-C stops everything.
"""
    return programs, banner


def secure_runtime_dirs(*dirs: Path) -> None:
    """umask 077; each folder 0700, everything in it owner-only (also files left by older versions)."""
    os.umask(0o077)
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o700)
        for path in d.rglob("*"):
            try:
                if path.is_symlink():
                    continue
                os.chmod(path, 0o700 if path.is_dir() else 0o600)
            except OSError:
                pass


def main(argv: Optional[List[str]] = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args not in (["dev"], ["prod"]):
        sys.exit("usage: python -m scripts.supervise dev|prod")
    env = dict(os.environ)
    logs = log_dir(env)
    secure_runtime_dirs(ROOT / "var", logs)
    programs, banner = (dev_profile if args[0] == "dev" else prod_profile)(env)
    supervisor = Supervisor(programs, logs, env=env, banner=banner,
                            ready_timeout=settings.get_float("READY_TIMEOUT", env),
                            stop_timeout=settings.get_float("STOP_TIMEOUT", env),
                            max_bytes=settings.get_int("LOG_MAX_BYTES", env, minimum=1024))
    sys.exit(supervisor.run())


if __name__ == "__main__":
    main()
