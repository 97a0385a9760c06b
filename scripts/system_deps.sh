#!/usr/bin/env bash
# Installs and starts what the full test suite needs from Debian's packages:
# Chromium (browser tests), PostgreSQL 15 and Redis 7 (production-profile tests), nginx
# (the load balancer `make run-prod` starts in front of the Rasa servers: deploy/nginx/).
# Idempotent; needs root (CI runs as root). Prints what it could not do.
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
{ command -v nginx || test -x /usr/sbin/nginx; } >/dev/null 2>&1 || need+=(nginx)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing ${need[*]} from Debian's packages..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${need[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "${need[@]}" >/dev/null; } || {
      echo "Could not install ${need[*]}: install them as root, then run make test again." >&2; exit 1; }
  else
    echo "Missing ${need[*]}: install them (apt-get install -y ${need[*]}) as root, then run make test again." >&2
    exit 1
  fi
fi
# PostgreSQL on 127.0.0.1:5432 with a `clinic` role and databases for the tests.
if ! pg_lsclusters 2>/dev/null | grep -q online; then
  pg_ctlcluster 15 main start 2>/dev/null || pg_ctlcluster "$(pg_lsclusters -h | awk 'NR==1{print $1}')" main start
fi
su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='clinic'\"" | grep -q 1 || \
  su postgres -c "psql -q -c \"CREATE ROLE clinic LOGIN PASSWORD 'clinic-test-only' CREATEDB\""
for db in clinic_test_tracker clinic_test_app; do
  su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='$db'\"" | grep -q 1 || \
    su postgres -c "createdb -O clinic $db"
done
# Redis on 127.0.0.1:6379.
redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no --dir /tmp >/dev/null
echo "System services ready: chromium, PostgreSQL, Redis, nginx."
