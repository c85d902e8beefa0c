#!/usr/bin/env bash
# Checks every module of the workspace, and the Go toolchain they build with,
# against the Go vulnerability database, offline: the database is the
# golang.org/x/vulndb module (its OSV files) at a pinned version, fetched
# through the module proxy and indexed with its own indexdb command, so the
# check needs no access to vuln.go.dev and gives the same answer on every run
# of the same commit. Any vulnerability in a package a module imports fails
# the check (-scan package), called or not: moving past it is cheaper than
# proving it unreachable.
#
#   bash scripts/vulncheck.sh                    # every module
#   bash scripts/vulncheck.sh records shared     # those modules
#   SCAN=symbol bash scripts/vulncheck.sh        # only what the code calls, with call traces
#   VULNDB=latest bash scripts/vulncheck.sh      # the newest database the proxy has
#
# Raise VULNDB below now and then (go list -m golang.org/x/vulndb@latest) to
# learn of vulnerabilities published since.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/go.sh

GOVULNCHECK=golang.org/x/vuln/cmd/govulncheck@v1.9.0
VULNDB=${VULNDB:-v0.0.0-20261105234957-e22db6528018}
SCAN=${SCAN:-package}

if [ $# -gt 0 ]; then
  modules=("$@")
else
  mapfile -t modules < <(bash scripts/modules.sh)
fi

# The tools are fetched and built outside the workspace (in /tmp), so that
# its go.work and modules play no part in their versions.
src=$(cd /tmp && go mod download -json "golang.org/x/vulndb@$VULNDB" |
  sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
version=$(basename "$src")
version=${version#vulndb@}
db="${TMPDIR:-/tmp}/medisync-vulndb-$version"
if [ ! -f "$db/index/db.json" ]; then
  rm -rf "$db.tmp"
  (cd /tmp && go run "golang.org/x/vulndb/cmd/indexdb@$version" -vulns "$src/data/osv" -out "$db.tmp")
  mv "$db.tmp" "$db"
fi
echo "vulncheck: Go vulnerability database $version ($(ls "$src/data/osv" | wc -l) entries), $(go env GOVERSION), -scan $SCAN"

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
(cd /tmp && GOBIN="$bin" go install "$GOVULNCHECK")

failed=()
for m in "${modules[@]}"; do
  if ! out=$(cd "$m" && "$bin/govulncheck" -db "file://$db" -scan "$SCAN" ./... 2>&1); then
    echo "== $m"
    echo "$out"
    failed+=("$m")
  else
    echo "vulncheck: $m: no known vulnerability"
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "vulncheck: known vulnerabilities in ${failed[*]}" >&2
  exit 1
fi
