# Sourced by scripts/run_prod.sh (make run-prod): the defaults of clinic/settings.py, the one
# place they are written (ports, URLs, limits). A value already in the environment wins;
# `.venv/bin/python -m clinic.settings` lists every setting with its default and meaning.
eval "$(.venv/bin/python -m clinic.settings --shell --env-file "${ENV_FILE:-.env}")"
