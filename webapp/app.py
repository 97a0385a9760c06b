"""Builds the Sanic app from its two parts: the public site and the staff console.

Every response says ``X-Content-Type-Options: nosniff``, and the static files
(``/static/...``) get a Content-Security-Policy that lets nothing run if one is ever
opened as a document (an SVG or HTML file among them). Behind a load balancer the
client's address (sign-in throttling, the audit trail) comes from ``X-Forwarded-For``
only when ``TRUSTED_PROXY_COUNT`` says how many proxies append to it, or from
``REAL_IP_HEADER``; by default no header is trusted (a visitor could forge it).
"""

from __future__ import annotations

from sanic import Sanic, response
from sanic.request import Request

from clinic import settings

from webapp import console, site, widget_frame


# Static files are scripts, styles and images: as a document, none of them may run anything.
STATIC_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"


def create_app(name: str = "clinic_web") -> Sanic:
    app = Sanic(name)
    app.config.REQUEST_MAX_SIZE = 1_000_000
    # Sanic's own proxy handling: request.remote_addr and request.scheme follow the headers
    # only when configured (never by default).
    proxies = settings.get_int("TRUSTED_PROXY_COUNT")
    app.config.PROXIES_COUNT = proxies or None
    app.config.REAL_IP_HEADER = settings.get("REAL_IP_HEADER").strip() or None
    site.register(app)
    widget_frame.register(app)  # the chat widget's frame (the conversation on this origin)
    console.register(app)

    @app.get("/healthz")
    async def healthz(_: Request):
        return response.json({"status": "ok"})

    @app.on_response
    async def static_headers(request: Request, resp) -> None:
        if resp is None:
            return
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        if request.path.startswith("/static/"):
            resp.headers.setdefault("Content-Security-Policy", STATIC_CSP)

    return app
