"""Compare NLU pipelines on the same data: ``python -m bench.pipelines [variant ...]``.

How config.yml's pipeline was chosen. Each variant is config.yml with one
change; each is trained on data/nlu and scored, NLU only (the intent, not the
reply), on the project's held-out sets in eval/ (eval/cases/own.yml,
eval/cases/third_party.yml, 1000 CLINC150 out-of-scope probes and the small-talk
probes, drawn as `make eval` draws them) and the held-out examples in
bench/heldout.yml. Prints accuracy per group, training time and parse latency.
Models go to bench-output/pipelines/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-output" / "pipelines"
FAQ = {"what_is_ketamine", "how_it_works", "conditions_treated", "how_fast_it_works", "dose",
       "session_length", "multiple_sessions", "consultation", "location", "about_clinic"}
STAFFISH = {"ask_staff", "request_human", "contact", "medical_question", "consultation"}
SAFETY_NETS = ("addons.scope_gate", "addons.cue_detector", "addons.crisis_detector")


def _without_safety_nets(config: str) -> str:
    lines, skip = [], False
    for line in config.splitlines():
        if line.startswith("  - name: "):
            skip = any(net in line for net in SAFETY_NETS)
        elif not line.startswith("    ") and not line.startswith("  #"):
            skip = False
        if not skip:
            lines.append(line)
    return "\n".join(lines) + "\n"


VARIANTS: Dict[str, Callable[[str], str]] = {
    "project": lambda c: c,
    "no-safety-nets": _without_safety_nets,
    "word-bigrams": lambda c: c.replace("  - name: CountVectorsFeaturizer\n  - name: CountVectorsFeaturizer",
                                        "  - name: CountVectorsFeaturizer\n    max_ngram: 2\n"
                                        "  - name: CountVectorsFeaturizer", 1),
    "char-1-5": lambda c: c.replace("min_ngram: 2\n    max_ngram: 4", "min_ngram: 1\n    max_ngram: 5"),
    "fallback-0.35": lambda c: c.replace("threshold: 0.45", "threshold: 0.35"),
    "diet": lambda c: re.sub(r"  - name: LogisticRegressionClassifier\n(    .*\n)*",
                             "  - name: DIETClassifier\n    epochs: 100\n", c),
}


def cases(probe_n: int = 1000) -> List[Tuple[str, str, Optional[Tuple[str, ...]]]]:
    """(group, text, right intents) for every held-out line: eval/'s sets (groups ``own_topic``...,
    ``probe_oos``) and bench/heldout.yml (``held_topic``...)."""
    sys.path.insert(0, str(ROOT))
    from eval.runner import SETS, load_sets

    held, _scripts = load_sets(SETS, probe_n)
    out: List[Tuple[str, str, Optional[Tuple[str, ...]]]] = []
    for case in held:
        group = case.group if case.set == "probes" else f"{case.set}_{case.group}"
        out.append((group, case.text, case.expect if case.judged_as in ("topic", "small") else None))
    for group, items in yaml.safe_load((ROOT / "bench" / "heldout.yml").read_text()).items():
        out += [(f"held_{group}", text, (expected,) if expected else None) for text, expected in items]
    return out


def correct(group: str, intent: str, expected: Optional[Tuple[str, ...]]) -> bool:
    """The intent-level reading of the referee's groups (eval/scoring.py judges replies)."""
    kind = next((group[len(p):] for p in ("own_", "third_party_", "held_") if group.startswith(p)), group)
    if kind in ("topic", "small", "probe_small"):
        return intent in (expected or ())
    if kind == "medical":
        return intent == "medical_question"
    if kind == "crisis":
        return intent == "crisis"
    if kind == "staff":
        return intent in STAFFISH
    if kind == "distress":
        return intent in ("distress", "crisis")
    return intent not in FAQ and intent != "crisis"  # oos, probe_oos


def train(name: str, config_text: str) -> Tuple[Path, float]:
    OUT.mkdir(parents=True, exist_ok=True)
    config = OUT / f"{name}.yml"
    config.write_text(config_text)
    started = time.perf_counter()
    subprocess.run([str(ROOT / ".venv" / "bin" / "rasa"), "train", "nlu", "--config", str(config),
                    "--nlu", "data/nlu", "--out", str(OUT), "--fixed-model-name", name],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "TQDM_DISABLE": "1"})
    return OUT / f"{name}.tar.gz", time.perf_counter() - started


async def score(model: Path) -> Tuple[Dict[str, str], float, List[tuple]]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    per: Dict[str, List[int]] = {}
    latencies, misses = [], []
    for group, text, expected in cases():
        started = time.perf_counter()
        intent = (await agent.parse_message(text))["intent"]["name"]
        latencies.append(time.perf_counter() - started)
        ok = correct(group, intent, expected)
        per.setdefault(group, [0, 0])
        per[group][0] += ok
        per[group][1] += 1
        if not ok and group != "probe_small":
            misses.append((group, text, expected, intent))
    latencies.sort()
    return {g: f"{a}/{n}" for g, (a, n) in per.items()}, 1000 * latencies[len(latencies) // 2], misses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="*", default=["project", "no-safety-nets", "word-bigrams"],
                        help=f"any of {', '.join(VARIANTS)}")
    parser.add_argument("--misses", action="store_true", help="list every wrong answer")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    logging.disable(logging.WARNING)
    base = (ROOT / "config.yml").read_text()
    for name in args.variants:
        model, seconds = train(name, VARIANTS[name](base))
        groups, p50, misses = asyncio.run(score(model))
        print(json.dumps({"variant": name, "train_s": round(seconds, 1), "parse_p50_ms": round(p50, 2), **groups}))
        if args.misses:
            for miss in misses:
                print("   miss", miss)


if __name__ == "__main__":
    main()
