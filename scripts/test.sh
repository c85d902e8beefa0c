#!/usr/bin/env bash
# Runs every test of every module of the workspace: shared, each service of
# services.txt, then e2e. Naming modules (scripts/test.sh shared doctor) runs
# only those. MySQL contract tests run against the MariaDB on 127.0.0.1:3306
# when it answers (scripts/mariadb-up.sh) and are skipped with a reason when it
# does not; under CI=true they must run.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ $# -gt 0 ]; then
  modules=("$@")
else
  modules=(shared)
  while read -r name _; do
    case "$name" in ''|'#'*) continue ;; esac
    modules+=("$name")
  done < services.txt
  modules+=(e2e)
fi
for m in "${modules[@]}"; do
  if [ ! -f "$m/go.mod" ]; then
    echo "test.sh: $m is not a module of this workspace" >&2
    exit 2
  fi
done
failed=()
passed=0
for m in "${modules[@]}"; do
  # A module without Go packages yet has nothing to test.
  if ! compgen -G "$m/*.go" >/dev/null && [ -z "$(find "$m" -name '*.go' -print -quit 2>/dev/null)" ]; then
    continue
  fi
  echo "== $m"
  if (cd "$m" && go test -count=1 ${GOTESTFLAGS:-} ./...); then
    passed=$((passed + 1))
  else
    failed+=("$m")
  fi
done

echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "modules: $passed passed, ${#failed[@]} failed (${failed[*]})"
  exit 1
fi
echo "modules: $passed passed, 0 failed"
