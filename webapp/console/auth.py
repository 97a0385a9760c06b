"""Sign-in, sessions, CSRF tokens and the slowing-down of password guessing.

* The session cookie carries a random token signed with ``SESSION_SECRET``
  (itsdangerous). The database keeps only the token's SHA-256, with the
  account, the per-session CSRF token and when it was last used, so signing
  out, disabling an account or a password reset ends the session at once.
* A session ends after ``SESSION_IDLE_MINUTES`` (30) without a request and
  after ``SESSION_MAX_HOURS`` (12) in any case.
* Failed sign-ins are counted per username+IP and per username. After each
  failure from one IP the next attempt must wait twice as long as before
  (``LOGIN_DELAY_BASE_SECONDS``, 1 s, doubling up to ``LOGIN_DELAY_MAX_SECONDS``);
  after ``LOGIN_LOCK_AFTER`` (5) failures the username+IP is locked for
  ``LOGIN_LOCK_MINUTES`` (15), and after three times as many failures from
  any address, the username itself is. ``accounts unlock`` clears the counters.
  Wrong second-factor codes and wrong current passwords (changing one's password)
  count the same way.
* With a second factor set up (``webapp.console.totp``) the right password only earns a
  signed cookie good for five minutes (``staff_second_factor``); the session starts once
  the code is right, and the counters are cleared only then.
* In the production profile (``CLINIC_PROFILE=production``) cookies are always
  ``Secure`` (TLS ends at the load balancer, so the app itself may see plain HTTP);
  ``SESSION_COOKIE_SECURE=0`` and ``TOTP_REQUIRED_FOR=none`` keep the console off there.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Optional, Tuple

from itsdangerous import BadSignature, URLSafeTimedSerializer

from webapp.console import accounts, audit, totp
from clinic import settings
from clinic.models import LoginThrottle, StaffAccount, StaffSession, session_factory, utcnow

logger = logging.getLogger("webapp.console.auth")

SESSION_COOKIE = "staff_session"
LOGIN_COOKIE = "staff_login"
SECOND_FACTOR_COOKIE = "staff_second_factor"
SECOND_FACTOR_SECONDS = 300
# sign_in's message when the password was right and a code is still owed.
SECOND_FACTOR = "second factor required"
COOKIE_PATH = "/staff"
MIN_SECRET = 32


class ConsoleConfigError(RuntimeError):
    """The console cannot run with this configuration."""


def _env_float(name: str) -> float:
    """A number setting of clinic.settings; its error becomes the console's configuration error."""
    try:
        return settings.get_float(name)
    except settings.SettingsError as e:
        raise ConsoleConfigError(str(e)) from e


@dataclass(frozen=True)
class AuthConfig:
    secret: str
    idle: dt.timedelta
    max_age: dt.timedelta
    delay_base: float
    delay_max: float
    lock_after: int
    lock_for: dt.timedelta
    cookie_secure: str  # "auto", "1" or "0"

    @classmethod
    def from_env(cls) -> "AuthConfig":
        secret = settings.get("SESSION_SECRET")
        if len(secret) < MIN_SECRET:
            raise ConsoleConfigError(
                "SESSION_SECRET is unset or shorter than %d characters: the staff console "
                "will not start without it (scripts/env.sh generates one in .env)" % MIN_SECRET)
        secure = settings.get("SESSION_COOKIE_SECURE").strip().lower()
        if secure not in ("auto", "1", "0", "true", "false"):
            raise ConsoleConfigError("SESSION_COOKIE_SECURE must be auto, 1 or 0")
        if settings.get("CLINIC_PROFILE") == "production":
            if secure in ("0", "false"):
                raise ConsoleConfigError("SESSION_COOKIE_SECURE=0 is refused in the production profile: staff "
                                         "sessions travel only over HTTPS")
            secure = "1"
            if settings.get("TOTP_REQUIRED_FOR").strip().lower() == "none":
                raise ConsoleConfigError("TOTP_REQUIRED_FOR=none is refused in the production profile: admins "
                                         "sign in with a second factor")
        return cls(
            secret=secret,
            idle=dt.timedelta(minutes=_env_float("SESSION_IDLE_MINUTES")),
            max_age=dt.timedelta(hours=_env_float("SESSION_MAX_HOURS")),
            delay_base=_env_float("LOGIN_DELAY_BASE_SECONDS"),
            delay_max=_env_float("LOGIN_DELAY_MAX_SECONDS"),
            lock_after=max(1, int(_env_float("LOGIN_LOCK_AFTER"))),
            lock_for=dt.timedelta(minutes=_env_float("LOGIN_LOCK_MINUTES")),
            cookie_secure={"true": "1", "false": "0"}.get(secure, secure),
        )


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Auth:
    """Sessions and sign-in for one app (one configuration)."""

    def __init__(self, config: AuthConfig, db_url: Optional[str] = None) -> None:
        self.config = config
        self.db_url = db_url
        self._sessions = URLSafeTimedSerializer(config.secret, salt="staff-console-session")
        self._login = URLSafeTimedSerializer(config.secret, salt="staff-console-login-csrf")
        self._second = URLSafeTimedSerializer(config.secret, salt="staff-console-second-factor")

    # --- cookies ---------------------------------------------------------------
    def secure_cookie(self, scheme: str) -> bool:
        if self.config.cookie_secure == "auto":
            return scheme == "https"
        return self.config.cookie_secure == "1"

    def set_cookie(self, response, name: str, value: str, scheme: str, max_age: Optional[int]) -> None:
        response.cookies[name] = value
        cookie = response.cookies[name]
        cookie["path"] = COOKIE_PATH
        cookie["httponly"] = True
        cookie["samesite"] = "Strict"
        if self.secure_cookie(scheme):
            cookie["secure"] = True
        if max_age is not None:
            cookie["max-age"] = max_age

    def clear_cookie(self, response, name: str) -> None:
        response.cookies[name] = ""
        cookie = response.cookies[name]
        cookie["path"] = COOKIE_PATH
        cookie["httponly"] = True
        cookie["samesite"] = "Strict"
        cookie["max-age"] = 0

    # --- sign-in form CSRF (before there is a session) -----------------------------
    def new_login_token(self) -> Tuple[str, str]:
        """(token for the form, signed value for the cookie)."""
        token = secrets.token_urlsafe(32)
        return token, self._login.dumps(token)

    def login_token_from_cookie(self, cookie: Optional[str]) -> Optional[str]:
        if not cookie:
            return None
        try:
            return self._login.loads(cookie, max_age=3600)
        except BadSignature:
            return None

    # --- between the password and the code ------------------------------------------
    def new_second_factor(self, account: StaffAccount) -> Tuple[str, str]:
        """(signed cookie value, form token) after the right password of an account with TOTP."""
        nonce = secrets.token_urlsafe(24)
        return self._second.dumps({"a": account.id, "n": nonce}), nonce

    def second_factor_from_cookie(self, cookie: Optional[str]) -> Optional[Tuple[int, str]]:
        """(account id, form token) while the password step is fresh, else None."""
        if not cookie:
            return None
        try:
            value = self._second.loads(cookie, max_age=SECOND_FACTOR_SECONDS)
        except BadSignature:
            return None
        if not isinstance(value, dict) or not isinstance(value.get("a"), int) or not isinstance(value.get("n"), str):
            return None
        return value["a"], value["n"]

    # --- sessions ----------------------------------------------------------------
    def start_session(self, account: StaffAccount, ip: str) -> Tuple[str, StaffSession]:
        """A new session for ``account``: (signed cookie value, session row)."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        row = StaffSession(id=_hash_token(token), account_id=account.id,
                           csrf_token=secrets.token_urlsafe(32), created_at=now, last_seen_at=now,
                           ip=ip[:64])
        with session_factory(self.db_url)() as session:
            # Housekeeping: sessions idle or too old are of no use to anyone.
            session.query(StaffSession).filter(
                (StaffSession.last_seen_at < now - self.config.idle)
                | (StaffSession.created_at < now - self.config.max_age)
            ).delete(synchronize_session=False)
            session.add(row)
            session.commit()
        return self._sessions.dumps(token), row

    def resolve(self, cookie: Optional[str]) -> Optional[Tuple[StaffAccount, StaffSession]]:
        """The account and session behind a cookie, or None when it is not valid now."""
        if not cookie:
            return None
        try:
            token = self._sessions.loads(cookie, max_age=int(self.config.max_age.total_seconds()))
        except BadSignature:
            return None
        if not isinstance(token, str):
            return None
        now = utcnow()
        with session_factory(self.db_url)() as session:
            row = session.get(StaffSession, _hash_token(token))
            if row is None:
                return None
            if now - row.last_seen_at > self.config.idle or now - row.created_at > self.config.max_age:
                session.delete(row)
                session.commit()
                return None
            account = session.get(StaffAccount, row.account_id)
            if account is None or not account.active:
                session.delete(row)
                session.commit()
                return None
            if now - row.last_seen_at > dt.timedelta(seconds=15):
                row.last_seen_at = now
                session.commit()
            return account, row

    def end_session(self, session_id: str) -> None:
        with session_factory(self.db_url)() as session:
            session.query(StaffSession).filter_by(id=session_id).delete()
            session.commit()

    # --- sign-in -------------------------------------------------------------------
    def _keys(self, username: str, ip: str) -> Tuple[str, str]:
        name = accounts.normalise_username(username)[:200]
        return f"{name}|{ip[:64]}", f"{name}|*"

    def _delay(self, failures: int) -> float:
        if failures <= 0:
            return 0.0
        return min(self.config.delay_base * (2 ** (failures - 1)), self.config.delay_max)

    def refusal(self, username: str, ip: str) -> Optional[Tuple[str, int]]:
        """(reason, seconds to wait) when sign-in for this username+IP is not allowed now."""
        now = utcnow()
        ip_key, user_key = self._keys(username, ip)
        with session_factory(self.db_url)() as session:
            rows = {r.key: r for r in session.query(LoginThrottle)
                    .filter(LoginThrottle.key.in_([ip_key, user_key]))}
        wait = 0.0
        reason = ""
        for row in rows.values():
            if row.locked_until and row.locked_until > now:
                left = (row.locked_until - now).total_seconds()
                if left > wait:
                    wait, reason = left, "locked"
        ip_row = rows.get(ip_key)
        if not reason and ip_row and ip_row.last_failure_at:
            allowed_at = ip_row.last_failure_at + dt.timedelta(seconds=self._delay(ip_row.failures))
            if allowed_at > now:
                wait, reason = (allowed_at - now).total_seconds(), "slowed"
        if reason:
            return reason, max(1, int(wait + 0.999))
        return None

    def _failed(self, username: str, ip: str) -> int:
        """Count one failure; the username+IP's consecutive failures so far."""
        now = utcnow()
        ip_key, user_key = self._keys(username, ip)
        count = 0
        with session_factory(self.db_url)() as session:
            for key, limit in ((ip_key, self.config.lock_after), (user_key, 3 * self.config.lock_after)):
                row = session.get(LoginThrottle, key)
                if row is None:
                    row = LoginThrottle(key=key, failures=0)
                    session.add(row)
                if row.locked_until and row.locked_until <= now:
                    row.failures = 0  # the lock has run out: start counting again
                    row.locked_until = None
                row.failures += 1
                row.last_failure_at = now
                if row.failures >= limit:
                    row.locked_until = now + self.config.lock_for
                if key == ip_key:
                    count = row.failures
            session.commit()
        return count

    def count_failure(self, username: str, ip: str) -> int:
        """A wrong code or current password: counted like a failed sign-in."""
        return self._failed(accounts.normalise_username(username)[:64], ip)

    def _succeeded(self, username: str, ip: str) -> None:
        with session_factory(self.db_url)() as session:
            session.query(LoginThrottle).filter(
                LoginThrottle.key.in_(list(self._keys(username, ip)))).delete(synchronize_session=False)
            session.commit()

    def sign_in(self, username: str, password: str, ip: str) -> Tuple[Optional[StaffAccount], str]:
        """Check a sign-in attempt: (account, "") or (None, message for the visitor).

        Blocking (argon2 is deliberately slow): call it from a worker thread.
        """
        name = accounts.normalise_username(username)[:64]
        shown = name.encode("unicode_escape").decode()[:64]  # never the password
        refused = self.refusal(name, ip)
        if refused:
            reason, wait = refused
            logger.warning("Staff sign-in refused (%s, %ds left) for username '%s' from %s",
                           reason, wait, shown, ip)
            audit.record(name or "(empty)", "sign_in_refused", f"account:{name}",
                         {"reason": reason, "retry_after_seconds": wait}, ip=ip, url=self.db_url)
            if reason == "locked":
                return None, (f"Too many failed sign-ins: this account is locked for {wait // 60 + 1} "
                              "minute(s) from here. An admin can unlock it.")
            return None, f"Too many failed sign-ins. Wait {wait} second(s) and try again."
        account = accounts.get(name, self.db_url) if name else None
        ok = accounts.verify_password(account.password_hash if account else None, password)
        if ok and account is not None and account.active and totp.is_enabled(account.id, self.db_url):
            # The counters stay until the code is right: re-entering the password must not
            # reset the count of wrong codes.
            logger.info("Staff password accepted for '%s' from %s; second factor asked", shown, ip)
            audit.record(name, "sign_in_password", f"account:{name}", {"second_factor": "asked"}, ip=ip,
                         role=account.role, url=self.db_url)
            return account, SECOND_FACTOR
        if ok and account is not None and account.active:
            self._succeeded(name, ip)
            with session_factory(self.db_url)() as session:
                row = session.get(StaffAccount, account.id)
                row.last_sign_in_at = utcnow()
                if accounts.needs_rehash(row.password_hash):
                    row.password_hash = accounts.hash_password(password)
                session.commit()
            logger.info("Staff sign-in: '%s' from %s", shown, ip)
            audit.record(name, "sign_in", f"account:{name}", ip=ip, role=account.role, url=self.db_url)
            return account, ""
        failures = self._failed(name, ip)
        why = "unknown username" if account is None else ("account disabled" if not account.active
                                                         else "wrong password")
        logger.warning("Failed staff sign-in for username '%s' from %s (%s; %d in a row)",
                       shown, ip, why, failures)
        audit.record(name or "(empty)", "sign_in_failed", f"account:{name}",
                     {"reason": why, "consecutive_failures": failures}, ip=ip, url=self.db_url)
        return None, "Wrong username or password."


    def second_factor(self, account_id: int, code: str, ip: str) -> Tuple[Optional[StaffAccount], str]:
        """The code after the password: (account, "") when right, else (None, message).

        Blocking (database): call it from a worker thread.
        """
        account = accounts.get_by_id(account_id, self.db_url)
        if account is None or not account.active:
            return None, "Sign in again."
        name = account.username
        refused = self.refusal(name, ip)
        if refused:
            reason, wait = refused
            audit.record(name, "sign_in_refused", f"account:{name}", {"reason": reason, "step": "second factor",
                                                                        "retry_after_seconds": wait},
                         ip=ip, url=self.db_url)
            if reason == "locked":
                return None, (f"Too many failed sign-ins: this account is locked for {wait // 60 + 1} "
                              "minute(s) from here. An admin can unlock it.")
            return None, f"Too many failed sign-ins. Wait {wait} second(s) and try again."
        kind = totp.verify(account.id, code, self.db_url)
        if kind is None:
            failures = self._failed(name, ip)
            logger.warning("Wrong second-factor code for '%s' from %s (%d in a row)", name, ip, failures)
            audit.record(name, "sign_in_failed", f"account:{name}",
                         {"reason": "wrong second-factor code", "consecutive_failures": failures}, ip=ip,
                         url=self.db_url)
            return None, "That code is not right (or was used already)."
        self._succeeded(name, ip)
        with session_factory(self.db_url)() as session:
            row = session.get(StaffAccount, account.id)
            row.last_sign_in_at = utcnow()
            session.commit()
        detail = {"second_factor": kind}
        if kind == "recovery_code":
            detail["recovery_codes_left"] = totp.recovery_left(account.id, self.db_url)
        logger.info("Staff sign-in: '%s' from %s (%s)", name, ip, kind)
        audit.record(name, "sign_in", f"account:{name}", detail, ip=ip, role=account.role, url=self.db_url)
        return account, ""


def tokens_equal(a: Optional[str], b: Optional[str]) -> bool:
    """Constant-time; a non-ASCII value is simply unequal (``compare_digest`` raises on str)."""
    if not a or not b:
        return False
    return hmac.compare_digest(str(a).encode("utf-8", "replace"), str(b).encode("utf-8", "replace"))
