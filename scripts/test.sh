#!/usr/bin/env bash
# Everything `make test` does, in order; stops at the first failing step.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
step() { echo; echo "=== $* ==="; }

step "Lint and type checks (ruff, mypy: pyproject.toml)"
.venv/bin/ruff check .
.venv/bin/mypy

step "System services (Chromium, PostgreSQL, Redis)"
scripts/system_deps.sh

step "Validate training data and approved content"
scripts/validate.sh

step "Train"
make --no-print-directory train

step "Rasa test stories (tests/stories)"
rm -rf results
.venv/bin/rasa test core --e2e --model models/clinic.tar.gz --stories tests/stories \
  --fail-on-prediction-errors --out results/core

step "pytest (actions, NLU safety net, servers, web app, browser)"
.venv/bin/python -m pytest -q tests "$@"
