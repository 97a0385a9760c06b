# Sourced by the Makefile's scripts: the settings of clinic/settings.py (the one reader of
# the environment and of .env), exported. Values already in the environment win over .env.
# Secrets are never in the repository: when RASA_AUTH_TOKEN, SESSION_SECRET or ACTION_SERVER_TOKEN is
# unset, one is generated once and kept in the git-ignored .env file.
#   CLINIC_REMEMBER_PORTS=1  (make run)             write the ports in use to var/ports.env
#   CLINIC_FOLLOW_RUN=1      (make reload, make shell) use the ports var/ports.env remembers
umask 077  # everything these scripts create is the owner's only (var/, databases, logs, .env)
[ -f .env ] && chmod 600 .env
clinic_settings_args=(--shell --ensure-secrets)
[ "${CLINIC_REMEMBER_PORTS:-}" = 1 ] && clinic_settings_args+=(--remember-ports)
[ "${CLINIC_FOLLOW_RUN:-}" = 1 ] && clinic_settings_args+=(--follow-run)
clinic_settings=$(.venv/bin/python -m clinic.settings "${clinic_settings_args[@]}") || {
  echo "Settings could not be read (see the message above)." >&2; return 1 2>/dev/null || exit 1; }
eval "$clinic_settings"
unset clinic_settings clinic_settings_args
mkdir -p var && chmod 700 var
