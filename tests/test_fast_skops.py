"""The start-up fix for skops (addons/rasa_patches/skops_import.py), installed by importing any addon:
skops must trust exactly the same types with it as without it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys
import numpy, scipy.sparse, sklearn.linear_model  # noqa: F401  (loaded before the model, as in Rasa)
if {patched!r}:
    import addons.stores  # noqa: F401  (what Rasa imports first: the tracker store)
import skops.io  # noqa: F401
from skops.io import _trusted_types as t, _utils
print(json.dumps({{"indexed": getattr(_utils.whichmodule, "_indexed", False),
                  "lists": [t.SCIPY_UFUNC_TYPE_NAMES, t.NUMPY_UFUNC_TYPE_NAMES, t.NUMPY_DTYPE_TYPE_NAMES,
                            t.SKLEARN_ESTIMATOR_TYPE_NAMES]}}))
"""


def child(patched: bool) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD.format(patched=patched)], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_importing_the_addons_installs_the_fix_and_skops_trusts_the_same_types():
    plain, fixed = child(False), child(True)
    assert plain["indexed"] is False and fixed["indexed"] is True
    assert all(len(names) > 10 for names in plain["lists"])
    assert fixed["lists"] == plain["lists"]
