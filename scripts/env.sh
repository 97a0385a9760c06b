# Sourced by the Makefile's scripts: loads .env and fills in safe local defaults.
# Secrets are never in the repository: when RASA_AUTH_TOKEN or SESSION_SECRET is
# unset, one is generated once and kept in the git-ignored .env file.
# Values already in the environment win over .env.
if [ -f .env ]; then
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
export ACTION_SERVER_URL="${ACTION_SERVER_URL:-http://127.0.0.1:5055/webhook}"
export RASA_PORT="${RASA_PORT:-5005}"
export ACTION_PORT="${ACTION_PORT:-5055}"
export WEB_PORT="${WEB_PORT:-8080}"
export RASA_URL="${RASA_URL:-http://127.0.0.1:$RASA_PORT}"
export ALLOWED_ORIGINS="${ALLOWED_ORIGINS:-http://localhost:$WEB_PORT,http://127.0.0.1:$WEB_PORT}"
export SQLALCHEMY_SILENCE_UBER_WARNING=1
# Largest request body the Rasa server accepts (Sanic reads SANIC_*): 413 above it.
# The action server and the web app set their own limits (docs/PRODUCTION.md).
export SANIC_REQUEST_MAX_SIZE="${SANIC_REQUEST_MAX_SIZE:-65536}"
# Longest visitor message kept, in characters (REST and Socket.IO channels).
export MAX_MESSAGE_CHARS="${MAX_MESSAGE_CHARS:-2000}"
mkdir -p var
export TQDM_DISABLE=1
