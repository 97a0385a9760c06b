"""Two-step sign-in (webapp/console/totp.py): required for admins, optional for staff, a secret
shown once, codes that work once, recovery codes stored hashed, wrong codes throttled like
wrong passwords; the client address behind a proxy only when configured; Secure cookies and
no switching the second factor off in the production profile; password changes throttled."""

from __future__ import annotations

import html
import re
import subprocess
import sys
import time
import uuid

import pyotp
import pytest
import requests

from tests.conftest import ROOT
from tests.console.conftest import PASSWORD

SECRET = re.compile(r"data-totp-secret>([^<]+)<")
URI = re.compile(r"data-totp-uri>([^<]+)<")
RECOVERY = re.compile(r"data-recovery-code>([^<]+)<")


@pytest.fixture(scope="module")
def app(webapp_factory):
    """The console as shipped: TOTP_REQUIRED_FOR left at its default (admins); no waiting
    between failures (each test that needs the delay has an app of its own)."""
    return webapp_factory(TOTP_REQUIRED_FOR="", LOGIN_DELAY_BASE_SECONDS="0")


def name() -> str:
    return "u" + uuid.uuid4().hex[:10]


def account(app, role: str) -> str:
    """A new account; once more when the web app, just started, was creating the same tables."""
    from sqlalchemy.exc import OperationalError

    username = name()
    try:
        return app.account(username, role)
    except OperationalError as e:
        if "already exists" not in str(e):
            raise
        return app.account(username, role)


def enrol(client) -> tuple:
    """Set up the second factor from /staff/totp: (secret, recovery codes, the code it used)."""
    page = client.post("/staff/totp/start")
    assert page.status_code == 200, page.text[:300]
    secret = SECRET.search(page.text).group(1).replace(" ", "")
    uri = html.unescape(URI.search(page.text).group(1))
    assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri and "issuer=" in uri
    used = pyotp.TOTP(secret).now()
    done = client.post("/staff/totp/confirm", {"code": used})
    assert done.status_code == 200, done.text[:300]
    codes = RECOVERY.findall(done.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    return secret, codes, used


def next_code(secret: str) -> str:
    """The next step's code (the current one was just used): accepted as a neighbour."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def password_step(app, username: str):
    c = app.client()
    r = c.login(username, PASSWORD)
    return c, r


def test_an_admin_must_set_up_a_second_factor_and_the_secret_is_shown_once(app):
    from clinic.models import StaffRecoveryCode, session_factory
    from webapp.console import audit

    admin = account(app, "admin")
    c, r = password_step(app, admin)
    assert r.url.endswith("/staff/totp"), r.url  # every page leads to the set-up
    assert "must use two-step sign-in" in r.text
    for path in ("/staff/conversations", "/staff/accounts", "/staff/queue"):
        r = c.get(path, allow_redirects=False)
        assert r.status_code == 302 and r.headers["location"] == "/staff/totp", path
    assert c.post("/staff/purge", {"days": "1", "confirm": "yes"}, allow_redirects=False).status_code == 403

    start = c.post("/staff/totp/start")
    secret = SECRET.search(start.text).group(1).replace(" ", "")
    wrong = c.post("/staff/totp/confirm", {"code": "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"})
    assert wrong.status_code == 400 and secret[:8] not in wrong.text.replace(" ", "")
    assert secret[:8] not in c.get("/staff/totp").text.replace(" ", "")  # shown once
    assert c.get("/staff/accounts", allow_redirects=False).status_code == 302  # still not set up
    done = c.post("/staff/totp/confirm", {"code": pyotp.TOTP(secret).now()})
    codes = RECOVERY.findall(done.text)
    assert len(codes) == 10
    assert c.get("/staff/accounts").status_code == 200
    with session_factory(app.clinic_url)() as s:
        hashes = [row.code_hash for row in s.query(StaffRecoveryCode)]
    assert hashes and not any(code in " ".join(hashes) for code in codes)
    db = app.tmp.joinpath("clinic.db").read_bytes() + (app.tmp / "clinic.db-wal").read_bytes() \
        if (app.tmp / "clinic.db-wal").exists() else app.tmp.joinpath("clinic.db").read_bytes()
    assert not any(code.encode() in db for code in codes)
    assert [e.action for e in audit.entries_for_target(f"account:{admin}", app.clinic_url)].count("totp_enrol") == 1
    assert c.post("/staff/totp/disable", {"code": codes[0]}).status_code == 403  # admins keep it


def test_sign_in_asks_for_the_code_after_the_password_and_a_code_works_once(app):
    admin = account(app, "admin")
    first, _ = password_step(app, admin)
    secret, codes, used = enrol(first)

    c, r = password_step(app, admin)
    assert "staff_session" not in c.s.cookies and 'name="code"' in r.text
    assert c.get("/staff/conversations", allow_redirects=False).headers["location"].startswith("/staff/login")
    replay = c.post("/staff/login", {"code": used})  # the code the set-up used
    assert replay.status_code == 401 and "staff_session" not in c.s.cookies
    code = next_code(secret)
    ok = c.post("/staff/login", {"code": code, "next": "/staff/accounts"}, allow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/staff/accounts"
    assert c.get("/staff/accounts").status_code == 200

    again, _ = password_step(app, admin)
    assert again.post("/staff/login", {"code": code}).status_code == 401  # never twice
    # a recovery code instead, once
    assert again.post("/staff/login", {"code": codes[0].upper().replace("-", " ")}, allow_redirects=False) \
        .status_code == 303
    third, _ = password_step(app, admin)
    assert third.post("/staff/login", {"code": codes[0]}).status_code == 401
    assert third.post("/staff/login", {"code": codes[1]}, allow_redirects=False).status_code == 303


def test_the_code_step_needs_the_password_step_and_its_form_token(app):
    admin = account(app, "admin")
    first, _ = password_step(app, admin)
    secret, _codes, _used = enrol(first)
    stranger = app.client()
    stranger.get("/staff/login")
    r = stranger.post("/staff/login", {"code": next_code(secret)}, allow_redirects=False)
    assert r.status_code == 403 and "staff_session" not in r.headers.get("set-cookie", "")
    c, _ = password_step(app, admin)
    r = c.post("/staff/login", {"code": next_code(secret)}, csrf=False, allow_redirects=False)
    assert r.status_code == 403
    forged = {"staff_second_factor": c.s.cookies.get("staff_second_factor")[:-3] + "xyz"}
    r = requests.post(app.url + "/staff/login", data={"code": next_code(secret), "csrf_token": c.csrf},
                      cookies=forged, allow_redirects=False, timeout=30)
    assert r.status_code == 403


def test_wrong_codes_are_throttled_and_the_password_does_not_reset_the_count(webapp_factory):
    slow = webapp_factory(TOTP_REQUIRED_FOR="admin")  # by default the next try waits after a wrong code
    admin = account(slow, "admin")
    first, _ = password_step(slow, admin)
    enrol(first)
    c, _ = password_step(slow, admin)
    assert c.post("/staff/login", {"code": "999999"}).status_code == 401
    assert c.post("/staff/login", {"code": "999999"}).status_code == 429

    app = webapp_factory(TOTP_REQUIRED_FOR="admin", LOGIN_LOCK_AFTER="3", LOGIN_DELAY_BASE_SECONDS="0")
    admin = account(app, "admin")
    first, _ = password_step(app, admin)
    secret, _codes, _used = enrol(first)
    for _ in range(2):
        c, _ = password_step(app, admin)  # the right password each time ...
        assert c.post("/staff/login", {"code": "999999"}).status_code in (401, 429)
    c, _ = password_step(app, admin)
    assert c.post("/staff/login", {"code": "999999"}).status_code in (401, 429)
    # ... three wrong codes: locked, even with the right password and the right code
    c = app.client()
    r = c.login(admin, PASSWORD)
    assert r.status_code == 429 and "locked" in r.text


def test_staff_may_sign_in_without_a_second_factor_or_turn_one_on_and_off(app):
    sam = account(app, "staff")
    c = app.signed_in(sam)
    assert c.get("/staff/queue", allow_redirects=False).status_code == 200
    secret, codes, _used = enrol(c)
    c2, r = password_step(app, sam)
    assert 'name="code"' in r.text
    assert c2.post("/staff/login", {"code": next_code(secret)}, allow_redirects=False).status_code == 303
    assert "is <strong>on</strong>" in c2.get("/staff/totp").text  # (and the session's form token)
    assert c2.post("/staff/totp/disable", {"code": "123"}).status_code == 400
    off = c2.post("/staff/totp/disable", {"code": codes[3]})
    assert off.status_code == 200 and "is off" in off.text
    assert app.signed_in(sam).get("/staff/queue", allow_redirects=False).status_code == 200


def test_an_admin_resets_a_lost_second_factor_from_the_command_line(app):
    from webapp.console import audit

    sam = account(app, "staff")
    c = app.signed_in(sam)
    enrol(c)
    r = subprocess.run([sys.executable, "-m", "webapp.console.accounts", "reset-totp", "--username", sam],
                       cwd=ROOT, env=app.env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "removed" in r.stdout, r.stderr
    assert c.get("/staff/queue", allow_redirects=False).status_code == 302  # its sessions ended
    assert app.signed_in(sam).get("/staff/queue", allow_redirects=False).status_code == 200
    assert "totp_reset" in [e.action for e in audit.entries_for_target(f"account:{sam}", app.clinic_url)]


def test_production_requires_secure_cookies_and_the_second_factor(webapp_factory):
    prod = webapp_factory(CLINIC_PROFILE="production", TOTP_REQUIRED_FOR="")
    r = requests.get(prod.url + "/staff/login", timeout=30)
    assert r.status_code == 200 and "secure" in r.headers["set-cookie"].lower()
    for bad in ({"SESSION_COOKIE_SECURE": "0"}, {"TOTP_REQUIRED_FOR": "none"}):
        refused = webapp_factory(CLINIC_PROFILE="production", **{"TOTP_REQUIRED_FOR": "", **bad})
        r = requests.get(refused.url + "/staff/login", timeout=30)
        assert r.status_code == 503 and list(bad)[0] in r.text
    dev = requests.get(webapp_factory().url + "/staff/login", timeout=30)
    assert "secure" not in dev.headers["set-cookie"].lower()  # plain http outside production


def _fail_sign_in(app, username: str, headers: dict) -> requests.Response:
    c = app.client()
    c.get("/staff/login", headers=headers)
    return c.post("/staff/login", {"username": username, "password": "wrong password " + uuid.uuid4().hex},
                  headers=headers)


def _good_sign_in(app, username: str, headers: dict) -> requests.Response:
    c = app.client()
    c.get("/staff/login", headers=headers)
    return c.post("/staff/login", {"username": username, "password": PASSWORD}, headers=headers)


def test_behind_a_configured_proxy_throttling_is_per_client_address(webapp_factory):
    from webapp.console import audit

    app = webapp_factory(TRUSTED_PROXY_COUNT="1", LOGIN_LOCK_AFTER="2", LOGIN_DELAY_BASE_SECONDS="0")
    user = account(app, "staff")
    attacker, victim = {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "198.51.100.4"}
    for _ in range(2):
        _fail_sign_in(app, user, attacker)
    assert _good_sign_in(app, user, attacker).status_code == 429  # the attacker's address is locked ...
    ok = _good_sign_in(app, user, victim)
    assert ok.status_code == 200 and "/staff/login" not in ok.url  # ... not the person's
    ips = {e.ip for e in audit.query(audit.AuditFilter(actor=user), url=app.clinic_url)[0]}
    assert {"203.0.113.7", "198.51.100.4"} <= ips
    # a forged header in front of the proxy: only the address the proxy appended counts
    _fail_sign_in(app, user, {"X-Forwarded-For": "10.9.9.9, 192.0.2.55"})
    assert "192.0.2.55" in {e.ip for e in audit.query(audit.AuditFilter(actor=user), url=app.clinic_url)[0]}


def test_a_real_ip_header_is_used_only_when_configured(webapp_factory):
    from webapp.console import audit

    configured = webapp_factory(REAL_IP_HEADER="X-Real-IP")
    user = account(configured, "staff")
    _fail_sign_in(configured, user, {"X-Real-IP": "192.0.2.80"})
    assert "192.0.2.80" in {e.ip for e in audit.query(audit.AuditFilter(actor=user), url=configured.clinic_url)[0]}

    default = webapp_factory(LOGIN_LOCK_AFTER="2", LOGIN_DELAY_BASE_SECONDS="0")
    user = account(default, "staff")
    for spoofed in ("203.0.113.1", "203.0.113.2"):
        _fail_sign_in(default, user, {"X-Forwarded-For": spoofed, "X-Real-IP": spoofed})
    # by default no header is trusted: a forged one neither hides the address nor escapes the lock
    assert _good_sign_in(default, user, {"X-Forwarded-For": "203.0.113.3"}).status_code == 429
    ips = {e.ip for e in audit.query(audit.AuditFilter(actor=user), url=default.clinic_url)[0]}
    assert ips == {"127.0.0.1"}


def test_password_changes_are_throttled(webapp_factory):
    from webapp.console import audit

    app = webapp_factory()  # the default delay: 1 s after one failure, doubling
    sam = account(app, "staff")
    c = app.signed_in(sam)
    attempt = {"current": "not my password at all", "new": "a brand new long password", "again":
               "a brand new long password"}
    first = c.post("/staff/password", attempt)
    assert first.status_code == 400 and "current password is wrong" in first.text
    second = c.post("/staff/password", attempt)
    assert second.status_code == 429 and "Too many" in second.text
    time.sleep(1.2)  # the delay after one failure (LOGIN_DELAY_BASE_SECONDS, 1 s) has passed
    ok = c.post("/staff/password", {**attempt, "current": PASSWORD}, allow_redirects=False)
    assert ok.status_code == 303
    actions = [e.action for e in audit.entries_for_target(f"account:{sam}", app.clinic_url)]
    assert actions.count("password_change_failed") == 1 and "password_change" in actions
