"""The console's pages. Access rules live in ``webapp.console.register`` (deny by default);
each route here only says when it is ``public`` or ``admin``."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import urllib.parse
import zoneinfo
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Blueprint, response
from sanic.request import Request

from clinic import content, settings
from clinic.models import REVIEW_STATUSES, STATUSES, ConversationReview, session_factory, utcnow
from webapp.console import accounts, audit, export, queue, retention
from webapp.console.auth import (LOGIN_COOKIE, SECOND_FACTOR, SECOND_FACTOR_COOKIE, SECOND_FACTOR_SECONDS,
                                 SESSION_COOKIE, Auth, tokens_equal)
from webapp.console.conversations import ConversationFilter, Row, TrackerReader

logger = logging.getLogger("webapp.console")

WEBAPP = Path(__file__).resolve().parent.parent
TEMPLATES = WEBAPP / "templates" / "console"
STATIC = WEBAPP / "static" / "console"
PER_PAGE = 25
AUDIT_PER_PAGE = 50
MAX_NOTE = 4000
MAX_TAGS = 255

MESSAGES = {
    "review_saved": "Saved.",
    "status_changed": "Status changed.",
    "account_changed": "Account changed.",
    "password_changed": "Password changed. Your other sessions were signed out.",
    "signed_out": "You are signed out.",
    "expired": "Your session ended. Please sign in again.",
}


def _tz() -> dt.tzinfo:
    name = settings.get("CLINIC_TZ")
    try:
        return zoneinfo.ZoneInfo(name)
    except Exception:
        logger.warning("Unknown CLINIC_TZ %r: showing times in UTC", name)
        return dt.timezone.utc


class ConsoleState:
    """What the console's pages share: sign-in, the tracker reader, templates, time zone."""

    def __init__(self, auth: Auth, tracker_url: Optional[str] = None, clinic_url: Optional[str] = None) -> None:
        self.auth = auth
        self.clinic_url = clinic_url
        self.reader = TrackerReader(tracker_url)
        self.tz = _tz()
        self.env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                               autoescape=select_autoescape(default=True, default_for_string=True))
        self.env.filters["ts"] = self.fmt_ts
        self.env.filters["dt"] = self.fmt_dt
        self.env.globals["tz_name"] = getattr(self.tz, "key", "UTC")

    # --- time ------------------------------------------------------------------
    def fmt_ts(self, value: Any) -> str:
        """Epoch seconds (tracker) or a naive UTC datetime (clinic DB) in clinic time."""
        if value is None or value == "" or value == 0:
            return ""
        if isinstance(value, dt.datetime):
            return self.fmt_dt(value)
        when = dt.datetime.fromtimestamp(float(value), dt.timezone.utc).astimezone(self.tz)
        return when.strftime("%Y-%m-%d %H:%M:%S")

    def fmt_dt(self, value: Optional[dt.datetime]) -> str:
        if value is None:
            return ""
        return value.replace(tzinfo=dt.timezone.utc).astimezone(self.tz).strftime("%Y-%m-%d %H:%M")

    def day_start(self, text: str) -> Optional[dt.datetime]:
        """A YYYY-MM-DD date in clinic time: the start of that day as an aware datetime."""
        try:
            day = dt.date.fromisoformat(text.strip())
        except ValueError:
            return None
        return dt.datetime(day.year, day.month, day.day, tzinfo=self.tz)

    # --- pages -----------------------------------------------------------------
    def render(self, request: Request, template: str, status: int = 200, **ctx: Any) -> response.HTTPResponse:
        session = getattr(request.ctx, "staff_session", None)
        html = self.env.get_template(template).render(
            me=getattr(request.ctx, "account", None),
            csrf=session.csrf_token if session else "",
            path=request.path,
            message=MESSAGES.get(request.args.get("msg", "")),
            **ctx,
        )
        return response.html(html, status=status)


def _ip(request: Request) -> str:
    return str(request.remote_addr or request.ip or "")


def _flag(args: Any, name: str) -> bool:
    return (args.get(name) or "") in ("1", "on", "true", "yes")


def _page_number(args: Any) -> int:
    try:
        return max(1, int(args.get("page") or 1))
    except ValueError:
        return 1


def _safe_next(target: Optional[str]) -> str:
    """Only console paths: a sign-in link must not send anyone elsewhere."""
    if not target or not target.startswith("/staff/") or target.startswith("//") or "\\" in target:
        return "/staff/conversations"
    if target.startswith("/staff/login") or target.startswith("/staff/logout"):
        return "/staff/conversations"
    return target


def _pages(total: int, page: int, per_page: int) -> Dict[str, int]:
    last = max(1, (total + per_page - 1) // per_page)
    page = min(page, last)
    return {"page": page, "last": last, "total": total, "per_page": per_page,
            "first_item": 0 if total == 0 else (page - 1) * per_page + 1,
            "last_item": min(total, page * per_page)}


def _with(args: Dict[str, str], **changes: Any) -> str:
    merged = {k: v for k, v in {**args, **{k: str(v) for k, v in changes.items()}}.items() if v not in ("", None)}
    return "?" + urllib.parse.urlencode(merged)


FILTER_KEYS = ("crisis", "callback", "fallback", "declined", "from", "to", "content_id", "q", "status", "tag",
               "crisis_first")


def _filter_from(state: ConsoleState, args: Any) -> Tuple[ConversationFilter, Dict[str, str], List[str]]:
    """The filter in a query string or form; the raw values (to keep in links); errors."""
    raw = {k: (args.get(k) or "").strip() for k in FILTER_KEYS}
    errors: List[str] = []
    flt = ConversationFilter(
        crisis=_flag(args, "crisis"), callback=_flag(args, "callback"), fallback=_flag(args, "fallback"),
        content_id=raw["content_id"][:64], q=raw["q"][:200], tag=raw["tag"][:64],
        status=raw["status"] if raw["status"] in REVIEW_STATUSES else "",
        crisis_first=_flag(args, "crisis_first"), declined=_flag(args, "declined"))
    if raw["from"]:
        start = state.day_start(raw["from"])
        if start is None:
            errors.append("'From' is not a date (YYYY-MM-DD).")
        else:
            flt.since = start.timestamp()
    if raw["to"]:
        start = state.day_start(raw["to"])
        if start is None:
            errors.append("'To' is not a date (YYYY-MM-DD).")
        else:
            end = (start.replace(tzinfo=None) + dt.timedelta(days=1)).replace(tzinfo=state.tz)
            flt.until = end.timestamp()
    for key in ("crisis", "callback", "fallback", "declined", "crisis_first"):
        raw[key] = "1" if getattr(flt, key) else ""
    raw["status"] = flt.status
    return flt, raw, errors


def _reviews(url: Optional[str] = None) -> Dict[str, Tuple[str, str, str]]:
    with session_factory(url)() as session:
        return {r.sender_id: (r.status, r.note, r.tags) for r in session.query(ConversationReview)}


def _search(state: ConsoleState, flt: ConversationFilter) -> List[Row]:
    return state.reader.search(flt, queue.conversation_ids(state.clinic_url), _reviews(state.clinic_url))


def _clean_tags(text: str) -> str:
    tags: List[str] = []
    for tag in text.split(","):
        tag = " ".join(tag.split())[:40]
        if tag and tag.casefold() not in (t.casefold() for t in tags):
            tags.append(tag)
    return ", ".join(tags)[:MAX_TAGS]


def _csv_response(body: str, name: str) -> response.HTTPResponse:
    return response.text(body, content_type="text/csv; charset=utf-8",
                         headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _approved() -> Dict[str, Any]:
    try:
        return content.current().entries
    except Exception as e:  # the console still shows transcripts when the content file is broken
        logger.error("Approved content could not be loaded for the console: %s", e)
        return {}


def build_blueprint(state: ConsoleState) -> Blueprint:
    bp = Blueprint("staff_console", url_prefix="/staff")
    bp.static("/static", str(STATIC), name="console_static")
    auth = state.auth

    def actor(request: Request) -> Tuple[str, str]:
        return request.ctx.account.username, request.ctx.account.role

    # --- sign-in ------------------------------------------------------------------
    def login_page(request: Request, error: str = "", status: int = 200, username: str = ""):
        token, signed = auth.new_login_token()
        target = request.args.get("next")
        if request.method == "POST" and request.form:
            target = request.form.get("next") or target
        resp = state.render(request, "login.html", status=status, login_token=token, error=error,
                            username=username, next=_safe_next(target))
        auth.set_cookie(resp, LOGIN_COOKIE, signed, request.scheme, max_age=3600)
        return resp

    def code_page(request: Request, token: str, error: str = "", status: int = 200):
        target = request.args.get("next")
        if request.method == "POST" and request.form:
            target = request.form.get("next") or target
        return state.render(request, "login.html", status=status, login_token=token, error=error,
                            second_factor=True, next=_safe_next(target))

    def start_session(request: Request, account, ip: str, target: Optional[str]):
        if request.ctx.staff_session is not None:
            auth.end_session(request.ctx.staff_session.id)  # never keep a session across sign-ins
        cookie, _row = auth.start_session(account, ip)
        resp = response.redirect(_safe_next(target), status=303)
        auth.set_cookie(resp, SESSION_COOKIE, cookie, request.scheme, max_age=None)
        auth.clear_cookie(resp, LOGIN_COOKIE)
        auth.clear_cookie(resp, SECOND_FACTOR_COOKIE)
        return resp

    @bp.get("/login", ctx_console_access="public")
    async def login_form(request: Request):
        if request.ctx.account is not None:
            return response.redirect(_safe_next(request.args.get("next")))
        pending = auth.second_factor_from_cookie(request.cookies.get(SECOND_FACTOR_COOKIE))
        if pending is not None:  # the password was right: the code is next
            return code_page(request, pending[1])
        return login_page(request)

    @bp.post("/login", ctx_console_access="public")
    async def login_submit(request: Request):
        if request.form and "code" in request.form:
            return await code_submit(request)
        expected = auth.login_token_from_cookie(request.cookies.get(LOGIN_COOKIE))
        sent = request.form.get("csrf_token") if request.form else None
        if not tokens_equal(sent, expected):
            return response.text("Refused: the sign-in form had expired. Reload the page and try again.",
                                 status=403)
        username = (request.form.get("username") or "")[:64]
        password = (request.form.get("password") or "")[:accounts.MAX_PASSWORD]
        ip = _ip(request)
        account, error = await asyncio.to_thread(auth.sign_in, username, password, ip)
        if account is None:
            status = 429 if error.startswith("Too many") else 401
            return login_page(request, error=error, status=status, username=username)
        if error == SECOND_FACTOR:
            signed, _token = auth.new_second_factor(account)
            target = _safe_next(request.form.get("next"))
            resp = response.redirect("/staff/login?" + urllib.parse.urlencode({"next": target}), status=303)
            auth.set_cookie(resp, SECOND_FACTOR_COOKIE, signed, request.scheme, max_age=SECOND_FACTOR_SECONDS)
            auth.clear_cookie(resp, LOGIN_COOKIE)
            return resp
        return await asyncio.to_thread(start_session, request, account, ip, request.form.get("next"))

    async def code_submit(request: Request):
        """The second step: the code from the authenticator app (or a recovery code)."""
        pending = auth.second_factor_from_cookie(request.cookies.get(SECOND_FACTOR_COOKIE))
        if pending is None:
            return response.text("Refused: the sign-in took too long. Sign in again.", status=403)
        account_id, token = pending
        if not tokens_equal(request.form.get("csrf_token"), token):
            return response.text("Refused: the sign-in form had expired. Reload the page and try again.",
                                 status=403)
        ip = _ip(request)
        account, error = await asyncio.to_thread(auth.second_factor, account_id, request.form.get("code") or "",
                                                 ip)
        if account is None:
            return code_page(request, token, error=error, status=429 if error.startswith("Too many") else 401)
        return await asyncio.to_thread(start_session, request, account, ip, request.form.get("next"))

    @bp.post("/logout")
    async def logout(request: Request):
        who, role = actor(request)
        auth.end_session(request.ctx.staff_session.id)
        audit.record(who, "sign_out", f"account:{who}", ip=_ip(request), role=role, url=state.clinic_url)
        resp = response.redirect("/staff/login?msg=signed_out", status=303)
        auth.clear_cookie(resp, SESSION_COOKIE)
        return resp

    @bp.get("/password")
    async def password_form(request: Request):
        return state.render(request, "password.html", min_length=accounts.MIN_PASSWORD)

    @bp.post("/password")
    async def password_submit(request: Request):
        who, role = actor(request)
        current = request.form.get("current") or ""
        new = request.form.get("new") or ""
        again = request.form.get("again") or ""
        me = accounts.get(who, state.clinic_url)
        error = ""
        # Throttled like sign-in: a borrowed session must not become a way to guess the password.
        refused = await asyncio.to_thread(auth.refusal, who, _ip(request))
        if refused:
            return state.render(request, "password.html", status=429, min_length=accounts.MIN_PASSWORD,
                                error=f"Too many wrong passwords. Wait {refused[1]} second(s) and try again.")
        if me is None or not await asyncio.to_thread(accounts.verify_password, me.password_hash, current):
            error = "The current password is wrong."
            failures = await asyncio.to_thread(auth.count_failure, who, _ip(request))
            audit.record(who, "password_change_failed", f"account:{who}",
                         {"reason": "wrong current password", "consecutive_failures": failures},
                         ip=_ip(request), role=role, url=state.clinic_url)
        elif new != again:
            error = "The two new passwords differ."
        elif new == current:
            error = "The new password must differ from the current one."
        else:
            try:
                accounts.check_password(new, who)
            except accounts.AccountError as e:
                error = str(e).capitalize() + "."
        if error:
            return state.render(request, "password.html", status=400, error=error,
                                min_length=accounts.MIN_PASSWORD)
        await asyncio.to_thread(accounts.set_password, who, new, who, _ip(request), role, state.clinic_url,
                                "password_change", request.ctx.staff_session.id)
        return response.redirect("/staff/conversations?msg=password_changed", status=303)

    # --- conversations ----------------------------------------------------------------
    @bp.get("/")
    async def home(request: Request):
        return response.redirect("/staff/conversations")

    @bp.get("/conversations")
    async def conversation_list(request: Request):
        flt, raw, errors = _filter_from(state, request.args)
        rows = await asyncio.to_thread(_search, state, flt)
        pages = _pages(len(rows), _page_number(request.args), PER_PAGE)
        start = (pages["page"] - 1) * PER_PAGE
        unreviewed_crisis = sum(1 for r in await asyncio.to_thread(
            _search, state, ConversationFilter(crisis=True, status="new")))
        known_ids = sorted(set(_approved()) | set(state.reader.content_ids()))
        shown = rows[start:start + PER_PAGE]
        # Previews are visitors' words, and a text search reads every message: both audited.
        who, role = actor(request)
        audit.record(who, "conversation_search" if flt.q else "conversation_list", "conversations",
                     {"filters": {k: v for k, v in raw.items() if v}, "matches": len(rows), "page": pages["page"],
                      "shown": [r.summary.sender_id for r in shown]},
                     ip=_ip(request), role=role, url=state.clinic_url)
        return state.render(request, "conversations.html", rows=shown, pages=pages,
                            f=raw, errors=errors, content_ids=known_ids, unreviewed_crisis=unreviewed_crisis,
                            page_link=lambda n: _with(raw, page=n),
                            filter_items=[(k, v) for k, v in raw.items() if v],
                            review_statuses=REVIEW_STATUSES)

    @bp.post("/conversations/export")
    async def conversation_list_export(request: Request):
        who, role = actor(request)
        flt, raw, errors = _filter_from(state, request.form)
        if errors:
            return response.text(" ".join(errors), status=400)
        rows = await asyncio.to_thread(_search, state, flt)
        body = export.list_csv(rows, state.fmt_ts)
        audit.record(who, "export_list", "conversations",
                     {"filters": {k: v for k, v in raw.items() if v}, "conversations": len(rows)},
                     ip=_ip(request), role=role, url=state.clinic_url)
        stamp = dt.datetime.now(state.tz).strftime("%Y%m%d-%H%M")
        return _csv_response(body, export.filename(f"conversations-{stamp}"))

    @bp.get("/conversation")
    async def conversation_view(request: Request):
        who, role = actor(request)
        sender_id = (request.args.get("id") or "")[:255]
        items = await asyncio.to_thread(state.reader.transcript, sender_id) if sender_id else []
        if not items:
            return state.render(request, "error.html", status=404, title="Conversation not found",
                                detail="There is no conversation with this id (it may have been purged).")
        audit.record(who, "conversation_view", f"conversation:{sender_id}", ip=_ip(request), role=role,
                     url=state.clinic_url)
        summary = state.reader.summary(sender_id)
        reviews = _reviews(state.clinic_url)
        status, note, tags = reviews.get(sender_id, ("new", "", ""))
        callback = queue.for_conversation(sender_id, state.clinic_url)
        callback_history = (audit.entries_for_target(f"callback:{callback.id}", state.clinic_url)
                            if callback else [])
        review_history = audit.entries_for_target(f"conversation:{sender_id}", state.clinic_url)
        review_history = [e for e in review_history if e.action == "conversation_review"]
        return state.render(request, "transcript.html", sender_id=sender_id, items=items, summary=summary,
                            review_status=status, note=note, tags=tags, callback=callback,
                            callback_history=callback_history, review_history=review_history,
                            approved=_approved(), review_statuses=REVIEW_STATUSES,
                            statuses=STATUSES, priority_labels=queue.PRIORITY_LABELS,
                            detail_of=audit.detail_of)

    @bp.post("/conversation/review")
    async def conversation_review(request: Request):
        who, role = actor(request)
        sender_id = (request.form.get("id") or "")[:255]
        status = request.form.get("status") or ""
        if status not in REVIEW_STATUSES or not sender_id or state.reader.summary(sender_id) is None:
            return response.text("Bad request: unknown conversation or status.", status=400)
        note = (request.form.get("note") or "").strip()[:MAX_NOTE]
        tags = _clean_tags(request.form.get("tags") or "")
        with session_factory(state.clinic_url)() as session:
            row = session.get(ConversationReview, sender_id)
            before = (row.status, row.note, row.tags) if row else ("new", "", "")
            if row is None:
                row = ConversationReview(sender_id=sender_id)
                session.add(row)
            row.status, row.note, row.tags = status, note, tags
            row.updated_by, row.updated_at = who, utcnow()
            session.commit()
        audit.record(who, "conversation_review", f"conversation:{sender_id}",
                     {"status": f"{before[0]} -> {status}", "tags": tags, "note_changed": before[1] != note},
                     ip=_ip(request), role=role, url=state.clinic_url)
        return response.redirect("/staff/conversation?" + urllib.parse.urlencode(
            {"id": sender_id, "msg": "review_saved"}), status=303)

    @bp.post("/conversation/export")
    async def conversation_export(request: Request):
        who, role = actor(request)
        sender_id = (request.form.get("id") or "")[:255]
        items = await asyncio.to_thread(state.reader.transcript, sender_id) if sender_id else []
        if not items:
            return response.text("Not found.", status=404)
        body = export.conversation_csv(sender_id, items, state.fmt_ts)
        audit.record(who, "export_conversation", f"conversation:{sender_id}", {"rows": len(items)},
                     ip=_ip(request), role=role, url=state.clinic_url)
        return _csv_response(body, export.filename(f"conversation-{sender_id}"))

    # --- callback queue -------------------------------------------------------------------
    @bp.get("/queue")
    async def queue_page(request: Request):
        view = request.args.get("view") or "open"
        if view not in queue.VIEWS:
            view = "open"
        rows = queue.list_requests(view, state.clinic_url)
        who, role = actor(request)  # names, phone numbers and emails on this page
        audit.record(who, "queue_view", "callback_queue", {"view": view, "requests": [r.id for r in rows]},
                     ip=_ip(request), role=role, url=state.clinic_url)
        return state.render(request, "queue.html", rows=rows, view=view, views=queue.VIEWS,
                            counts=queue.counts(state.clinic_url), statuses=STATUSES,
                            priority_labels=queue.PRIORITY_LABELS, error=request.args.get("error", "")[:200])

    @bp.post("/queue/<request_id:int>/status")
    async def queue_status(request: Request, request_id: int):
        who, role = actor(request)
        back = request.form.get("back") or "/staff/queue"
        back = back if back.startswith("/staff/queue") or back.startswith("/staff/conversation?") \
            else "/staff/queue"
        try:
            queue.set_status(request_id, request.form.get("status") or "", who,
                             expected=request.form.get("expected") or None, ip=_ip(request), role=role,
                             url=state.clinic_url)
        except queue.QueueError as e:
            status = 409 if isinstance(e, queue.Conflict) else 400
            return state.render(request, "error.html", status=status, title="Status not changed",
                                detail=str(e), back=back)
        sep = "&" if "?" in back else "?"
        return response.redirect(f"{back}{sep}msg=status_changed", status=303)

    # --- admin ----------------------------------------------------------------------------
    @bp.get("/accounts", ctx_console_access="admin")
    async def accounts_page(request: Request):
        return state.render(request, "accounts.html", accounts=accounts.list_accounts(state.clinic_url),
                            error=request.args.get("error", "")[:200])

    @bp.post("/accounts/<account_id:int>/<change:str>", ctx_console_access="admin")
    async def account_change(request: Request, account_id: int, change: str):
        who, role = actor(request)
        if change not in ("disable", "enable", "unlock"):
            return response.text("Not found.", status=404)
        target = accounts.get_by_id(account_id, state.clinic_url)
        if target is None:
            return response.text("No such account.", status=404)
        try:
            if change == "unlock":
                accounts.unlock(target.username, who, _ip(request), role, state.clinic_url)
            else:
                if change == "disable" and target.id == request.ctx.account.id:
                    raise accounts.AccountError("you cannot disable your own account")
                accounts.set_active(target.username, change == "enable", who, _ip(request), role,
                                    state.clinic_url)
        except accounts.AccountError as e:
            return response.redirect("/staff/accounts?" + urllib.parse.urlencode({"error": str(e)}),
                                     status=303)
        return response.redirect("/staff/accounts?msg=account_changed", status=303)

    @bp.get("/audit", ctx_console_access="admin")
    async def audit_page(request: Request):
        args = request.args
        raw = {k: (args.get(k) or "").strip()[:100] for k in ("actor", "action", "target", "from", "to")}
        flt = audit.AuditFilter(actor=raw["actor"], action=raw["action"] if raw["action"] in audit.ACTIONS else "",
                                target=raw["target"])
        errors = []
        for key in ("from", "to"):
            if raw[key]:
                start = state.day_start(raw[key])
                if start is None:
                    errors.append(f"'{key.capitalize()}' is not a date (YYYY-MM-DD).")
                    continue
                utc = start.astimezone(dt.timezone.utc).replace(tzinfo=None)
                if key == "from":
                    flt.since = utc
                else:
                    end = (start.replace(tzinfo=None) + dt.timedelta(days=1)).replace(tzinfo=state.tz)
                    flt.until = end.astimezone(dt.timezone.utc).replace(tzinfo=None)
        page = _page_number(args)
        entries, total = audit.query(flt, page, AUDIT_PER_PAGE, state.clinic_url)
        pages = _pages(total, page, AUDIT_PER_PAGE)
        return state.render(request, "audit.html", entries=entries, pages=pages, f=raw, errors=errors,
                            actions=audit.ACTIONS, detail_of=audit.detail_of,
                            page_link=lambda n: _with(raw, page=n))

    @bp.get("/purge", ctx_console_access="admin")
    async def purge_form(request: Request):
        try:
            days = int(request.args.get("days") or retention.default_days())
        except (ValueError, SystemExit):
            days = retention.DEFAULT_DAYS
        days = max(1, days)
        who, role = actor(request)
        preview = await asyncio.to_thread(retention.purge, days, who, dry_run=True, clinic_url=state.clinic_url,
                                          tracker_url=state.reader.url)
        last = audit.query(audit.AuditFilter(action="purge"), 1, 1, state.clinic_url)[0]
        return state.render(request, "purge.html", days=days, preview=preview, result=None,
                            last_purge=last[0] if last else None, schedule_actor=retention.SCHEDULE_ACTOR)

    @bp.post("/purge", ctx_console_access="admin")
    async def purge_submit(request: Request):
        who, role = actor(request)
        try:
            days = int(request.form.get("days") or "")
        except ValueError:
            days = 0
        if days < 1:
            return response.text("Bad request: days must be a whole number, at least 1.", status=400)
        if request.form.get("confirm") != "yes":
            return response.text("Bad request: tick the confirmation box to purge.", status=400)
        result = await asyncio.to_thread(retention.purge, days, who, _ip(request), role,
                                         clinic_url=state.clinic_url, tracker_url=state.reader.url)
        return state.render(request, "purge.html", days=days, preview=None, result=result)

    return bp
