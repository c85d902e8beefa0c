#!/usr/bin/env bash
# Lints the OpenAPI document of every service of services.txt
# (<name>/transport/openapi.yaml) and the gateway's merged document, built
# from them as the gateway serves it, with Redocly's recommended rules: any
# error fails. The gateway has no document of its own; every other service
# must have one. Needs npx (the npm registry or its cache).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/go.sh

# An exact version: Redocly announces releases that need Node.js 22, and a
# floating "@2" would take one up on a machine with Node.js 20 and fail.
redocly() { npx --yes @redocly/cli@2.77.0 lint --format=stylish "$@"; }

files=()
merge=()
missing=0
while read -r name _; do
  case "$name" in ''|'#'*) continue ;; esac
  [ "$name" = gateway ] && continue
  doc="$name/transport/openapi.yaml"
  if [ ! -f "$doc" ]; then
    echo "lint-openapi.sh: $name has no OpenAPI document ($doc)" >&2
    missing=1
    continue
  fi
  files+=("$doc")
  merge+=("$name=$doc")
done < services.txt
[ "$missing" = 0 ] || exit 1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The merger takes the documents of the services the gateway routes to;
# it refuses to leave one out.
go run ./gateway/cmd/gateway-openapi -o "$tmp/gateway.yaml" "${merge[@]}"
files+=("$tmp/gateway.yaml")

status=0
for f in "${files[@]}"; do
  echo "== $f"
  redocly "$f" || status=1
done
exit "$status"
