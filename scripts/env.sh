# Sourced by the Makefile's scripts: loads .env and fills in safe local defaults.
# Secrets are never in the repository: when RASA_AUTH_TOKEN or SESSION_SECRET is
# unset, one is generated once and kept in the git-ignored .env file.
# Values already in the environment win over .env.
umask 077  # everything these scripts create is the owner's only (var/, databases, logs, .env)
if [ -f .env ]; then
  chmod 600 .env
  while IFS='=' read -r key value; do
    case "$key" in ''|\#*) continue ;; esac
    [ -n "${!key+set}" ] || export "$key=$value"
  done < .env
fi
gen_secret() { .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))'; }
for name in RASA_AUTH_TOKEN SESSION_SECRET; do
  if [ -z "${!name:-}" ]; then
    value=$(gen_secret)
    echo "$name=$value" >> .env
    chmod 600 .env
    export "$name=$value"
    echo "Generated $name and kept it in .env" >&2
  fi
done
. scripts/defaults.sh
mkdir -p var && chmod 700 var
