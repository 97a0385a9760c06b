"""``python -m bench.fixes``: each candidate fix for the custom-action path, measured alone, in one run.

Every variant gets a fresh action server and Rasa server (the project's model,
trained by ``python -m bench`` into bench-output/models/, trained here if
missing) with its own SQLite file, then the same Locust phases: a warm-up,
sequential messages, and 8 visitors without pause. Figures are compared with
the baseline (the project as configured), which runs first and again last, so
drift from other load on the machine shows. CPU milliseconds per message of the
Rasa server are the steadiest figure on a shared machine; latency and
throughput move with whatever else runs.

Variants (nothing in the project is edited; see docs/PERFORMANCE.md):

  baseline          the project as configured
  localhost         ACTION_SERVER_URL with ``localhost`` instead of 127.0.0.1
  validator         addons/action_calls.py: action replies checked by a validator built once
  keepalive         addons/action_calls.py: one kept-alive aiohttp session for action calls
  no_access_log     SANIC_ACCESS_LOG=false for the Rasa server
  sqlite_wal        tracker DB in WAL journal mode (synchronous stays FULL)
  sqlite_wal_normal WAL and synchronous=NORMAL
  sqlite_pool       tracker DB connection kept open (QueuePool) instead of one per read/write
  memory_store      no SQL tracker store at all (a lower bound, not a fix)
  all               validator + keepalive + sqlite WAL/NORMAL + pool + no access log
  baseline_again    the baseline once more (drift)

Writes bench-output/fixes.json and fixes.md; ``--variants a,b`` runs a subset,
``--seconds N`` sets the length of each measured phase (default 12).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Dict

import yaml

from bench.__main__ import OUT, loadavg, log, train_model
from bench.load import run_phase
from bench.stack import ROOT, Stack, tree_rss

TUNED_STORE = "bench.variants.TunedSQLTrackerStore"
SQLITE_ALL = {"BENCH_SQLITE_WAL": "1", "BENCH_SQLITE_SYNC": "NORMAL", "BENCH_SQLITE_POOL": "1"}

VARIANTS: Dict[str, Dict[str, Any]] = {
    "baseline": {},
    "localhost": {"action_host": "localhost"},
    "validator": {"patches": ["addons.action_calls:install_cached_validator"]},
    "keepalive": {"patches": ["addons.action_calls:install_keepalive"]},
    "no_access_log": {"rasa_env": {"SANIC_ACCESS_LOG": "false"}},
    "sqlite_wal": {"store": TUNED_STORE, "rasa_env": {"BENCH_SQLITE_WAL": "1"}},
    "sqlite_wal_normal": {"store": TUNED_STORE, "rasa_env": {"BENCH_SQLITE_WAL": "1", "BENCH_SQLITE_SYNC": "NORMAL"}},
    "sqlite_pool": {"store": TUNED_STORE, "rasa_env": {"BENCH_SQLITE_POOL": "1"}},
    "memory_store": {"store": None},
    "all": {"patches": ["addons.action_calls"], "store": TUNED_STORE,
            "rasa_env": {"SANIC_ACCESS_LOG": "false", **SQLITE_ALL}},
    "baseline_again": {},
}
VISIT = ["hi", "what is ketamine", "how long is a session", "do you take insurance",
         "where are you located", "thanks, bye"]


def endpoints_copy(tmp: Path, store: Any) -> str:
    """endpoints.yml with another tracker store (``None``: Rasa's in-memory store)."""
    data = yaml.safe_load((ROOT / "endpoints.yml").read_text())
    if store is None:
        data.pop("tracker_store", None)
    else:
        data["tracker_store"] = {"type": store}
    path = tmp / "endpoints.yml"
    # ${ACTION_SERVER_URL} stays a placeholder: Rasa fills it from the environment
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


def payload_sizes(stack: Stack) -> Dict[str, int]:
    """Bytes Rasa sends the action server for the last turn of a 6-message visit."""
    sender = "bench-size-" + uuid.uuid4().hex[:8]
    for text in VISIT:
        stack.say(sender, text)
    def get(path: str) -> bytes:
        req = urllib.request.Request(f"{stack.url}{path}", headers={"Accept": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read()
    tracker = json.loads(get(f"/conversations/{sender}/tracker?include_events=ALL&token={stack.token}"))
    domain = json.loads(get(f"/domain?token={stack.token}"))
    call = {"next_action": "action_answer", "sender_id": sender, "tracker": tracker, "version": "3.6.21"}
    return {"events": len(tracker.get("events", [])), "action_call_bytes": len(json.dumps(call)),
            "domain_bytes": len(json.dumps(domain)),
            "action_call_with_domain_bytes": len(json.dumps({**call, "domain": domain}))}


def run_variant(name: str, spec: Dict[str, Any], model: Path, seconds: int, out: Path) -> Dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-fix-{name}-"))
    vout = out / name
    shutil.rmtree(vout, ignore_errors=True)
    vout.mkdir(parents=True)
    kwargs: Dict[str, Any] = {}
    if "store" in spec:
        kwargs["endpoints"] = endpoints_copy(tmp, spec["store"])
    result: Dict[str, Any] = {"loadavg_before": loadavg()}
    try:
        with Stack(model=model, tmp=tmp, action_host=spec.get("action_host", "127.0.0.1"),
                   patches=spec.get("patches", []), rasa_env_extra=spec.get("rasa_env", {}), **kwargs) as stack:
            stack.start_actions()
            result["startup_s"] = stack.start_rasa()
            pids = {"rasa": stack.pid("rasa"), "actions": stack.pid("actions")}
            run_phase(stack.url, vout / "warmup", users=1, seconds=3, seed=1)
            result["sequential"] = run_phase(stack.url, vout / "sequential", users=1, seconds=seconds,
                                             pids=pids, seed=2)
            result["saturation"] = run_phase(stack.url, vout / "saturation-8", users=8, seconds=seconds,
                                             warmup=1.0, pids=pids, seed=3)
            result["rss_mb"] = tree_rss(stack.pid("rasa")) / 2**20
            if name == "baseline":
                result["payload"] = payload_sizes(stack)
    finally:
        for f in ("rasa.log", "actions.log"):
            if (tmp / f).exists():
                shutil.copy(tmp / f, vout / f)
        shutil.rmtree(tmp, ignore_errors=True)
    return result


FIGURES = [("sequential.cpu_ms_per_msg_rasa", "Rasa CPU/msg (ms)"),
           ("sequential.cpu_ms_per_msg_actions", "actions CPU/msg (ms)"),
           ("sequential.p50_ms", "seq p50 (ms)"), ("sequential.p95_ms", "seq p95 (ms)"),
           ("sequential.msg_per_s", "seq msg/s"), ("saturation.msg_per_s", "8 users msg/s"),
           ("saturation.p50_ms", "8 users p50 (ms)")]


def _get(d: Dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        d = d.get(part) if isinstance(d, dict) else None
    return d


def render(results: Dict[str, Any]) -> str:
    base = results["variants"].get("baseline", {})
    lines = ["| variant | " + " | ".join(label for _, label in FIGURES) + " | load avg (1 min) |",
             "|---|" + "---:|" * len(FIGURES) + "---|"]
    for name, r in results["variants"].items():
        cells = []
        for key, _ in FIGURES:
            v, b = _get(r, key), _get(base, key)
            if v is None:
                cells.append("-")
            elif name != "baseline" and b:
                cells.append(f"{v:.1f} ({v / b:.2f}×)")
            else:
                cells.append(f"{v:.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {r.get('loadavg_before', '').split(' ')[0]} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.fixes", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--seconds", type=int, default=12)
    a = ap.parse_args()
    os.chdir(ROOT)
    out = OUT / "fixes"
    out.mkdir(parents=True, exist_ok=True)
    model = Path(train_model("project", reuse=True)["model"])
    t0 = time.perf_counter()
    results: Dict[str, Any] = {"started": dt.datetime.now().isoformat(timespec="seconds"),
                               "cpus": os.cpu_count(), "loadavg_start": loadavg(), "model": str(model),
                               "seconds_per_phase": a.seconds, "variants": {}}
    for name in a.variants.split(","):
        log(f"variant {name} (load average {loadavg()})")
        results["variants"][name] = run_variant(name, VARIANTS[name], model, a.seconds, out)
        r = results["variants"][name]
        log(f"  Rasa CPU {r['sequential']['cpu_ms_per_msg_rasa']:.1f} ms/msg, seq p50 "
            f"{r['sequential']['p50_ms']:.1f} ms, 8 users {r['saturation']['msg_per_s']:.1f} msg/s")
    results["loadavg_end"] = loadavg()
    results["total_seconds"] = time.perf_counter() - t0
    table = render(results)
    (OUT / "fixes.json").write_text(json.dumps(results, indent=1))
    (OUT / "fixes.md").write_text(
        f"Run {results['started']}, {results['total_seconds'] / 60:.1f} min, {os.cpu_count()} CPUs, load average "
        f"{results['loadavg_start']} at start, {results['loadavg_end']} at end.\n\n{table}\n")
    print(table)
    if "payload" in results["variants"].get("baseline", {}):
        print("payload:", json.dumps(results["variants"]["baseline"]["payload"]))
    print(f"Written: {OUT / 'fixes.json'}, {OUT / 'fixes.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
