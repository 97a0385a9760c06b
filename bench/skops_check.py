"""``python -m bench.skops_check``: addons/rasa_patches/skops_import.py gives skops the same trusted types, faster.

Runs two fresh interpreters that first import what a Rasa server has loaded
by the time its model loads (TensorFlow, Rasa's agent and server, Sanic,
aiohttp), then ``import skops.io``: one as is, one with
``addons.rasa_patches.skops_import.install()`` first. Prints both import times and whether
skops' trusted-type lists are identical; exits 1 if they are not.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.stack import PY, ROOT, base_env

CHILD = r"""
import json, sys, time
sys.path.insert(0, {root!r})
import tensorflow, rasa.core.agent, rasa.core.run, sanic, aiohttp  # noqa: F401  (a Rasa server's modules)
if {patched!r}:
    import addons.rasa_patches.skops_import
    addons.rasa_patches.skops_import.install()
t0 = time.perf_counter()
import skops.io  # noqa: F401
seconds = time.perf_counter() - t0
from skops.io import _trusted_types as t
json.dump({{"seconds": seconds, "modules": len(sys.modules),
           "lists": [t.SCIPY_UFUNC_TYPE_NAMES, t.NUMPY_UFUNC_TYPE_NAMES, t.NUMPY_DTYPE_TYPE_NAMES,
                     t.SKLEARN_ESTIMATOR_TYPE_NAMES]}}, open({out!r}, "w"))
"""


def run(patched: bool, out: Path) -> dict:
    code = CHILD.format(root=str(ROOT), patched=patched, out=str(out))
    subprocess.run([PY, "-c", code], cwd=ROOT, env=base_env(), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads(out.read_text())


def main() -> int:
    tmp = Path(tempfile.mkdtemp())
    results = {}
    for patched in (False, True, False, True):
        r = run(patched, tmp / f"{patched}.json")
        results.setdefault(patched, []).append(r)
        print(f"{'with fast_skops' if patched else 'as is':16} import skops.io: {r['seconds']:6.2f} s "
              f"({r['modules']} modules loaded)")
    same = results[False][0]["lists"] == results[True][0]["lists"]
    print("trusted-type lists identical:", same)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
