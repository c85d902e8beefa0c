#!/usr/bin/env bash
# Compares the gateway with plain reverse proxies in front of the same
# upstream: the doctor service on SQLite, read with an authenticated
# GET /api/v1/specializations. wrk measures, one target after the other, in
# alternating rounds so that other work on the machine weighs on all alike:
#   direct     the doctor service itself
#   gateway    the gateway with everything it does per request (token check
#              from its cache, breakers, balancing, metrics, access log; the
#              general rate-limit class off unless LOAD_RATE_LIMIT is set)
#   gateway+redis  (LOAD_REDIS=1) the same with the general class on and its
#              buckets in Redis (scripts/redis-up.sh), limits high enough
#              never to refuse: the cost of the round trip per request
#   nginx      one worker, keep-alive to the upstream
#   haproxy    one thread, keep-alive to the upstream
#   caddy      defaults (reverse_proxy keeps connections alive)
# Then, for latency, each target at half of nginx's saturation rate (wrk2's
# constant rate is not in Debian, so the gateway-load tool's open-loop run
# measures p50/p99 from each request's scheduled send time).
# nginx, haproxy, caddy and wrk are installed when missing (Debian packages).
#
# Settings (environment): LOAD_ROUNDS (3), LOAD_DURATION (5s per wrk run),
# LOAD_CONNECTIONS (32), LOAD_THREADS (2), LOAD_LATENCY=0 skips the latency
# run, LOAD_REDIS=1 adds the gateway with Redis rate limits, LOAD_PROFILE=dir
# writes the gateway's CPU and allocation profiles taken under load there,
# LOAD_KEEP=1 keeps the logs.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/go.sh

missing=()
for p in nginx:/usr/sbin/nginx haproxy:/usr/sbin/haproxy caddy:/usr/bin/caddy wrk:/usr/bin/wrk; do
  [ -x "${p#*:}" ] || missing+=("${p%%:*}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "load-proxies: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

work=$(mktemp -d)
bin=$work/bin
mkdir -p "$bin" "$work/data" "$work/logs"

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
port_auth=$(free_port)
port_doctor=$(free_port)
port_gateway=$(free_port)
port_gateway_redis=$(free_port)
port_nginx=$(free_port)
port_haproxy=$(free_port)
port_caddy=$(free_port)
rounds=${LOAD_ROUNDS:-3}
duration=${LOAD_DURATION:-5s}
conns=${LOAD_CONNECTIONS:-32}
threads=${LOAD_THREADS:-2}

echo "Building binaries..."
for s in discovery auth doctor gateway; do
  (cd "$s" && go build -o "$bin/$s" "./cmd/$s")
done
(cd gateway && go build -o "$bin/gateway-load" ./cmd/gateway-load)

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

wait_ready() { # name url pid
  for _ in $(seq 1 300); do
    if curl -fsS -o /dev/null "$2" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$3" 2>/dev/null; then
      echo "$1 failed to start:"
      tail -n 20 "$work/logs/$1.log"
      exit 1
    fi
    sleep 0.1
  done
  echo "$1 did not become ready:"
  tail -n 20 "$work/logs/$1.log"
  exit 1
}

start() { # name port env...
  local name=$1 port=$2
  shift 2
  env MEDISYNC_HTTP_ADDR="127.0.0.1:$port" \
    MEDISYNC_DISCOVERY_URLS="http://127.0.0.1:$port_discovery" \
    "$@" "$bin/${name%%-*}" >"$work/logs/$name.log" 2>&1 &
  pids+=($!)
  wait_ready "$name" "http://127.0.0.1:$port/health/ready" "${pids[-1]}"
}

shared_token=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
auth_token=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
start discovery "$port_discovery" MEDISYNC_DISCOVERY_TOKEN="$shared_token" MEDISYNC_DISCOVERY_SERVICE_TOKENS="auth=$auth_token"
start auth "$port_auth" MEDISYNC_DB_DSN="sqlite:$work/data/auth.db" MEDISYNC_DISCOVERY_TOKEN="$auth_token"
start doctor "$port_doctor" MEDISYNC_DB_DSN="sqlite:$work/data/doctor.db" MEDISYNC_DISCOVERY_TOKEN="$shared_token"
start gateway "$port_gateway" MEDISYNC_RATE_LIMIT_RPS="${LOAD_RATE_LIMIT:-0}" MEDISYNC_DISCOVERY_TOKEN="$shared_token" \
  MEDISYNC_METRICS_ADDR="127.0.0.1:$(free_port)" ${LOAD_PROFILE:+MEDISYNC_DEBUG_ADDR=127.0.0.1:$((port_gateway + 1))}
targets=(direct gateway)
if [ "${LOAD_REDIS:-0}" = "1" ]; then
  bash scripts/redis-up.sh >/dev/null
  start gateway-redis "$port_gateway_redis" MEDISYNC_RATE_LIMIT_RPS=1000000 MEDISYNC_RATE_LIMIT_BURST=1000000 \
    MEDISYNC_RATE_LIMIT_REDIS_URL=redis://127.0.0.1:6379/0 MEDISYNC_DISCOVERY_TOKEN="$shared_token" \
    MEDISYNC_METRICS_ADDR="127.0.0.1:$(free_port)"
  targets+=(gateway+redis)
fi

# A user and an access token, through auth itself.
email="load-$(date +%s%N)@medisync.example"
password="Load-test-passw0rd!"
curl -fsS -o /dev/null -H 'Content-Type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"$password\",\"fullName\":\"Load Tester\"}" \
  "http://127.0.0.1:$port_auth/api/v1/auth/register"
token=$(curl -fsS -H 'Content-Type: application/json' -d "{\"email\":\"$email\",\"password\":\"$password\"}" \
  "http://127.0.0.1:$port_auth/api/v1/auth/login" | sed -n 's/.*"accessToken":"\([^"]*\)".*/\1/p')
[ -n "$token" ] || { echo "no access token from auth"; exit 1; }

# The reference proxies: plain reverse proxies with keep-alive upstream.
cat >"$work/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/logs/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx-body;
  proxy_temp_path $work/nginx-proxy;
  fastcgi_temp_path $work/nginx-fastcgi;
  uwsgi_temp_path $work/nginx-uwsgi;
  scgi_temp_path $work/nginx-scgi;
  upstream doctor { server 127.0.0.1:$port_doctor; keepalive 64; }
  server {
    listen 127.0.0.1:$port_nginx;
    location / {
      proxy_pass http://doctor;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
cat >"$work/haproxy.cfg" <<EOF
global
  nbthread 1
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
frontend front
  bind 127.0.0.1:$port_haproxy
  default_backend doctor
backend doctor
  http-reuse always
  server d1 127.0.0.1:$port_doctor
EOF
cat >"$work/Caddyfile" <<EOF
{
  admin off
  auto_https off
  storage file_system $work/caddy
}
http://127.0.0.1:$port_caddy {
  reverse_proxy 127.0.0.1:$port_doctor
}
EOF
/usr/sbin/nginx -c "$work/nginx.conf" >"$work/logs/nginx.log" 2>&1 &
pids+=($!)
/usr/sbin/haproxy -f "$work/haproxy.cfg" -db >"$work/logs/haproxy.log" 2>&1 &
pids+=($!)
HOME=$work /usr/bin/caddy run --config "$work/Caddyfile" --adapter caddyfile >"$work/logs/caddy.log" 2>&1 &
pids+=($!)
targets+=(nginx haproxy caddy)

declare -A port=([direct]=$port_doctor [gateway]=$port_gateway [gateway+redis]=$port_gateway_redis
  [nginx]=$port_nginx [haproxy]=$port_haproxy [caddy]=$port_caddy)
path=/api/v1/specializations
for t in "${targets[@]}"; do
  url="http://127.0.0.1:${port[$t]}$path"
  for _ in $(seq 1 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$url" || true)
    [ "$code" = 200 ] && break
    sleep 0.1
  done
  [ "$code" = 200 ] || { echo "$t answers $code for $path"; tail -n 5 "$work"/logs/*.log; exit 1; }
  # Warm up: connection pools, caches.
  wrk -t "$threads" -c "$conns" -d 1s -H "Authorization: Bearer $token" "$url" >/dev/null
done

declare -A runs
measure() { # target -> requests/s
  wrk -t "$threads" -c "$conns" -d "$duration" -H "Authorization: Bearer $token" \
    "http://127.0.0.1:${port[$1]}$path" | awk '/^Requests\/sec/ {printf "%d", $2}'
}
echo "Measuring on $(nproc) cores: wrk -t$threads -c$conns -d$duration, $rounds rounds, GET $path"
for r in $(seq 1 "$rounds"); do
  line="round $r:"
  for t in "${targets[@]}"; do
    v=$(measure "$t")
    runs[$t]+="$v "
    line+=" $t $v"
  done
  echo "$line"
done
if [ -n "${LOAD_PROFILE:-}" ]; then
  mkdir -p "$LOAD_PROFILE"
  dbg="http://127.0.0.1:$((port_gateway + 1))/debug/pprof"
  wrk -t "$threads" -c "$conns" -d 12s -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$port_gateway$path" >/dev/null &
  wrkpid=$!
  sleep 1
  curl -fsS -o "$LOAD_PROFILE/cpu.pprof" "$dbg/profile?seconds=8"
  curl -fsS -o "$LOAD_PROFILE/allocs.pprof" "$dbg/allocs"
  wait "$wrkpid"
  echo "Profiles in $LOAD_PROFILE (go tool pprof -top $bin/gateway $LOAD_PROFILE/cpu.pprof)"
  cp "$bin/gateway" "$LOAD_PROFILE/gateway.bin"
fi

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A med
echo
printf '%-14s %10s %10s %10s %10s\n' target median min max "÷ direct"
for t in "${targets[@]}"; do
  med[$t]=$(echo "${runs[$t]}" | median)
done
for t in "${targets[@]}"; do
  min=$(echo "${runs[$t]}" | tr ' ' '\n' | grep -v '^$' | sort -n | head -1)
  max=$(echo "${runs[$t]}" | tr ' ' '\n' | grep -v '^$' | sort -n | tail -1)
  printf '%-14s %10s %10s %10s %10.2f\n' "$t" "${med[$t]}" "$min" "$max" "$(echo "${med[$t]} / ${med[direct]}" | bc -l)"
done
echo
printf 'gateway ÷ nginx   %.2f (goal ≥ 0.85)\n' "$(echo "${med[gateway]} / ${med[nginx]}" | bc -l)"
printf 'gateway ÷ direct  %.2f (goal ≥ 0.65)\n' "$(echo "${med[gateway]} / ${med[direct]}" | bc -l)"
if [ -n "${med[gateway+redis]:-}" ]; then
  us=$(echo "1000000 / ${med[gateway+redis]} - 1000000 / ${med[gateway]}" | bc -l)
  printf 'Redis rate limit: %.2f of the gateway without it; %.1f µs more per request at saturation\n' \
    "$(echo "${med[gateway+redis]} / ${med[gateway]}" | bc -l)" "$us"
fi

if [ "${LOAD_LATENCY:-1}" != "0" ]; then
  rate=$((med[nginx] / 2))
  echo
  echo "Latency at $rate requests/s (half of nginx's saturation), open loop, ${rounds}×2s per target:"
  for t in "${targets[@]}"; do
    [ "$t" = direct ] && continue
    # gateway-load measures "direct" and "gateway": here the target stands
    # in the gateway's place.
    out=$("$bin/gateway-load" -setup=false -saturation=false -rounds "$rounds" -rate "$rate" -rate-duration 2s \
      -warmup 1s -gateway "http://127.0.0.1:${port[$t]}" -direct "http://127.0.0.1:$port_doctor" \
      -path "$path" -token "$token") || true
    [ "$t" = gateway ] && printf '%-14s %s\n' direct "$(echo "$out" | awk '/^direct .*requests\/s/' | sed 's/.*: p50/p50/')"
    printf '%-14s %s\n' "$t" "$(echo "$out" | awk '/^gateway .*requests\/s/' | sed 's/.*: p50/p50/')"
  done
fi
