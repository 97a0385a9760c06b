"""The model warmed up before a Rasa server takes its first visitor (Rasa 3.6.21's ``load_agent_on_start``).

The NLU pipeline's neural parts (the sentence-embedding featurizer) build their
compute graph on the first message they see: on the shared test machine that
first message took 23 s, the next ones 0.1 s. After a crash and a restart by the
supervisor, or when a second Rasa server takes over from a dead one, that first
message is a visitor's, possibly one in crisis, and nginx gives up on the
request after 30 s.

``rasa.core.run.serve_application`` (3.6.21) registers ``load_agent_on_start``,
looked up by name in its module, as a ``before_server_start`` listener: the
server accepts no connection before it has returned. :func:`install` replaces it
with the same function followed by a few parses of fixed, made-up sentences
(``agent.parse_message``: NLU only, no conversation is read or stored), so the
server opens its port warm. ``scripts/rasa_server.py`` installs it.

tests/test_warm_start.py: the wrapper gives Rasa's agent back and parses before
returning; `make run`'s first answer after a restart comes in seconds.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from addons.rasa_patches import require

logger = logging.getLogger(__name__)

# Made up, no visitor's words: a greeting and a topic question reach every NLU component.
WARM_UP_TEXTS = ("hello", "how long does a session take")


def check() -> None:
    require("warm_start")


def install() -> None:
    """Wrap ``rasa.core.run.load_agent_on_start`` (before ``serve_application`` runs)."""
    check()
    import rasa.core.run as run

    original = run.load_agent_on_start
    if getattr(original, "clinic_warm_start", False):
        return

    async def load_agent_on_start(*args: Any, **kwargs: Any) -> Any:
        agent = await original(*args, **kwargs)
        if agent is not None and agent.is_ready():
            started = time.monotonic()
            for text in WARM_UP_TEXTS:
                await agent.parse_message(text)
            logger.info("Model warmed up in %.1f s, before the first visitor", time.monotonic() - started)
        return agent

    load_agent_on_start.clinic_warm_start = True  # type: ignore[attr-defined]
    load_agent_on_start.__wrapped__ = original  # type: ignore[attr-defined]
    run.load_agent_on_start = load_agent_on_start
