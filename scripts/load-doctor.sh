#!/usr/bin/env bash
# Measures the doctor service's search latency on MariaDB: builds the doctor
# binary and its load tool, makes sure MariaDB runs, then lets the tool start
# the service on 127.0.0.1 with a fresh database, seed 10,000 doctors with
# availability over HTTP, and report search latency percentiles.
# Extra arguments go to the tool (see: bin/doctor-load -h), for example
#   scripts/load-doctor.sh -doctors 10000 -requests 6000 -concurrency 4 -fail-over-p99 20ms
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/go.sh

if ! mysqladmin ping --silent >/dev/null 2>&1; then
  bash scripts/mariadb-up.sh
fi
mkdir -p bin
go build -o bin/doctor ./doctor/cmd/doctor
go build -o bin/doctor-load ./doctor/cmd/doctor-load
exec bin/doctor-load -doctor-bin bin/doctor "$@"
