"""The Rasa patches (addons/rasa_patches/): each refuses a Rasa it was not written for, and gives Rasa's own result.

Equivalence tests that live elsewhere: tests/test_rasa_speedups.py (speedups),
tests/test_fast_skops.py (skops_import), tests/test_action_calls.py
(action_calls), tests/test_stores.py (sql_tracker_store: the same rows as
Rasa's store). Here: the version guard of each, the outage bypass, the Socket.IO fix.
"""

from __future__ import annotations

import importlib
from typing import Any, Dict, List
from unittest.mock import AsyncMock

import pytest

import addons.rasa_patches as patches
from tests.conftest import run_coroutine

PATCHES = ["speedups", "skops_import", "action_calls", "sql_tracker_store", "failsafe_bypass", "socketio_rooms",
           "socketio_websocket_end", "warm_start", "redis_lock_store"]
# Equivalence: tests/test_socketio_websocket_end.py, test_warm_start.py, prod/test_redis_lock_store.py


def test_every_patch_module_is_listed_and_named_in_the_package_docstring():
    from pathlib import Path

    found = sorted(p.stem for p in Path(patches.__file__).parent.glob("*.py") if p.stem != "__init__")
    assert found == sorted(PATCHES)
    for name in PATCHES:
        assert f"``{name}``" in patches.__doc__


@pytest.fixture
def other_rasa(monkeypatch):
    """As if Rasa 3.7.0 were installed."""
    monkeypatch.setattr(patches, "installed_rasa", lambda: "3.7.0")


@pytest.mark.parametrize("name", PATCHES)
def test_each_patch_refuses_another_rasa_and_says_which(other_rasa, monkeypatch, name):
    module = importlib.import_module(f"addons.rasa_patches.{name}")
    if name == "action_calls":
        monkeypatch.setattr(module, "_installed", set())  # as if not installed yet (restored after the test)
    start = {"speedups": lambda: module.install(), "skops_import": lambda: module.install(),
             "action_calls": lambda: module.install_cached_validator(),
             "sql_tracker_store": lambda: module.check(), "failsafe_bypass": lambda: module.check(),
             "socketio_rooms": lambda: module.check(), "socketio_websocket_end": lambda: module.check(),
             "warm_start": lambda: module.install(),
             "redis_lock_store": lambda: module.AtomicRedisLockStore(host="127.0.0.1", port=1)}[name]
    with pytest.raises(patches.RasaVersionError) as refused:
        start()
    message = str(refused.value)
    assert f"'{name}'" in message and "3.6.21" in message and "3.7.0" in message


def test_the_installed_rasa_is_the_one_the_patches_were_written_for():
    import rasa.version

    assert rasa.version.__version__ == patches.WRITTEN_FOR == patches.installed_rasa()


def test_the_tracker_store_refuses_to_start_on_another_rasa(other_rasa, tmp_path, monkeypatch):
    from addons.stores import EnvSQLTrackerStore

    monkeypatch.setenv("TRACKER_DB_URL", f"sqlite:///{tmp_path / 'rasa.db'}")
    with pytest.raises(patches.RasaVersionError, match="sql_tracker_store"):
        EnvSQLTrackerStore()


# --- failsafe_bypass -------------------------------------------------------------------------

class _Store:
    """A tracker store that fails the way ours does when the database is down."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.domain = None
        self.event_broker = None

    async def retrieve(self, sender_id: str) -> Any:
        raise self.error


def test_rasas_failsafe_store_swallows_an_exception_but_lets_message_aborted_through():
    from rasa.core.tracker_store import FailSafeTrackerStore

    from addons.rasa_patches.failsafe_bypass import MessageAborted

    # Rasa's own result for an ordinary error: None (a fresh conversation) -- the reason for the patch.
    assert run_coroutine(FailSafeTrackerStore(_Store(RuntimeError("down"))).retrieve("v")) is None
    with pytest.raises(MessageAborted):
        run_coroutine(FailSafeTrackerStore(_Store(MessageAborted(RuntimeError("down")))).retrieve("v"))


# --- socketio_rooms and the channel -------------------------------------------------------------

def _signed() -> str:
    from clinic import session_tokens

    return session_tokens.issue()


SIGNED = _signed()  # a session id the server issued (WIDGET_SESSION_SECRET of the test run)

def channel(**credentials: Any):
    from addons.socketio_channel import ClinicSocketIOInput

    return ClinicSocketIOInput.from_credentials({"session_persistence": True, **credentials})


def built(ch, received: List[Any]):
    async def on_new_message(message):
        received.append(message)

    ch.blueprint(on_new_message)
    return ch.sio, ch.sio.handlers["/"]


def test_rasas_session_request_never_joins_the_room_and_the_fixed_one_does():
    import warnings

    from rasa.core.channels.socketio import SocketIOInput

    from clinic import session_tokens

    joined: Dict[str, int] = {}
    for name, ch in (("rasa", SocketIOInput(session_persistence=True)), ("fixed", channel())):
        ch.blueprint(AsyncMock())
        ch.sio.enter_room = AsyncMock()
        ch.sio.emit = AsyncMock()
        # the channel answers only a session id it signed (tests/test_socketio_sessions.py)
        session_id = "session-0001" if name == "rasa" else SIGNED
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # Rasa's un-awaited coroutine
            run_coroutine(ch.sio.handlers["/"]["session_request"]("sid-1", {"session_id": session_id}))
        joined[name] = ch.sio.enter_room.await_count
        ch.sio.emit.assert_awaited_with("session_confirm", session_id, room="sid-1")
    assert joined == {"rasa": 0, "fixed": 1}
    ch.sio.enter_room.assert_awaited_with("sid-1", session_tokens.conversation_of(SIGNED))


def test_the_channel_keeps_rasas_jwt_check_on_connect():
    import jwt

    ch = channel(jwt_key="a-test-key-of-enough-length-0123456789")
    sio, handlers = built(ch, [])
    connect = handlers["connect"]
    # Rasa's own handler, behind the channel's per-address connection limit
    assert connect.__wrapped__.__qualname__.startswith("SocketIOInput.blueprint")
    assert run_coroutine(connect("sid", {}, None)) is False
    assert run_coroutine(connect("sid", {}, {"token": "not a token"})) is False
    token = jwt.encode({"user": "x"}, "a-test-key-of-enough-length-0123456789", algorithm="HS256")
    assert run_coroutine(connect("sid", {}, {"token": token})) is True


def test_the_channel_keeps_rasas_metadata_key_and_cleans_the_text_as_the_rest_channel_does():
    from addons.channel_input import clean_text

    received: List[Any] = []
    ch = channel(metadata_key="customData")
    sio, handlers = built(ch, received)
    sio.enter_room = AsyncMock()
    sio.rooms = lambda sid, namespace=None: ["session-0001"]
    raw = "what is \x1b[31mketamine\u202e?\u200d"
    run_coroutine(handlers["user_uttered"]("sid", {"message": raw, "session_id": SIGNED,
                                                   "customData": {"page": "/about"}}))
    assert len(received) == 1
    message = received[0]
    assert message.text == clean_text(raw) == "what is [31mketamine?\u200d"
    assert message.metadata == {"page": "/about"} and message.sender_id == SIGNED.split(".")[0]


@pytest.mark.parametrize("data, error", [
    ("hello", "non-empty text"), ({"message": 12, "session_id": SIGNED}, "non-empty text"),
    ({"message": "hi"}, "session_request first"), ({"message": "hi", "session_id": "<script>"}, "session_request"),
    ({"message": "hi", "session_id": "session-0001"}, "session_request first"),  # not signed by the server
    ({"message": "\x00 \u202e", "session_id": SIGNED}, "non-empty text"),
    ({"message": "/restart", "session_id": SIGNED}, "quick-reply"),
    ({"message": "hi", "session_id": SIGNED, "metadata": "{not json"}, "JSON object"),
])
def test_the_channel_refuses_bad_data_with_an_error_event(data, error):
    received: List[Any] = []
    sio, handlers = built(channel(), received)
    sio.emit = AsyncMock()
    run_coroutine(handlers["user_uttered"]("sid", data))
    assert received == []
    event, body = sio.emit.await_args.args
    assert event == "error" and error in body["error"]


def test_the_channel_accepts_only_the_sites_origins_and_small_packets(monkeypatch):
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://clinic.example, https://www.clinic.example/")
    sio, _ = built(channel(), [])
    assert sio.eio.cors_allowed_origins == ["https://clinic.example", "https://www.clinic.example"]
    assert sio.eio.max_http_buffer_size == 64 * 1024


def test_both_channels_clean_text_with_the_same_function():
    import addons.rest_channel as rest
    import addons.socketio_channel as sock

    assert rest.clean_text is sock.clean_text
    # the Socket.IO channel overrides only blueprint() of Rasa's class
    from rasa.core.channels.socketio import SocketIOInput

    own = {k for k, v in vars(sock.ClinicSocketIOInput).items() if callable(v) or isinstance(v, classmethod)}
    assert own <= {"blueprint", "name"} and vars(SocketIOInput)["name"]
