#!/usr/bin/env bash
# Starts the whole medisync system on this machine, each service its own
# process, in the order of services.txt (discovery first, the gateway last),
# each on the port that file gives it. SQLite files under
# ./data by default; MEDISYNC_DB=mysql uses the local MariaDB instead (started
# and prepared by scripts/mariadb-up.sh), MEDISYNC_DB=postgres the local
# PostgreSQL (scripts/postgres-up.sh). Ctrl-C stops everything cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/go.sh
root=$(pwd)

services=()
declare -A ports=() databases=()
while read -r name port db _; do
  case "$name" in ''|'#'*) continue ;; esac
  services+=("$name")
  ports[$name]=$port
  databases[$name]=$db
done < services.txt

mkdir -p bin data/logs

# Development secrets: made once, kept in ./data so restarts reuse them.
if [ ! -f data/dev-secrets.env ]; then
  umask 077
  {
    echo "MEDISYNC_DISCOVERY_TOKEN=$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 32)"
    echo "MEDISYNC_ADMIN_EMAIL=admin@medisync.local"
    echo "MEDISYNC_ADMIN_PASSWORD=Dev-$(head -c 18 /dev/urandom | base64 | tr -d '/+=' | head -c 20)"
  } > data/dev-secrets.env
fi
# Auth seals its signing keys with this key (older ./data folders gain it).
if ! grep -q '^MEDISYNC_KEY_ENCRYPTION_KEY=' data/dev-secrets.env; then
  (umask 077; echo "MEDISYNC_KEY_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)" >> data/dev-secrets.env)
fi
# Records seals each stored document's key with this one (data/blobs).
if ! grep -q '^MEDISYNC_BLOB_MASTER_KEY=' data/dev-secrets.env; then
  (umask 077; echo "MEDISYNC_BLOB_MASTER_KEY=$(head -c 32 /dev/urandom | base64)" >> data/dev-secrets.env)
fi
# Auth seals reset links in its events with this key; notification opens them.
if ! grep -q '^MEDISYNC_EVENT_SEAL_KEY=' data/dev-secrets.env; then
  (umask 077; echo "MEDISYNC_EVENT_SEAL_KEY=$(head -c 32 /dev/urandom | base64)" >> data/dev-secrets.env)
fi
# Each service registers in discovery with a write token of its own, so
# that no service can register as another (discovery/README.md, "Who may do
# what"); files made before this existed get them added.
for s in "${services[@]}"; do
  [ "$s" = discovery ] && continue
  var="MEDISYNC_DISCOVERY_TOKEN_$(echo "$s" | tr 'a-z-' 'A-Z_')"
  if ! grep -q "^$var=" data/dev-secrets.env; then
    (umask 077; echo "$var=$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 32)" >> data/dev-secrets.env)
  fi
done
set -a
# shellcheck disable=SC1091
. data/dev-secrets.env
set +a

# The write token of service $1: its own.
token_for() {
  local var
  var="MEDISYNC_DISCOVERY_TOKEN_$(echo "$1" | tr 'a-z-' 'A-Z_')"
  echo "${!var}"
}
service_tokens=""
for s in "${services[@]}"; do
  [ "$s" = discovery ] && continue
  service_tokens="${service_tokens:+$service_tokens,}$s=$(token_for "$s")"
  # Only the service itself (and discovery) sees its token.
  export -n "MEDISYNC_DISCOVERY_TOKEN_$(echo "$s" | tr 'a-z-' 'A-Z_')"
done
export -n MEDISYNC_DISCOVERY_TOKEN MEDISYNC_BLOB_MASTER_KEY

case "${MEDISYNC_DB:-sqlite}" in
  sqlite) ;;
  mysql) bash scripts/mariadb-up.sh ;;
  postgres) bash scripts/postgres-up.sh ;;
  *) echo "run: MEDISYNC_DB must be sqlite, mysql or postgres" >&2; exit 1 ;;
esac

# The database settings of service $1, one VAR=value a line; nothing for a
# service without one. On MariaDB and PostgreSQL the service serves as its
# data-only account and migrates as its owner (the accounts
# scripts/mariadb-up.sh and scripts/postgres-up.sh make).
db_env() {
  local db=${databases[$1]}
  if [ "$db" = "-" ]; then
    return
  fi
  if [ "${MEDISYNC_DB:-sqlite}" = "mysql" ]; then
    echo "MEDISYNC_DB_DSN=mysql://medisync_$1:medisync_$1@tcp(127.0.0.1:3306)/$db?parseTime=true"
    echo "MEDISYNC_DB_MIGRATE_DSN=mysql://medisync_$1_owner:medisync_$1_owner@tcp(127.0.0.1:3306)/$db?parseTime=true"
  elif [ "${MEDISYNC_DB:-sqlite}" = "postgres" ]; then
    echo "MEDISYNC_DB_DSN=postgres://medisync_$1:medisync_$1@127.0.0.1:5432/$db?sslmode=disable"
    echo "MEDISYNC_DB_MIGRATE_DSN=postgres://medisync_$1_owner:medisync_$1_owner@127.0.0.1:5432/$db?sslmode=disable"
  else
    echo "MEDISYNC_DB_DSN=sqlite:$root/data/$1.db"
  fi
}

echo "Building services..."
built=()
for s in "${services[@]}"; do
  if [ -d "$s/cmd/$s" ]; then
    (cd "$s" && go build -o "$root/bin/$s" "./cmd/$s")
    built+=("$s")
  fi
done

# The broker: a NATS server with JetStream, its own process, its store
# under ./data/nats; one already listening on 4222 is used as it is.
export MEDISYNC_BROKER_URL=${MEDISYNC_BROKER_URL:-nats://127.0.0.1:4222}
pids=()
stopping=0
if [ ! -x bin/nats-server ]; then
  echo "Building nats-server..."
  (cd shared && CGO_ENABLED=0 go build -o "$root/bin/nats-server" github.com/nats-io/nats-server/v2)
fi
if ! curl -fsS "http://127.0.0.1:8222/healthz" >/dev/null 2>&1; then
  mkdir -p data/nats
  setsid bin/nats-server -a 127.0.0.1 -p 4222 -http_port 8222 -js -sd data/nats >data/logs/nats.log 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:8222/healthz?js-enabled-only=true" >/dev/null 2>&1 && break
    sleep 0.1
  done
fi
stop() {
  trap - INT TERM EXIT
  stopping=1
  echo
  echo "Stopping..."
  # Reverse order: the gateway first, discovery last, so deregistrations land.
  for ((i=${#pids[@]}-1; i>=0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
  echo "All services stopped."
}
trap stop INT TERM EXIT

# Each service runs in its own session, so Ctrl-C reaches this script only and
# the services stop in order: the gateway first, discovery last.
for s in "${built[@]}"; do
  mapfile -t db < <(db_env "$s")
  # On one developer's machine, reset links go to auth's log: a development
  # shortcut asked for by name (auth's default notifier never shows them).
  if [ "$s" = auth ]; then db+=(MEDISYNC_NOTIFIER=dev-log); fi
  if [ "$s" = records ]; then db+=(MEDISYNC_BLOB_DIR="$root/data/blobs" MEDISYNC_BLOB_MASTER_KEY="$MEDISYNC_BLOB_MASTER_KEY"); fi
  # No mail server here: mail goes to ./data/mail, a development shortcut
  # asked for by name (production refuses to start without SMTP).
  if [ "$s" = notification ]; then db+=(MEDISYNC_MAIL=dev-mailbox "MEDISYNC_MAIL_DIR=$root/data/mail"); fi
  if [ "$s" = discovery ]; then
    tokens=(MEDISYNC_DISCOVERY_TOKEN="$MEDISYNC_DISCOVERY_TOKEN" MEDISYNC_DISCOVERY_SERVICE_TOKENS="$service_tokens")
  else
    tokens=(MEDISYNC_DISCOVERY_TOKEN="$(token_for "$s")")
  fi
  env MEDISYNC_HTTP_ADDR="127.0.0.1:${ports[$s]}" \
      "${db[@]}" "${tokens[@]}" \
      MEDISYNC_DISCOVERY_URLS="http://127.0.0.1:${ports[discovery]}" \
      setsid "$root/bin/$s" >"data/logs/$s.log" 2>&1 &
  pids+=($!)
  # Wait for readiness (auth needs its database, the others need auth's keys).
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:${ports[$s]}/health/live" >/dev/null 2>&1; then break; fi
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then
      echo "$s failed to start; its log (data/logs/$s.log):"; tail -n 20 "data/logs/$s.log"; exit 1
    fi
    sleep 0.1
  done
done
for s in "${built[@]}"; do
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:${ports[$s]}/health/ready" >/dev/null 2>&1 && break
    sleep 0.1
  done
done

echo
echo "medisync is running (database: ${MEDISYNC_DB:-sqlite}; logs in data/logs/)."
echo "  Gateway (the API)      http://localhost:${ports[gateway]}/api/v1/..."
echo "  Discovery dashboard    http://localhost:${ports[discovery]}/"
for s in "${built[@]}"; do
  case "$s" in gateway|discovery) continue ;; esac
  printf '  %-22s http://localhost:%s\n' "$s" "${ports[$s]}"
done
if [ -n "${ports[notification]:-}" ]; then
  echo "  Development mailbox    http://localhost:${ports[notification]}/dev/mail (files in data/mail/)"
fi
echo "  Metrics                /metrics on each service; the gateway's at http://127.0.0.1:9080/metrics"
echo "  Development admin      ${MEDISYNC_ADMIN_EMAIL} / ${MEDISYNC_ADMIN_PASSWORD}"
echo "Press Ctrl-C to stop."
wait -n "${pids[@]}" || true
if [ "$stopping" = 0 ]; then
  echo "A service exited; see data/logs/. Stopping the others."
fi
