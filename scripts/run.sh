#!/usr/bin/env bash
# Starts the action server, the Rasa server and the web app; Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
if [ -z "${RASA_AUTH_TOKEN:-}" ]; then echo "RASA_AUTH_TOKEN is empty: refusing to start the HTTP API without a token." >&2; exit 1; fi
MODEL=${MODEL:-models}
pids=()
stop() { trap - INT TERM EXIT; kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; echo "Stopped."; }
trap stop INT TERM EXIT

.venv/bin/python -m actions.server --port "$ACTION_PORT" & pids+=($!)
.venv/bin/rasa run --enable-api --auth-token "$RASA_AUTH_TOKEN" --port "$RASA_PORT" \
  --cors $(echo "$ALLOWED_ORIGINS" | tr ',' ' ') \
  --credentials credentials.yml --endpoints endpoints.yml --model "$MODEL" \
  --log-file var/rasa.log ${RASA_ARGS:-} & pids+=($!)
.venv/bin/python -m webapp --port "$WEB_PORT" & pids+=($!)

.venv/bin/python scripts/wait_ready.py "$RASA_URL/status?token=$RASA_AUTH_TOKEN" "http://127.0.0.1:$ACTION_PORT/health" "http://127.0.0.1:$WEB_PORT/healthz"
cat <<MSG

  Clinic assistant is running.
    Demo clinic page with the chat widget:  http://127.0.0.1:$WEB_PORT/
    Staff console:                          http://127.0.0.1:$WEB_PORT/staff/
    Rasa server (REST, Socket.IO, API):     $RASA_URL   (API token in .env)
    Action server:                          http://127.0.0.1:$ACTION_PORT
  Ctrl-C stops everything.

MSG
wait -n "${pids[@]}"
echo "A process exited; stopping the others." >&2
