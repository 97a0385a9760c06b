"""Waiting for servers to be ready: the one helper for scripts, tests and the benchmark.

As a command, ``python scripts/wait_ready.py URL...`` waits until every URL
answers 200, or fails after ``READY_TIMEOUT`` seconds (default 180).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Optional


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 180.0, proc: Optional[subprocess.Popen] = None,
             interval: float = 0.3) -> None:
    """Return once ``url`` answers 200; fail if ``proc`` dies or the time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(interval)
    raise TimeoutError(f"{url} not ready after {timeout}s")


def main() -> None:
    deadline = time.monotonic() + float(os.environ.get("READY_TIMEOUT", 180))
    for url in sys.argv[1:]:
        try:
            wait_for(url, timeout=max(0.0, deadline - time.monotonic()), interval=0.5)
        except TimeoutError:
            sys.exit(f"Not ready in time: {url.split('?')[0]}")  # no token in the message


if __name__ == "__main__":
    main()
