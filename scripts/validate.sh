#!/usr/bin/env bash
# make validate: Rasa's data validation, then the clinic's own content checks.
#
#   1. rasa data validate --fail-on-warnings   domain, NLU data, rules and stories
#   2. python -m editorial check                approved texts, content ids, examples,
#                                               forbidden claims, buttons (see EDITING.md)
#
# Both always run, so every problem is listed in one go. Exit status 0 only when
# both pass; warnings from step 2 are printed but do not fail.
#
# scripts/validate.sh --go-live (make go-live-check, run by make run-prod) also fails on
# what must not reach visitors of the live site: placeholder clinic details in
# content/clinic.yml and texts whose clinical sign-off is still pending.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
# Quieter output for editors: no telemetry notice, and the libraries' DeprecationWarnings
# (with their indented continuation lines) are dropped; everything else Rasa prints stays.
export RASA_TELEMETRY_ENABLED="${RASA_TELEMETRY_ENABLED:-false}"
drop_library_noise() {
  awk '/DeprecationWarning/ {skip=1; next}
       skip && (/^[ \t]/ || /^Implementing implicit namespace/) {next}
       {skip=0; print; fflush()}'
}

echo "== 1/2 Rasa data validation (rasa data validate --fail-on-warnings) =="
.venv/bin/rasa data validate --fail-on-warnings 2>&1 | drop_library_noise
rasa_rc=${PIPESTATUS[0]}
if [ "$rasa_rc" -eq 0 ]; then
  echo "RASA DATA VALIDATION PASSED."
else
  echo "RASA DATA VALIDATION FAILED (exit $rasa_rc): see the messages above."
fi

echo
echo "== 2/2 Content checks (python -m editorial check) =="
.venv/bin/python -m editorial check "$@"
content_rc=$?

echo
if [ "$rasa_rc" -eq 0 ] && [ "$content_rc" -eq 0 ]; then
  if [ "${1:-}" = --go-live ]; then
    echo "GO-LIVE CHECK PASSED: no placeholders, every text signed off."
  else
    echo "VALIDATION PASSED: the content and training data are ready (next: \`make reload\`)."
  fi
  exit 0
fi
failed=()
[ "$rasa_rc" -ne 0 ] && failed+=("Rasa data validation")
[ "$content_rc" -ne 0 ] && failed+=("content checks")
echo "VALIDATION FAILED ($(IFS=,; echo "${failed[*]}" | sed 's/,/ and /')): fix the errors above and run \`make validate\` again."
exit 1
