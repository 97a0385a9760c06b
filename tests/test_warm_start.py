"""addons/rasa_patches/warm_start.py: a Rasa server opens its port with its model warm, so the first
visitor after a (re)start is not the one who waits for the neural featurizer to build its graph."""

from __future__ import annotations

import time
from typing import List


from tests.conftest import MODEL, run_coroutine


class FakeAgent:
    def __init__(self) -> None:
        self.parsed: List[str] = []

    def is_ready(self) -> bool:
        return True

    async def parse_message(self, text: str) -> dict:
        self.parsed.append(text)
        return {"text": text}


def test_the_wrapped_loader_returns_rasas_agent_and_parses_before_returning(monkeypatch):
    import rasa.core.run as run

    from addons.rasa_patches import warm_start

    agent = FakeAgent()

    async def rasas_loader(*args, **kwargs):
        return agent

    monkeypatch.setattr(run, "load_agent_on_start", rasas_loader)
    warm_start.install()
    warm_start.install()  # once only
    assert run.load_agent_on_start.__wrapped__ is rasas_loader
    assert run_coroutine(run.load_agent_on_start("model", None, None, None, None)) is agent
    assert agent.parsed == list(warm_start.WARM_UP_TEXTS)


def test_no_parse_without_a_model(monkeypatch):
    import rasa.core.run as run

    from addons.rasa_patches import warm_start

    agent = FakeAgent()
    agent.is_ready = lambda: False

    async def rasas_loader(*args, **kwargs):
        return agent

    monkeypatch.setattr(run, "load_agent_on_start", rasas_loader)
    warm_start.install()
    run_coroutine(run.load_agent_on_start())
    assert agent.parsed == []


def test_the_first_answer_of_make_run_comes_in_seconds(tmp_path):
    """Without the warm-up the first message took 23 s on this machine, the next 0.1 s."""
    from tests.run_script import RunScript

    assert MODEL.exists(), "make test trains the model first"
    run = RunScript.dev(tmp_path)
    try:
        run.wait_ready()
        started = time.monotonic()
        assert run.turn(run.env["RASA_URL"], "warm-1", "where is the clinic") == ["location"]
        assert time.monotonic() - started < 5
    finally:
        run.stop()
