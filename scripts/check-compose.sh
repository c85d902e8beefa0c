#!/usr/bin/env bash
# Fails when docker/docker-compose.yml writes a secret down. Every password,
# token, key or webhook URL, alone, inside a URL or DSN (user:password@ or
# token@) or in a name=value list (discovery's per-service tokens), must come
# from the environment as ${VAR:?message}, so
# compose refuses to start without it; and every such
# variable must be listed in docker/.env.example, and every variable listed
# there read by the compose file.
#   scripts/check-compose.sh [compose file [env example]]
set -euo pipefail
cd "$(dirname "$0")/.."
compose=${1:-docker/docker-compose.yml}
example=${2:-docker/.env.example}

fail=0
bad() { echo "$compose:$1: $2" >&2; fail=1; }
# A value that is exactly one required variable, quoted or not.
from_env='^"?\$\{[A-Z0-9_]+:\?[^}]*\}"?$'
# A key that names a secret or a list of them, in "KEY: value" or
# "- KEY=value" form.
secret_key='^[[:space:]]*(-[[:space:]]*)?([A-Za-z0-9_]*(PASSWORDS?|PASSWD|TOKENS?|SECRETS?|KEYS?|WEBHOOK_URLS?))[[:space:]]*[:=][[:space:]]*(.*)$'
# One entry of a name=value list (auth=...,doctor=...), its value a
# required variable, and the comma that ends it.
list_entry='^[A-Za-z0-9_.-]+=\$\{[A-Z0-9_]+:\?[^}]*\}(,|$)'
# from_list VALUE: succeeds when VALUE is a name=value list whose every
# value is ${VAR:?message}.
from_list() {
  local rest=${1#\"}
  rest=${rest%\"}
  [[ "$rest" == *=* ]] || return 1
  while [ -n "$rest" ]; do
    [[ "$rest" =~ $list_entry ]] || return 1
    rest=${rest:${#BASH_REMATCH[0]}}
  done
}
# The credentials of a URL or DSN: scheme://user:password@... or
# scheme://token@...; user_password splits the first form.
userinfo='://([^@]*)@'
user_password='^[A-Za-z0-9_.-]+:(.*)$'

n=0
while IFS= read -r line || [ -n "$line" ]; do
  n=$((n + 1))
  [[ "$line" =~ ^[[:space:]]*# ]] && continue
  if [[ "$line" =~ $secret_key ]]; then
    key=${BASH_REMATCH[2]} value=${BASH_REMATCH[4]}
    # Not a secret: asks the image to generate a root password nobody knows.
    if [ "$key" != MARIADB_RANDOM_ROOT_PASSWORD ] && ! [[ "$value" =~ $from_env ]] && ! from_list "$value"; then
      bad "$n" "$key must be \${$key:?message} (or name=\${VAR:?message},... for a list), not a value written in the file"
    fi
  fi
  if [[ "$line" =~ $userinfo ]]; then
    pw=${BASH_REMATCH[1]}
    [[ "$pw" =~ $user_password ]] && pw=${BASH_REMATCH[1]}
    [[ "$pw" =~ $from_env ]] || bad "$n" "the password or token in this URL must be \${VAR:?message}"
  fi
done <"$compose"

uses() { grep -v '^[[:space:]]*#' "$compose" | grep -o "\${[A-Za-z0-9_]*$1" | sed "s/^\\\${//; s/$1\$//" | sort -u; }
for var in $(uses ':?'); do
  grep -q "^$var=" "$example" || { echo "$example: $var is missing (the compose file requires it)" >&2; fail=1; }
done
# And the other way: a secret listed in the example that the compose file
# never reads (the key-encryption key, say) is a setting silently dropped.
# (Read once into a variable: grep -q ending a pipe early would fail it
# under pipefail.)
uncommented=$(grep -v '^[[:space:]]*#' "$compose")
for var in $(grep -o '^[A-Za-z0-9_]*=' "$example" | tr -d =); do
  grep -q "\${$var[:}]" <<<"$uncommented" || { echo "$compose: never reads $var of $example" >&2; fail=1; }
done

[ "$fail" -eq 0 ] || exit 1
echo "check-compose: no secret written in $compose; every required variable is in $example"
