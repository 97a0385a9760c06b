"""addons/rasa_patches/socketio_websocket_end.py: once a widget's WebSocket has ended, no HTTP response is
written onto its closed connection (the `AttributeError: 'NoneType' object has no attribute 'is_closing'`
tracebacks of the operator trial at 1,000 sockets).

A real Sanic server with python-socketio, as Rasa's channel builds it, whose disconnect handling takes
2 s (what a busy event loop does to every socket of a reconnection storm); widgets connect and close.
Without the patch the server logs the traceback; with it, none, and HTTP answers are unchanged."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port, wait_for

SERVER = textwrap.dedent("""
    import asyncio, sys
    sys.path.insert(0, {root!r})
    import socketio
    from sanic import Sanic, response

    app = Sanic("websocket_end_test")
    sio = socketio.AsyncServer(async_mode="sanic", cors_allowed_origins=["http://site.example"])
    if sys.argv[2] == "patched":
        from addons.rasa_patches import socketio_websocket_end
        socketio_websocket_end.install(sio)

    @sio.on("disconnect")
    async def slow_disconnect(sid, *args):
        await asyncio.sleep(2.0)  # as on a server busy with a reconnection storm

    @app.get("/up")
    async def up(_):
        return response.text("up")

    sio.attach(app, "socket.io")
    app.run(host="127.0.0.1", port=int(sys.argv[1]), access_log=False, motd=False)
""")


def _frame(opcode: int, payload: bytes) -> bytes:
    """A masked client WebSocket frame (payloads under 126 bytes)."""
    mask = os.urandom(4)
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def widget_comes_and_goes(port: int) -> None:
    """Open the Socket.IO WebSocket, join the namespace, close it properly, read until the server is done."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   f"Origin: http://site.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        time.sleep(0.1)
        s.sendall(_frame(0x1, b"40"))  # Socket.IO connect
        time.sleep(0.2)
        s.sendall(_frame(0x8, (1000).to_bytes(2, "big")))  # close
        s.settimeout(3)
        try:
            while s.recv(65536):
                pass
        except OSError:
            pass


def serve(tmp_path: Path, mode: str) -> tuple:
    script = tmp_path / "server.py"
    script.write_text(SERVER.format(root=str(ROOT)))
    port = free_port()
    log = tmp_path / f"server-{mode}.log"
    proc = subprocess.Popen([sys.executable, str(script), str(port), mode], cwd=ROOT, stdout=open(log, "w"),
                            stderr=subprocess.STDOUT)
    wait_for(f"http://127.0.0.1:{port}/up", timeout=60, proc=proc)
    return proc, port, log


def storm(port: int, widgets: int = 16) -> None:
    threads = [threading.Thread(target=widget_comes_and_goes, args=(port,)) for _ in range(widgets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    time.sleep(3.0)  # the slow disconnect handlers finish


@pytest.mark.parametrize("mode", ["unpatched", "patched"])
def test_an_ended_websocket_gets_no_http_response_written_onto_it(tmp_path, mode):
    proc, port, log = serve(tmp_path, mode)
    try:
        storm(port)
        # HTTP answers are unchanged: long-polling's handshake, and a refused origin
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling", timeout=10) as r:
            assert r.status == 200 and r.read().startswith(b"0{")
        refused = urllib.request.Request(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling",
                                         headers={"Origin": "https://evil.example"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(refused, timeout=10)
        assert e.value.code == 400
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    text = log.read_text(errors="replace")
    written_onto_closed = text.count("'NoneType' object has no attribute 'is_closing'") + \
        text.count("Cannot call write() after write_eof()")
    if mode == "unpatched":
        assert written_onto_closed >= 1, "the bug did not show: the test no longer proves the patch\n" + text[-2000:]
    else:
        assert written_onto_closed == 0 and "Traceback" not in text, text[-3000:]


def test_the_channel_installs_it():
    from unittest.mock import AsyncMock

    from addons.socketio_channel import ClinicSocketIOInput

    channel = ClinicSocketIOInput(session_persistence=True)
    channel.blueprint(AsyncMock())
    assert channel.sio.eio._async["websocket"].__name__ == "EndedWebSocket"
    import engineio.async_drivers.sanic as library

    assert library._async["websocket"].__name__ == "WebSocket"  # other servers keep the library's
