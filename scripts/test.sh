#!/usr/bin/env bash
# Runs every test of every module of the workspace. MySQL contract tests run
# against the MariaDB on 127.0.0.1:3306 when it answers (scripts/mariadb-up.sh)
# and are skipped with a reason when it does not; under CI=true they must run.
set -uo pipefail
cd "$(dirname "$0")/.."

modules=(shared discovery auth doctor patient gateway e2e)
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
