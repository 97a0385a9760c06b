"""PostgreSQL roles for production: each process may do only what it needs in the clinic database.

    CLINIC_DB_ADMIN_URL=postgresql://postgres@db/clinic \\
        python -m clinic.db_roles --app-role clinic_app --actions-role clinic_actions

Run it once after creating the database and the two login roles (and again after an
upgrade that adds tables), as the database's owner or a superuser; the URL (with its
password) comes from ``CLINIC_DB_ADMIN_URL``, never from the command line. It

* creates every table and the audit log's triggers (UPDATE/DELETE row triggers and a
  TRUNCATE statement trigger), owned by the admin role, not by the roles the servers use;
* gives the audit log (table, sequence, trigger function) to ``--audit-role`` (default
  ``clinic_audit``, made NOLOGIN when missing): nobody the servers connect as owns it,
  so nobody can drop or disable its triggers;
* lets the web app's role (``CLINIC_DB_URL``) read and write the other tables, and only
  INSERT and SELECT the audit log;
* lets the action server's role (``ACTION_DB_URL``) only INSERT and SELECT callback
  requests (and the live-chat rows it keeps), nothing else: not the staff accounts, not
  the audit log, not the other visitors' data it has no use for.

Why: the security review found one role shared by the web app and the action server,
owner of every table: the action server (which takes requests from the Rasa server)
could read staff password hashes, and the app could drop the audit trigger or TRUNCATE
the audit log, which skips row triggers.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

from clinic import settings

AUDIT_TABLE = "audit_log"
AUDIT_FUNCTION = "audit_log_append_only()"
# What the action server does in the clinic database (actions/, clinic/live_chat.py).
ACTION_SERVER_GRANTS: Dict[str, Tuple[str, ...]] = {
    "callback_requests": ("SELECT", "INSERT"),
    "live_chats": ("SELECT", "INSERT", "UPDATE"),  # a visitor's "yes" to a live chat
    "staff_presence": ("SELECT",),  # is someone available now
}
APP_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
AUDIT_PRIVILEGES = ("SELECT", "INSERT")
# Modules whose tables live in the clinic database (each adds them to clinic.models.Base).
TABLE_MODULES = ("clinic.models", "clinic.live_chat", "webapp.console.frontdesk")
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class RolesError(RuntimeError):
    """The roles cannot be set up as asked; the message says why."""


def _ident(name: str) -> str:
    if not ROLE_NAME.match(name):
        raise RolesError(f"{name!r} is not a plain PostgreSQL role name (lower-case letters, digits, _)")
    return f'"{name}"'


def _load_tables() -> None:
    for module in TABLE_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:  # the module exists but something it needs does not
                raise


def _tables(conn: Connection) -> List[str]:
    return [r[0] for r in conn.execute(text(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"))]


def _sequence_of(conn: Connection, table: str) -> Optional[str]:
    """The sequence behind the table's SERIAL column, if it has one."""
    column = conn.execute(text(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = :t AND column_default LIKE 'nextval(%'"), {"t": table}).scalar()
    if column is None:
        return None
    return conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table, "c": column}).scalar()


def _role_exists(conn: Connection, role: str) -> bool:
    return bool(conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).scalar())


def statements(conn: Connection, app_role: str, actions_role: str, audit_role: str) -> List[str]:
    """The GRANT/REVOKE/ALTER statements for the tables that exist now."""
    app, actions, audit = _ident(app_role), _ident(actions_role), _ident(audit_role)
    tables = _tables(conn)
    if AUDIT_TABLE not in tables:
        raise RolesError("the audit_log table is missing after creating the tables")
    out = [
        f"ALTER TABLE {AUDIT_TABLE} OWNER TO {audit}",  # its sequence follows the table
        f"ALTER FUNCTION {AUDIT_FUNCTION} OWNER TO {audit}",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA public TO {app}, {actions}",
    ]
    owners = dict(conn.execute(text("SELECT tablename, tableowner FROM pg_tables "
                                    "WHERE schemaname = current_schema()")).all())
    for table in tables:
        seq = _sequence_of(conn, table)
        if table != AUDIT_TABLE and owners.get(table) in (app_role, actions_role):
            out.append(f'ALTER TABLE "{table}" OWNER TO CURRENT_USER')  # from an older, one-role setup
        out.append(f'REVOKE ALL ON TABLE "{table}" FROM {app}, {actions}')
        if table == AUDIT_TABLE:
            out.append(f"GRANT {', '.join(AUDIT_PRIVILEGES)} ON TABLE {AUDIT_TABLE} TO {app}")
        else:
            out.append(f'GRANT {", ".join(APP_PRIVILEGES)} ON TABLE "{table}" TO {app}')
        if table in ACTION_SERVER_GRANTS:
            out.append(f'GRANT {", ".join(ACTION_SERVER_GRANTS[table])} ON TABLE "{table}" TO {actions}')
        if seq:
            out.append(f"REVOKE ALL ON SEQUENCE {seq} FROM {app}, {actions}")
            out.append(f"GRANT USAGE, SELECT ON SEQUENCE {seq} TO {app}")
            if "INSERT" in ACTION_SERVER_GRANTS.get(table, ()):
                out.append(f"GRANT USAGE, SELECT ON SEQUENCE {seq} TO {actions}")
    return out


def setup(admin_url: str, app_role: str, actions_role: str, audit_role: str = "clinic_audit") -> List[str]:
    """Create the tables and triggers, then apply the roles' privileges; the statements run."""
    if not make_url(admin_url).drivername.startswith("postgresql"):
        raise RolesError("CLINIC_DB_ADMIN_URL must be a postgresql:// URL (SQLite has no roles)")
    for role in (app_role, actions_role):
        _ident(role)
    if len({app_role, actions_role, audit_role}) != 3:
        raise RolesError("the app, action server and audit roles must be three different roles")
    _load_tables()
    from clinic import models

    eng = models.engine(admin_url)  # tables, and the triggers while the admin still owns audit_log
    with eng.begin() as conn:
        for role in (app_role, actions_role):
            if not _role_exists(conn, role):
                raise RolesError(f"role {role!r} does not exist: CREATE ROLE {role} LOGIN PASSWORD '...' first")
        if not _role_exists(conn, audit_role):
            conn.execute(text(f"CREATE ROLE {_ident(audit_role)} NOLOGIN"))
        done = statements(conn, app_role, actions_role, audit_role)
        for statement in done:
            conn.execute(text(statement))
    return done


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clinic.db_roles", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app-role", required=True, help="the role of CLINIC_DB_URL (web app)")
    parser.add_argument("--actions-role", required=True, help="the role of ACTION_DB_URL (action server)")
    parser.add_argument("--audit-role", default="clinic_audit", help="owner of the audit log (NOLOGIN)")
    args = parser.parse_args(argv)
    admin_url = settings.get("CLINIC_DB_ADMIN_URL")
    if not admin_url:
        print("error: set CLINIC_DB_ADMIN_URL to the clinic database as its owner or a superuser", file=sys.stderr)
        return 2
    try:
        done = setup(admin_url, args.app_role, args.actions_role, args.audit_role)
    except RolesError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # a connection or permission problem: its first line, never the URL
        print(f"error: {type(e).__name__}: {str(e).splitlines()[0][:300]}", file=sys.stderr)
        return 1
    print(f"Clinic database roles set up ({len(done)} statements): {args.app_role} (web app), "
          f"{args.actions_role} (action server), {args.audit_role} (owns the audit log).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
