#!/usr/bin/env bash
# Installs (when absent) and starts a local Redis on 127.0.0.1:6379 for the
# gateway's shared rate limits and their tests. Safe to run again: every
# step is idempotent.
set -euo pipefail

# One run at a time: runs at once would install the package together (dpkg
# lets one in and fails the other) and start two servers, the second failing
# on the port. A second run waits for the first. flock holds the lock and
# runs this script again without it open, so that the server started below
# does not keep it.
lock=/run/lock/medisync-redis-up.lock
if [ "${MEDISYNC_UP_LOCK:-}" != "$lock" ]; then
  mkdir -p "${lock%/*}"
  exec env MEDISYNC_UP_LOCK="$lock" flock -o "$lock" "$BASH" "$0" "$@"
fi

if [ ! -x /usr/bin/redis-server ]; then
  echo "redis-up: installing redis-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y redis-server
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "redis-up: starting redis-server"
  # Loopback only, no snapshots: rate-limit buckets are worth nothing after
  # a restart, and a test machine has no use for a dump file.
  redis-server --bind 127.0.0.1 --port 6379 --protected-mode yes --save '' --appendonly no \
    --daemonize yes --logfile /tmp/medisync-redis.log
fi

for _ in $(seq 1 50); do
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break
  sleep 0.1
done
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "redis-up: redis-server did not answer within 5s" >&2
  exit 1
fi
echo "redis-up: Redis ready on 127.0.0.1:6379"
