#!/usr/bin/env bash
# Installs (when absent) and starts a local RabbitMQ for medisync's AMQP
# broker adapter and its tests: 127.0.0.1:5672, the guest account (which
# RabbitMQ accepts from the loopback address only). Safe to run again: a
# server that already answers is left alone. Nothing listens beyond the
# loopback: AMQP, epmd (4369) and the Erlang distribution (25672).
set -euo pipefail

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
if rabbitmqctl -q status >/dev/null 2>&1; then
  rabbitmqctl -q await_startup >/dev/null 2>&1 || true
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

if ! rabbitmqctl -q -n "$node" status >/dev/null 2>&1; then
  echo "rabbitmq-up: starting rabbitmq-server ($node)"
  RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 rabbitmq-server -detached
fi

for _ in $(seq 1 60); do
  rabbitmqctl -q -n "$node" status >/dev/null 2>&1 && break
  sleep 1
done
# The broker answers rabbitmqctl a moment before its AMQP listener is up.
rabbitmqctl -q -n "$node" await_startup >/dev/null 2>&1 || true
if ! rabbitmqctl -q -n "$node" status >/dev/null 2>&1; then
  echo "rabbitmq-up: rabbitmq-server did not answer within 60s" >&2
  exit 1
fi
echo "rabbitmq-up: RabbitMQ ready on 127.0.0.1:5672"
