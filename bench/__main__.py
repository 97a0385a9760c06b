"""``python -m bench`` (``make bench``): the project's configuration against Rasa's default, in one run.

For each of the two models (config.yml, and bench/default_config.yml: what
`rasa init` trains), both trained here on the project's domain.yml and data/:

1. training time and peak memory (``rasa train``, cold private cache, process tree polled);
2. a fresh action server and Rasa server on free ports with their own SQLite
   tracker DB (one model at a time, so they never share the 2 cores);
   seconds from start to ``/status`` answering, resident memory;
3. Locust over the REST channel, action server in the loop: sequential
   messages; 20 visitors who each send their next message 1 s after the
   previous reply; saturation (no pause, several concurrency levels, the best);
   resident memory after the load; py-spy flame graphs under load;
4. accuracy with the project's own evaluation (eval/, as `make eval` scores:
   eval/cases/own.yml, eval/cases/third_party.yml and 1000 CLINC150 probes).

Writes bench-output/results.json, results.md, results.png and per-model
details (Locust CSVs, latencies, logs, flame graphs) in bench-output/<model>/.

Options: --quick (short phases, 100 probes: a smoke test, not for reporting);
--reuse-models (skip training when a model in bench-output/models/ was trained
from identical inputs; its training figures are then those of that earlier
run, marked ``reused``); --project-model PATH (serve an already trained project model: no
training figures, for the harness's own test, which uses the model `make test` just trained);
--only project|default; --no-profile; --with-fixes (a
third column, ``project_fixed``: the project's model served with the fixes that
docs/PERFORMANCE.md recommends, loaded without editing the project's files).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Optional

from bench import evaluation, profile, report
from bench.common import CONFIGS, OUT, RECOMMENDED, cpu_probe_ms, loadavg, log, make_stack, train_model
from bench.load import run_phase
from bench.stack import ROOT, tree_rss

FULL = dict(warmup=6, sequential=20, paced=30, paced_warmup=3, sat_levels=(4, 16, 48), sat_seconds=12,
            profile=12, probe_n=1000)
QUICK = dict(warmup=3, sequential=6, paced=8, paced_warmup=2, sat_levels=(4, 16), sat_seconds=5,
             profile=5, probe_n=100)


def measure(name: str, model: Path, p: Dict[str, Any], do_profile: bool,
            spec: Optional[Dict[str, Any]] = None, into: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Serve, load, profile and score one model; figures go into ``into`` as they come."""
    out = OUT / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    result: Dict[str, Any] = into if into is not None else {}
    result["loadavg_before"] = loadavg()
    result["cpu_probe_ms"] = cpu_probe_ms()
    try:
        with make_stack(spec or {}, model, tmp) as stack:
            stack.start_actions()
            log(f"{name}: starting Rasa on :{stack.rasa_port} (action server :{stack.action_port})")
            startup = stack.start_rasa()
            rasa_pid = stack.pid("rasa")
            pids = {"rasa": rasa_pid, "actions": stack.pid("actions")}
            result["server"] = {"startup_s": startup, "rss_after_start_mb": tree_rss(rasa_pid) / 2**20}
            log(f"{name}: /status after {startup:.1f} s; warming up")
            run_phase(stack.url, out / "warmup", users=1, seconds=p["warmup"], seed=1)
            loads: Dict[str, Any] = result.setdefault("load", {})
            log(f"{name}: sequential, {p['sequential']} s")
            loads["sequential"] = run_phase(stack.url, out / "sequential", users=1, seconds=p["sequential"],
                                            pids=pids, seed=2)
            log(f"{name}: 20 paced visitors, {p['paced']} s")
            loads["paced"] = run_phase(stack.url, out / "paced", users=20, wait=1.0, seconds=p["paced"],
                                       warmup=p["paced_warmup"], pids=pids, seed=3)
            levels = []
            for users in p["sat_levels"]:
                log(f"{name}: saturation, {users} visitors without pause, {p['sat_seconds']} s")
                levels.append(run_phase(stack.url, out / f"saturation-{users}", users=users,
                                        seconds=p["sat_seconds"], warmup=1.0, pids=pids, seed=4 + users))
            best = max(levels, key=lambda r: r["msg_per_s"])
            loads["saturation"] = {**best, "levels": levels}
            result["server"]["rss_after_load_mb"] = tree_rss(rasa_pid) / 2**20
            if do_profile:
                log(f"{name}: py-spy on both servers, 8 visitors, {p['profile']} s")
                spies = profile.start(pids, out, p["profile"] + 2, name)
                time.sleep(1.0)
                run_phase(stack.url, out / "profiled", users=8, seconds=p["profile"], pids=pids, seed=99)
                result["profile"] = profile.finish(spies, pids, out, name)
            log(f"{name}: accuracy (eval/: own and third-party cases, {p['probe_n']} CLINC150 probes)")
            t0 = time.perf_counter()
            result["accuracy"] = evaluation.score(stack.url, stack.token, out, p["probe_n"])
            result["accuracy"]["seconds"] = time.perf_counter() - t0
            result["server"]["rss_after_eval_mb"] = tree_rss(rasa_pid) / 2**20
    finally:
        for f in ("rasa.log", "actions.log", "rasa-file.log"):
            if (tmp / f).exists():
                shutil.copy(tmp / f, out / f)
        shutil.rmtree(tmp, ignore_errors=True)
    result["loadavg_after"] = loadavg()
    return result


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reuse-models", action="store_true")
    ap.add_argument("--only", choices=sorted(CONFIGS))
    ap.add_argument("--project-model", type=Path, help="serve this trained project model instead of training one")
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--with-fixes", action="store_true",
                    help="a third column: the project's model with the fixes of docs/PERFORMANCE.md")
    a = ap.parse_args()
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    p = QUICK if a.quick else FULL
    names = [a.only] if a.only else ["project", "default"]
    OUT.mkdir(exist_ok=True)
    t_start = time.perf_counter()
    import rasa

    results: Dict[str, Any] = {
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "mode": "quick" if a.quick else "full",
        "environment": {
            "cpus": os.cpu_count(), "loadavg_start": loadavg(), "cpu_probe_ms_start": cpu_probe_ms(),
            "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
            "python": platform.python_version(), "rasa": rasa.__version__, "phases": p,
        },
        "models": {},
    }
    log(f"load average at start: {loadavg()} on {os.cpu_count()} CPUs")
    trained = {name: ({"model": str(a.project_model.resolve()), "given": True}
                      if name == "project" and a.project_model else train_model(name, a.reuse_models))
               for name in names}
    runs = [(name, name, None) for name in names]
    if a.with_fixes and "project" in names:
        runs.insert(1, (report.FIXED, "project", RECOMMENDED))
    for label, name, spec in runs:
        train_info = trained[name] if spec is None else {**trained[name], "note": f"the {name} model"}
        results["models"][label] = {"train": train_info}
        try:
            measure(label, Path(trained[name]["model"]), p, not a.no_profile, spec, into=results["models"][label])
        except Exception as e:  # keep the other columns: a failed one shows as "-" with its error
            log(f"{label}: FAILED: {type(e).__name__}: {e}")
            results["models"][label]["error"] = f"{type(e).__name__}: {e}"
    results["finished"] = dt.datetime.now().isoformat(timespec="seconds")
    results["environment"]["loadavg_end"] = loadavg()
    results["environment"]["cpu_probe_ms_end"] = cpu_probe_ms()
    results["total_seconds"] = time.perf_counter() - t_start
    rows = report.table(results)
    results["table"] = rows
    (OUT / "results.json").write_text(json.dumps(results, indent=1))
    text = report.render_text(rows)
    (OUT / "results.md").write_text(
        f"Run {results['started']} to {results['finished']} ({results['mode']}), "
        f"{results['total_seconds'] / 60:.1f} min, {os.cpu_count()} CPUs, load average "
        f"{results['environment']['loadavg_start']} at start, {results['environment']['loadavg_end']} at end; "
        f"CPU probe (a fixed pure-Python workload, bench/common.py) "
        + ", ".join(f"{m['cpu_probe_ms']} ms before serving {name}" for name, m in results["models"].items()
                    if "cpu_probe_ms" in m)
        + ".\n\n"
        + report.render_markdown(rows) + "\n")
    report.chart(results, OUT / "results.png")
    print()
    print(text)
    print(f"\nTotal {results['total_seconds'] / 60:.1f} min; load average at start "
          f"{results['environment']['loadavg_start']}, at end {results['environment']['loadavg_end']}.")
    print(f"Written: {OUT / 'results.json'}, {OUT / 'results.md'}, {OUT / 'results.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
