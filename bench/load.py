"""One load phase: Locust, headless, against a running Rasa server, plus what the servers spent.

Locust runs as its own process (it monkey-patches the standard library with
gevent, which must not leak into the benchmark's orchestration) with
``--headless --users --spawn-rate --run-time --csv``. The locustfile also
writes every request's latency, so the percentiles here are exact rather than
Locust's rounded histogram; Locust's own CSV files stay beside them.
"""

from __future__ import annotations

import json
import math
import subprocess
import time
from pathlib import Path
from typing import Dict, Optional

from bench.stack import PY, ROOT, base_env, tree_cpu

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"


def percentile(sorted_values, q: float) -> Optional[float]:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, math.ceil(q / 100.0 * len(sorted_values)) - 1))
    return sorted_values[k]


def run_phase(url: str, out_prefix: Path, users: int, seconds: float, wait: float = 0.0,
              seed: int = 7, pids: Optional[Dict[str, int]] = None, warmup: float = 0.0) -> dict:
    """Run Locust for ``seconds`` with ``users`` visitors; latency percentiles and throughput.

    ``warmup`` seconds at the start (all visitors spawned, caches warm) are left
    out of the figures. ``pids`` names server processes whose CPU time per
    message is reported.
    """
    lat_file = Path(f"{out_prefix}-latencies.json")
    env = base_env(BENCH_WAIT=str(wait), BENCH_LAT_OUT=str(lat_file), BENCH_SEED=str(seed))
    cmd = [PY, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", url,
           "--users", str(users), "--spawn-rate", str(max(users, 1) * 4), "--run-time", f"{int(seconds)}s",
           "--stop-timeout", "10", "--csv", str(out_prefix), "--only-summary", "--loglevel", "WARNING",
           "--exit-code-on-error", "0"]
    cpu0 = {name: tree_cpu(pid) for name, pid in (pids or {}).items()}
    t0 = time.time()
    with open(f"{out_prefix}-locust.log", "wb") as log:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=seconds + 90)
    cpu = {name: tree_cpu(pid) - cpu0[name] for name, pid in (pids or {}).items()}
    if proc.returncode != 0 or not lat_file.exists():
        raise RuntimeError(f"locust failed ({proc.returncode}); see {out_prefix}-locust.log")
    rows = json.loads(lat_file.read_text())
    start = min((r[0] for r in rows), default=t0) + warmup
    kept = [r for r in rows if r[0] >= start]
    ok = sorted(r[1] for r in kept if r[2])
    failures = sum(1 for r in kept if not r[2])
    # the span in which the kept requests were sent and answered
    span = (max(r[0] + r[1] / 1000 for r in kept) - start) if kept else 0.0
    n_all = len(rows)
    result = {
        "users": users, "wait_s": wait, "seconds": round(span, 2), "requests": len(kept),
        "failures": failures,
        "p50_ms": percentile(ok, 50), "p95_ms": percentile(ok, 95), "p99_ms": percentile(ok, 99),
        "max_ms": ok[-1] if ok else None, "mean_ms": sum(ok) / len(ok) if ok else None,
        "msg_per_s": len(ok) / span if span else 0.0,
    }
    # CPU per message over the whole phase (warm-up included: CPU is counted per process, not per request)
    for name, seconds_cpu in cpu.items():
        result[f"cpu_ms_per_msg_{name}"] = 1000 * seconds_cpu / n_all if n_all else None
    return result
