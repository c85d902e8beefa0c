#!/usr/bin/env bash
# Installs (when absent) and starts a local RabbitMQ for medisync's AMQP
# broker adapter and its tests: 127.0.0.1:5672, the guest account (which
# RabbitMQ accepts from the loopback address only). Safe to run again: a
# server that already answers is left alone.
set -euo pipefail

if ! command -v rabbitmq-server >/dev/null 2>&1; then
  echo "rabbitmq-up: installing rabbitmq-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y rabbitmq-server
fi

if ! rabbitmqctl -q status >/dev/null 2>&1; then
  echo "rabbitmq-up: starting rabbitmq-server"
  RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 rabbitmq-server -detached
fi

for _ in $(seq 1 60); do
  rabbitmqctl -q status >/dev/null 2>&1 && break
  sleep 1
done
# The broker answers rabbitmqctl a moment before its AMQP listener is up.
rabbitmqctl -q await_startup >/dev/null 2>&1 || true
if ! rabbitmqctl -q status >/dev/null 2>&1; then
  echo "rabbitmq-up: rabbitmq-server did not answer within 60s" >&2
  exit 1
fi
echo "rabbitmq-up: RabbitMQ ready on 127.0.0.1:5672"
