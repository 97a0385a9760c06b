"""py-spy under load: a flame graph (SVG) per server and a summary of where the CPU samples went.

``python -m bench.profile RAW_FILE`` prints the summary of an existing raw
(collapsed-stack) py-spy file.
"""

from __future__ import annotations

import collections
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

from bench.stack import VENV_BIN

PY_SPY = str(VENV_BIN / "py-spy")

# (label, substring of a frame): the first category, in this order, with a frame anywhere in
# the stack gets the sample. jsonschema recurses deeper than py-spy's stack depth, so some of
# its samples lose their root: the only jsonschema user in the message path is the check of
# action replies, hence the second line.
CATEGORIES = [
    ("action reply validation (jsonschema)", "_validate_action_result (rasa/core/actions/action.py"),
    ("action reply validation (jsonschema)", "(jsonschema/"),
    ("action server call (aiohttp)", "request (rasa/utils/endpoints.py"),
    ("tracker store write (SQL)", "save (rasa/core/tracker_store.py"),
    ("tracker store read (SQL)", "_retrieve (rasa/core/tracker_store.py"),
    ("NLU pipeline", "_parse_message_with_graph (rasa/core/processor.py"),
    ("policies (next action)", "_predict_next_with_tracker (rasa/core/processor.py"),
    ("HTTP API tracker dump", "retrieve_full_tracker"),
    ("action server: run action", "run (rasa_sdk/executor.py"),
]
_SITE = re.compile(r"^.*?site-packages/")


def _norm(frame: str) -> str:
    frame = re.sub(r":\d+\)$", ")", frame)
    return re.sub(r"\((/[^)]*?site-packages/|/work/main/|/root/\.pyenv/versions/[^/]+/lib/python3\.10/)",
                  "(", frame)


def summarize(raw: Path, top: int = 15) -> dict:
    """Share of samples per category, and the functions with most inclusive and self samples."""
    incl: Dict[str, int] = collections.Counter()
    self_: Dict[str, int] = collections.Counter()
    cats: Dict[str, int] = collections.Counter()
    total = idle = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack:
            continue
        count = int(n)
        frames = [_norm(f) for f in stack.split(";")]
        total += count
        for f in set(frames):
            incl[f] += count
        self_[frames[-1]] += count
        if frames[-1].startswith("serve (sanic/server/runners.py"):
            idle += count  # the event loop waiting in epoll (uvloop is native code)
            cats["event loop waiting (idle)"] += count
            continue
        joined = ";".join(frames)
        for label, needle in CATEGORIES:
            if needle in joined:
                cats[label] += count
                break
        else:
            cats["other"] += count
    pct = lambda n: round(100.0 * n / total, 1) if total else 0.0  # noqa: E731
    return {
        "samples": total,
        "busy_pct": pct(total - idle),
        "categories_pct": {k: pct(v) for k, v in cats.most_common()},
        "top_inclusive_pct": [[f, pct(n)] for f, n in incl.most_common(top + 10)
                              if not re.match(r"(<module>|main|run|serve|serve_single|_run_code|"
                                              r"_run_module_as_main|serve_application) \(", f)][:top],
        "top_self_pct": [[f, pct(n)] for f, n in self_.most_common(top)],
    }


def start(pids: Dict[str, int], out_dir: Path, seconds: int, tag: str) -> List[subprocess.Popen]:
    """Start py-spy (a flame graph and a raw file) on each process for ``seconds``."""
    procs = []
    for name, pid in pids.items():
        for fmt, ext in (("flamegraph", "svg"), ("raw", "txt")):
            out = out_dir / f"pyspy-{tag}-{name}.{ext}"
            procs.append(subprocess.Popen(
                [PY_SPY, "record", "--nonblocking", "--format", fmt, "--duration", str(seconds),
                 "--rate", "100", "--output", str(out), "--pid", str(pid)],
                stdout=subprocess.DEVNULL, stderr=open(out_dir / f"pyspy-{tag}-{name}-{fmt}.log", "wb")))
    return procs


def finish(procs: List[subprocess.Popen], pids: Dict[str, int], out_dir: Path, tag: str) -> dict:
    for p in procs:
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
    result = {}
    for name in pids:
        raw = out_dir / f"pyspy-{tag}-{name}.txt"
        if raw.exists() and raw.stat().st_size:
            result[name] = summarize(raw)
            result[name]["flamegraph"] = str(out_dir / f"pyspy-{tag}-{name}.svg")
        else:
            result[name] = {"error": f"py-spy wrote nothing; see {out_dir}/pyspy-{tag}-{name}-raw.log"}
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(summarize(Path(sys.argv[1])), indent=1))
