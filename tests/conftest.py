"""Shared fixtures: real servers (action server, Rasa, web app) on free ports (tests/support.py starts them).

Tests talk to them the way visitors and staff do. Each test session gets its
own SQLite files under a temporary folder, so tests never touch ``var/``.
"""

from __future__ import annotations

import uuid

import pytest

from tests.support import (  # noqa: F401 (imported from here by other tests too)
    MODEL, ROOT, TOKEN, VENV_BIN, Stack, free_port, make_stack, run_coroutine, wait_for,
)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory):
    """Action server, Rasa server and web app, shared by the whole test session."""
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make train` (make test does it first)")
    s = make_stack(tmp_path_factory.mktemp("stack"))
    try:
        s.start_actions()
        s.start_rasa()
        s.start_web()
        yield s
    finally:
        s.stop_all()


@pytest.fixture
def sender() -> str:
    return "test-" + uuid.uuid4().hex[:16]
