"""``python -m bench.fixes``: each candidate change to the serving path, measured alone, in one run.

Each variant runs next to a fresh baseline (the project as configured): two
action servers and two Rasa servers (the project's model, trained by
``python -m bench`` into bench-output/models/, trained here if missing), each
with its own SQLite file. One Locust run serves them in alternating turns of a
few seconds, each visitor keeping one conversation per server with the same
messages on both; so both see the same traffic and the same background load,
and the ratio variant/baseline holds steady on a busy machine where two runs
one after the other differ by 20 % or more. The ``baseline`` variant (baseline
against itself) shows how far the ratios wander by chance.

Variants (nothing in the project is edited; see docs/PERFORMANCE.md):

  baseline          the project as configured, against itself (the noise floor)
  localhost         ACTION_SERVER_URL with ``localhost`` instead of 127.0.0.1
  keepalive         addons/rasa_patches/action_calls.py: one kept-alive aiohttp session for action calls
  no_access_log     SANIC_ACCESS_LOG=false for the Rasa server
  orm_save          the tracker store saving with Rasa's own ORM code (one object per
                    event) instead of the project's multi-row INSERT
  memory_store      no SQL tracker store at all (a lower bound, not a fix)

The fixes measured this way in earlier rounds (cached validator, fast_skops, SQLite
WAL + kept-open connection) are in the project now; docs/PERFORMANCE.md keeps
their figures.

Writes bench-output/fixes.json and fixes.md (``--tag T``: fixes-T.*); ``--variants
a,b`` runs a subset, ``--seconds N`` sets the length of each measured phase (default 16).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Dict

from bench.common import OUT, loadavg, log, side_by_side, train_model
from bench.load import run_paired
from bench.stack import ROOT, Stack, tree_rss

VARIANTS: Dict[str, Dict[str, Any]] = {
    "baseline": {},
    "localhost": {"action_host": "localhost"},
    "keepalive": {"patches": ["addons.rasa_patches.action_calls:install_keepalive"]},
    "no_access_log": {"rasa_env": {"SANIC_ACCESS_LOG": "false"}},
    "orm_save": {"store": "bench.variants.OrmSaveTrackerStore"},
    "memory_store": {"store": None},
}
DEFAULT_SET = list(VARIANTS)
VISIT = ["hi", "what is ketamine", "how long is a session", "do you take insurance",
         "where are you located", "thanks, bye"]


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
    """The variant and a fresh baseline (the project as configured) side by side, served in
    alternating turns by the same Locust run."""
    vout = out / name
    shutil.rmtree(vout, ignore_errors=True)
    vout.mkdir(parents=True)
    result: Dict[str, Any] = {"loadavg_before": loadavg()}
    with side_by_side({"base": ({}, model), "var": (spec, model)}, keep_logs_in=vout) as (stacks, startups):
        urls = [st.url for st in stacks]
        pids = [{"rasa": st.pid("rasa"), "actions": st.pid("actions")} for st in stacks]
        run_paired(urls, vout / "warmup", users=1, seconds=4, slice_s=1.0, seed=1)
        seq = run_paired(urls, vout / "sequential", users=1, seconds=seconds, slice_s=2.0, seed=2, pids=pids)
        sat = run_paired(urls, vout / "saturation-8", users=8, seconds=seconds, slice_s=3.0, seed=3, pids=pids)
        for side, i in (("baseline", 0), ("variant", 1)):
            result[side] = {"startup_s": startups[i], "sequential": seq[i], "saturation": sat[i],
                            "rss_mb": tree_rss(stacks[i].pid("rasa")) / 2**20}
        if name == "baseline":
            result["payload"] = payload_sizes(stacks[0])
    return result


FIGURES = [("sequential.cpu_ms_per_msg_rasa", "Rasa CPU/msg (ms)"),
           ("sequential.cpu_ms_per_msg_actions", "actions CPU/msg (ms)"),
           ("sequential.p50_ms", "seq p50 (ms)"), ("sequential.p95_ms", "seq p95 (ms)"),
           ("saturation.msg_per_s", "8 users msg/s"), ("saturation.p50_ms", "8 users p50 (ms)")]


def _get(d: Dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        d = d.get(part) if isinstance(d, dict) else None
    return d


def render(results: Dict[str, Any]) -> str:
    """Each cell: variant figure, then its ratio to the baseline that ran alongside it."""
    lines = ["| variant | " + " | ".join(label for _, label in FIGURES) + " | load avg (1 min) |",
             "|---|" + "---:|" * len(FIGURES) + "---|"]
    for name, r in results["variants"].items():
        cells = []
        for key, _ in FIGURES:
            v, b = _get(r, "variant." + key), _get(r, "baseline." + key)
            cells.append("-" if v is None else f"{v:.1f} / {b:.1f} = {v / b:.2f}×" if b else f"{v:.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {r.get('loadavg_before', '').split(' ')[0]} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.fixes", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default=",".join(DEFAULT_SET), help="comma-separated")
    ap.add_argument("--seconds", type=int, default=16)
    ap.add_argument("--tag", default="")
    a = ap.parse_args()
    os.chdir(ROOT)
    stem = f"fixes-{a.tag}" if a.tag else "fixes"
    out = OUT / stem
    out.mkdir(parents=True, exist_ok=True)
    model = Path(train_model("project", reuse=True)["model"])
    t0 = time.perf_counter()
    results: Dict[str, Any] = {"started": dt.datetime.now().isoformat(timespec="seconds"),
                               "cpus": os.cpu_count(), "loadavg_start": loadavg(), "model": str(model),
                               "seconds_per_phase": a.seconds, "variants": {}}
    names = [n for n in a.variants.split(",") if n]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        ap.error(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    for name in names:
        log(f"variant {name} (load average {loadavg()})")
        results["variants"][name] = run_variant(name, VARIANTS[name], model, a.seconds, out)
        r = results["variants"][name]
        for side in ("baseline", "variant"):
            log(f"  {side:8}: Rasa CPU {r[side]['sequential']['cpu_ms_per_msg_rasa']:.1f} ms/msg, seq p50 "
                f"{r[side]['sequential']['p50_ms']:.1f} ms, 8 users {r[side]['saturation']['msg_per_s']:.1f} msg/s")
    results["loadavg_end"] = loadavg()
    results["total_seconds"] = time.perf_counter() - t0
    table = render(results)
    (OUT / f"{stem}.json").write_text(json.dumps(results, indent=1))
    (OUT / f"{stem}.md").write_text(
        f"Run {results['started']}, {results['total_seconds'] / 60:.1f} min, {os.cpu_count()} CPUs, load average "
        f"{results['loadavg_start']} at start, {results['loadavg_end']} at end.\n\n{table}\n")
    print(table)
    if "payload" in results["variants"].get("baseline", {}):
        print("payload:", json.dumps(results["variants"]["baseline"]["payload"]))
    print(f"Written: {OUT / (stem + '.json')}, {OUT / (stem + '.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
