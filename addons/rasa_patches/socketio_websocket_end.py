"""No HTTP response written onto a Socket.IO WebSocket that has ended (the ``is_closing`` tracebacks).

Rasa's Socket.IO channel attaches python-socketio to Sanic; python-engineio's
Sanic driver (``engineio/async_drivers/sanic.py``, 4.15.1) upgrades the
connection to a WebSocket inside an ordinary Sanic route and, once the
WebSocket has ended, returns ``server._ok()``. Sanic 21.12 then writes that
HTTP response onto the connection the WebSocket has just closed:

* when the transport is half-closed: ``RuntimeError: Cannot call write() after write_eof()``;
* when Sanic's close timer has already aborted it (``transport`` is ``None``):
  ``AttributeError: 'NoneType' object has no attribute 'is_closing'``
  (``HttpProtocol.send``).

Either way a traceback per widget that goes away: hundreds when a Rasa server
dies and its widgets reconnect elsewhere (the operator trial logged 138 at
1,000 sockets), burying real errors. Sanic's own WebSocket routes do not have
this: their handlers return nothing and are marked ``is_websocket``, which
tells Sanic that the request has been answered.

:func:`install` does the same for one Socket.IO server: its WebSocket wrapper
returns nothing once the socket has ended, and its route handler is marked
``is_websocket``. A handler that returns a response (HTTP long-polling, a
refused upgrade, a bad origin) is answered exactly as before.

tests/test_rasa_patches.py shows the unpatched route writes a response after the
WebSocket ended and the patched one does not; tests/prod/test_prod_balancer.py's
reconnection storm finds no traceback in any log.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

from addons.rasa_patches import RasaVersionError, require

# Read against these (constraints.txt pins them with Rasa 3.6.21).
ENGINEIO_WRITTEN_FOR = "4.15.1"
SANIC_WRITTEN_FOR = "21.12.2"
ROUTE_NAME = "clinic_socketio_request"


def check() -> None:
    require("socketio_websocket_end")
    for package, written_for in (("python-engineio", ENGINEIO_WRITTEN_FOR), ("sanic", SANIC_WRITTEN_FOR)):
        found = importlib.metadata.version(package)
        if found != written_for:
            raise RasaVersionError(
                f"Rasa patch 'socketio_websocket_end' (addons/rasa_patches/socketio_websocket_end.py) was "
                f"written for {package} {written_for}, but {package} {found} is installed. Read the patch "
                "against the new version's Sanic driver, adapt or delete it, run its test.")


def install(sio: Any) -> None:
    """Give ``sio`` (a python-socketio ``AsyncServer`` in Sanic mode, not yet attached) the fixed route."""
    check()
    drivers = dict(sio.eio._async)  # this server's copy: other servers keep the library's
    library_websocket = drivers["websocket"]

    class EndedWebSocket(library_websocket):  # type: ignore[misc,valid-type]
        """The library's WebSocket wrapper, answering nothing once the socket has ended."""

        async def __call__(self, environ: Any) -> None:
            await super().__call__(environ)
            return None

    def create_route(app: Any, engineio_server: Any, engineio_endpoint: str) -> None:
        async def clinic_socketio_request(request: Any, *args: Any, **kwargs: Any) -> Any:
            return await engineio_server.handle_request(request, *args, **kwargs)

        clinic_socketio_request.is_websocket = True  # type: ignore[attr-defined]
        app.add_route(clinic_socketio_request, engineio_endpoint, methods=["GET", "POST", "OPTIONS"],
                      name=ROUTE_NAME)
        app.enable_websocket()

    drivers.update(websocket=EndedWebSocket, create_route=create_route)
    sio.eio._async = drivers
