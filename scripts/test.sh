#!/usr/bin/env bash
# Runs every test of every module of the workspace: shared, each service of
# services.txt, then e2e and deploy (the rendered Kubernetes manifests). Naming modules (scripts/test.sh shared doctor) runs
# only those. MySQL contract tests run against the MariaDB on 127.0.0.1:3306
# when it answers (scripts/mariadb-up.sh) and are skipped with a reason when it
# does not; under CI=true they must run. The summary counts the skipped tests
# and gives their reasons, so skipped MySQL tests are seen outside CI too.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/go.sh

if [ $# -gt 0 ]; then
  modules=("$@")
else
  mapfile -t modules < <(bash scripts/modules.sh)
fi
for m in "${modules[@]}"; do
  if [ ! -f "$m/go.mod" ]; then
    echo "test.sh: $m is not a module of this workspace" >&2
    exit 2
  fi
done
# plain reads `go test -json` and prints what plain `go test` prints: the
# package lines, and the output of the tests that fail. Each skipped test
# adds its reason (the first line it logged) to the file skips.
plain() {
  python3 -u -c '
import json, re, sys
held, skips = {}, open(sys.argv[1], "a")
for line in sys.stdin:
    try:
        e = json.loads(line)
    except ValueError:
        sys.stdout.write(line)  # build errors and the like
        continue
    act, test, out = e.get("Action"), e.get("Test"), e.get("Output", "")
    key = (e.get("Package"), test)
    if act == "build-output":
        sys.stdout.write(out)
    elif act == "output" and test is None:
        if out != "PASS\n":
            sys.stdout.write(out)
    elif act == "output":
        if not re.match(r"=== (RUN|PAUSE|CONT|NAME)", out):
            held.setdefault(key, []).append(out)
    elif act == "fail" and test is not None:
        sys.stdout.write("".join(held.pop(key, [])))
    elif act == "pass":
        held.pop(key, None)
    elif act == "skip" and test is not None:
        reason = ""
        for l in "".join(held.pop(key, [])).splitlines():
            if l.strip() and not l.strip().startswith("--- SKIP"):
                reason = re.sub(r"^\s*[A-Za-z0-9_.-]+\.go:[0-9]+: ", "", l)
                break
        skips.write((reason or "(no reason given)") + "\n")
' "$1"
}

failed=()
passed=0
skipped=0
reasons=""
skips=$(mktemp)
trap 'rm -f "$skips"' EXIT
for m in "${modules[@]}"; do
  # A module without Go packages yet has nothing to test.
  if ! compgen -G "$m/*.go" >/dev/null && [ -z "$(find "$m" -name '*.go' -print -quit 2>/dev/null)" ]; then
    continue
  fi
  echo "== $m"
  : >"$skips"
  (cd "$m" && go test -count=1 -json ${GOTESTFLAGS:-} ./... 2>&1) | plain "$skips"
  if [ "${PIPESTATUS[0]}" -eq 0 ]; then
    passed=$((passed + 1))
  else
    failed+=("$m")
  fi
  skipped=$((skipped + $(wc -l <"$skips")))
  reasons+=$(sort "$skips" | uniq -c | sort -rn | awk -v m="$m" '{ n = $1; sub(/^ *[0-9]+ /, ""); printf "  %s: %d x %s\n", m, n, $0 }')
  [ -s "$skips" ] && reasons+=$'\n'
done

echo
echo "skipped tests: $skipped"
[ -n "$reasons" ] && printf "%s" "$reasons"
if [ ${#failed[@]} -gt 0 ]; then
  echo "modules: $passed passed, ${#failed[@]} failed (${failed[*]})"
  exit 1
fi
echo "modules: $passed passed, 0 failed"
