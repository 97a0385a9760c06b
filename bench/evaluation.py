"""Accuracy through the shared harness (../shared/eval/evaluate.py), run against a live server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Dict, List

import yaml

from bench.stack import PY, ROOT, base_env

EVAL_DIR = ROOT.parent / "shared" / "eval"
EVALUATE = EVAL_DIR / "evaluate.py"
PUBLIC_CASES = EVAL_DIR / "public_cases.yml"
PROBES = EVAL_DIR / "probes_dev.json"
HELDOUT = Path(__file__).resolve().parent / "heldout.yml"


def heldout_cases(out: Path) -> Path:
    """bench/heldout.yml in evaluate.py's case format (its groups: topic, medical, staff, crisis, oos)."""
    held = yaml.safe_load(HELDOUT.read_text())
    single: Dict[str, List[str]] = {}
    for text, intent in held.get("topic", []):
        single.setdefault(intent, []).append(text)
    cases = {
        "single": single,
        "medical": [t for t, _ in held.get("medical", [])],
        "staff": [t for t, _ in held.get("staff", [])],
        "crisis": [t for t, _ in held.get("crisis", [])],
        "out_of_scope": [t for t, _ in held.get("oos", [])],
    }
    out.write_text(yaml.safe_dump(cases, sort_keys=False, allow_unicode=True))
    return out


def start(url: str, token: str, out_dir: Path, probe_n: int) -> List[tuple]:
    """Start both evaluations (public cases + probes, and the held-out set) side by side."""
    runs = []
    for name, args in (
        ("public", [str(PUBLIC_CASES), "--probe", str(PROBES), "--probe-n", str(probe_n)]),
        ("heldout", [str(heldout_cases(out_dir / "heldout_cases.yml"))]),
    ):
        out = out_dir / f"eval-{name}.json"
        log = open(out_dir / f"eval-{name}.log", "wb")
        proc = subprocess.Popen([PY, str(EVALUATE), *args, "--url", url, "--token", token,
                                 "--json", str(out), "--quiet"],
                                cwd=ROOT, env=base_env(), stdout=log, stderr=subprocess.STDOUT)
        runs.append((name, proc, out))
    return runs


def finish(runs: List[tuple], timeout: float = 900) -> dict:
    """Share right per group; held-out groups are prefixed ``heldout_``."""
    groups: Dict[str, float] = {}
    counts: Dict[str, str] = {}
    errors = 0
    for name, proc, out in runs:
        rc = proc.wait(timeout=timeout)
        if rc != 0 or not out.exists():
            raise RuntimeError(f"evaluate.py ({name}) failed with {rc}; see {out.with_suffix('.log')}")
        summary = json.loads(out.read_text())["summary"]
        prefix = "" if name == "public" else "heldout_"
        errors += summary.get("errors", 0)
        for group, value in summary.items():
            if isinstance(value, (int, float)) and not group.startswith("latency") and group != "errors":
                groups[prefix + group] = value
        for group, c in summary.get("counts", {}).items():
            counts[prefix + group] = c
    return {"groups": groups, "counts": counts, "errors": errors}
