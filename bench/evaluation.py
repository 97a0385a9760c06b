"""Accuracy in the benchmark: the project's own evaluation (eval/, as `make eval` runs it) against a live server.

The same judging as the outside referee (eval/scoring.py), on the project's held-out
sets: eval/cases/own.yml, eval/cases/third_party.yml and ``probe_n`` CLINC150 probes
(eval/probes/). Groups are named ``<set>_<group>`` (``own_topic``,
``third_party_crisis``...); the probes keep their names (``probe_oos``, ``probe_small``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

from eval.runner import SETS, Evaluation, evaluate


def group_name(set_name: str, group: str) -> str:
    """``own_topic``; the probe groups already say where they come from."""
    return group if set_name == "probes" else f"{set_name}_{group}"


def summary(result: Evaluation) -> Dict[str, Any]:
    """Share right, right/count and threshold per group; request errors; latency of the scoring run."""
    data = result.as_json()
    return {
        "groups": {group_name(r.set, r.group): round(r.score, 3) for r in result.rows},
        "counts": {group_name(r.set, r.group): f"{r.right}/{r.count}" for r in result.rows},
        "thresholds": {group_name(r.set, r.group): r.threshold for r in result.rows},
        "below_threshold": [group_name(r.set, r.group) for r in result.rows if not r.passed],
        "errors": result.errors,
        "latency_ms_p50": data["latency_ms_p50"],
        "latency_ms_p95": data["latency_ms_p95"],
    }


def score(url: str, token: str, out_dir: Path, probe_n: int, workers: int = 4) -> Dict[str, Any]:
    """Score the server at ``url`` on every set of eval/; details (every outcome) in ``out_dir/eval.json``,
    the table with the misses in ``out_dir/eval.txt``."""
    result = evaluate(url, token, SETS, probe_n, workers)
    (out_dir / "eval.json").write_text(json.dumps(result.as_json(), indent=1, ensure_ascii=False), encoding="utf-8")
    (out_dir / "eval.txt").write_text(result.table() + "\n", encoding="utf-8")
    return summary(result)
