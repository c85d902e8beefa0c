#!/usr/bin/env bash
# Installs Debian's Prometheus (with promtool) when absent, for the test of
# discovery's Eureka API under Prometheus's eureka_sd_configs. Safe to run
# again. Only the binaries are used: on a systemd host the package starts
# its service, listening on every interface (9090), so it is stopped and
# disabled.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  exit 0
fi
echo "prometheus-install: installing prometheus"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends prometheus
if [ -d /run/systemd/system ]; then
  systemctl disable --now prometheus 2>/dev/null || true
fi
