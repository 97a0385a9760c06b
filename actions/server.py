"""Runs the action server: Rasa SDK's app plus a token-protected content reload.

``python -m actions.server`` refuses to start when the approved content is
malformed, with a message naming the bad entry, so a broken edit never serves.

Only the Rasa server may run actions: ``POST /webhook`` (and ``GET /actions``)
need ``ACTION_SERVER_TOKEN``, which Rasa sends as ``?token=`` (``endpoints.yml``,
``action_endpoint.token``); a forged call gets 401 and runs nothing (without this
anyone who reached the port could store a crisis-priority callback request for an
invented person). ``/health`` and ``/content/version`` stay open (no visitor data);
``/content/reload`` checks ``RASA_AUTH_TOKEN`` itself. Without a token the action
server does not start.

``ACTION_DB_URL`` (production) gives the action server its own database role,
limited to what it needs (``clinic.db_roles``); unset, it uses ``CLINIC_DB_URL``.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys

from rasa_sdk.endpoint import create_app
from sanic import response
from sanic.exceptions import SanicException
from sanic.request import Request

from clinic import content, routing, settings
from clinic.logfiles import error_summary, where

logger = logging.getLogger("actions.server")

# Paths anyone may call; everything else needs ACTION_SERVER_TOKEN (deny by default).
OPEN_PATHS = frozenset({"/health", "/content/version", "/content/reload"})


def token_matches(given: str, expected: str) -> bool:
    """Constant-time comparison that never raises: a non-ASCII token is simply wrong (not a 500)."""
    if not expected or not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


def _token_of(request: Request) -> str:
    """The token of a request: ``?token=`` (how Rasa sends it) or ``Authorization: Bearer``."""
    return request.args.get("token") or request.headers.get("Authorization", "").removeprefix("Bearer ")


def build_app(cors_origins: list[str] | None = None):
    """The Rasa SDK app, with ``POST /content/reload`` for ``make reload``."""
    app = create_app("actions", cors_origins=cors_origins or [])
    # The Rasa server sends the whole conversation with every call (about 3 KB a
    # turn): never inherit the Rasa server's SANIC_REQUEST_MAX_SIZE (64 KB).
    app.config.REQUEST_MAX_SIZE = settings.get_int("ACTION_REQUEST_MAX_SIZE", minimum=1)

    @app.on_request
    async def only_the_rasa_server(request: Request):
        if request.path in OPEN_PATHS:
            return None
        if not token_matches(_token_of(request), settings.get("ACTION_SERVER_TOKEN")):
            logger.warning("Refused %s %s from %s: no valid action server token", request.method,
                           request.path[:100], request.remote_addr or request.ip)
            return response.json({"error": "a valid token is required"}, status=401)
        return None

    @app.exception(Exception)
    async def action_failed(request: Request, exception: Exception):
        """In place of Rasa SDK's handler, which answers with the whole request (the conversation:
        the visitor's messages, name, phone number, e-mail), and the Rasa server logs that answer."""
        if isinstance(exception, SanicException):
            return app.error_handler.default(request, exception)
        logger.error("Action call failed: %s\n%s", error_summary(exception), where(exception))
        return response.json({"error": "the action failed (see the action server's log)"}, status=500)

    @app.post("/content/reload")
    async def reload_content(request: Request):
        if not token_matches(_token_of(request), settings.get("RASA_AUTH_TOKEN")):
            return response.json({"error": "a valid token is required"}, status=401)
        try:
            routing.reload()
            fresh = content.reload()
        except (content.ContentError, routing.RoutingError) as e:
            return response.json({"error": str(e), "kept": "previous content"}, status=422)
        return response.json({"status": "reloaded", "entries": len(fresh.entries)})

    @app.get("/content/version")
    async def content_version(_: Request):
        current = content.current()
        return response.json({cid: e.version for cid, e in current.entries.items()})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=settings.get_int("ACTION_PORT", minimum=1))
    parser.add_argument("--host", default=settings.get("ACTION_HOST"))
    parser.add_argument("--workers", type=int, default=settings.get_int("ACTION_WORKERS", minimum=1))
    args = parser.parse_args()
    logging.basicConfig(level=settings.get("LOG_LEVEL"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if len(settings.get("ACTION_SERVER_TOKEN")) < 16:
        sys.exit("Action server not started: ACTION_SERVER_TOKEN is unset or shorter than 16 characters "
                 "(the Rasa server sends it with every call; scripts/env.sh generates one in .env).")
    if settings.get("ACTION_DB_URL"):
        # Everything in this process (callback store, live chat) opens the clinic database
        # through clinic.models with CLINIC_DB_URL: the action server's limited role.
        os.environ["CLINIC_DB_URL"] = settings.get("ACTION_DB_URL")
    try:
        loaded = content.current()
        routing.current()
    except (content.ContentError, routing.RoutingError) as e:
        what = "approved content is" if isinstance(e, content.ContentError) else "the routing table is"
        sys.exit(f"Action server not started: {what} invalid.\n  {e}\n"
                 "Fix it, then run `make validate`.")
    logger.info("Approved content: %d entries.", len(loaded.entries))
    app = build_app()
    app.run(host=args.host, port=args.port, workers=args.workers, access_log=False,
            motd=False)


if __name__ == "__main__":
    main()
