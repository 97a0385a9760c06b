"""``python -m scripts.rasa_server [rasa run options]``: ``rasa run`` with the API token from the environment.

Why: Rasa reads ``--auth-token`` only from its command line, and a command line
is readable by every local user (``ps``, ``/proc/PID/cmdline``); with the token,
anyone can read every conversation or load a model from a URL. This launcher
takes the token from ``RASA_AUTH_TOKEN`` (the environment of a process is
readable only by its owner and root) and puts it into ``sys.argv`` inside the
process, where ``ps`` never sees it. ``/proc/PID/cmdline`` keeps the arguments
the process was started with, which do not include the token.

It also warms the model up before the port opens (``addons/rasa_patches/warm_start.py``).
It refuses to start without a token (the HTTP API must never run open), with a
token given on the command line, and with debug logging in the production
profile (``CLINIC_PROFILE=production``: debug records carry visitor messages).
"""

from __future__ import annotations

import os
import sys
from typing import List, Mapping, Optional

DEBUG_FLAGS = ("--debug", "-vv")


def rasa_argv(args: List[str], environ: Optional[Mapping[str, str]] = None) -> List[str]:
    """The argv ``rasa`` gets: ``rasa run --enable-api --auth-token TOKEN`` and ``args``.

    Raises ``SystemExit`` with the reason when the process must not start.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    if any(a.startswith("--auth") or (a.startswith("-t") and not a.startswith("--")) for a in args):
        raise SystemExit("scripts.rasa_server: do not pass --auth-token: it would be visible in `ps`; "
                         "set RASA_AUTH_TOKEN in the environment.")
    token = env.get("RASA_AUTH_TOKEN", "")
    if not token:
        raise SystemExit("RASA_AUTH_TOKEN is empty: refusing to start the HTTP API without a token.")
    if env.get("CLINIC_PROFILE") == "production":
        if any(a in DEBUG_FLAGS for a in args) or env.get("LOG_LEVEL", "").upper() == "DEBUG":
            raise SystemExit("Debug logging is refused in the production profile: debug records carry "
                             "visitors' messages. Remove --debug / LOG_LEVEL=DEBUG.")
    return ["rasa", "run", "--enable-api", "--auth-token", token, *args]


def main() -> None:
    sys.argv = rasa_argv(sys.argv[1:])
    from addons.rasa_patches import warm_start

    warm_start.install()  # the port opens with the model warm (addons/rasa_patches/warm_start.py)
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
