#!/usr/bin/env bash
# make shell: chat with the assistant in the terminal. It starts its own action server and
# its own Rasa server on free ports, so it runs beside `make run` (same model, same
# conversation store; the conversation has its own id, "shell-..."). Ctrl-D or /stop ends it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
read -r action_port rasa_port < <(.venv/bin/python -c \
  'from scripts.wait_ready import free_port; print(free_port(), free_port())')
export ACTION_SERVER_URL="http://127.0.0.1:$action_port/webhook"
.venv/bin/python -m actions.server --port "$action_port" > var/shell-actions.log 2>&1 &
actions_pid=$!
trap 'kill "$actions_pid" 2>/dev/null || true' EXIT
.venv/bin/python scripts/wait_ready.py "http://127.0.0.1:$action_port/health"
.venv/bin/rasa shell --model models/clinic.tar.gz --endpoints endpoints.yml --port "$rasa_port" \
  --conversation-id "shell-$(date +%Y%m%d-%H%M%S)-$$"
