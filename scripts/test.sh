#!/usr/bin/env bash
# Runs every test of every module of the workspace: shared, each service of
# services.txt, then e2e. Naming modules (scripts/test.sh shared doctor) runs
# only those. MySQL contract tests run against the MariaDB on 127.0.0.1:3306
# when it answers (scripts/mariadb-up.sh) and are skipped with a reason when it
# does not; under CI=true they must run. The summary counts the skipped tests
# and gives their reasons, so skipped MySQL tests are seen outside CI too.
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
# plain reads `go test -json` and prints what plain `go test` prints: the
# package lines, and the output of the tests that fail. Each skipped test
# adds its reason (the first line it logged) to the file skips.
plain() {
  awk -v skips="$1" '
    function field(name,   v) {
      if (!match($0, "\"" name "\":\"([^\"\\\\]|\\\\.)*\"")) return ""
      v = substr($0, RSTART + length(name) + 4, RLENGTH - length(name) - 5)
      gsub(/\\\\/, "\001", v); gsub(/\\n/, "\n", v); gsub(/\\t/, "\t", v); gsub(/\\"/, "\"", v)
      gsub(/\\u003c/, "<", v); gsub(/\\u003e/, ">", v); gsub(/\\u0026/, "\\&", v); gsub(/\001/, "\\", v)
      return v
    }
    !/^\{/ { print; next }
    {
      action = field("Action"); test = field("Test"); out = field("Output")
      key = field("Package") " " test
    }
    action == "build-output" { printf "%s", out; next }
    action == "output" && test == "" { if (out != "PASS\n") printf "%s", out; next }
    action == "output" { if (out !~ /^=== (RUN|PAUSE|CONT|NAME)/) buf[key] = buf[key] out; next }
    action == "fail" && test != "" { printf "%s", buf[key]; delete buf[key]; next }
    action == "pass" { delete buf[key]; next }
    action == "skip" && test != "" {
      reason = ""
      n = split(buf[key], lines, "\n")
      for (i = 1; i <= n && reason == ""; i++) {
        if (lines[i] ~ /^[ \t]*--- SKIP/ || lines[i] ~ /^[ \t]*$/) continue
        reason = lines[i]
        sub(/^[ \t]*[A-Za-z0-9_.-]+\.go:[0-9]+: /, "", reason)
      }
      print (reason == "" ? "(no reason given)" : reason) >> skips
      delete buf[key]
    }
  '
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
