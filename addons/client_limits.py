"""Per-address limits of the widget's Socket.IO channel: open connections and messages a minute.

Why: the channel is public; without a limit one address could hold thousands of sockets or send
messages as fast as the Rasa server parses them, and every visitor, one in crisis included,
would wait behind it. The address is the socket's peer, or, behind a load balancer, the entry
``TRUSTED_PROXY_COUNT`` places from the right of ``X-Forwarded-For`` (or ``REAL_IP_HEADER``),
as in the web app; by default no header is trusted. Each Rasa server counts on its own (an
address spread over two servers gets up to twice the limit).
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any, Deque, Dict, Mapping, Optional

from clinic import settings


def client_address(peer: str, headers: Mapping[str, str]) -> str:
    """The client's address: the peer unless a proxy in front is trusted to say otherwise."""
    real = settings.get("REAL_IP_HEADER").strip()
    if real:
        value = headers.get(real.lower()) or headers.get(real)
        if value and value.strip():
            return value.strip()[:64]
    count = settings.get_int("TRUSTED_PROXY_COUNT")
    if count > 0:
        forwarded = [p.strip() for p in (headers.get("x-forwarded-for") or "").split(",") if p.strip()]
        if len(forwarded) >= count:
            return forwarded[-count][:64]
    return (peer or "unknown")[:64]


def address_of_environ(environ: Any) -> str:
    """The client address of a Socket.IO connection (python-socketio's ``environ`` on Sanic)."""
    if not isinstance(environ, dict):
        return "unknown"
    request = environ.get("sanic.request")
    peer = str(getattr(request, "ip", "") or "") if request is not None else ""
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items()
               if isinstance(k, str) and k.startswith("HTTP_") and isinstance(v, str)}
    return client_address(peer or str(environ.get("REMOTE_ADDR") or ""), headers)


class ConnectionLimit:
    """At most ``limit`` open connections per address."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: Dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, address: str) -> bool:
        with self._lock:
            if self._open.get(address, 0) >= self.limit:
                return False
            self._open[address] = self._open.get(address, 0) + 1
            return True

    def release(self, address: str) -> None:
        with self._lock:
            left = self._open.get(address, 0) - 1
            if left > 0:
                self._open[address] = left
            else:
                self._open.pop(address, None)

    def open(self, address: str) -> int:
        return self._open.get(address, 0)


class MessageRate:
    """At most ``per_minute`` messages per address in any 60 seconds (a sliding window)."""

    WINDOW = 60.0

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: Dict[str, Deque[float]] = {}
        self._lock = threading.Lock()
        self._calls = 0

    def allow(self, address: str, now: Optional[float] = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._calls += 1
            if self._calls % 1000 == 0:  # forget addresses that went quiet
                for key in [k for k, q in self._seen.items() if not q or q[-1] <= now - self.WINDOW]:
                    del self._seen[key]
            seen = self._seen.setdefault(address, collections.deque())
            while seen and seen[0] <= now - self.WINDOW:
                seen.popleft()
            if len(seen) >= self.per_minute:
                return False
            seen.append(now)
            return True


def from_settings() -> "tuple[ConnectionLimit, MessageRate]":
    return (ConnectionLimit(settings.get_int("WIDGET_MAX_CONNECTIONS_PER_ADDRESS", minimum=1)),
            MessageRate(settings.get_int("WIDGET_MESSAGES_PER_MINUTE", minimum=1)))
