"""The one reader of the environment: every port, URL, limit and path, with its default.

Every process of the project (the Rasa server's add-ons, the action server, the
web app, the editor tools) and every script asks this module, so a default is
written once. The scripts get the same values as shell ``export`` lines::

    eval "$(.venv/bin/python -m clinic.settings --shell)"

which also reads the project's ``.env`` (the environment wins over it) and, with
``--ensure-secrets``, generates the secrets that are missing into ``.env``.
With ``--follow-run`` the ports ``make run`` chose (``var/ports.env``) are used
too, so ``make reload`` and ``make shell`` talk to the running stack;
``--remember-ports`` is how ``make run`` writes them.

Standard library only: the core knows neither Rasa nor Sanic.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Mapping, MutableMapping, Optional, Tuple

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_FILE = PROJECT_ROOT / ".env"
PORTS_FILE = PROJECT_ROOT / "var" / "ports.env"

Env = Mapping[str, str]


@dataclass(frozen=True)
class Setting:
    """One environment variable: its default (may depend on others) and what it means."""

    name: str
    default: Callable[[Env], str]
    doc: str
    # Exported to the scripts by ``--shell`` (what scripts/defaults.sh exported before).
    shell: bool = False


def _const(value: str) -> Callable[[Env], str]:
    return lambda _env: value


def _root_path(*parts: str) -> Callable[[Env], str]:
    return lambda _env: str(PROJECT_ROOT.joinpath(*parts))


def _sqlite(*parts: str) -> Callable[[Env], str]:
    return lambda _env: f"sqlite:///{PROJECT_ROOT.joinpath(*parts)}"


SETTINGS: Tuple[Setting, ...] = (
    Setting("RASA_PORT", _const("5005"), "port of the Rasa server", shell=True),
    Setting("ACTION_PORT", _const("5055"), "port of the action server", shell=True),
    Setting("WEB_PORT", _const("8080"), "port of the web app (demo page, staff console)", shell=True),
    Setting("ACTION_HOST", _const("127.0.0.1"), "interface the action server listens on"),
    Setting("WEB_HOST", _const("127.0.0.1"), "interface the web app listens on"),
    Setting("ACTION_WORKERS", _const("1"), "action server worker processes"),
    Setting("ACTION_SERVER_URL", lambda e: f"http://127.0.0.1:{get('ACTION_PORT', e)}/webhook",
            "where the Rasa server finds the action server", shell=True),
    Setting("RASA_URL", lambda e: f"http://127.0.0.1:{get('RASA_PORT', e)}",
            "where the web app and the editor tools find the Rasa server", shell=True),
    Setting("WIDGET_RASA_URL", lambda e: get("RASA_URL", e),
            "the Rasa address browsers use, when it differs from RASA_URL"),
    Setting("ALLOWED_ORIGINS",
            lambda e: f"http://localhost:{get('WEB_PORT', e)},http://127.0.0.1:{get('WEB_PORT', e)}",
            "site origins allowed to open the widget's connection (CORS)", shell=True),
    Setting("CONSOLE_ORIGINS", _const(""), "extra origins the staff console accepts form posts from"),
    Setting("SANIC_REQUEST_MAX_SIZE", _const("65536"),
            "largest request body the Rasa server accepts, in bytes (Sanic reads it)", shell=True),
    Setting("ACTION_REQUEST_MAX_SIZE", _const("50000000"),
            "largest request body the action server accepts (the Rasa server sends the whole conversation)"),
    Setting("MAX_MESSAGE_CHARS", _const("2000"),
            "longest visitor message kept, in characters (REST and Socket.IO channels, the widget)", shell=True),
    Setting("SANIC_BACKLOG", _const("1024"),
            "connections a Rasa server's socket queues (a reconnection storm must not be refused)", shell=True),
    Setting("TICKET_LOCK_LIFETIME", _const("10"),
            "seconds a conversation's lock lives when a Rasa server dies in the middle of a turn", shell=True),
    Setting("TRACKER_DB_URL", _sqlite("var", "rasa.db"), "conversations (Rasa's tracker store)"),
    Setting("TRACKER_DB_RETRY_SECONDS", _const("2"), "how long a store call retries an unreachable database"),
    Setting("TRACKER_DB_CONNECT_TIMEOUT", _const("3"), "seconds to wait for PostgreSQL to accept a connection"),
    Setting("CLINIC_DB_URL", _sqlite("var", "clinic.db"), "callback requests, staff accounts, audit trail"),
    Setting("REDIS_URL", _const(""), "lock store shared by several Rasa servers (unset: in-memory locks)"),
    Setting("REDIS_LOCK_PREFIX", _const("clinic"), "prefix of the lock keys in Redis"),
    Setting("APPROVED_CONTENT", _root_path("content", "approved.yml"), "the approved texts"),
    Setting("CLINIC_CONFIG", _root_path("content", "clinic.yml"), "the clinic's contact details"),
    Setting("ROUTING_TABLE", _root_path("content", "routing.yml"), "which intent leads to which content id"),
    Setting("STAFFING_CONFIG", _root_path("content", "staffing.yml"),
            "live chat with staff: opening hours and timeouts (clinic/live_chat.py)"),
    Setting("WIDGET_EMBED_ORIGINS", lambda e: get("ALLOWED_ORIGINS", e),
            "sites allowed to embed the chat widget's frame (its frame-ancestors)"),
    Setting("LOG_LEVEL", _const("INFO"), "log level of the action server and the web app"),
    Setting("RETENTION_DAYS", _const("180"), "conversations and callback requests older than this are deleted"),
    Setting("RETENTION_FIRST_RUN_SECONDS", _const("300"),
            "make run / run-prod: seconds after start before the first daily purge"),
    Setting("CLINIC_TZ", _const("America/Los_Angeles"), "time zone staff see times in"),
    Setting("LOG_DIR", _root_path("var", "log"), "one log file per process of make run / make run-prod"),
    Setting("LOG_MAX_BYTES", _const("10485760"), "a log file is rotated daily and when it reaches this size"),
    Setting("LOG_RETENTION_DAYS", _const("30"), "rotated log files older than this are deleted by the retention job"),
    Setting("RASA_HOST", _const("127.0.0.1"), "interface the Rasa servers of make run / make run-prod listen on"),
    Setting("RASA_PORT_2", _const("5006"), "port of make run-prod's second Rasa server"),
    Setting("NGINX_HOST", _const("127.0.0.1"), "interface make run-prod's nginx listens on"),
    Setting("NGINX_PORT", _const("8000"), "port of make run-prod's nginx (deploy/nginx/)"),
    Setting("STOP_TIMEOUT", _const("20"), "seconds the supervisor gives a process to stop before it kills it"),
    # staff console analytics and learning inbox (docs/ANALYTICS.md)
    Setting("ANALYTICS_IDLE_MINUTES", _const("60"), "silence after which a conversation counts as over (analytics)"),
    Setting("INBOX_LOW_CONFIDENCE", _const("0.6"), "below this intent confidence a message goes to the learning inbox"),
    Setting("INBOX_ENCODER", _const("auto"), "how the inbox groups messages: auto (sentence model if installed), "
            "semantic or ngram"),
    Setting("INBOX_GROUP_THRESHOLD", _const(""), "cosine similarity at which inbox messages share a group "
            "(unset: 0.7 for sentence vectors, 0.55 for n-grams)"),
    Setting("INBOX_TRAINING_FILE", _root_path("data", "nlu", "reviewed_inbox.yml"),
            "where the learning inbox writes reviewed training examples"),
    Setting("SENTENCE_MODEL_DIR", _const(""),
            "folder of the sentence model (unset: the model files of the installed wheel, semantics/encoder.py)"),
    Setting("READY_TIMEOUT", _const("180"), "seconds the scripts wait for a server to answer"),
    Setting("RASA_AUTH_TOKEN", _const(""), "HTTP API token (generated into .env by the scripts)"),
    Setting("SESSION_SECRET", _const(""), "signs staff console sessions (generated into .env by the scripts)"),
    Setting("CLINIC_PROFILE", _const("development"),
            "production: closed defaults are enforced (make run-prod sets it; docs/PRODUCTION.md)"),
    Setting("SESSION_IDLE_MINUTES", _const("30"), "a staff console session ends after this many idle minutes"),
    Setting("SESSION_MAX_HOURS", _const("12"), "a staff console session ends this many hours after sign-in"),
    Setting("SESSION_COOKIE_SECURE", _const("auto"),
            "staff cookies only over HTTPS: auto (when the request was HTTPS), 1 or 0 (0: refused in production)"),
    Setting("LOGIN_DELAY_BASE_SECONDS", _const("1"), "first delay after a failed staff sign-in; doubles per failure"),
    Setting("LOGIN_DELAY_MAX_SECONDS", _const("60"), "longest delay between failed staff sign-ins"),
    Setting("LOGIN_LOCK_AFTER", _const("5"), "failed sign-ins after which a staff account is locked for a while"),
    Setting("LOGIN_LOCK_MINUTES", _const("15"), "how long a locked staff account stays locked"),
    Setting("CLINIC_DB_ADMIN_URL", _const(""),
            "python -m clinic.db_roles only: the clinic database as its owner, to create the limited roles"),
    Setting("TOTP_REQUIRED_FOR", _const("admin"),
            "staff console roles that must sign in with a second factor: admin, all (none: refused in production)"),
    Setting("TRUSTED_PROXY_COUNT", _const("0"),
            "proxies in front of the web app and the Rasa servers that append to X-Forwarded-For "
            "(0: the header is not trusted)"),
    Setting("REAL_IP_HEADER", _const(""),
            "a header the proxy in front sets to the client's address (unset: not trusted)"),
    Setting("WIDGET_SESSION_SECRET", _const(""),
            "signs the widget's session ids, the same on every Rasa server (generated into .env by the scripts)"),
    Setting("WIDGET_SESSION_MAX_HOURS", _const("24"), "a widget session id older than this starts a new conversation"),
    Setting("WIDGET_MAX_CONNECTIONS_PER_ADDRESS", _const("20"), "open Socket.IO connections per client address"),
    Setting("WIDGET_MESSAGES_PER_MINUTE", _const("60"), "Socket.IO messages per client address in any minute"),
    Setting("ACTION_SERVER_TOKEN", _const(""),
            "the Rasa server's token for the action server (endpoints.yml; generated into .env by the scripts)"),
    Setting("ACTION_DB_URL", _const(""),
            "the action server's clinic database URL, a role limited by clinic.db_roles (unset: CLINIC_DB_URL)"),
)
BY_NAME: Dict[str, Setting] = {s.name: s for s in SETTINGS}
SECRETS = ("RASA_AUTH_TOKEN", "SESSION_SECRET", "ACTION_SERVER_TOKEN", "WIDGET_SESSION_SECRET")
# Ports `make run` remembers in var/ports.env, and the URLs built from them.
PORT_SETTINGS = ("RASA_PORT", "ACTION_PORT", "WEB_PORT", "RASA_URL", "ACTION_SERVER_URL")
# Exported to every script as well (quiet libraries).
# RASA_TELEMETRY_ENABLED=false: Rasa's telemetry would also start its Sentry error reporting, which
# sends exception messages (they can quote a visitor) to Rasa's servers (docs/PRODUCTION.md).
SHELL_CONSTANTS = {"SQLALCHEMY_SILENCE_UBER_WARNING": "1", "TQDM_DISABLE": "1", "RASA_TELEMETRY_ENABLED": "false"}


class SettingsError(ValueError):
    """A setting has a value the project cannot use; the message names it."""


def get(name: str, env: Optional[Env] = None) -> str:
    """The value of setting ``name``: the environment's when set and not empty, else the default."""
    env = os.environ if env is None else env
    setting = BY_NAME[name]
    value = env.get(name)
    return value if value else setting.default(env)


def get_int(name: str, env: Optional[Env] = None, minimum: int = 0) -> int:
    """An integer setting; a clear error (naming the variable) for anything else."""
    raw = get(name, env)
    try:
        value = int(raw)
    except ValueError as e:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from e
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, not {value}")
    return value


def get_float(name: str, env: Optional[Env] = None) -> float:
    raw = get(name, env)
    try:
        value = float(raw)
    except ValueError as e:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from e
    if value < 0:
        raise SettingsError(f"{name} must not be negative")
    return value


def get_path(name: str, env: Optional[Env] = None) -> Path:
    return Path(get(name, env))


def get_list(name: str, env: Optional[Env] = None) -> List[str]:
    """A comma- or space-separated setting as a list, without empty items or trailing slashes."""
    return [item.strip().rstrip("/") for item in re.split(r"[,\s]+", get(name, env)) if item.strip()]


# --- the one .env parser ---------------------------------------------------------
_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$")


def parse_env_file(text: str) -> Dict[str, str]:
    """``NAME=value`` lines of a ``.env`` file; comments, blank lines and other lines ignored.

    A value in matching single or double quotes loses them; a Windows line end is dropped.
    """
    values: Dict[str, str] = {}
    for line in text.splitlines():
        match = _ENV_LINE.match(line.rstrip("\r"))
        if not match:
            continue
        name, value = match.group(1), match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[name] = value
    return values


def read_env_file(path: Path) -> Dict[str, str]:
    try:
        return parse_env_file(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def layered(environ: Env, env_file: Path = ENV_FILE, ports_file: Optional[Path] = None) -> Dict[str, str]:
    """The environment over ``var/ports.env`` (when given) over ``.env``: what the scripts run with."""
    merged = dict(read_env_file(env_file))
    if ports_file is not None:
        merged.update(read_env_file(ports_file))
    merged.update({k: v for k, v in environ.items() if v != ""})
    return merged


def ensure_secrets(env: MutableMapping[str, str], env_file: Path = ENV_FILE) -> List[str]:
    """Generate each missing secret once, keep it in ``env_file`` (mode 600); the names generated."""
    made = []
    for name in SECRETS:
        if not env.get(name):
            env[name] = secrets.token_urlsafe(32)
            made.append(name)
    if made:
        with open(env_file, "a", encoding="utf-8") as f:
            for name in made:
                f.write(f"{name}={env[name]}\n")
        env_file.chmod(0o600)
    return made


def shell_exports(env: Env, file_names: Iterable[str] = (), defaults: bool = True) -> str:
    """``export NAME=value`` lines for the scripts: the script settings (unless ``defaults`` is off),
    then the names from the files."""
    names = [s.name for s in SETTINGS if s.shell] if defaults else []
    names += [n for n in file_names if n not in names and n not in SHELL_CONSTANTS and n in env]
    lines = [f"export {n}={shlex.quote(get(n, env) if n in BY_NAME else env[n])}" for n in names]
    lines += [f"export {n}={v}" for n, v in SHELL_CONSTANTS.items()]
    return "\n".join(lines)


def remember_ports(env: Env, path: Path = PORTS_FILE) -> None:
    """Write the ports (and URLs) ``make run`` uses, for ``make reload`` and ``make shell``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f"{n}={get(n, env)}\n" for n in PORT_SETTINGS)
    path.write_text("# Written by `make run`: the ports of the running stack.\n" + body, encoding="utf-8")


def describe() -> str:
    """Every setting, its default and meaning (``python -m clinic.settings``)."""
    rows = []
    for s in SETTINGS:
        default = s.default({}) if s.name not in SECRETS else "(generated)"
        rows.append(f"{s.name:<28} {default:<48} {s.doc}")
    return "\n".join(rows)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clinic.settings", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shell", action="store_true", help="print export lines for the scripts")
    parser.add_argument("--get", metavar="NAME", help="print one setting's value")
    parser.add_argument("--env-file", type=Path, default=ENV_FILE, help="the .env file (default: <project>/.env)")
    parser.add_argument("--ensure-secrets", action="store_true",
                        help="generate the missing secrets (" + ", ".join(SECRETS) + ") into the .env file")
    parser.add_argument("--follow-run", action="store_true",
                        help="use the ports `make run` remembered in var/ports.env")
    parser.add_argument("--remember-ports", action="store_true", help="write var/ports.env (make run)")
    parser.add_argument("--file-only", action="store_true",
                        help="with --shell: export only what the .env file sets, no defaults (make run-prod "
                             "derives its own before scripts/defaults.sh)")
    args = parser.parse_args(argv)
    ports_file = PORTS_FILE if args.follow_run else None
    env = layered(os.environ, args.env_file, ports_file)
    file_names = list(read_env_file(args.env_file)) + (list(read_env_file(ports_file)) if ports_file else [])
    try:
        for name in ("RASA_PORT", "ACTION_PORT", "WEB_PORT", "MAX_MESSAGE_CHARS", "SANIC_REQUEST_MAX_SIZE"):
            get_int(name, env, minimum=1)
    except SettingsError as e:
        print(f"echo {shlex.quote('Settings: ' + str(e))} >&2; false" if args.shell else str(e),
              file=sys.stdout if args.shell else sys.stderr)
        return 2
    if args.ensure_secrets:
        for name in ensure_secrets(env, args.env_file):
            file_names.append(name)
            print(f"Generated {name} and kept it in {args.env_file.name}", file=sys.stderr)
    if args.remember_ports:
        remember_ports(env)
    if args.get:
        if args.get not in BY_NAME:
            print(f"unknown setting {args.get}; known: {', '.join(BY_NAME)}", file=sys.stderr)
            return 2
        print(get(args.get, env))
    elif args.shell:
        print(shell_exports(env, file_names, defaults=not args.file_only))
    elif not args.remember_ports and not args.ensure_secrets:
        print(describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
