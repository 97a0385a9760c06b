#!/usr/bin/env bash
# The production profile on one host (`make run-prod`): nginx (8000) in front of two Rasa
# servers (5005 and 5006), the action server (5055) and the web app (8080), all on the
# PostgreSQL and Redis named by TRACKER_DB_URL, CLINIC_DB_URL and REDIS_URL, kept running
# by scripts/supervise.py (a process that stops is started again; the others keep serving).
# Ctrl-C stops them all. Same code and files as `make run`; only environment variables differ.
# docs/PRODUCTION.md explains every variable and how to spread the parts over hosts.
#
# Settings come from the environment, then from .env (ENV_FILE) for what the
# environment does not set. Unlike `make run`, nothing is generated: a missing
# secret or a non-production store is refused with a message saying what to set.
set -euo pipefail
cd "$(dirname "$0")/.."
umask 077

ENV_FILE=${ENV_FILE:-.env}
export ENV_FILE
# What .env sets, read by clinic/settings.py (the one .env parser); the environment wins.
env_exports=$(.venv/bin/python -m clinic.settings --shell --file-only --env-file "$ENV_FILE") || exit 2
eval "$env_exports"
unset env_exports

problems=()
refuse() { problems+=("$1"); }
[ -n "${RASA_AUTH_TOKEN:-}" ] || refuse "RASA_AUTH_TOKEN is empty: the HTTP API (conversations, model) never runs without a token."
[ -z "${RASA_AUTH_TOKEN:-}" ] || [ ${#RASA_AUTH_TOKEN} -ge 16 ] || refuse "RASA_AUTH_TOKEN is shorter than 16 characters."
secret=${SESSION_SECRET:-}
[ ${#secret} -ge 32 ] || refuse "SESSION_SECRET must be at least 32 characters (it signs the staff console's sessions)."
action_token=${ACTION_SERVER_TOKEN:-}
[ ${#action_token} -ge 16 ] || refuse "ACTION_SERVER_TOKEN must be at least 16 characters (the Rasa servers' token for the action server, which refuses calls without it)."
widget_secret=${WIDGET_SESSION_SECRET:-}
[ ${#widget_secret} -ge 32 ] || refuse "WIDGET_SESSION_SECRET must be at least 32 characters (every Rasa server signs the widget's session ids with it)."
for name in TRACKER_DB_URL CLINIC_DB_URL; do
  case "${!name:-}" in
    postgresql://*|postgresql+psycopg2://*) ;;
    "") refuse "$name is not set: the production profile keeps it in PostgreSQL (postgresql://user:password@host:5432/db)." ;;
    *) refuse "$name is not a postgresql:// URL (got '${!name%%:*}:...'): the production profile keeps it in PostgreSQL." ;;
  esac
done
case "${ACTION_DB_URL:-}" in
  ""|postgresql://*|postgresql+psycopg2://*) ;;
  *) refuse "ACTION_DB_URL is not a postgresql:// URL (the action server's own, limited role: python -m clinic.db_roles)." ;;
esac
case "${REDIS_URL:-}" in
  redis://*|rediss://*) ;;
  "") refuse "REDIS_URL is not set: several Rasa servers share conversation locks in Redis (redis://host:6379/1)." ;;
  *) refuse "REDIS_URL is not a redis:// or rediss:// URL." ;;
esac
# Debug records carry visitors' messages: never in production.
[ "${LOG_LEVEL:-}" != "DEBUG" ] && [ "${LOG_LEVEL:-}" != "debug" ] || refuse "LOG_LEVEL=DEBUG is refused in production: debug logging writes visitors' messages to the logs."
case " ${RASA_ARGS:-} " in
  *" --debug "*|*" -vv "*) refuse "RASA_ARGS asks for debug logging (--debug/-vv): refused in production, it writes visitors' messages to the logs." ;;
esac
case "${NGINX:-on}" in
  0|off|no|false) ;;
  *) { [ -n "${NGINX_BIN:-}" ] || command -v nginx || test -x /usr/sbin/nginx; } >/dev/null 2>&1 || \
       refuse "nginx is not installed (the load balancer in front of the Rasa servers): apt-get install nginx (scripts/system_deps.sh), or NGINX=off behind a balancer of your own." ;;
esac
if [ ${#problems[@]} -gt 0 ]; then
  echo "Production profile not started:" >&2
  printf '  - %s\n' "${problems[@]}" >&2
  echo "Set them in the environment or in $ENV_FILE (docs/PRODUCTION.md lists every setting)." >&2
  exit 2
fi

export CLINIC_PROFILE=production
# Its own nginx is the one proxy in front and appends the browser's address to X-Forwarded-For:
# the per-address limits (Socket.IO, staff sign-in) must count browsers, not nginx.
case "${NGINX:-on}" in 0|off|no|false) ;; *) export TRUSTED_PROXY_COUNT="${TRUSTED_PROXY_COUNT:-1}" ;; esac
[ -n "${ACTION_DB_URL:-}" ] || echo "Note: without ACTION_DB_URL the action server uses CLINIC_DB_URL's role; give it a role of its own that may only store callback requests (python -m clinic.db_roles, docs/PRODUCTION.md)." >&2
export NGINX_PORT="${NGINX_PORT:-8000}" WEB_PORT="${WEB_PORT:-8080}"
# Browsers reach everything through nginx: the widget connects to it, and pages it serves
# have its origin (also the web app's own, for a look without the balancer).
export WIDGET_RASA_URL="${WIDGET_RASA_URL:-http://127.0.0.1:$NGINX_PORT}"
export ALLOWED_ORIGINS="${ALLOWED_ORIGINS:-http://127.0.0.1:$NGINX_PORT,http://localhost:$NGINX_PORT,http://127.0.0.1:$WEB_PORT,http://localhost:$WEB_PORT}"
. scripts/defaults.sh
export RASA_PORT_2="${RASA_PORT_2:-5006}"
export MODEL=${MODEL:-models}
mkdir -p var && chmod 700 var

# Fail now, with the reason, rather than let Rasa wait for a database forever.
.venv/bin/python - <<'PY' || exit 3
import os, sys
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
bad = []
for name in ("TRACKER_DB_URL", "CLINIC_DB_URL", "ACTION_DB_URL"):
    if not os.environ.get(name):
        continue
    url = make_url(os.environ[name])
    try:
        with create_engine(url, connect_args={"connect_timeout": 5}).connect() as c:
            c.execute(text("SELECT 1"))
    except Exception as e:
        bad.append(f"{name}: cannot connect to PostgreSQL at {url.host}:{url.port or 5432}/{url.database}: "
                   f"{str(e).splitlines()[0][:200]}")
try:
    redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=5).ping()
except Exception as e:
    bad.append(f"REDIS_URL: cannot reach Redis: {e}")
if bad:
    sys.exit("Production profile not started:\n  - " + "\n  - ".join(bad))
PY

# The supervisor takes over this process, so Ctrl-C reaches it (and only it).
exec .venv/bin/python -m scripts.supervise prod
