#!/usr/bin/env bash
# Load test of the auth service: starts its own auth instance on a spare
# port with a fresh database and production password hashing (argon2id,
# m=19 MiB, t=2, p=1), registers accounts and logs them in with 50
# concurrent clients, prints throughput and latency percentiles, and fails
# on any error. Traffic stays on 127.0.0.1; every loop is bounded.
#
#   scripts/load-auth.sh                    # SQLite
#   MEDISYNC_DB=mysql scripts/load-auth.sh  # the local MariaDB (medisync_auth_load_db)
#   CLIENTS=50 USERS=500 LOGINS=2000 scripts/load-auth.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/go.sh
root=$(pwd)

clients=${CLIENTS:-50}
users=${USERS:-500}
logins=${LOGINS:-2000}

work=$(mktemp -d)
mkdir -p bin
(cd auth && go build -o "$root/bin/auth" ./cmd/auth && go build -o "$root/bin/auth-load" ./cmd/auth-load)

if [ "${MEDISYNC_DB:-sqlite}" = "mysql" ]; then
  bash scripts/mariadb-up.sh >/dev/null
  mysql --protocol=socket -uroot -e "DROP DATABASE IF EXISTS medisync_auth_load_db;
    CREATE DATABASE medisync_auth_load_db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
  dsn="mysql://medisync:medisync@tcp(127.0.0.1:3306)/medisync_auth_load_db?parseTime=true"
else
  dsn="sqlite:$work/auth.db"
fi

# Port 0: the kernel picks a free port, read back from the "listening" line.
env MEDISYNC_HTTP_ADDR="127.0.0.1:0" MEDISYNC_DB_DSN="$dsn" MEDISYNC_DISCOVERY_URLS="" \
  MEDISYNC_KEY_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64)" \
    "$root/bin/auth" >"$work/auth.log" 2>&1 &
pid=$!
cleanup() {
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*msg=listening addr=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/auth.log" | head -n 1)
  if [ -n "$port" ] && curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then echo "auth did not start:"; cat "$work/auth.log"; exit 1; fi
  sleep 0.1
done
if [ -z "$port" ]; then echo "auth did not report its port:"; cat "$work/auth.log"; exit 1; fi

echo "auth load: ${MEDISYNC_DB:-sqlite}, $clients clients, $users registrations, $logins logins, argon2id m=19456 KiB t=2 p=1, $(nproc) cores"
"$root/bin/auth-load" -url "http://127.0.0.1:$port" -clients "$clients" -users "$users" -logins "$logins"
