"""The public site: the demo clinic page at ``/`` with the chat widget, and its static files.

The page's wording comes only from the clinic's article; contact details come
from ``content/clinic.yml`` (placeholders until the clinic fills them in). The
widget is embedded with one script tag, exactly as the clinic would embed it
on its own site; it talks to the Rasa server at ``RASA_URL``.

Every page is sent with a Content-Security-Policy that lets the browser
contact only this site and the Rasa server: no fonts, CDNs or analytics.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, Mapping
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sanic import Sanic, response
from sanic.request import Request

from clinic import content, settings

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
# The widget's primary colour on the demo page (white text on it: 7.4:1).
PRIMARY_COLOR = "#0f5c63"

_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def rasa_url() -> str:
    """The Rasa server the visitor's browser talks to, without a trailing slash.

    ``RASA_URL`` by default; ``WIDGET_RASA_URL`` when browsers must use another
    address than this app does (a public host name in front of the Rasa servers).
    """
    name = "WIDGET_RASA_URL" if settings.get("WIDGET_RASA_URL") != settings.get("RASA_URL") else "RASA_URL"
    url = settings.get(name).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{name} must be an http(s) URL, got {url!r}")
    return url


_last_clinic: Dict[str, str] = {}


def clinic_details() -> Dict[str, str]:
    """Name, city and contact details from content/clinic.yml (checked by ApprovedContent).

    Read on every page view, so an edit shows without a restart; if the file is
    broken mid-edit, the last good copy is kept (and the error logged).
    """
    global _last_clinic
    try:
        _last_clinic = content.load_clinic()
    except content.ContentError:
        if not _last_clinic:
            raise
        logger.exception("content/clinic.yml could not be read; showing the last good copy")
    return _last_clinic


def content_security_policy(rasa: str) -> str:
    """Only this site, plus the Rasa server for the widget's WebSocket."""
    parts = urlsplit(rasa)
    ws_scheme = "wss" if parts.scheme == "https" else "ws"
    connect = f"'self' {parts.scheme}://{parts.netloc} {ws_scheme}://{parts.netloc}"
    return "; ".join([
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        f"connect-src {connect}",
        "frame-src 'self'",  # the chat widget's frame (/widget/frame, webapp/widget_frame.py)
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


SECURITY_HEADERS: Mapping[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "X-Frame-Options": "DENY",
}


def render(template: str, **context) -> str:
    return _env.get_template(template).render(**context)


def register(app: Sanic) -> None:
    """Add the public routes: ``/`` and the static files of the widget and the site."""
    rasa = rasa_url()
    max_chars = settings.get_int("MAX_MESSAGE_CHARS", minimum=1)
    clinic_details()  # fail at start-up, not on the first visitor, if it is broken
    headers = dict(SECURITY_HEADERS)
    headers["Content-Security-Policy"] = content_security_policy(rasa)

    app.static("/static/widget", str(STATIC / "widget"), name="site_widget_static")
    app.static("/static/site", str(STATIC / "site"), name="site_static")

    @app.get("/", name="site_index")
    async def index(_: Request):
        html = render("site/index.html", clinic=clinic_details(), rasa_url=rasa,
                      primary_color=PRIMARY_COLOR, max_message_chars=max_chars)
        return response.html(html, headers={**headers, "Cache-Control": "no-cache"})
