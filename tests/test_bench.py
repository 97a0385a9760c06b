"""`make bench`'s harness, end to end on the project's model (short phases: a smoke test
that every figure is measured and written, not a measurement)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench.evaluation import group_name
from eval.runner import SETS, load_sets

ROOT = Path(__file__).resolve().parent.parent


def test_the_benchmark_measures_every_figure_and_writes_table_json_and_chart(tmp_path):
    env = {**os.environ, "BENCH_OUT": str(tmp_path)}
    # The model `make test` trained a moment ago (the training measurement itself is the same
    # `rasa train` as `make train`, timed; a full `make bench` reports it).
    model = ROOT / "models" / "clinic.tar.gz"
    assert model.exists(), "run `make train` first"
    run = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", "project", "--project-model", str(model)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    project = results["models"]["project"]
    assert project["train"] == {"model": str(model.resolve()), "given": True} and project["server"]["startup_s"] > 0
    for phase in ("sequential", "paced"):
        load = project["load"][phase]
        assert load["requests"] > 0 and load["failures"] == 0
        assert 0 < load["p50_ms"] <= load["p95_ms"] <= load["p99_ms"]
    assert project["load"]["saturation"]["msg_per_s"] > 0
    assert project["profile"]["rasa"]["samples"] > 0
    # accuracy: every group of the project's own held-out sets (eval/, 100 probes in --quick), all scored
    accuracy = project["accuracy"]
    cases, scripts = load_sets(SETS, 100)
    sizes = Counter(group_name(c.set, c.group) for c in cases)
    sizes.update(group_name(s.set, "multi") for s in scripts)
    sizes.update({group_name(st, "medical_handoff"): n for (st, g), n in
                  Counter((c.set, c.group) for c in cases).items() if g == "medical"})
    assert {g: int(c.split("/")[1]) for g, c in accuracy["counts"].items()} == dict(sizes)
    assert accuracy["errors"] == 0 and all(0.0 <= v <= 1.0 for v in accuracy["groups"].values())
    # a sanity floor (make eval holds the real thresholds): the scoring reached a working model
    assert accuracy["groups"]["own_crisis"] >= 0.9 and accuracy["groups"]["probe_oos"] >= 0.95
    assert "RESULT:" in (tmp_path / "project" / "eval.txt").read_text()
    assert "sequential p50 (ms)" in run.stdout and "ratio <= 0.8" in run.stdout and "ratio >= 1.5" in run.stdout
    assert "training time (s)" in run.stdout and "ratio <= 0.25" in run.stdout
    assert (tmp_path / "results.png").stat().st_size > 10_000
    assert "| figure | project |" in (tmp_path / "results.md").read_text()


def test_the_side_by_side_table_gives_each_figure_and_its_ratio():
    from bench.paired import render

    side = {"p50_ms": 10.0, "p95_ms": 20.0, "p99_ms": 30.0, "msg_per_s": 50.0, "cpu_ms_per_msg_rasa": 8.0}
    table = render({"phases": {"sequential": {"project": side, "default": {**side, "p50_ms": 40.0}}}})
    assert "| sequential | p50 (ms) | 10.0 | 40.0 | 0.25 |" in table
    assert "| sequential | msg/s | 50.0 | 50.0 | 1.00 |" in table
