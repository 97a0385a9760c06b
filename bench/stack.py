"""Processes for the benchmark: training, an action server and a Rasa server on free ports.

Modelled on tests/conftest.py (same commands, same environment variables, a
temporary SQLite file per server), plus what a benchmark needs: timing of the
start-up, peak memory of a process tree, CPU time of each server.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import psutil

from scripts.wait_ready import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PY = str(VENV_BIN / "python")
RASA = str(VENV_BIN / "rasa")


def wait_http(url: str, timeout: float = 300.0, proc: Optional[subprocess.Popen] = None) -> None:
    """Return once ``url`` answers 200, polling often: start-up time is measured with it."""
    wait_for(url, timeout=timeout, proc=proc, interval=0.05)


def tree(pid: int) -> List[psutil.Process]:
    try:
        p = psutil.Process(pid)
        return [p] + p.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def tree_rss(pid: int) -> int:
    total = 0
    for p in tree(pid):
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of a process and its children so far."""
    total = 0.0
    for p in tree(pid):
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


class PeakRSS:
    """Polls the resident memory of a process tree; ``peak`` is the highest sum seen."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self._stop.wait(self.interval)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def base_env(**extra: str) -> Dict[str, str]:
    """The environment `make run` gives the servers, without anything pointing at shared state."""
    env = dict(os.environ)
    for name in ("REDIS_URL", "TRACKER_DB_URL", "CLINIC_DB_URL", "RASA_URL", "ACTION_SERVER_URL"):
        env.pop(name, None)
    env.update({
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "RASA_TELEMETRY_ENABLED": "false",
        "TQDM_DISABLE": "1",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def train(config: Path, out_dir: Path, name: str, log: Path) -> dict:
    """``rasa train`` with a cold, private cache: wall time and peak memory of the process tree."""
    cache = out_dir / f".cache-{name}"
    shutil.rmtree(cache, ignore_errors=True)
    env = base_env(RASA_CACHE_DIRECTORY=str(cache))
    args = [RASA, "train", "--config", str(config), "--domain", "domain.yml", "--data", "data",
            "--out", str(out_dir), "--fixed-model-name", name]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(log, "wb") as f:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT,
                                start_new_session=True)
        sampler = PeakRSS(proc.pid)
        rc = proc.wait()
    seconds = time.perf_counter() - t0
    peak = sampler.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU time hardly depends on what else runs on the machine; wall time does
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    shutil.rmtree(cache, ignore_errors=True)
    if rc != 0:
        raise RuntimeError(f"training {name} failed ({rc}); see {log}")
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": peak / 2**20,
            "model": str(out_dir / f"{name}.tar.gz")}


@dataclass
class Stack:
    """An action server and a Rasa server for one model, on free ports, with their own SQLite files."""

    model: Path
    tmp: Path
    env_extra: Dict[str, str] = field(default_factory=dict)
    rasa_env_extra: Dict[str, str] = field(default_factory=dict)
    action_host: str = "127.0.0.1"
    # Python modules imported into the Rasa server before it starts (candidate fixes).
    patches: List[str] = field(default_factory=list)
    endpoints: str = "endpoints.yml"
    procs: Dict[str, subprocess.Popen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.rasa_port, self.action_port = free_port(), free_port()
        self.token = "bench-" + uuid.uuid4().hex
        self.env = base_env(
            RASA_AUTH_TOKEN=self.token,
            SESSION_SECRET="bench-" + uuid.uuid4().hex,
            ACTION_SERVER_TOKEN="bench-actions-" + uuid.uuid4().hex,
            ACTION_SERVER_URL=f"http://{self.action_host}:{self.action_port}/webhook",
            TRACKER_DB_URL=f"sqlite:///{self.tmp / 'rasa.db'}",
            CLINIC_DB_URL=f"sqlite:///{self.tmp / 'clinic.db'}",
            RASA_URL=self.url,
            **self.env_extra,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def status_url(self) -> str:
        return f"{self.url}/status?token={self.token}"

    def _spawn(self, name: str, args: List[str], env: Dict[str, str]) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "ab")
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs[name] = proc
        return proc

    def start_actions(self) -> None:
        proc = self._spawn("actions", [PY, "-m", "actions.server", "--port", str(self.action_port)],
                           self.env)
        wait_http(f"http://127.0.0.1:{self.action_port}/health", proc=proc)

    def start_rasa(self) -> float:
        """Start the Rasa server as `make run` does; seconds until ``/status`` answers."""
        rasa_args = ["run", "--enable-api", "--auth-token", self.token, "--port", str(self.rasa_port),
                     "--cors", "http://127.0.0.1:8080", "--credentials", "credentials.yml",
                     "--endpoints", self.endpoints, "--model", str(self.model),
                     "--log-file", str(self.tmp / "rasa-file.log")]
        if self.patches:
            cmd = [PY, "-m", "bench.launch", ",".join(self.patches), *rasa_args]
        else:
            cmd = [RASA, *rasa_args]
        env = {**self.env, **self.rasa_env_extra}
        t0 = time.perf_counter()
        proc = self._spawn("rasa", cmd, env)
        wait_http(self.status_url, proc=proc)
        return time.perf_counter() - t0

    def pid(self, name: str) -> int:
        return self.procs[name].pid

    def say(self, sender: str, text: str) -> list:
        req = urllib.request.Request(f"{self.url}/webhooks/rest/webhook",
                                     data=json.dumps({"sender": sender, "message": text}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read() or b"[]")

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def stop_all(self) -> None:
        for name in ("rasa", "actions"):
            self.stop(name)

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc) -> None:
        self.stop_all()
