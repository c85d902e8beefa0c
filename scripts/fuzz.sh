#!/usr/bin/env bash
# Runs every fuzz target of every module (or of the modules named) for
# FUZZTIME each (default 30s), one at a time: `go test -fuzz` takes a single
# target per run. Their seeds already run in `make test`; this explores
# beyond them. A failing input is saved by the go command under the
# package's testdata/fuzz/, where it becomes a seed of the next `go test`.
# FUZZ_PARALLEL sets the workers of each run (default: the go command's).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/go.sh

fuzztime=${FUZZTIME:-30s}
parallel=()
if [ -n "${FUZZ_PARALLEL:-}" ]; then parallel=(-parallel "$FUZZ_PARALLEL"); fi
if [ $# -gt 0 ]; then modules=("$@"); else mapfile -t modules < <(bash scripts/modules.sh); fi

ran=0
for m in "${modules[@]}"; do
  # file:func pairs of this module's fuzz targets, by package folder.
  while IFS=: read -r file target; do
    pkg="./$(dirname "${file#"$m"/}")"
    echo "fuzz: $m $pkg $target ($fuzztime)"
    (cd "$m" && go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "${parallel[@]}" "$pkg")
    ran=$((ran + 1))
  done < <(grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' "$m" | sed 's/:func /:/' | sort)
done
echo "fuzz: $ran targets ran for $fuzztime each, none failed"
