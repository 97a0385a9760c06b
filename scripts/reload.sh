#!/usr/bin/env bash
# make reload: validate, retrain if training data changed, then load the model and the
# approved wording into the RUNNING Rasa server and action server. Nothing restarts;
# conversations in progress continue. If validation or training fails, the running
# servers are not touched.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

fail() {
  echo
  echo "RELOAD FAILED: $1 The running assistant was not changed."
  exit 1
}

echo "=== Step 1/3: validate ==="
scripts/validate.sh || fail "validation found errors (listed above); fix them, then run \`make reload\` again."

echo
echo "=== Step 2/3: train (only when data/, domain.yml, config.yml or addons/ changed) ==="
${MAKE:-make} --no-print-directory train || fail "training failed (see the messages above)."

echo
echo "=== Step 3/3: load the model and the approved texts into the running servers ==="
# Always done, even when nothing was retrained: a wording-only change must reach both servers.
.venv/bin/python -m editorial.reload --model "$PWD/models/clinic.tar.gz"
