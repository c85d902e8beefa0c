#!/usr/bin/env bash
# Load test of the event path on this machine: events-load writes to a SQL
# outbox, the relay publishes to a NATS JetStream server (bin/nats-server,
# built as scripts/nats-up.sh does, run as a child process on a free port
# with its store in a temporary folder), and a consumer applies each event
# with an inbox claim and an insert in its own database. Reports throughput
# of a backlog, commit-to-effect latency at a steady rate, and the drain
# time of the backlog a broker outage leaves. Stops by itself.
#
#   scripts/load-events.sh                               # SQLite, 60 s outage
#   OUTAGE=10s BACKLOG=20000 scripts/load-events.sh
#   PRODUCER_DSN='mysql://...' CONSUMER_DSN='mysql://...' scripts/load-events.sh
set -euo pipefail
. "$(dirname "$0")/go.sh"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BACKLOG=${BACKLOG:-50000}
RATE=${RATE:-500}
LATENCY_DURATION=${LATENCY_DURATION:-20s}
OUTAGE=${OUTAGE:-60s}
WORKERS=${WORKERS:-8}

if [ ! -x "$ROOT/bin/nats-server" ]; then
  echo "building nats-server into bin/..."
  mkdir -p "$ROOT/bin"
  (cd "$ROOT/shared" && CGO_ENABLED=0 go build -o ../bin/nats-server github.com/nats-io/nats-server/v2)
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT INT TERM
echo "building events-load..."
(cd "$ROOT/shared" && go build -o "$WORK/events-load" ./cmd/events-load)

args=(-nats-server "$ROOT/bin/nats-server" -backlog "$BACKLOG" -rate "$RATE"
  -latency-duration "$LATENCY_DURATION" -outage "$OUTAGE" -consumer-workers "$WORKERS")
[ -n "${PRODUCER_DSN:-}" ] && args+=(-producer-dsn "$PRODUCER_DSN")
[ -n "${CONSUMER_DSN:-}" ] && args+=(-consumer-dsn "$CONSUMER_DSN")
"$WORK/events-load" "${args[@]}"
