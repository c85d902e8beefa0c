#!/usr/bin/env bash
# Builds (when absent) and starts a local NATS server with JetStream for
# medisync's broker adapter and tests: 127.0.0.1:4222, monitoring on
# 127.0.0.1:8222, file store under ./data/nats. Safe to run again: a server
# that already answers is left alone. The server is the official one, built
# from its Go module at the version shared/go.mod pins.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/go.sh

port=${NATS_PORT:-4222}
monitor=${NATS_MONITOR_PORT:-8222}
store=${NATS_STORE_DIR:-data/nats}

# One run at a time: runs at once would build bin/nats-server together (one
# running the file the other writes) and start two servers on one store, the
# second failing on the port. A second run waits for the first. flock holds
# the lock and runs this script again without it open, so that the server
# started below does not keep it. The lock is the port's, outside the
# checkout, so that a checkout whose data/ cannot be written still finds a
# running server.
lock=/run/lock/medisync-nats-up-$port.lock
if [ "${MEDISYNC_UP_LOCK:-}" != "$lock" ]; then
  mkdir -p "${lock%/*}"
  exec env MEDISYNC_UP_LOCK="$lock" flock -o "$lock" "$BASH" scripts/nats-up.sh "$@"
fi

if [ ! -x bin/nats-server ]; then
  echo "nats-up: building nats-server into bin/"
  mkdir -p bin
  (cd shared && CGO_ENABLED=0 go build -o ../bin/nats-server github.com/nats-io/nats-server/v2)
fi

healthy() { curl -fsS "http://127.0.0.1:$monitor/healthz?js-enabled-only=true" >/dev/null 2>&1; }

if ! healthy; then
  echo "nats-up: starting nats-server"
  mkdir -p "$store" data/logs
  setsid bin/nats-server -a 127.0.0.1 -p "$port" -http_port "$monitor" -js -sd "$store" \
    >>data/logs/nats.log 2>&1 < /dev/null &
fi

for _ in $(seq 1 100); do
  healthy && break
  sleep 0.1
done
if ! healthy; then
  echo "nats-up: nats-server did not answer within 10s; see data/logs/nats.log" >&2
  exit 1
fi
echo "nats-up: NATS with JetStream ready on 127.0.0.1:$port (monitoring on 127.0.0.1:$monitor)"
