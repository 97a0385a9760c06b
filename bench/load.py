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
from typing import Dict, List, Optional

from bench.stack import PY, ROOT, base_env, tree_cpu

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"


def percentile(sorted_values, q: float) -> Optional[float]:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, math.ceil(q / 100.0 * len(sorted_values)) - 1))
    return sorted_values[k]


def _locust(url: str, out_prefix: Path, users: int, seconds: float, wait: float, seed: int,
            extra_env: Optional[Dict[str, str]] = None) -> list:
    """Run Locust headless; every request as [start time, ms, ok, host index]."""
    lat_file = Path(f"{out_prefix}-latencies.json")
    lat_file.unlink(missing_ok=True)
    env = base_env(BENCH_WAIT=str(wait), BENCH_LAT_OUT=str(lat_file), BENCH_SEED=str(seed), **(extra_env or {}))
    cmd = [PY, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", url,
           "--users", str(users), "--spawn-rate", str(max(users, 1) * 4), "--run-time", f"{int(seconds)}s",
           "--stop-timeout", "10", "--csv", str(out_prefix), "--only-summary", "--loglevel", "WARNING",
           "--exit-code-on-error", "0"]
    with open(f"{out_prefix}-locust.log", "wb") as log:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=seconds + 90)
    if proc.returncode != 0 or not lat_file.exists():
        raise RuntimeError(f"locust failed ({proc.returncode}); see {out_prefix}-locust.log")
    return json.loads(lat_file.read_text())


def _stats(rows: list, start: float, span: float) -> dict:
    ok = sorted(r[1] for r in rows if r[2])
    return {
        "seconds": round(span, 2), "requests": len(rows), "failures": sum(1 for r in rows if not r[2]),
        "p50_ms": percentile(ok, 50), "p95_ms": percentile(ok, 95), "p99_ms": percentile(ok, 99),
        "max_ms": ok[-1] if ok else None, "mean_ms": sum(ok) / len(ok) if ok else None,
        "msg_per_s": len(ok) / span if span else 0.0,
    }


def run_phase(url: str, out_prefix: Path, users: int, seconds: float, wait: float = 0.0,
              seed: int = 7, pids: Optional[Dict[str, int]] = None, warmup: float = 0.0) -> dict:
    """Run Locust for ``seconds`` with ``users`` visitors; latency percentiles and throughput.

    ``warmup`` seconds at the start (all visitors spawned, caches warm) are left
    out of the figures. ``pids`` names server processes whose CPU time per
    message is reported.
    """
    cpu0 = {name: tree_cpu(pid) for name, pid in (pids or {}).items()}
    t0 = time.time()
    rows = _locust(url, out_prefix, users, seconds, wait, seed)
    cpu = {name: tree_cpu(pid) - cpu0[name] for name, pid in (pids or {}).items()}
    start = min((r[0] for r in rows), default=t0) + warmup
    kept = [r for r in rows if r[0] >= start]
    # the span in which the kept requests were sent and answered
    span = (max(r[0] + r[1] / 1000 for r in kept) - start) if kept else 0.0
    result = {"users": users, "wait_s": wait, **_stats(kept, start, span)}
    # CPU per message over the whole phase (warm-up included: CPU is counted per process, not per request)
    for name, seconds_cpu in cpu.items():
        result[f"cpu_ms_per_msg_{name}"] = 1000 * seconds_cpu / len(rows) if rows else None
    return result


def run_paired(urls: List[str], out_prefix: Path, users: int, seconds: float, slice_s: float = 3.0,
               seed: int = 7, pids: Optional[List[Dict[str, int]]] = None) -> List[dict]:
    """Serve ``urls`` in turns of ``slice_s`` seconds within one Locust run: one result per URL.

    Both servers get the same messages under the same background load, which
    makes their ratio far steadier than two runs one after the other on a busy
    machine. Throughput of a server = its answered requests / the time its turns lasted.
    """
    t0 = time.time() + 3.0  # Locust's start-up happens before the first turn
    cpu0 = [{n: tree_cpu(p) for n, p in d.items()} for d in (pids or [{} for _ in urls])]
    rows = _locust(urls[0], out_prefix, users, seconds + 3.0, 0.0, seed,
                   {"BENCH_HOSTS": ",".join(urls), "BENCH_SLICE": str(slice_s), "BENCH_T0": str(t0)})
    cpu = [{n: tree_cpu(p) - c0[n] for n, p in d.items()} for d, c0 in zip(pids or [{} for _ in urls], cpu0)]
    end = t0 + seconds  # requests started in [t0, end) count; the rest warmed up or ran over
    turns = math.ceil(seconds / slice_s)
    results = []
    for h in range(len(urls)):
        mine = [r for r in rows if r[3] == h and t0 <= r[0] < end]
        span = sum(min(slice_s, end - (t0 + k * slice_s)) for k in range(turns) if k % len(urls) == h)
        res = {"users": users, "slice_s": slice_s, **_stats(mine, t0, span)}
        n_all = sum(1 for r in rows if r[3] == h)
        for name, seconds_cpu in cpu[h].items():
            res[f"cpu_ms_per_msg_{name}"] = 1000 * seconds_cpu / n_all if n_all else None
        results.append(res)
    return results
