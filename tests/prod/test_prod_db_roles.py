"""Production database roles (clinic/db_roles.py) on a private PostgreSQL cluster: the audit
log belongs to a role nobody connects as, the web app may only INSERT and SELECT it, even its
owner cannot TRUNCATE it, and the action server's role can store a callback request and
nothing else, also when the real action server runs with it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
import requests
import sqlalchemy
from sqlalchemy import create_engine, text

from tests.conftest import ROOT, free_port, wait_for
from tests.prod.conftest import pg_url

APP, ACTIONS = "clinic_app", "clinic_actions"


@pytest.fixture(scope="module")
def roles_db(private_postgres):
    """A fresh clinic database with the roles set up by ``python -m clinic.db_roles``."""
    name = "roles_" + uuid.uuid4().hex[:8]
    admin = private_postgres.create_db(name)
    with create_engine(admin, isolation_level="AUTOCOMMIT").connect() as conn:
        for role in (APP, ACTIONS):
            conn.execute(text(f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') "
                              f"THEN CREATE ROLE {role} LOGIN; END IF; END $$"))
    r = subprocess.run([sys.executable, "-m", "clinic.db_roles", "--app-role", APP, "--actions-role", ACTIONS],
                       cwd=ROOT, env={**os.environ, "CLINIC_DB_ADMIN_URL": admin}, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    port = private_postgres.port
    return {"admin": admin, "app": pg_url(name, port=port, user=APP, password=None),
            "actions": pg_url(name, port=port, user=ACTIONS, password=None)}


def refused(url: str, sql: str, why: str = "") -> str:
    """Run ``sql``; it must fail. The error's first line."""
    eng = create_engine(url, future=True)
    try:
        with eng.begin() as conn:
            conn.execute(text(sql))
    except sqlalchemy.exc.DBAPIError as e:
        message = str(e.orig).splitlines()[0]
        assert not why or why in message, (sql, message)
        return message
    finally:
        eng.dispose()
    raise AssertionError(f"{sql!r} was allowed")


def allowed(url: str, sql: str, **params):
    eng = create_engine(url, future=True)
    try:
        with eng.begin() as conn:
            result = conn.execute(text(sql), params)
            return result.all() if result.returns_rows else result.rowcount
    finally:
        eng.dispose()


def test_the_web_app_role_may_only_insert_and_select_the_audit_log(roles_db):
    from webapp.console import audit

    app = roles_db["app"]
    audit.record("ann", "conversation_view", "conversation:x", url=app)  # engine() start-up as the app role
    assert allowed(app, "SELECT count(*) FROM audit_log")[0][0] >= 1
    for sql in ("UPDATE audit_log SET actor = 'nobody'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
        refused(app, sql, "permission denied")
    for sql in ("DROP TRIGGER audit_log_append_only ON audit_log",
                "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_truncate",
                "DROP TABLE audit_log"):
        refused(app, sql, "must be owner")
    refused(app, "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$ BEGIN RETURN NULL; "
                 "END; $$ LANGUAGE plpgsql", "permission denied")  # no CREATE in the schema, not its owner
    owner = allowed(roles_db["admin"], "SELECT tableowner FROM pg_tables WHERE tablename = 'audit_log'")[0][0]
    assert owner == "clinic_audit"
    # its other tables it can still use as before
    assert allowed(app, "UPDATE staff_accounts SET active = active") == 0


def test_even_a_superuser_cannot_truncate_update_or_delete_the_audit_log(roles_db):
    admin = roles_db["admin"]
    before = allowed(admin, "SELECT count(*) FROM audit_log")[0][0]
    for sql in ("TRUNCATE audit_log", "DELETE FROM audit_log", "UPDATE audit_log SET actor = 'x'"):
        refused(admin, sql, "audit_log is append-only")
    assert allowed(admin, "SELECT count(*) FROM audit_log")[0][0] == before


def test_the_action_server_role_stores_callbacks_and_reads_nothing_else(roles_db):
    from actions.callback_store import save_request
    from clinic.models import CallbackRequest

    actions = roles_db["actions"]
    sender = "roles-" + uuid.uuid4().hex[:8]
    assert save_request(CallbackRequest(conversation_id=sender, name="Ann", contact="ann@example.com",
                                        contact_kind="email"), url=actions)
    assert not save_request(CallbackRequest(conversation_id=sender, name="Ann", contact="a@example.com",
                                            contact_kind="email"), url=actions)  # SELECT: once per conversation
    for sql in ("SELECT * FROM staff_accounts", "SELECT * FROM staff_sessions", "SELECT * FROM audit_log",
                "SELECT * FROM conversation_reviews", "INSERT INTO audit_log (at, actor, role, action, target, detail, ip) "
                "VALUES (now(), 'x', '', 'x', '', '', '')", "UPDATE callback_requests SET status = 'closed'",
                "DELETE FROM callback_requests", "TRUNCATE callback_requests",
                "CREATE TABLE sneaky (id int)"):
        refused(actions, sql, "permission denied")


def test_the_action_server_runs_with_its_limited_role(roles_db, tmp_path):
    """``ACTION_DB_URL``: the real action server stores a forged-looking call's callback with the
    token (as the Rasa server sends it), through the limited role, while CLINIC_DB_URL is the app's."""
    from tests.test_action_server_auth import forged_call

    port, token = free_port(), "roles-token-" + uuid.uuid4().hex
    env = {**os.environ, "ACTION_SERVER_TOKEN": token, "CLINIC_DB_URL": roles_db["app"],
           "ACTION_DB_URL": roles_db["actions"]}
    log = tmp_path / "actions.log"
    proc = subprocess.Popen([sys.executable, "-m", "actions.server", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/health", proc=proc)
        sender = "roles-live-" + uuid.uuid4().hex[:8]
        r = requests.post(f"http://127.0.0.1:{port}/webhook", params={"token": token}, json=forged_call(sender),
                          timeout=30)
        assert r.status_code == 200, (r.text[:300], log.read_text(errors="replace")[-2000:])
        rows = allowed(roles_db["admin"], "SELECT conversation_id FROM callback_requests WHERE conversation_id = :s",
                       s=sender)
        assert rows == [(sender,)]
        sessions = allowed(roles_db["admin"], "SELECT usename FROM pg_stat_activity WHERE datname = current_database() "
                                              "AND usename = :u", u=ACTIONS)
        assert sessions, "the action server did not connect as its own role"
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=20)


def test_setup_refuses_sqlite_and_unknown_roles(roles_db, tmp_path):
    def run(url: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "clinic.db_roles", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=120, env={**os.environ, "CLINIC_DB_ADMIN_URL": url})

    r = run(f"sqlite:///{tmp_path / 'c.db'}", "--app-role", APP, "--actions-role", ACTIONS)
    assert r.returncode == 1 and "postgresql://" in r.stderr
    r = run(roles_db["admin"], "--app-role", "nobody_here", "--actions-role", ACTIONS)
    assert r.returncode == 1 and "does not exist" in r.stderr
    r = run(roles_db["admin"], "--app-role", APP, "--actions-role", APP)
    assert r.returncode == 1 and "different" in r.stderr
