"""A Socket.IO client that talks to the Rasa server the way the chat widget does:
WebSocket only, the site's Origin header, ``session_request`` then ``user_uttered``."""

from __future__ import annotations

import queue
import time
from typing import Any, List, Optional, Tuple

import socketio


class Widget:
    def __init__(self, base_url: str, origin: str, timeout: float = 15.0) -> None:
        self.events: "queue.Queue[Tuple[str, Any]]" = queue.Queue()
        self.timeout = timeout
        # websocket-client sends an Origin of its own: set it there (a header would make two).
        self.sio = socketio.Client(reconnection=False, websocket_extra_options={"origin": origin})
        for name in ("bot_uttered", "session_confirm", "error"):
            self.sio.on(name, self._recorder(name))
        self.sio.on("disconnect", lambda *args: self.events.put(("disconnect", None)))
        self.sio.connect(base_url, transports=["websocket"],
                         socketio_path="/socket.io", wait_timeout=timeout)
        self.session_id: Optional[str] = None

    def _recorder(self, name: str):
        def record(data: Any = None) -> None:
            self.events.put((name, data))
        return record

    @property
    def connected(self) -> bool:
        return self.sio.connected

    def next_event(self, timeout: Optional[float] = None) -> Tuple[str, Any]:
        return self.events.get(timeout=self.timeout if timeout is None else timeout)

    def drain(self, quiet: float = 0.15) -> List[Tuple[str, Any]]:
        """Events that arrive until none has for ``quiet`` seconds."""
        out = []
        while True:
            try:
                out.append(self.events.get(timeout=quiet))
            except queue.Empty:
                return out

    def start_session(self, session_id: Optional[str] = None) -> str:
        self.sio.emit("session_request", {"session_id": session_id})
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            name, data = self.next_event()
            if name == "session_confirm":
                self.session_id = data if isinstance(data, str) else data.get("session_id")
                return self.session_id
        raise TimeoutError("no session_confirm")

    def emit(self, data: Any, event: str = "user_uttered") -> None:
        self.sio.emit(event, data)

    def ask(self, text: str, quiet: float = 0.3) -> List[str]:
        """Send a message as the widget does; the texts of the replies."""
        self.emit({"message": text, "session_id": self.session_id})
        first = self.next_event()
        events = [first] + self.drain(quiet)
        return [data.get("text", "") for name, data in events if name == "bot_uttered"]

    def close(self) -> None:
        try:
            self.sio.disconnect()
        except Exception:
            pass
