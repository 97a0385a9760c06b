"""Cheaper custom-action calls from the Rasa server (measured in docs/PERFORMANCE.md).

Two independent fixes for Rasa 3.6's client side of the action server, each a
small, behaviour-preserving replacement of one method:

``install_cached_validator()``
    ``RemoteAction._validate_action_result`` checks every action server reply
    with ``jsonschema.validate(reply, schema)``. That function first validates
    the *schema itself* against the draft 2020-12 meta-schema (``check_schema``)
    and builds a new validator, on every call; profiling showed about a third
    of the Rasa server's CPU there. Here the schema is checked once and the
    validator is kept; each reply is still validated against the same schema
    and a bad reply raises the same ``ValidationError`` (the best match, with
    Rasa's explanatory message appended), so nothing changes for callers.

``install_keepalive()``
    ``EndpointConfig.request`` opens a new ``aiohttp.ClientSession`` (a new
    connection pool, DNS cache and TCP connection) for every call. Here each
    endpoint keeps one session per event loop, so calls reuse a kept-alive
    connection. Idle connections are closed after 2 s, before the action
    server's (Sanic's) 5 s keep-alive timeout, so a request is never written on
    a connection the server is closing. Applies to every ``EndpointConfig``
    request the Rasa server makes (action server, and a remote NLG or model
    server if one is ever configured); headers, auth, params, timeout and
    error handling are Rasa's own.

``install()`` applies both; each is idempotent. The module changes nothing when
it is merely imported. Written for Rasa 3.6.21 (each refuses another:
addons/rasa_patches/__init__.py).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any, Dict, Optional, Text

from addons.rasa_patches import require

logger = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 2.0  # below Sanic's KEEP_ALIVE_TIMEOUT (5 s) on the action server
_installed: set = set()


def install_cached_validator() -> None:
    if "validator" in _installed:
        return
    require("action_calls")
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    validator_cache: Dict[str, Any] = {}

    def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
        validator = validator_cache.get("v")
        if validator is None:
            schema = self.action_response_format_spec()
            cls = validator_for(schema)
            cls.check_schema(schema)  # once, as jsonschema.validate does on every call
            validator = validator_cache["v"] = cls(schema)
        error = best_match(validator.iter_errors(result))
        if error is not None:
            error.message += (
                f". Failed to validate Action server response from API, "
                f"make sure your response from the Action endpoint is valid. "
                f"For more information about the format visit "
                f"{DOCS_BASE_URL}/custom-actions"
            )
            raise error
        return True

    RemoteAction._validate_action_result = _validate_action_result
    _installed.add("validator")


def install_keepalive() -> None:
    if "keepalive" in _installed:
        return
    require("action_calls")
    import aiohttp
    from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
    from rasa.utils.endpoints import EndpointConfig

    original_session = EndpointConfig.session

    class _Borrowed:
        """``async with`` a shared session without closing it at the end."""

        def __init__(self, session: aiohttp.ClientSession) -> None:
            self._session = session

        async def __aenter__(self) -> aiohttp.ClientSession:
            return self._session

        async def __aexit__(self, *exc: Any) -> None:
            return None

    def shared_session(self: EndpointConfig) -> Any:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside an event loop: Rasa's own behaviour
            return original_session(self)
        # one session per event loop, kept on the endpoint (EndpointConfig is not hashable)
        per_loop = self.__dict__.setdefault("_keepalive_sessions", weakref.WeakKeyDictionary())
        session: Optional[aiohttp.ClientSession] = per_loop.get(loop)
        if session is None or session.closed:
            # Rasa's EndpointConfig.session(), plus a connector that keeps connections alive
            auth = (aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
                    if self.basic_auth else None)
            session = aiohttp.ClientSession(
                headers=self.headers, auth=auth,
                timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
                connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_SECONDS))
            per_loop[loop] = session
        return _Borrowed(session)

    # EndpointConfig.request does `async with self.session() as session:`
    EndpointConfig.session = shared_session
    _installed.add("keepalive")


def install() -> None:
    install_cached_validator()
    install_keepalive()
