"""``python -m bench.launch MODULES RASA_ARGS...``: the `rasa` command with modules imported first.

The benchmark uses it to measure a candidate fix that lives in a Python module
(for example ``addons.action_keepalive``) without editing the project's shared
files: each module in the comma-separated MODULES is imported, and its
``install()`` called if it has one (``module:function`` calls that function instead), before Rasa's command line starts. Rasa runs
one Sanic worker in this same process, so the modules take effect there.
"""

from __future__ import annotations

import importlib
import sys


def main() -> None:
    modules, rasa_args = sys.argv[1], sys.argv[2:]
    for spec in filter(None, modules.split(",")):
        name, _, function = spec.partition(":")
        module = importlib.import_module(name)
        if function:
            getattr(module, function)()
        elif hasattr(module, "install"):
            module.install()
    sys.argv = ["rasa", *rasa_args]
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
