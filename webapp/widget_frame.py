"""The chat widget's frame: ``GET /widget/frame``, the conversation on the assistant's own origin.

The clinic's page embeds ``/static/widget/clinic-chat.js``, which adds only a launcher
and an iframe of this page. Messages, quick replies and the conversation's
sessionStorage all belong to this origin, so scripts on the clinic's page (analytics,
session-replay tags) cannot read them: the HHS concern about tracking technologies on
pages where people discuss their health.

The page is sent with a Content-Security-Policy that lets it contact only this site and
the Rasa server (the widget's WebSocket), and be framed only by the clinic's own sites
(``WIDGET_EMBED_ORIGINS``, by default ``ALLOWED_ORIGINS``). Options the embedding page
may set (colour, title, first payload) travel in the URL fragment, which no server sees.
"""

from __future__ import annotations

from typing import List
from urllib.parse import urlsplit

from sanic import Sanic, response
from sanic.request import Request

from clinic import settings
from webapp import site


def embed_origins() -> List[str]:
    """The sites allowed to embed the chat frame."""
    out = []
    for origin in settings.get_list("WIDGET_EMBED_ORIGINS"):
        parts = urlsplit(origin)
        if parts.scheme in ("http", "https") and parts.netloc:
            out.append(f"{parts.scheme}://{parts.netloc}")
    return out


def content_security_policy(rasa: str, ancestors: List[str]) -> str:
    parts = urlsplit(rasa)
    ws = "wss" if parts.scheme == "https" else "ws"
    return "; ".join([
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        f"connect-src 'self' {parts.scheme}://{parts.netloc} {ws}://{parts.netloc}",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors " + " ".join(["'self'"] + ancestors),
    ])


def register(app: Sanic) -> None:
    """Add ``/widget/frame`` (its script and styles are static files of /static/widget/)."""
    rasa = site.rasa_url()
    ancestors = embed_origins()
    headers = {
        "Content-Security-Policy": content_security_policy(rasa, ancestors),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cache-Control": "no-cache",
    }
    max_chars = settings.get_int("MAX_MESSAGE_CHARS", minimum=1)

    @app.get("/widget/frame", name="widget_frame")
    async def frame(_: Request):
        clinic = site.clinic_details()
        html = site.render("widget/frame.html", clinic=clinic, rasa_url=rasa, primary_color=site.PRIMARY_COLOR,
                           embed_origins=" ".join(ancestors), max_chars=max_chars)
        return response.html(html, headers=headers)
