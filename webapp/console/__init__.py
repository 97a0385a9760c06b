"""The staff console, mounted under ``/staff/`` of the web app.

``register(app)`` adds its routes and two middlewares that cover every path
under ``/staff`` (also routes added later, anywhere):

* on the way in: deny by default. A route is open to anonymous visitors only
  when it says so (``ctx_console_access="public"``: the sign-in form) or is a
  static file under ``/staff/static/``; ``"admin"`` routes need an admin,
  ``"editor"`` routes (changes to the training data) an editor or an admin;
  everything else needs a signed-in account. Every request other than
  GET/HEAD/OPTIONS must carry the session's CSRF token (form field
  ``csrf_token`` or header ``X-CSRF-Token``) and must not come from another
  origin, or it gets 403.
* on the way out: no caching of pages, a strict Content-Security-Policy, no
  framing, no referrer to other sites.

Without ``SESSION_SECRET`` (32+ characters) the console does not start: every
``/staff`` path answers 503 and says why, and the rest of the site runs on.
"""

from __future__ import annotations

import logging
import urllib.parse

from sanic import Blueprint, Sanic, response
from sanic.request import Request

from clinic import settings
from clinic.models import EDITOR_ROLES

logger = logging.getLogger("webapp.console")

PREFIX = "/staff"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SECURITY_HEADERS = {
    # connect-src 'self': the live console's event stream (webapp/console/live.py).
    "Content-Security-Policy": ("default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; "
                                "connect-src 'self'; "
                                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Not "no-referrer": with it, browsers send "Origin: null" on the console's own forms.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def is_console_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def access_of(request: Request) -> str:
    """Who may use the route this request matched: "public", "staff", "editor" or "admin"."""
    route = getattr(request, "route", None)
    if route is None:
        return "staff"
    if getattr(route.ctx, "static", False) and request.path.startswith(PREFIX + "/static/"):
        return "public"
    access = getattr(route.ctx, "console_access", "staff")
    return access if access in ("public", "staff", "editor", "admin") else "staff"


def _same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site (defence in depth:
    the CSRF token and SameSite=Strict cookies are the main protection)."""
    origin = request.headers.get("origin")
    if origin in (None, "", "null"):  # not said (or hidden by a privacy setting): the token decides
        return True
    # Behind a proxy that rewrites Host, name the console's public origin(s) here.
    allowed = set(settings.get_list("CONSOLE_ORIGINS"))
    if origin.rstrip("/") in allowed:
        return True
    hosts = {request.headers.get("host", "")}
    hosts.update(h.strip() for h in request.headers.get("x-forwarded-host", "").split(",") if h.strip())
    return urllib.parse.urlsplit(origin).netloc in hosts


def _refuse(status: int, message: str) -> response.HTTPResponse:
    return response.text(message, status=status)


def register(app: Sanic) -> None:
    # Imported here, not at the top: ``python -m webapp.console.accounts`` (and
    # ``.retention``) then run without this package having imported them first.
    from webapp.console.auth import SESSION_COOKIE, Auth, AuthConfig, ConsoleConfigError, tokens_equal

    try:
        config = AuthConfig.from_env()
    except ConsoleConfigError as e:
        logger.error("Staff console disabled: %s", e)
        _register_disabled(app, str(e))
        return

    from webapp.console.views import ConsoleState, build_blueprint

    state = ConsoleState(Auth(config))
    app.ctx.staff_console = state
    app.blueprint(build_blueprint(state))
    from webapp.console import analytics, inbox  # analytics page, learning inbox (docs/ANALYTICS.md)

    from webapp.console import totp  # two-step sign-in (required for admins)

    app.blueprint(totp.build_blueprint(state))
    app.blueprint(analytics.build_blueprint(state))
    app.blueprint(inbox.build_blueprint(state))
    from webapp.console import live  # live console, takeover, front desk (docs/LIVE_CHAT.md)

    live.register(app, state)

    @app.on_request
    async def console_guard(request: Request):
        if not is_console_path(request.path):
            return None
        request.ctx.account = None
        request.ctx.staff_session = None
        access = access_of(request)
        if access == "public" and request.path.startswith(PREFIX + "/static/"):
            return None
        resolved = state.auth.resolve(request.cookies.get(SESSION_COOKIE))
        if resolved:
            request.ctx.account, request.ctx.staff_session = resolved
        unsafe = request.method not in SAFE_METHODS
        if unsafe and not _same_origin(request):
            return _refuse(403, "Refused: cross-origin request.")
        if access == "public":
            return None  # the sign-in form checks its own token (there is no session yet)
        if not resolved:
            if not unsafe:
                target = request.path + (f"?{request.query_string}" if request.query_string else "")
                return response.redirect(f"{PREFIX}/login?" + urllib.parse.urlencode({"next": target}))
            return _refuse(403, "Refused: sign in first.")
        if (totp.is_required(request.ctx.account.role) and not request.path.startswith(totp.SETUP_PATHS)
                and not totp.is_enabled(request.ctx.account.id, state.clinic_url)):
            if not unsafe:
                return response.redirect(f"{PREFIX}/totp")
            return _refuse(403, "Refused: set up two-step sign-in first (/staff/totp).")
        if access == "admin" and request.ctx.account.role != "admin":
            return _refuse(403, "Refused: this page is for admins.")
        if access == "editor" and request.ctx.account.role not in EDITOR_ROLES:
            return _refuse(403, "Refused: only content editors and admins change the training data.")
        if unsafe:
            sent = request.headers.get("x-csrf-token") or (request.form.get("csrf_token")
                                                            if request.form else None)
            if not tokens_equal(sent, request.ctx.staff_session.csrf_token):
                logger.warning("CSRF token missing or wrong: %s %s by '%s'", request.method,
                               request.path, request.ctx.account.username)
                return _refuse(403, "Refused: the form had expired or was not sent from the console. "
                                    "Reload the page and try again.")
        return None

    @app.on_response
    async def console_headers(request: Request, resp):
        if resp is None or not is_console_path(request.path):
            return
        for name, value in SECURITY_HEADERS.items():
            resp.headers.setdefault(name, value)
        if not request.path.startswith(PREFIX + "/static/"):
            resp.headers["Cache-Control"] = "no-store"


def _register_disabled(app: Sanic, reason: str) -> None:
    bp = Blueprint("staff_console_disabled", url_prefix=PREFIX)
    message = ("The staff console is not running: " + reason +
               ". Set SESSION_SECRET and restart the web app.")

    @bp.route("/", methods=["GET", "POST"])
    async def disabled_root(_: Request):
        return _refuse(503, message)

    @bp.route("/<rest:path>", methods=["GET", "POST"])
    async def disabled(_: Request, rest: str):
        return _refuse(503, message)

    app.blueprint(bp)
