"""Two-step sign-in for the staff console: TOTP codes (RFC 6238, pyotp) and recovery codes.

* Required for the roles in ``TOTP_REQUIRED_FOR`` (``admin``, the default; ``all``;
  ``none`` only outside the production profile), optional for the others. A signed-in
  person whose role requires it and who has not set it up reaches only ``/staff/totp``
  (and sign-out) until they have.
* Setting up: the secret is generated and shown once (as text and as an ``otpauth://``
  URI for an authenticator app), then the first code from the app confirms it. Ten
  recovery codes are shown once at that moment; only their SHA-256 is kept, and each
  works once.
* Signing in: after the right password the browser holds a short-lived signed cookie
  (five minutes) and the sign-in page asks for the code. A code is accepted for the
  current 30-second step or its neighbours, and never twice (the last step used is kept).
  Wrong codes count as failed sign-ins (the same slowing-down and lock), and the
  password step does not reset those counters while a code is still owed.
* ``python -m webapp.console.accounts reset-totp --username NAME`` removes someone's
  second factor (lost phone and codes); every change is audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
import time
from typing import List, Optional, Set, Tuple

import pyotp
from sanic import Blueprint, response
from sanic.request import Request

from clinic import settings
from clinic.models import ROLES, StaffRecoveryCode, StaffSession, StaffTotp, session_factory, utcnow
from webapp.console import audit

logger = logging.getLogger(__name__)

ISSUER = "Shasta Meadows staff console"
STEP_SECONDS = 30
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
_DIGITS = re.compile(r"^\d{6}$")
# Where a person whose role requires a second factor may go before setting one up.
SETUP_PATHS = ("/staff/totp", "/staff/logout")


class TotpError(ValueError):
    """A second-factor request that cannot be done; the message says why."""


def required_roles() -> Set[str]:
    """Roles that must use a second factor (``TOTP_REQUIRED_FOR``)."""
    value = settings.get("TOTP_REQUIRED_FOR").strip().lower()
    if value == "all":
        return set(ROLES)
    if value == "none":
        return set()
    return {"admin"}


def is_required(role: str) -> bool:
    return role in required_roles()


def _confirmed(session, account_id: int) -> Optional[StaffTotp]:
    row = session.get(StaffTotp, account_id)
    return row if row is not None and row.confirmed_at is not None else None


def is_enabled(account_id: int, url: Optional[str] = None) -> bool:
    with session_factory(url)() as session:
        return _confirmed(session, account_id) is not None


def recovery_left(account_id: int, url: Optional[str] = None) -> int:
    with session_factory(url)() as session:
        return (session.query(StaffRecoveryCode)
                .filter_by(account_id=account_id, used_at=None).count())


def provisioning_uri(secret: str, username: str) -> str:
    """What an authenticator app reads (as a QR code or pasted as text)."""
    return pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(name=username, issuer_name=ISSUER)


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type into an app."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def begin(account_id: int, url: Optional[str] = None) -> str:
    """A new secret waiting for its first code (replaces one never confirmed)."""
    secret = pyotp.random_base32(32)
    with session_factory(url)() as session:
        row = session.get(StaffTotp, account_id)
        if row is not None and row.confirmed_at is not None:
            raise TotpError("two-step sign-in is already set up; turn it off first to replace it")
        if row is None:
            session.add(StaffTotp(account_id=account_id, secret=secret, last_step=0))
        else:
            row.secret, row.created_at, row.last_step = secret, utcnow(), 0
        session.commit()
    return secret


def _clean(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()[:32]


def _step_matching(secret: str, code: str, after: int, now: float) -> Optional[int]:
    """The time step (now or a neighbour) whose code is ``code``, if later than ``after``."""
    if not _DIGITS.match(code):
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = totp.timecode(dt.datetime.fromtimestamp(now, dt.timezone.utc))
    for step in (current - 1, current, current + 1):
        if step > after and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _use_step(session, account_id: int, step: int) -> bool:
    """Move ``last_step`` forward, once: two requests with the same code cannot both win."""
    changed = (session.query(StaffTotp)
               .filter(StaffTotp.account_id == account_id, StaffTotp.last_step < step)
               .update({"last_step": step}, synchronize_session=False))
    return changed == 1


def _hash_code(account_id: int, code: str) -> str:
    return hashlib.sha256(f"{account_id}:{_clean(code)}".encode()).hexdigest()


def _new_codes(session, account_id: int) -> List[str]:
    session.query(StaffRecoveryCode).filter_by(account_id=account_id).delete(synchronize_session=False)
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
        code = f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"
        codes.append(code)
        session.add(StaffRecoveryCode(account_id=account_id, code_hash=_hash_code(account_id, code)))
    return codes


def confirm(account_id: int, code: str, url: Optional[str] = None,
            now: Optional[float] = None) -> Optional[List[str]]:
    """The first code from the app: turns the second factor on; the recovery codes (shown once)."""
    now = time.time() if now is None else now
    with session_factory(url)() as session:
        row = session.get(StaffTotp, account_id)
        if row is None or row.confirmed_at is not None:
            return None
        step = _step_matching(row.secret, _clean(code), row.last_step, now)
        if step is None or not _use_step(session, account_id, step):
            session.rollback()
            return None
        row = session.get(StaffTotp, account_id)
        row.confirmed_at = utcnow()
        codes = _new_codes(session, account_id)
        session.commit()
    return codes


def verify(account_id: int, code: str, url: Optional[str] = None, now: Optional[float] = None) -> Optional[str]:
    """``"totp"`` or ``"recovery_code"`` when ``code`` is good now (and spends it), else None."""
    now = time.time() if now is None else now
    code = _clean(code)
    with session_factory(url)() as session:
        row = _confirmed(session, account_id)
        if row is None or not code:
            return None
        if _DIGITS.match(code):
            step = _step_matching(row.secret, code, row.last_step, now)
            if step is not None and _use_step(session, account_id, step):
                session.commit()
                return "totp"
            session.rollback()
            return None
        spent = (session.query(StaffRecoveryCode)
                 .filter_by(account_id=account_id, code_hash=_hash_code(account_id, code), used_at=None)
                 .update({"used_at": utcnow()}, synchronize_session=False))
        session.commit()
        return "recovery_code" if spent == 1 else None


def new_recovery_codes(account_id: int, url: Optional[str] = None) -> List[str]:
    """Replace every recovery code (the old ones stop working)."""
    with session_factory(url)() as session:
        if _confirmed(session, account_id) is None:
            raise TotpError("two-step sign-in is not set up")
        codes = _new_codes(session, account_id)
        session.commit()
    return codes


def remove(account_id: int, url: Optional[str] = None, end_sessions: bool = False) -> bool:
    """Turn the second factor off (and, for a reset, end the account's sessions); True if it was on."""
    with session_factory(url)() as session:
        had = _confirmed(session, account_id) is not None
        session.query(StaffTotp).filter_by(account_id=account_id).delete(synchronize_session=False)
        session.query(StaffRecoveryCode).filter_by(account_id=account_id).delete(synchronize_session=False)
        if end_sessions:
            session.query(StaffSession).filter_by(account_id=account_id).delete(synchronize_session=False)
        session.commit()
    return had


# --- the signed-in pages: /staff/totp ----------------------------------------------------

def build_blueprint(state) -> Blueprint:
    """``/staff/totp``: status, set-up (secret shown once), new recovery codes, turning it off."""
    bp = Blueprint("staff_totp", url_prefix="/staff/totp")
    auth = state.auth

    def ip_of(request: Request) -> str:
        return str(request.remote_addr or request.ip or "")

    def page(request: Request, status: int = 200, **ctx):
        me = request.ctx.account
        return state.render(request, "totp.html", status=status, enabled=is_enabled(me.id, state.clinic_url),
                            required=is_required(me.role), left=recovery_left(me.id, state.clinic_url), **ctx)

    def check_code(request: Request) -> Tuple[bool, Optional[response.HTTPResponse]]:
        """The current code (or a recovery code) of the signed-in person, throttled like a sign-in."""
        me = request.ctx.account
        refused = auth.refusal(me.username, ip_of(request))
        if refused:
            return False, page(request, status=429, error=f"Too many wrong codes. Wait {refused[1]} second(s).")
        if verify(me.id, request.form.get("code") or "", state.clinic_url) is None:
            auth.count_failure(me.username, ip_of(request))
            audit.record(me.username, "totp_code_wrong", f"account:{me.username}", ip=ip_of(request),
                         role=me.role, url=state.clinic_url)
            return False, page(request, status=400, error="That code is not right (or was used already).")
        return True, None

    @bp.get("")
    async def totp_status(request: Request):
        return page(request)

    @bp.post("/start")
    async def totp_start(request: Request):
        me = request.ctx.account
        try:
            secret = begin(me.id, state.clinic_url)
        except TotpError as e:
            return page(request, status=409, error=str(e).capitalize() + ".")
        # The only time the secret is sent: a reload starts again with a new one.
        return state.render(request, "totp.html", enabled=False, required=is_required(me.role), left=0,
                            secret=grouped(secret), uri=provisioning_uri(secret, me.username))

    @bp.post("/confirm")
    async def totp_confirm(request: Request):
        me = request.ctx.account
        refused = auth.refusal(me.username, ip_of(request))
        if refused:
            return page(request, status=429, error=f"Too many wrong codes. Wait {refused[1]} second(s).")
        codes = confirm(me.id, request.form.get("code") or "", state.clinic_url)
        if codes is None:
            auth.count_failure(me.username, ip_of(request))
            return page(request, status=400, pending=True,
                        error="That code did not match. Enter the code your app shows now, or start again "
                              "for a new secret.")
        audit.record(me.username, "totp_enrol", f"account:{me.username}", ip=ip_of(request), role=me.role,
                     url=state.clinic_url)
        return state.render(request, "totp.html", enabled=True, required=is_required(me.role),
                            left=len(codes), codes=codes)

    @bp.post("/recovery")
    async def totp_recovery(request: Request):
        me = request.ctx.account
        ok, refusal = check_code(request)
        if not ok:
            return refusal
        codes = new_recovery_codes(me.id, state.clinic_url)
        audit.record(me.username, "totp_recovery_codes", f"account:{me.username}", ip=ip_of(request),
                     role=me.role, url=state.clinic_url)
        return page(request, codes=codes)

    @bp.post("/disable")
    async def totp_disable(request: Request):
        me = request.ctx.account
        if is_required(me.role):
            return page(request, status=403, error="Your role must use two-step sign-in: it cannot be turned off.")
        ok, refusal = check_code(request)
        if not ok:
            return refusal
        remove(me.id, state.clinic_url)
        audit.record(me.username, "totp_disable", f"account:{me.username}", ip=ip_of(request), role=me.role,
                     url=state.clinic_url)
        return response.redirect("/staff/totp", status=303)

    return bp
