#!/usr/bin/env bash
# Load test of the records service on S3 and MariaDB: starts versitygw
# (scripts/s3-up.sh) and MariaDB (scripts/mariadb-up.sh), builds the binary
# and its load tool, then lets the tool seed 100,000 encounter notes (once;
# later runs reuse them), start the binary on loopback on the S3 store
# trusting a JWKS and a patient directory of its own, and measure: upload
# and download throughput of 1 MB files (one at a time, and 16 at once) and
# of 100 MB files through the service against a direct S3 client moving the
# same bytes, downloads also through a presigned link and through a bare
# relay that only copies the bytes (what any process in the path costs);
# the service's resident memory (VmRSS, VmHWM) during ten parallel 100 MB
# uploads; p50/p99 of an encounter list. It fails when a target is missed.
# Extra arguments go to the tool (see: bin/records-load -h), e.g.
# -large-rounds 10 -list-duration 30s.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/go.sh

bash scripts/s3-up.sh >/dev/null
bash scripts/mariadb-up.sh >/dev/null
mkdir -p bin
(cd records && go build -o ../bin/records ./cmd/records && go build -o ../bin/records-load ./cmd/records-load)
echo "records load: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); S3 is versitygw on the same machine"
exec bin/records-load -bin bin/records "$@"
