"""``python -m bench.paired``: the project's and the default model side by side, in alternating turns.

``make bench`` serves the two models one after the other. On this shared
virtual machine the CPU's speed moves by up to 1.7x within an hour (the CPU
probe in results.json), so a ratio of two such phases carries that drift. Here
both Rasa servers (each with its own action server and SQLite files) run at
once and one Locust run serves them in alternating turns of a few seconds, with
the same messages on both: the ratio project/default is then measured under
the same machine state. Uses the models ``make bench`` trained
(bench-output/models/, trained here if missing or out of date).
Writes bench-output/paired.{json,md} (server logs in bench-output/paired/).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path
from typing import Any, Dict, List

from bench.common import OUT, cpu_probe_ms, loadavg, log, side_by_side, train_model
from bench.load import run_paired
from bench.stack import ROOT

PHASES = [("sequential", 1, 24, 2.0), ("8 visitors without pause", 8, 24, 3.0)]
FIGURES = [("p50_ms", "p50 (ms)"), ("p95_ms", "p95 (ms)"), ("p99_ms", "p99 (ms)"),
           ("msg_per_s", "msg/s"), ("cpu_ms_per_msg_rasa", "Rasa CPU/msg (ms)")]


def render(results: Dict[str, Any]) -> str:
    lines = ["| phase | figure | project | default | project / default |", "|---|---|---:|---:|---:|"]
    for phase, sides in results["phases"].items():
        for key, label in FIGURES:
            p, d = sides["project"].get(key), sides["default"].get(key)
            if p is None or d is None:
                continue
            lines.append(f"| {phase} | {label} | {p:.1f} | {d:.1f} | {p / d:.2f} |")
    return "\n".join(lines)


def main() -> int:
    os.chdir(ROOT)
    models = {name: Path(train_model(name, reuse=True)["model"]) for name in ("project", "default")}
    out = OUT / "paired"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    results: Dict[str, Any] = {"started": dt.datetime.now().isoformat(timespec="seconds"),
                               "loadavg_start": loadavg(), "cpu_probe_ms_start": cpu_probe_ms(), "phases": {}}
    with side_by_side({name: ({}, model) for name, model in models.items()}, keep_logs_in=out) as (stacks, _):
        urls = [st.url for st in stacks]
        pids = [{"rasa": st.pid("rasa"), "actions": st.pid("actions")} for st in stacks]
        run_paired(urls, out / "warmup", users=1, seconds=6, slice_s=1.0, seed=1)
        for i, (phase, users, seconds, slice_s) in enumerate(PHASES):
            log(f"side by side: {phase}, {seconds} s in turns of {slice_s} s")
            pair: List[dict] = run_paired(urls, out / f"phase{i}", users=users, seconds=seconds,
                                          slice_s=slice_s, seed=2 + i, pids=pids)
            results["phases"][phase] = dict(zip(models, pair))
    results["cpu_probe_ms_end"] = cpu_probe_ms()
    results["loadavg_end"] = loadavg()
    table = render(results)
    (OUT / "paired.json").write_text(json.dumps(results, indent=1))
    (OUT / "paired.md").write_text(
        f"Side by side, {results['started']}; CPU probe {results['cpu_probe_ms_start']} ms at the start, "
        f"{results['cpu_probe_ms_end']} ms at the end.\n\n{table}\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
