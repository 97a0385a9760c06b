"""Builds the Sanic app from its two parts: the public site and the staff console."""

from __future__ import annotations

from sanic import Sanic, response
from sanic.request import Request

from webapp import console, site, widget_frame


def create_app(name: str = "clinic_web") -> Sanic:
    app = Sanic(name)
    app.config.REQUEST_MAX_SIZE = 1_000_000
    site.register(app)
    widget_frame.register(app)  # the chat widget's frame (the conversation on this origin)
    console.register(app)

    @app.get("/healthz")
    async def healthz(_: Request):
        return response.json({"status": "ok"})

    return app
