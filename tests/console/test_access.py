"""Who may reach what: every console route refuses anonymous requests, staff cannot
reach admin pages, and every state-changing request needs the session's CSRF token.

Routes are enumerated from the real app (``webapp.app.create_app``), so a route
added later is covered without touching these tests.
"""

from __future__ import annotations

import datetime as dt
import http.client
import re
import uuid
from typing import List, Tuple

import pytest
import requests

from tests.console.conftest import PASSWORD, bot, seed_tracker, slot, user

SECRET_TEXT = "Marker-8f3e private visitor text"
SECRET_NAME = "Zelda Markerson"


def concrete(path: str) -> str:
    """A request path for a route path: parameters filled with harmless values."""
    path = "/" + path.lstrip("/")
    path = re.sub(r"<[^>:]+:int>", "1", path)
    path = re.sub(r"<[^>:]+:path>", "x", path)
    return re.sub(r"<[^>]+>", "x", path)


def console_routes(env: dict, monkeypatch) -> List[Tuple[str, str, str, bool]]:
    """(method, path, access, static) for every route of the app under /staff."""
    for key in ("SESSION_SECRET", "CLINIC_DB_URL", "TRACKER_DB_URL", "RASA_URL"):
        monkeypatch.setenv(key, env[key])
    from webapp.app import create_app

    app = create_app(name="enum_" + uuid.uuid4().hex[:8])
    out = []
    for route in app.router.routes:
        path = concrete(route.path)
        if not (path == "/staff" or path.startswith("/staff/")):
            continue
        for method in sorted(route.methods):
            out.append((method, path, getattr(route.ctx, "console_access", "staff"),
                        bool(getattr(route.ctx, "static", False))))
    return out


@pytest.fixture(scope="module")
def seeded(console):
    """A conversation and a callback request whose details must never leak to the anonymous."""
    from actions.callback_store import save_request
    from clinic.models import CallbackRequest

    now = dt.datetime.now().timestamp()
    seed_tracker(console.tracker_path, {
        "leak-check": [user(SECRET_TEXT, "crisis", ts=now - 5), slot("crisis_flag", True, ts=now - 4),
                       bot("crisis reply", "crisis", ts=now - 3)],
    })
    save_request(CallbackRequest(conversation_id="leak-check", reason=SECRET_TEXT, content_id="crisis",
                                 crisis=True, name=SECRET_NAME, contact="zelda@example.com",
                                 contact_kind="email", preferred_time="any"), url=console.clinic_url)
    return console


@pytest.fixture
def routes(console, monkeypatch):
    found = console_routes(console.env, monkeypatch)
    paths = {p for _, p, _, _ in found}
    # The enumeration itself must see the console (else every check below passes vacuously).
    for expected in ("/staff/conversations", "/staff/conversation", "/staff/queue", "/staff/accounts",
                     "/staff/audit", "/staff/purge", "/staff/login"):
        assert expected in paths, f"{expected} not among the app's routes: {sorted(paths)}"
    return found


def test_every_console_route_refuses_anonymous_requests(seeded, routes):
    checked = 0
    for method, path, access, static in routes:
        r = requests.request(method, seeded.url + path, allow_redirects=False, timeout=30,
                             data={"id": "leak-check", "status": "closed", "days": "1", "confirm": "yes"})
        assert SECRET_TEXT not in r.text and SECRET_NAME not in r.text, f"{method} {path} leaked data"
        if static:
            assert r.status_code in (200, 404), (method, path, r.status_code)
            continue
        if access == "public":
            assert path == "/staff/login", f"unexpected public route {method} {path}"
            if method == "POST":
                assert r.status_code == 403, "sign-in POST without the form's token must be refused"
            continue
        if r.status_code in (301, 302, 303, 307):
            assert r.headers["location"].startswith("/staff/login"), (method, path, r.headers["location"])
        else:
            assert r.status_code in (401, 403), (method, path, r.status_code, r.text[:200])
        checked += 1
    assert checked >= 15, f"only {checked} routes checked"
    # Nothing changed either.
    from webapp.console import queue

    assert queue.for_conversation("leak-check", seeded.clinic_url).status == "new"


def test_static_files_are_only_css(seeded):
    r = requests.get(seeded.url + "/staff/static/console.css", timeout=10)
    assert r.status_code == 200 and "text/css" in r.headers["content-type"]
    for raw in ("/staff/static/../templates/console/base.html",
                "/staff/static/%2e%2e/%2e%2e/templates/console/base.html",
                "/staff/static/..%2f..%2ftemplates%2fconsole%2fbase.html"):
        conn = http.client.HTTPConnection("127.0.0.1", seeded.port, timeout=10)
        conn.request("GET", raw)  # sent as is, not normalised
        resp = conn.getresponse()
        body = resp.read().decode(errors="replace")
        conn.close()
        assert resp.status != 200 and "{%" not in body, (raw, resp.status)


def test_staff_cannot_reach_admin_pages(seeded, routes):
    staff = seeded.signed_in("sam")
    admin_routes = [(m, p) for m, p, access, _ in routes if access == "admin"]
    assert {p for _, p in admin_routes} >= {"/staff/accounts", "/staff/audit", "/staff/purge"}
    for method, path in admin_routes:
        if method == "GET":
            r = staff.get(path, allow_redirects=False)
        else:
            r = staff.post(path, {"days": "1", "confirm": "yes"}, allow_redirects=False)
        assert r.status_code == 403, (method, path, r.status_code)
    # ... while the admin can.
    admin = seeded.signed_in("ada")
    for path in ("/staff/accounts", "/staff/audit", "/staff/purge"):
        assert admin.get(path).status_code == 200, path
    # and staff still reach their own pages
    assert staff.get("/staff/queue").status_code == 200
    assert SECRET_NAME in staff.get("/staff/queue").text


def test_post_without_csrf_token_is_refused(seeded, routes):
    admin = seeded.signed_in("ada")
    posts = [p for m, p, access, _ in routes if m == "POST" and access != "public"]
    assert "/staff/queue/1/status" in posts and "/staff/purge" in posts
    for path in posts:
        for token in (None, "wrong-" + uuid.uuid4().hex):
            data = {"id": "leak-check", "status": "closed", "days": "1", "confirm": "yes"}
            if token:
                data["csrf_token"] = token
            r = admin.post(path, data, csrf=False, allow_redirects=False)
            assert r.status_code == 403, (path, token, r.status_code)
    # A request from another origin is refused even with the right token.
    r = admin.post("/staff/conversation/review", {"id": "leak-check", "status": "reviewed"},
                   headers={"Origin": "http://evil.example"}, allow_redirects=False)
    assert r.status_code == 403
    from webapp.console import queue

    assert queue.for_conversation("leak-check", seeded.clinic_url).status == "new"
    # With the token the same request works (so the refusals above are about the token).
    r = admin.post("/staff/conversation/review", {"id": "leak-check", "status": "reviewed"},
                   allow_redirects=False)
    assert r.status_code == 303


def test_sign_in_form_needs_its_own_token(seeded):
    c = seeded.client()
    r = c.s.post(seeded.url + "/staff/login", data={"username": "ada", "password": PASSWORD},
                 allow_redirects=False, timeout=30)
    assert r.status_code == 403
    assert "staff_session" not in r.headers.get("set-cookie", "")


def test_session_cookie_flags_and_sign_out(seeded):
    c = seeded.client()
    c.get("/staff/login")
    r = c.s.post(seeded.url + "/staff/login", allow_redirects=False, timeout=30,
                 data={"username": "sam", "password": PASSWORD, "csrf_token": c.csrf})
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    session_part = [p for p in re.split(r",(?=\s*\w+=)", cookie) if "staff_session=" in p][0].lower()
    assert "httponly" in session_part and "samesite=strict" in session_part and "path=/staff" in session_part
    assert c.get("/staff/conversations", allow_redirects=False).status_code == 200
    old = dict(c.s.cookies)
    assert c.post("/staff/logout", allow_redirects=False).status_code == 303
    replay = requests.get(seeded.url + "/staff/conversations", cookies=old, allow_redirects=False, timeout=10)
    assert replay.status_code == 302 and replay.headers["location"].startswith("/staff/login")


def test_forged_or_tampered_cookie_is_refused(seeded):
    good = seeded.signed_in("sam")
    value = good.s.cookies.get("staff_session")
    for forged in (value[:-2] + ("AA" if not value.endswith("AA") else "BB"), "anything", ""):
        r = requests.get(seeded.url + "/staff/conversations", cookies={"staff_session": forged},
                         allow_redirects=False, timeout=10)
        assert r.status_code == 302


def test_idle_session_expires(seeded):
    from clinic.models import StaffSession, session_factory

    c = seeded.signed_in("sam")
    assert c.get("/staff/queue", allow_redirects=False).status_code == 200
    with session_factory(seeded.clinic_url)() as s:
        rows = s.query(StaffSession).all()
        for row in rows:
            row.last_seen_at = row.last_seen_at - dt.timedelta(minutes=31)
        s.commit()
    r = c.get("/staff/queue", allow_redirects=False)
    assert r.status_code == 302 and r.headers["location"].startswith("/staff/login")


def test_disabled_account_loses_its_session(seeded):
    from webapp.console import accounts

    seeded.account("tmp-user")
    c = seeded.signed_in("tmp-user")
    accounts.set_active("tmp-user", False, actor="test", url=seeded.clinic_url)
    assert c.get("/staff/queue", allow_redirects=False).status_code == 302
    assert "/staff/login" in seeded.client().login("tmp-user", PASSWORD).url


def test_console_refuses_to_start_without_session_secret(webapp_factory):
    app = webapp_factory(SESSION_SECRET="")
    r = requests.get(app.url + "/staff/login", timeout=10)
    assert r.status_code == 503 and "SESSION_SECRET" in r.text
    assert requests.get(app.url + "/staff/conversations", timeout=10).status_code == 503
    assert requests.get(app.url + "/healthz", timeout=10).status_code == 200
    short = webapp_factory(SESSION_SECRET="too-short")
    assert requests.get(short.url + "/staff/login", timeout=10).status_code == 503


def test_security_headers(seeded):
    c = seeded.signed_in("sam")
    r = c.get("/staff/conversations")
    assert r.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY"


def test_admin_manages_accounts_in_the_console(seeded):
    from webapp.console import accounts, audit

    url = seeded.clinic_url
    seeded.account("temp-staff")
    admin = seeded.signed_in("ada")
    page = admin.get("/staff/accounts").text
    assert 'data-username="temp-staff"' in page and "$argon2" not in page
    target = accounts.get("temp-staff", url)
    r = admin.post(f"/staff/accounts/{target.id}/disable")
    assert r.status_code == 200 and "Account changed." in r.text
    assert not accounts.get("temp-staff", url).active
    r = admin.post(f"/staff/accounts/{accounts.get('ada', url).id}/disable")
    assert "cannot disable your own account" in r.text and accounts.get("ada", url).active
    assert admin.post(f"/staff/accounts/{target.id}/enable").status_code == 200
    assert accounts.get("temp-staff", url).active
    assert admin.post(f"/staff/accounts/{target.id}/delete").status_code == 404
    done = [(e.actor, e.action) for e in audit.entries_for_target("account:temp-staff", url)]
    assert ("ada", "account_disable") in done and ("ada", "account_enable") in done


def test_console_root(seeded):
    anonymous = requests.get(seeded.url + "/staff/", allow_redirects=False, timeout=10)
    assert anonymous.status_code == 302 and anonymous.headers["location"].startswith("/staff/login")
    c = seeded.signed_in("sam")
    for path in ("/staff", "/staff/"):
        r = c.get(path, allow_redirects=False)
        assert r.status_code == 302 and r.headers["location"] == "/staff/conversations", path


def test_sign_in_redirects_only_inside_the_console(seeded):
    for target, expected in (("/staff/queue", "/staff/queue"), ("https://evil.example/", "/staff/conversations"),
                             ("//evil.example/staff/", "/staff/conversations")):
        c = seeded.client()
        c.get("/staff/login?next=" + requests.utils.quote(target, safe=""))
        r = c.s.post(seeded.url + "/staff/login", allow_redirects=False, timeout=30,
                     data={"username": "sam", "password": PASSWORD, "csrf_token": c.csrf, "next": target})
        assert r.status_code == 303 and r.headers["location"] == expected
