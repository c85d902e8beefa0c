#!/usr/bin/env bash
# Installs Prometheus (and so promtool, which checks and unit-tests
# deploy/prometheus/rules.yml in make test) from Debian's packages when it is
# missing; does nothing when it is there.
set -euo pipefail
command -v promtool >/dev/null || (apt-get update && apt-get install -y --no-install-recommends prometheus)
