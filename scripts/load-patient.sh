#!/usr/bin/env bash
# Load test of the patient service: builds the binary and its load tool,
# makes sure MariaDB runs, then lets the tool seed 100,000 patients (once;
# later runs reuse them), start the binary on loopback trusting a JWKS of its
# own, drive GET /api/v1/patients/{id} and name searches with valid tokens,
# and report requests/s, p50 and p99. Extra arguments go to the tool
# (see: bin/patient-load -h), e.g. -clients 64 -duration 30s.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/go.sh

bash scripts/mariadb-up.sh >/dev/null
mkdir -p bin
(cd patient && go build -o ../bin/patient ./cmd/patient && go build -o ../bin/patient-load ./cmd/patient-load)
exec bin/patient-load -bin bin/patient "$@"
