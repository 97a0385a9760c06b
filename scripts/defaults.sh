# Sourced by scripts/env.sh (make run, make test) and scripts/run_prod.sh (make run-prod):
# the defaults both profiles share. A value already in the environment wins.
export RASA_PORT="${RASA_PORT:-5005}"
export ACTION_PORT="${ACTION_PORT:-5055}"
export WEB_PORT="${WEB_PORT:-8080}"
export ACTION_SERVER_URL="${ACTION_SERVER_URL:-http://127.0.0.1:$ACTION_PORT/webhook}"
export RASA_URL="${RASA_URL:-http://127.0.0.1:$RASA_PORT}"
export ALLOWED_ORIGINS="${ALLOWED_ORIGINS:-http://localhost:$WEB_PORT,http://127.0.0.1:$WEB_PORT}"
# Largest request body the Rasa server accepts (Sanic reads SANIC_*): 413 above it.
# The action server and the web app set their own limits (docs/PRODUCTION.md).
export SANIC_REQUEST_MAX_SIZE="${SANIC_REQUEST_MAX_SIZE:-65536}"
# Longest visitor message kept, in characters (REST and Socket.IO channels).
export MAX_MESSAGE_CHARS="${MAX_MESSAGE_CHARS:-2000}"
# Connections a Rasa server's listening socket queues before accepting them (Rasa's own
# default is 100): a reconnection storm (a server restarts, hundreds of widgets reconnect
# at once to the others) must not be refused. The kernel caps it at net.core.somaxconn.
export SANIC_BACKLOG="${SANIC_BACKLOG:-1024}"
# Seconds a conversation's lock lives (Rasa's default is 60): when a Rasa server dies in the
# middle of a turn, the next message of that conversation waits at most this long. Longer
# than any turn takes (well under a second; a store outage is given up on after 2 s).
export TICKET_LOCK_LIFETIME="${TICKET_LOCK_LIFETIME:-10}"
export SQLALCHEMY_SILENCE_UBER_WARNING=1 TQDM_DISABLE=1
