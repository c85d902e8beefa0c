#!/usr/bin/env bash
# Installs Debian's Prometheus (with promtool) when absent, for the test of
# discovery's Eureka API under Prometheus's eureka_sd_configs. Safe to run
# again. Only the binaries are used: the packaged service is not needed.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  exit 0
fi
echo "prometheus-install: installing prometheus"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends prometheus
