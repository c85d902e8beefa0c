#!/usr/bin/env bash
# Load test of the discovery server on this machine: builds it, starts it on
# a loopback port, and runs discovery-load against it (10,000 instances,
# heartbeats at full speed for a bounded time, one-service listing latency,
# resident memory, change-to-blocked-reader latency). Stops by itself.
#
#   scripts/load-discovery.sh                 # defaults
#   DURATION=20s INSTANCES=10000 scripts/load-discovery.sh
set -euo pipefail
. "$(dirname "$0")/go.sh"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PORT:-18761}
INSTANCES=${INSTANCES:-10000}
SERVICES=${SERVICES:-100}
DURATION=${DURATION:-10s}
CONCURRENCY=${CONCURRENCY:-32}
TOKEN=${TOKEN:-load-test-token}

WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

echo "building discovery and discovery-load..."
(cd "$ROOT/discovery" && go build -o "$WORK/discovery" ./cmd/discovery && go build -o "$WORK/discovery-load" ./cmd/discovery-load)

MEDISYNC_HTTP_ADDR="127.0.0.1:$PORT" MEDISYNC_DISCOVERY_TOKEN="$TOKEN" MEDISYNC_LOG_LEVEL=warn \
  "$WORK/discovery" -eureka-warmup 0 >"$WORK/discovery.log" 2>&1 &
SERVER_PID=$!

for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$PORT/health/ready" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then cat "$WORK/discovery.log"; exit 1; fi
  sleep 0.1
done

"$WORK/discovery-load" -url "http://127.0.0.1:$PORT" -token "$TOKEN" -instances "$INSTANCES" \
  -services "$SERVICES" -duration "$DURATION" -concurrency "$CONCURRENCY" -pid "$SERVER_PID"
