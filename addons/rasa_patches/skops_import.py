"""Faster start-up of a Rasa server whose model has a LogisticRegressionClassifier.

Rasa 3.6 stores that classifier with skops. Importing ``skops.io`` (skops 0.9)
builds its list of trusted types by asking, for every numpy and scipy ufunc,
which module defines it: ``skops.io._utils.whichmodule`` walks *all* of
``sys.modules`` with ``getattr`` for each of the ~400 ufuncs. Inside a Rasa
server thousands of modules (TensorFlow's among them) are loaded by then, so
the import took 10-15 s of the server's start-up (py-spy, docs/PERFORMANCE.md).

``install()`` puts a one-shot import hook in place: as soon as
``skops.io._utils`` has executed (and before ``skops.io`` computes its trusted
types), its ``whichmodule`` is replaced by one that answers from an index of
every loaded module's namespace, built once and rebuilt when modules were
added, checked with the original's own ``getattr`` test, and falling back to
the original scan for anything the index does not resolve. The trusted-type
lists come out identical (checked: bench/skops_check.py, tests/test_fast_skops.py).
It must run before ``skops.io`` is imported (it does nothing useful afterwards);
nothing happens when it is merely imported. Written for Rasa 3.6.21 and the
skops 0.9 it installs (``install()`` refuses another Rasa).
"""

from __future__ import annotations

import importlib.abc
import sys
from types import ModuleType
from typing import Any, Dict, Optional

from addons.rasa_patches import require

UTILS = "skops.io._utils"


def _patch(utils: ModuleType) -> None:
    if getattr(utils.whichmodule, "_indexed", False):
        return
    original = utils.whichmodule
    index: Dict[int, str] = {}
    indexed_modules: Optional[int] = None

    def build() -> None:
        for module_name, module in list(sys.modules.items()):
            if module_name in ("__main__", "__mp_main__") or module is None:
                continue
            namespace = getattr(module, "__dict__", None)
            if not isinstance(namespace, dict):
                continue
            for value in list(namespace.values()):
                index.setdefault(id(value), module_name)

    def whichmodule(obj: Any, name: str) -> str:
        nonlocal indexed_modules
        module_name = getattr(obj, "__module__", None)
        if module_name is not None:
            return module_name
        if indexed_modules != len(sys.modules):  # (re)index when modules were added
            index.clear()
            build()
            indexed_modules = len(sys.modules)
        found = index.get(id(obj))
        if found is not None:
            try:
                if utils._getattribute(sys.modules[found], name)[0] is obj:
                    return found
            except (AttributeError, KeyError):
                pass
        return original(obj, name)  # the index does not know: the original scan

    whichmodule._indexed = True  # type: ignore[attr-defined]
    setattr(utils, "whichmodule", whichmodule)


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Patches skops.io._utils right after it executes, before skops.io uses it."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != UTILS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                exec_module = spec.loader.exec_module

                def exec_and_patch(module: ModuleType) -> None:
                    exec_module(module)
                    _patch(module)

                spec.loader.exec_module = exec_and_patch  # type: ignore[method-assign]
                return spec
        return None


def install() -> None:
    require("skops_import")
    if UTILS in sys.modules:
        _patch(sys.modules[UTILS])  # helps only if skops.io's trusted types are not computed yet
        return
    if not any(isinstance(f, _PatchOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())
