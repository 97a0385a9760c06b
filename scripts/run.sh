#!/usr/bin/env bash
# `make run`: the action server, the Rasa server and the web app, on 127.0.0.1 unless
# configured otherwise, kept running by scripts/supervise.py: a process that stops is
# started again within seconds while the others keep serving. Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
umask 077
. scripts/env.sh
if [ -z "${RASA_AUTH_TOKEN:-}" ]; then echo "RASA_AUTH_TOKEN is empty: refusing to start the HTTP API without a token." >&2; exit 1; fi
export MODEL=${MODEL:-models}
# The supervisor takes over this process, so Ctrl-C reaches it (and only it).
exec .venv/bin/python -m scripts.supervise dev
