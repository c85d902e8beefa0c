#!/usr/bin/env bash
# Measures the appointment service on MariaDB, or on PostgreSQL when given
# -postgres-server postgres://...: builds the appointment binary and its load
# tool, makes sure the database server runs, then lets the tool start the
# service on 127.0.0.1 with a fresh database and stand-ins for the doctor and
# patient services, book 100,000 appointments in distinct slots, measure a
# patient's list and a doctor's day, race 50 bookers for one slot and cancel.
# Extra arguments go to the tool (see: bin/appointment-load -h), for example
#   scripts/load-appointment.sh -bookings 100000 -concurrency 16
#   scripts/load-appointment.sh -postgres-server 'postgres://medisync:medisync@127.0.0.1:5432/postgres?sslmode=disable'
# scripts/load-databases.sh runs it on both databases side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/go.sh

if [[ " $* " == *" -postgres-server "* || " $* " == *" --postgres-server "* || "$*" == *-postgres-server=* ]]; then
  bash scripts/postgres-up.sh >/dev/null
elif ! mysqladmin ping --silent >/dev/null 2>&1; then
  bash scripts/mariadb-up.sh
fi
mkdir -p bin
go build -o bin/appointment ./appointment/cmd/appointment
go build -o bin/appointment-load ./appointment/cmd/appointment-load
exec bin/appointment-load -appointment-bin bin/appointment "$@"
