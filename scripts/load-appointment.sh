#!/usr/bin/env bash
# Measures the appointment service on MariaDB: builds the appointment binary
# and its load tool, makes sure MariaDB runs, then lets the tool start the
# service on 127.0.0.1 with a fresh database and stand-ins for the doctor and
# patient services, book 100,000 appointments in distinct slots, measure a
# patient's list and a doctor's day, race 50 bookers for one slot and cancel.
# Extra arguments go to the tool (see: bin/appointment-load -h), for example
#   scripts/load-appointment.sh -bookings 100000 -concurrency 32
set -euo pipefail
cd "$(dirname "$0")/.."

if ! mysqladmin ping --silent >/dev/null 2>&1; then
  bash scripts/mariadb-up.sh
fi
mkdir -p bin
go build -o bin/appointment ./appointment/cmd/appointment
go build -o bin/appointment-load ./appointment/cmd/appointment-load
exec bin/appointment-load -appointment-bin bin/appointment "$@"
