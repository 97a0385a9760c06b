"""Staff accounts: one per person, argon2-hashed passwords, made from the command line.

    python -m webapp.console.accounts create --username ann --role admin
    python -m webapp.console.accounts create --username bob --role staff --password-stdin < pw.txt
    python -m webapp.console.accounts list
    python -m webapp.console.accounts disable --username bob
    python -m webapp.console.accounts enable --username bob
    python -m webapp.console.accounts unlock --username bob       # after too many failed sign-ins
    python -m webapp.console.accounts set-password --username bob # a reset, read like `create`
    python -m webapp.console.accounts reset-totp --username bob   # lost phone and recovery codes

There is no default account and no shared password: the first admin is made
with ``create --role admin``. The accounts live in ``CLINIC_DB_URL`` (default
``var/clinic.db``); every change is written to the audit log.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
from typing import List, Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from webapp.console import audit
from clinic.models import ROLES, LoginThrottle, StaffAccount, StaffSession, session_factory, utcnow

MIN_PASSWORD = 12
MAX_PASSWORD = 256
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")

_hasher = PasswordHasher()
# Verified against when the username is unknown, so a wrong username costs as
# long as a wrong password and response times do not reveal which names exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password-" + os.urandom(8).hex())


class AccountError(ValueError):
    """A request about accounts that cannot be done; the message says why."""


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()


def check_username(username: str) -> str:
    name = normalise_username(username)
    if not USERNAME.match(name):
        raise AccountError(
            "usernames are 2-64 characters: lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit")
    return name


def check_password(password: str, username: str = "") -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must be at least {MIN_PASSWORD} characters long")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password must be at most {MAX_PASSWORD} characters long")
    if not password.strip():
        raise AccountError("the password cannot be only spaces")
    if username and username.lower() in password.lower():
        raise AccountError("the password must not contain the username")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: Optional[str], password: str) -> bool:
    """True when ``password`` matches; constant work whether or not there is a hash."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return False


def get(username: str, url: Optional[str] = None) -> Optional[StaffAccount]:
    with session_factory(url)() as session:
        return session.query(StaffAccount).filter_by(username=normalise_username(username)).first()


def get_by_id(account_id: int, url: Optional[str] = None) -> Optional[StaffAccount]:
    with session_factory(url)() as session:
        return session.get(StaffAccount, account_id)


def list_accounts(url: Optional[str] = None) -> List[StaffAccount]:
    with session_factory(url)() as session:
        return session.query(StaffAccount).order_by(StaffAccount.username).all()


def create(username: str, role: str, password: str, actor: str, ip: str = "",
           url: Optional[str] = None) -> StaffAccount:
    name = check_username(username)
    if role not in ROLES:
        raise AccountError(f"role must be one of: {', '.join(ROLES)}")
    check_password(password, name)
    with session_factory(url)() as session:
        if session.query(StaffAccount.id).filter_by(username=name).first():
            raise AccountError(f"an account named '{name}' already exists")
        account = StaffAccount(username=name, role=role, password_hash=hash_password(password),
                               active=True, created_at=utcnow(), created_by=actor,
                               password_changed_at=utcnow())
        session.add(account)
        session.commit()
    audit.record(actor, "account_create", f"account:{name}", {"role": role}, ip=ip, url=url)
    return account


def _end_sessions(session, account_id: int) -> None:
    session.query(StaffSession).filter_by(account_id=account_id).delete()


def set_active(username: str, active: bool, actor: str, ip: str = "", role: str = "",
               url: Optional[str] = None) -> StaffAccount:
    name = normalise_username(username)
    with session_factory(url)() as session:
        account = session.query(StaffAccount).filter_by(username=name).first()
        if account is None:
            raise AccountError(f"no account named '{name}'")
        if account.active == active:
            raise AccountError(f"'{name}' is already {'active' if active else 'disabled'}")
        if not active and account.role == "admin":
            others = (session.query(StaffAccount.id)
                      .filter(StaffAccount.role == "admin", StaffAccount.active.is_(True),
                              StaffAccount.id != account.id).count())
            if others == 0:
                raise AccountError("this is the last active admin: create another admin first")
        account.active = active
        if active:
            account.disabled_at = account.disabled_by = None
        else:
            account.disabled_at = utcnow()
            account.disabled_by = actor
            _end_sessions(session, account.id)
        session.commit()
    audit.record(actor, "account_enable" if active else "account_disable", f"account:{name}",
                 ip=ip, role=role, url=url)
    return account


def set_password(username: str, password: str, actor: str, ip: str = "", role: str = "",
                 url: Optional[str] = None, action: str = "account_password_reset",
                 keep_session: Optional[str] = None) -> None:
    """Replace the password and sign the account out everywhere (but ``keep_session``)."""
    name = normalise_username(username)
    check_password(password, name)
    with session_factory(url)() as session:
        account = session.query(StaffAccount).filter_by(username=name).first()
        if account is None:
            raise AccountError(f"no account named '{name}'")
        account.password_hash = hash_password(password)
        account.password_changed_at = utcnow()
        q = session.query(StaffSession).filter_by(account_id=account.id)
        if keep_session:
            q = q.filter(StaffSession.id != keep_session)
        q.delete(synchronize_session=False)
        session.commit()
    audit.record(actor, action, f"account:{name}", ip=ip, role=role, url=url)


def unlock(username: str, actor: str, ip: str = "", role: str = "", url: Optional[str] = None) -> int:
    """Clear the failed sign-in counters of ``username``; how many were cleared."""
    name = normalise_username(username)
    with session_factory(url)() as session:
        cleared = (session.query(LoginThrottle)
                   .filter(LoginThrottle.key.startswith(name + "|", autoescape=True))
                   .delete(synchronize_session=False))
        session.commit()
    audit.record(actor, "account_unlock", f"account:{name}", {"cleared": cleared}, ip=ip, role=role,
                 url=url)
    return cleared


# --- command line ---------------------------------------------------------------

def _cli_actor() -> str:
    try:
        who = getpass.getuser()
    except Exception:  # no user name in the environment (containers)
        who = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"cli:{who}"


def _read_password(from_stdin: bool, username: str) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if password.endswith("\r"):
            password = password[:-1]
    else:
        password = getpass.getpass(f"Password for {username} (at least {MIN_PASSWORD} characters): ")
        again = getpass.getpass("Same password again: ")
        if password != again:
            raise AccountError("the two passwords differ")
    check_password(password, username)
    return password


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m webapp.console.accounts",
                                     description="Staff console accounts (CLINIC_DB_URL).")
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("create", help="make an account for one person")
    c.add_argument("--username", required=True)
    c.add_argument("--role", choices=ROLES, default="staff")
    c.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of standard input")
    p = sub.add_parser("set-password", help="reset a password (signs the account out everywhere)")
    p.add_argument("--username", required=True)
    p.add_argument("--password-stdin", action="store_true")
    for name, text in (("disable", "disable an account (and end its sessions)"),
                       ("enable", "enable a disabled account"),
                       ("unlock", "clear failed sign-in counters"),
                       ("reset-totp", "remove two-step sign-in (lost phone and codes); ends the sessions")):
        s = sub.add_parser(name, help=text)
        s.add_argument("--username", required=True)
    sub.add_parser("list", help="list accounts")
    args = parser.parse_args(argv)
    actor = _cli_actor()
    try:
        if args.command == "create":
            name = check_username(args.username)
            account = create(name, args.role, _read_password(args.password_stdin, name), actor)
            print(f"Created {account.role} account '{account.username}'.")
        elif args.command == "set-password":
            name = normalise_username(args.username)
            if get(name) is None:
                raise AccountError(f"no account named '{name}'")
            set_password(name, _read_password(args.password_stdin, name), actor)
            print(f"Password of '{name}' replaced; its sessions were ended.")
        elif args.command in ("disable", "enable"):
            set_active(args.username, args.command == "enable", actor)
            print(f"'{normalise_username(args.username)}' {args.command}d.")
        elif args.command == "unlock":
            cleared = unlock(args.username, actor)
            print(f"Cleared {cleared} failed sign-in counter(s) of '{normalise_username(args.username)}'.")
        elif args.command == "reset-totp":
            from webapp.console import totp

            name = normalise_username(args.username)
            account = get(name)
            if account is None:
                raise AccountError(f"no account named '{name}'")
            had = totp.remove(account.id, end_sessions=True)
            audit.record(actor, "totp_reset", f"account:{name}", {"was_on": had})
            after = " It must set it up again at its next sign-in." if totp.is_required(account.role) else ""
            print(f"Two-step sign-in of '{name}' {'removed' if had else 'was not set up'}; "
                  f"its sessions were ended.{after}")
        elif args.command == "list":
            rows = list_accounts()
            if not rows:
                print("No accounts yet. Make the first admin with: "
                      "python -m webapp.console.accounts create --username NAME --role admin")
            from webapp.console import totp

            for a in rows:
                last = a.last_sign_in_at.strftime("%Y-%m-%d %H:%M UTC") if a.last_sign_in_at else "never"
                two = "2-step on " if totp.is_enabled(a.id) else "2-step off"
                print(f"{a.username:<24} {a.role:<6} {'active' if a.active else 'disabled':<9} {two} "
                      f"last sign-in: {last}")
    except AccountError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, EOFError):
        print("\ncancelled", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
