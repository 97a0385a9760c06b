"""Accounts from the command line, argon2 hashes, and the slowing-down and locking
of repeated failed sign-ins (logged and audited, never with the password)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT
from tests.console.conftest import PASSWORD

WRONG = "definitely-not-it-" + "x" * 6


def cli(app, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "webapp.console.accounts", *args], cwd=ROOT, env=app.env,
                          input=stdin, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def app(webapp_factory):
    # Short delays so the test is quick; the mechanism is the production one.
    return webapp_factory(LOGIN_DELAY_BASE_SECONDS="0.6", LOGIN_LOCK_AFTER="3", LOGIN_LOCK_MINUTES="15")


def test_cli_creates_lists_and_disables_accounts(app):
    from webapp.console import accounts, audit

    r = cli(app, "create", "--username", "Nurse.Kim", "--role", "staff", "--password-stdin",
            stdin="a long enough passphrase\n")
    assert r.returncode == 0, r.stderr
    kim = accounts.get("nurse.kim", app.clinic_url)
    assert kim.role == "staff" and kim.active
    assert kim.password_hash.startswith("$argon2id$") and "passphrase" not in kim.password_hash

    too_short = cli(app, "create", "--username", "short", "--password-stdin", stdin="elevenchars\n")
    assert too_short.returncode == 1 and "at least 12" in too_short.stderr
    assert accounts.get("short", app.clinic_url) is None
    duplicate = cli(app, "create", "--username", "nurse.kim", "--password-stdin", stdin="another long one!\n")
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    bad_role = cli(app, "create", "--username", "x1", "--role", "root", "--password-stdin", stdin="y" * 20)
    assert bad_role.returncode != 0

    listed = cli(app, "list")
    assert listed.returncode == 0 and "nurse.kim" in listed.stdout and "staff" in listed.stdout

    # the new account signs in; once disabled, it cannot
    assert "/staff/login" not in app.client().login("nurse.kim", "a long enough passphrase").url
    assert cli(app, "disable", "--username", "nurse.kim").returncode == 0
    assert not accounts.get("nurse.kim", app.clinic_url).active
    assert "disabled" in cli(app, "list").stdout
    assert "/staff/login" in app.client().login("nurse.kim", "a long enough passphrase").url
    assert cli(app, "enable", "--username", "nurse.kim").returncode == 0

    actions = [e.action for e in audit.entries_for_target("account:nurse.kim", app.clinic_url)]
    assert actions[0] == "account_create" and "account_disable" in actions and "account_enable" in actions
    creator = audit.entries_for_target("account:nurse.kim", app.clinic_url)[0].actor
    assert creator.startswith("cli:")


def test_no_account_exists_by_default(webapp_factory):
    fresh = webapp_factory()
    for name, pw in (("admin", "admin"), ("admin", "password"), ("staff", "staff"), ("root", "root")):
        assert "/staff/login" in fresh.client().login(name, pw).url
    from webapp.console import accounts

    assert accounts.list_accounts(fresh.clinic_url) == []


def test_last_admin_cannot_be_disabled(app):
    app.account("only-admin", "admin")
    r = cli(app, "disable", "--username", "only-admin")
    assert r.returncode == 1 and "last active admin" in r.stderr


def test_failed_sign_ins_are_slowed_locked_logged_and_audited(app):
    from webapp.console import audit

    app.account("dora")
    c = app.client()
    first = c.login("dora", WRONG)
    assert first.status_code == 401 and "Wrong username or password" in first.text
    # Straight away, even the right password is refused: the next attempt must wait.
    quick = c.login("dora", PASSWORD)
    assert quick.status_code == 429 and "Wait" in quick.text
    time.sleep(0.7)
    assert c.login("dora", WRONG).status_code == 401          # 2nd failure: wait doubles to 1.2 s
    time.sleep(0.7)
    assert c.login("dora", PASSWORD).status_code == 429      # 0.7 s is not enough any more
    time.sleep(0.7)
    assert c.login("dora", WRONG).status_code == 401          # 3rd failure: locked
    time.sleep(3)
    locked = c.login("dora", PASSWORD)
    assert locked.status_code == 429 and "locked" in locked.text

    log = app.log_text()
    assert "Failed staff sign-in for username 'dora'" in log
    assert WRONG not in log and PASSWORD not in log

    entries = audit.entries_for_target("account:dora", app.clinic_url)
    kinds = [e.action for e in entries]
    assert kinds.count("sign_in_failed") == 3 and "sign_in_refused" in kinds
    assert all(WRONG not in e.detail and PASSWORD not in e.detail for e in entries)
    assert all(e.ip == "127.0.0.1" for e in entries if e.action.startswith("sign_in"))

    # An admin unlocks it from the command line; then the right password works.
    assert cli(app, "unlock", "--username", "dora").returncode == 0
    ok = c.login("dora", PASSWORD)
    assert ok.status_code == 200 and "/staff/conversations" in ok.url
    assert "sign_in" in [e.action for e in audit.entries_for_target("account:dora", app.clinic_url)]


def test_unknown_usernames_are_throttled_too(app):
    c = app.client()
    assert c.login("nobody-here", WRONG).status_code == 401
    assert c.login("nobody-here", WRONG).status_code == 429


def test_password_change(app):
    from webapp.console import accounts

    app.account("eve")
    c = app.signed_in("eve")
    other = app.signed_in("eve")
    r = c.post("/staff/password", {"current": WRONG, "new": "brand new passphrase", "again": "brand new passphrase"})
    assert r.status_code == 400
    time.sleep(1.1)  # a wrong current password is throttled like a failed sign-in (1 s after one)
    r = c.post("/staff/password", {"current": PASSWORD, "new": "short", "again": "short"})
    assert r.status_code == 400 and "at least 12" in r.text
    r = c.post("/staff/password", {"current": PASSWORD, "new": "brand new passphrase",
                                   "again": "brand new passphrase"})
    assert r.status_code == 200 and "Password changed" in r.text
    assert accounts.verify_password(accounts.get("eve", app.clinic_url).password_hash, "brand new passphrase")
    # this session goes on; the other one was signed out
    assert c.get("/staff/queue", allow_redirects=False).status_code == 200
    assert other.get("/staff/queue", allow_redirects=False).status_code == 302
