#!/usr/bin/env bash
# Installs (when absent) and starts a local RabbitMQ for medisync's AMQP
# broker adapter and its tests: 127.0.0.1:5672, the guest account (which
# RabbitMQ accepts from the loopback address only). Safe to run again: a
# server that already answers is left alone. Nothing listens beyond the
# loopback: AMQP, epmd (4369) and the Erlang distribution (25672).
#
# The tests use the virtual host medisync-test, where a queue unused for ten
# minutes is removed: tests name their queues afresh on every run, and a
# node that keeps them all ends up unable to boot (it opens a file per queue).
set -euo pipefail

# One run at a time: runs at once would start the node twice and set up the
# test virtual host together. A second run waits for the first. flock holds
# the lock and runs this script again without it open, so that the server
# started below does not keep it.
lock=/run/lock/medisync-rabbitmq-up.lock
if [ "${MEDISYNC_UP_LOCK:-}" != "$lock" ]; then
  mkdir -p "${lock%/*}"
  exec env MEDISYNC_UP_LOCK="$lock" flock -o "$lock" "$BASH" "$0" "$@"
fi

# Every rabbitmqctl call is bounded: a node stuck in its boot must fail this
# script, not hang it.
ctl() { timeout 60 rabbitmqctl -q "$@"; }

test_vhost() {
  if ! ctl -n "$1" list_vhosts name | grep -qx medisync-test; then
    ctl -n "$1" add_vhost medisync-test
  fi
  ctl -n "$1" set_permissions -p medisync-test guest '.*' '.*' '.*' >/dev/null
  ctl -n "$1" set_policy -p medisync-test --apply-to queues unused-test-queues '.*' \
    '{"expires": 600000}' >/dev/null
}

if ! command -v rabbitmq-server >/dev/null 2>&1; then
  echo "rabbitmq-up: installing rabbitmq-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y rabbitmq-server
  # On a systemd host the package starts Debian's service, on every
  # interface: this script runs its own node instead.
  # Its epmd socket unit listens on every interface too.
  if [ -d /run/systemd/system ]; then
    systemctl disable --now rabbitmq-server epmd.socket epmd.service 2>/dev/null || true
  fi
fi

# A node that already answers under its default name (started before this
# script chose names) is left alone.
default_node=rabbit@$(hostname -s)
if ctl -n "$default_node" status >/dev/null 2>&1; then
  ctl -n "$default_node" await_startup >/dev/null 2>&1 || true
  test_vhost "$default_node"
  echo "rabbitmq-up: RabbitMQ ready on 127.0.0.1:5672"
  exit 0
fi

# The node is rabbit@<short host name>, and rabbitmqctl reaches it at the
# address that name resolves to: 127.0.0.1, or 127.0.1.1 as Debian writes in
# /etc/hosts. Where the name resolves to a network address (a container),
# the node is named after localhost instead, so that it still listens on the
# loopback only.
node_ip=$(getent ahostsv4 "$(hostname -s)" 2>/dev/null | awk 'NR == 1 { print $1 }' || true)
case "$node_ip" in
  127.*) ;;
  *)
    export RABBITMQ_NODENAME=rabbit@localhost
    node_ip=127.0.0.1
    ;;
esac
node=${RABBITMQ_NODENAME:-rabbit@$(hostname -s)}
# RABBITMQ_NODE_IP_ADDRESS binds AMQP alone: epmd and the distribution port
# listen on every interface unless told. (An epmd already running, such as
# systemd's epmd.socket, keeps the addresses it has.)
epmd_addrs=127.0.0.1
[ "$node_ip" = 127.0.0.1 ] || epmd_addrs="127.0.0.1,$node_ip"
export ERL_EPMD_ADDRESS=$epmd_addrs
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {${node_ip//./,}}"

# The node opens a file per queue at boot and waits forever when it has
# fewer than queues. Debian's wrapper starts it through su, whose PAM
# session sets the soft limit back to 1024: the hard limit is asked for.
nofile=$(ulimit -Hn)
if [ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ]; then nofile=65536; fi
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
if ! ctl -n "$node" status >/dev/null 2>&1; then
  echo "rabbitmq-up: starting rabbitmq-server ($node)"
  if [ "$(id -u)" = 0 ] && [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] && id rabbitmq >/dev/null 2>&1; then
    su rabbitmq -s /bin/sh -c "ulimit -n $nofile; cd /var/lib/rabbitmq && exec /usr/lib/rabbitmq/bin/rabbitmq-server -detached"
  else
    ulimit -n "$nofile"
    rabbitmq-server -detached
  fi
fi

for _ in $(seq 1 60); do
  ctl -n "$node" status >/dev/null 2>&1 && break
  sleep 1
done
# The broker answers rabbitmqctl a moment before its AMQP listener is up.
if ! ctl -n "$node" await_startup >/dev/null 2>&1; then
  echo "rabbitmq-up: rabbitmq-server did not start within 2 minutes (see /var/log/rabbitmq)" >&2
  exit 1
fi
test_vhost "$node"
echo "rabbitmq-up: RabbitMQ ready on 127.0.0.1:5672 (tests: virtual host medisync-test)"
