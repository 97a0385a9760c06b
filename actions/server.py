"""Runs the action server: Rasa SDK's app plus a token-protected content reload.

``python -m actions.server`` refuses to start when the approved content is
malformed, with a message naming the bad entry, so a broken edit never serves.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import sys

from rasa_sdk.endpoint import create_app
from sanic import response
from sanic.request import Request

from clinic import content, routing, settings

logger = logging.getLogger("actions.server")


def build_app(cors_origins: list[str] | None = None):
    """The Rasa SDK app, with ``POST /content/reload`` for ``make reload``."""
    app = create_app("actions", cors_origins=cors_origins or [])
    # The Rasa server sends the whole conversation with every call (about 3 KB a
    # turn): never inherit the Rasa server's SANIC_REQUEST_MAX_SIZE (64 KB).
    app.config.REQUEST_MAX_SIZE = settings.get_int("ACTION_REQUEST_MAX_SIZE", minimum=1)

    @app.post("/content/reload")
    async def reload_content(request: Request):
        expected = settings.get("RASA_AUTH_TOKEN")
        given = request.args.get("token") or request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not expected or not hmac.compare_digest(given, expected):
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
    try:
        loaded = content.current()
        routing.current()
    except (content.ContentError, routing.RoutingError) as e:
        sys.exit(f"Action server not started: approved content or the routing table is invalid.\n  {e}\n"
                 "Fix it, then run `make validate`.")
    logger.info("Approved content: %d entries.", len(loaded.entries))
    app = build_app()
    app.run(host=args.host, port=args.port, workers=args.workers, access_log=False,
            motd=False)


if __name__ == "__main__":
    main()
