"""``python -m eval`` (``make eval``): score the assistant on the project's held-out sets.

Without ``EVAL_URL`` (or ``--url``) it starts a private stack first: an action
server and a Rasa server with models/clinic.tar.gz on free ports, with their own
temporary tracker and clinic databases (the benchmark's helper, bench/stack.py),
and stops it afterwards, so it runs beside ``make run``. With ``EVAL_URL`` it
scores that running server; the HTTP API token is ``--token``, else
``RASA_AUTH_TOKEN``, else the one in ``.env``.

It talks to the assistant as a visitor's client does (REST channel, then the
tracker API for the content ids) and judges each group as the outside referee
does (eval/scoring.py). Sets: ``own`` (eval/cases/own.yml), ``third_party``
(eval/cases/third_party.yml) and ``probes`` (CLINC150 everyday questions,
eval/probes/clinc150_dev.json). Prints a table per set and group (score, count,
threshold from eval/thresholds.yml, pass/FAIL), the misses, and latency.

Exit status: 0 every group at or above its threshold, 1 some group below,
2 the evaluation could not run (no model, server unreachable, wrong token).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import List, Optional

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "clinic.tar.gz"


def _token(given: Optional[str]) -> str:
    """The HTTP API token: given, else the environment's, else the project's .env."""
    if given:
        return given
    if os.environ.get("RASA_AUTH_TOKEN"):
        return os.environ["RASA_AUTH_TOKEN"]
    from clinic.settings import ENV_FILE, read_env_file

    return read_env_file(ENV_FILE).get("RASA_AUTH_TOKEN", "")


def _check_server(url: str, token: str) -> Optional[str]:
    """None when ``url`` answers ``/status`` with this token; else why not (without the token)."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/status?token={token}", timeout=15) as r:
            r.read()
        return None
    except urllib.error.HTTPError as e:
        if e.code in (401, 403):
            return f"{url} refused the token (HTTP {e.code}): set RASA_AUTH_TOKEN to the server's token"
        return f"{url}/status answered HTTP {e.code}"
    except Exception as e:  # noqa: BLE001 - unreachable in any way: say so
        return f"{url} is unreachable ({type(e).__name__}: {getattr(e, 'reason', e)})"


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from eval.runner import DEFAULT_PROBE_N, SETS

    ap = argparse.ArgumentParser(prog="python -m eval", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=os.environ.get("EVAL_URL") or None,
                    help="a running Rasa server to score (default $EVAL_URL; unset: start a private stack)")
    ap.add_argument("--token", default=None, help="its HTTP API token (default $RASA_AUTH_TOKEN, then .env)")
    ap.add_argument("--sets", default=",".join(SETS),
                    help=f"comma-separated, any of {', '.join(SETS)} (default: all)")
    ap.add_argument("--probe-n", type=int, default=DEFAULT_PROBE_N,
                    help=f"how many CLINC150 out-of-scope probes (default {DEFAULT_PROBE_N})")
    ap.add_argument("--cases", action="append", default=[], type=Path, metavar="FILE",
                    help="one more case file in the same format (its set is named after the file)")
    ap.add_argument("--workers", type=int, default=4, help="conversations at once (default 4)")
    ap.add_argument("--model", type=Path, default=MODEL, help="model of the private stack")
    ap.add_argument("--json", type=Path, metavar="OUT", help="write every outcome, the table and latency here")
    return ap.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # bench.stack and clinic.settings, from any working directory
    a = parse_args(argv)
    from eval.runner import evaluate, progress_printer

    names = [n.strip() for n in a.sets.split(",") if n.strip()]
    try:
        from eval.runner import load_sets

        load_sets(names, a.probe_n, a.cases)  # a bad set name or case file fails before any server starts
    except (ValueError, OSError) as e:
        print(f"eval: {e}", file=sys.stderr)
        return 2

    def run(url: str, token: str) -> int:
        result = evaluate(url, token, names, a.probe_n, a.workers, a.cases, progress_printer())
        print(result.table())
        if a.json:
            a.json.write_text(json.dumps(result.as_json(), indent=1, ensure_ascii=False), encoding="utf-8")
            print(f"details: {a.json}")
        return 0 if result.passed else 1

    if a.url:
        token = _token(a.token)
        problem = _check_server(a.url, token)
        if problem:
            print(f"eval: {problem}", file=sys.stderr)
            return 2
        print(f"[eval] scoring the running server at {a.url}", file=sys.stderr)
        return run(a.url, token)

    if not a.model.exists():
        print(f"eval: {a.model} is missing: run `make train` (make eval trains first)", file=sys.stderr)
        return 2
    from bench.stack import Stack

    tmp = Path(tempfile.mkdtemp(prefix="eval-stack-"))
    try:
        with Stack(model=a.model, tmp=tmp) as stack:
            print(f"[eval] private stack: action server :{stack.action_port}, Rasa :{stack.rasa_port} "
                  f"({a.model.name}), databases in {tmp}", file=sys.stderr)
            try:
                stack.start_actions()
                seconds = stack.start_rasa()
            except Exception as e:  # noqa: BLE001 - a server that does not come up: show its log
                print(f"eval: the private stack did not start ({type(e).__name__}: {e})", file=sys.stderr)
                for name in ("actions.log", "rasa.log"):
                    if (tmp / name).exists():
                        print(f"--- last lines of {name} ---", file=sys.stderr)
                        print("\n".join((tmp / name).read_text(errors="replace").splitlines()[-30:]),
                              file=sys.stderr)
                return 2
            print(f"[eval] Rasa ready after {seconds:.1f} s", file=sys.stderr)
            return run(stack.url, stack.token)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
