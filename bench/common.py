"""Helpers shared by ``python -m bench``, ``python -m bench.fixes`` and ``python -m bench.paired``."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import yaml

from bench.stack import ROOT, Stack, train

HERE = Path(__file__).resolve().parent
# Where results go (git-ignored); BENCH_OUT moves them, e.g. for the smoke test.
OUT = Path(os.environ.get("BENCH_OUT") or ROOT / "bench-output")
CONFIGS = {"project": ROOT / "config.yml", "default": HERE / "default_config.yml"}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_probe_ms() -> float:
    """Milliseconds for a fixed pure-Python workload (best of 5): how fast this machine's
    CPU is right now. On a shared virtual machine it moved by 1.6x within an hour here,
    which moves every absolute figure with it; the ratios of one run are steadier."""
    import time

    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        total = 0
        for i in range(300_000):
            total += i * i % 7
        best = min(best, time.perf_counter() - t0)
    return round(best * 1000, 1)


def fingerprint(config: Path) -> str:
    """What a trained model depends on: the config, domain, data, the Rasa version, and the
    project's addons when the config uses any (Rasa's default configuration does not)."""
    import rasa

    h = hashlib.sha256(rasa.__version__.encode())
    files = [config, ROOT / "domain.yml", *sorted((ROOT / "data").rglob("*.yml"))]
    if "addons." in config.read_text():
        files += sorted((ROOT / "addons").glob("*.py"))
    for f in files:
        h.update(str(f.relative_to(ROOT)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def train_model(name: str, reuse: bool) -> Dict[str, Any]:
    """Train ``name`` into bench-output/models/, or reuse it when ``reuse`` and its inputs are unchanged."""
    models = OUT / "models"
    models.mkdir(parents=True, exist_ok=True)
    meta_file = models / f"{name}.train.json"
    fp = fingerprint(CONFIGS[name])
    if reuse and meta_file.exists():
        meta = json.loads(meta_file.read_text())
        if meta.get("fingerprint") == fp and Path(meta["model"]).exists():
            log(f"{name}: reusing the model trained at {meta['trained_at']} (identical inputs)")
            return {**meta, "reused": True}
    log(f"{name}: training with {CONFIGS[name].relative_to(ROOT)} (load average {loadavg()})")
    before = loadavg()
    result = train(CONFIGS[name], models, name, models / f"train-{name}.log")
    result.update(fingerprint=fp, trained_at=dt.datetime.now().isoformat(timespec="seconds"),
                  loadavg_before=before, loadavg_after=loadavg(), config=str(CONFIGS[name].relative_to(ROOT)))
    meta_file.write_text(json.dumps(result, indent=1))
    log(f"{name}: trained in {result['seconds']:.1f} s ({result['cpu_seconds']:.0f} CPU s), "
        f"peak {result['peak_rss_mb']:.0f} MB")
    return {**result, "reused": False}


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


def make_stack(spec: Dict[str, Any], model: Path, tmp: Path) -> Stack:
    """A Stack for a variant spec: {action_host, patches, rasa_env, store}; {} is the project as is."""
    kwargs: Dict[str, Any] = {}
    if "store" in spec:
        kwargs["endpoints"] = endpoints_copy(tmp, spec["store"])
    return Stack(model=model, tmp=tmp, action_host=spec.get("action_host", "127.0.0.1"),
                 patches=list(spec.get("patches", [])), rasa_env_extra=dict(spec.get("rasa_env", {})), **kwargs)


@contextlib.contextmanager
def side_by_side(servers: Dict[str, Tuple[Dict[str, Any], Path]],
                 keep_logs_in: Optional[Path] = None) -> Iterator[Tuple[List[Stack], List[float]]]:
    """Several stacks at once (``label: (variant spec, model)``), each with its own action
    server and SQLite files; their Rasa servers start together. Yields the stacks and their
    start-up times; stops them afterwards, keeping their logs as ``<label>-rasa.log`` etc."""
    tmps = [Path(tempfile.mkdtemp(prefix=f"bench-{label}-")) for label in servers]
    stacks = [make_stack(spec, model, tmp) for (spec, model), tmp in zip(servers.values(), tmps)]
    try:
        for stack in stacks:
            stack.start_actions()
        with ThreadPoolExecutor(len(stacks)) as pool:
            startups = list(pool.map(lambda stack: stack.start_rasa(), stacks))
        yield stacks, startups
    finally:
        for label, stack, tmp in zip(servers, stacks, tmps):
            stack.stop_all()
            for name in ("rasa.log", "actions.log"):
                if keep_logs_in and (tmp / name).exists():
                    shutil.copy(tmp / name, keep_logs_in / f"{label}-{name}")
            shutil.rmtree(tmp, ignore_errors=True)


# The fix docs/PERFORMANCE.md measured but did not wire in, as a variant spec (``--with-fixes``):
# the kept-alive session to the action server (addons/rasa_patches/action_calls.py). The others it
# recommended (cached validator, fast_skops, tuned SQLite) are in the project now.
RECOMMENDED: Dict[str, Any] = {"patches": ["addons.rasa_patches.action_calls"]}
