#!/usr/bin/env bash
# The production profile on one host (`make run-prod`): two Rasa servers (5005 and
# 5006), the action server (5055) and the web app (8080), all on the PostgreSQL and
# Redis named by TRACKER_DB_URL, CLINIC_DB_URL and REDIS_URL. Ctrl-C stops them all.
# Same code and files as `make run`; only environment variables differ.
# docs/PRODUCTION.md explains every variable and how to spread the parts over hosts.
#
# Settings come from the environment, then from .env (ENV_FILE) for what the
# environment does not set. Unlike `make run`, nothing is generated: a missing
# secret or a non-production store is refused with a message saying what to set.
set -euo pipefail
cd "$(dirname "$0")/.."

ENV_FILE=${ENV_FILE:-.env}
if [ -f "$ENV_FILE" ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    [[ "$line" =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
    name=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
    [ -n "${!name+set}" ] && continue            # the environment wins
    value=${value%$'\r'}
    if [[ "$value" =~ ^\"(.*)\"$ || "$value" =~ ^\'(.*)\'$ ]]; then value=${BASH_REMATCH[1]}; fi
    export "$name=$value"
  done < "$ENV_FILE"
fi

problems=()
refuse() { problems+=("$1"); }
[ -n "${RASA_AUTH_TOKEN:-}" ] || refuse "RASA_AUTH_TOKEN is empty: the HTTP API (conversations, model) never runs without a token."
[ -z "${RASA_AUTH_TOKEN:-}" ] || [ ${#RASA_AUTH_TOKEN} -ge 16 ] || refuse "RASA_AUTH_TOKEN is shorter than 16 characters."
secret=${SESSION_SECRET:-}
[ ${#secret} -ge 32 ] || refuse "SESSION_SECRET must be at least 32 characters (it signs the staff console's sessions)."
for name in TRACKER_DB_URL CLINIC_DB_URL; do
  case "${!name:-}" in
    postgresql://*|postgresql+psycopg2://*) ;;
    "") refuse "$name is not set: the production profile keeps it in PostgreSQL (postgresql://user:password@host:5432/db)." ;;
    *) refuse "$name is not a postgresql:// URL (got '${!name%%:*}:...'): the production profile keeps it in PostgreSQL." ;;
  esac
done
case "${REDIS_URL:-}" in
  redis://*|rediss://*) ;;
  "") refuse "REDIS_URL is not set: several Rasa servers share conversation locks in Redis (redis://host:6379/1)." ;;
  *) refuse "REDIS_URL is not a redis:// or rediss:// URL." ;;
esac
if [ ${#problems[@]} -gt 0 ]; then
  echo "Production profile not started:" >&2
  printf '  - %s\n' "${problems[@]}" >&2
  echo "Set them in the environment or in $ENV_FILE (docs/PRODUCTION.md lists every setting)." >&2
  exit 2
fi

. scripts/defaults.sh
export RASA_PORT_2="${RASA_PORT_2:-5006}"
MODEL=${MODEL:-models}
LOG_DIR=${LOG_DIR:-var}
mkdir -p var "$LOG_DIR"

# Fail now, with the reason, rather than let Rasa wait for a database forever.
.venv/bin/python - <<'PY' || exit 3
import os, sys
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
bad = []
for name in ("TRACKER_DB_URL", "CLINIC_DB_URL"):
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

pids=()
stop() { trap - INT TERM EXIT; kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; echo "Stopped."; }
trap stop INT TERM EXIT

.venv/bin/python -m actions.server --port "$ACTION_PORT" & pids+=($!)
for port in "$RASA_PORT" "$RASA_PORT_2"; do
  .venv/bin/rasa run --enable-api --auth-token "$RASA_AUTH_TOKEN" --port "$port" \
    --interface "${RASA_HOST:-0.0.0.0}" --cors $(echo "$ALLOWED_ORIGINS" | tr ',' ' ') \
    --credentials credentials.yml --endpoints endpoints.yml --model "$MODEL" \
    --log-file "$LOG_DIR/rasa-$port.log" ${RASA_ARGS:-} & pids+=($!)
done
.venv/bin/python -m webapp --port "$WEB_PORT" & pids+=($!)

.venv/bin/python scripts/wait_ready.py "http://127.0.0.1:$RASA_PORT/status?token=$RASA_AUTH_TOKEN" \
  "http://127.0.0.1:$RASA_PORT_2/status?token=$RASA_AUTH_TOKEN" \
  "http://127.0.0.1:$ACTION_PORT/health" "http://127.0.0.1:$WEB_PORT/healthz"
cat <<MSG

  Clinic assistant is running (production profile).
    Rasa servers:   http://127.0.0.1:$RASA_PORT  and  http://127.0.0.1:$RASA_PORT_2
                    (put a load balancer in front of both; the widget uses WIDGET_RASA_URL)
    Action server:  http://127.0.0.1:$ACTION_PORT
    Web app:        http://127.0.0.1:$WEB_PORT/   staff console: http://127.0.0.1:$WEB_PORT/staff/
    Conversations:  PostgreSQL ${TRACKER_DB_URL##*@}   locks: Redis ${REDIS_URL##*@}
  Ctrl-C stops everything.

MSG
wait -n "${pids[@]}"
echo "A process exited; stopping the others." >&2
