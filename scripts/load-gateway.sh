#!/usr/bin/env bash
# Measures what the gateway adds to an authenticated GET: the real discovery,
# auth, patient and gateway binaries run on loopback with SQLite in a
# temporary folder; gateway-load registers a patient through the gateway and
# then reads that profile straight from the patient service and through the
# gateway, at saturation (requests/s) and at a fixed rate (p50/p99).
# LOAD_UPSTREAM=stub puts gateway/cmd/loadstub in the patient service's place:
# the same process frame and token check, answers from memory, so that the
# database does not blur the gateway's share.
#
# Settings (environment): LOAD_ROUNDS (10 rounds, each measuring both targets
# in short alternating blocks; the figures pool all rounds),
# LOAD_CONCURRENCY (32), LOAD_DURATION (1s per saturation block),
# LOAD_RATE (2000), LOAD_RATE_DURATION (1s per fixed-rate block),
# LOAD_WARMUP (2s per target),
# LOAD_LOG_LEVEL (info: every service writes its access log as in
# production), LOAD_JSON (a file for the figures as JSON), LOAD_KEEP=1 keeps the logs.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/go.sh

work=$(mktemp -d)
bin=$work/bin
mkdir -p "$bin" "$work/data" "$work/logs"

# A free loopback port below the ephemeral range: nothing answers there.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
}
port_discovery=$(free_port)
port_gateway=$(free_port)
port_auth=$(free_port)
port_patient=$(free_port)
level=${LOAD_LOG_LEVEL:-info}

echo "Building binaries..."
for s in discovery auth patient gateway; do
  (cd "$s" && go build -o "$bin/$s" "./cmd/$s")
done
(cd gateway && go build -o "$bin/gateway-load" ./cmd/gateway-load && go build -o "$bin/loadstub" ./cmd/loadstub)
upstream=${LOAD_UPSTREAM:-patient}
case "$upstream" in
  patient) upstream_bin=patient ;;
  stub) upstream_bin=loadstub ;;
  *) echo "LOAD_UPSTREAM must be patient or stub"; exit 1 ;;
esac

pids=()
cleanup() {
  trap - EXIT INT TERM
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
  if [ "${LOAD_KEEP:-0}" = "1" ]; then
    echo "Logs kept in $work/logs"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT INT TERM

start() {
  local name=$1 port=$2
  shift 2
  env MEDISYNC_HTTP_ADDR="127.0.0.1:$port" \
    MEDISYNC_DISCOVERY_URLS="http://127.0.0.1:$port_discovery" \
    MEDISYNC_LOG_LEVEL="$level" \
    "$@" "$bin/$name" >"$work/logs/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do
    if curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then
      echo "$name failed to start:"
      tail -n 20 "$work/logs/$name.log"
      exit 1
    fi
    sleep 0.1
  done
  echo "$name did not become ready:"
  tail -n 20 "$work/logs/$name.log"
  exit 1
}

# Registry writes need tokens, auth's its own (discovery/README.md).
shared_token=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
auth_token=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
start discovery "$port_discovery" MEDISYNC_DISCOVERY_TOKEN="$shared_token" MEDISYNC_DISCOVERY_SERVICE_TOKENS="auth=$auth_token"
start auth "$port_auth" MEDISYNC_DB_DSN="sqlite:$work/data/auth.db" MEDISYNC_DISCOVERY_TOKEN="$auth_token"
start "$upstream_bin" "$port_patient" MEDISYNC_DB_DSN="sqlite:$work/data/patient.db" MEDISYNC_DISCOVERY_TOKEN="$shared_token"
# The general rate-limit class is off so that it does not cap the load; the
# strict class (register, login) stays on.
start gateway "$port_gateway" MEDISYNC_RATE_LIMIT_RPS=0 MEDISYNC_DISCOVERY_TOKEN="$shared_token" \
  MEDISYNC_METRICS_ADDR="127.0.0.1:$(free_port)"

# Let the gateway's watches settle, and make sure every process is ours and
# still running (a port taken meanwhile would have stopped one).
sleep 0.5
for pid in "${pids[@]}"; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "a service stopped during start-up; logs:"
    tail -n 5 "$work"/logs/*.log
    exit 1
  fi
done

echo "Measuring on $(nproc) cores against $upstream_bin..."
"$bin/gateway-load" \
  -gateway "http://127.0.0.1:$port_gateway" \
  -direct "http://127.0.0.1:$port_patient" \
  -rounds "${LOAD_ROUNDS:-10}" \
  -concurrency "${LOAD_CONCURRENCY:-32}" \
  -duration "${LOAD_DURATION:-1s}" \
  -warmup "${LOAD_WARMUP:-2s}" \
  -rate "${LOAD_RATE:-2000}" \
  -rate-duration "${LOAD_RATE_DURATION:-1s}" \
  ${LOAD_JSON:+-json "$LOAD_JSON"}
