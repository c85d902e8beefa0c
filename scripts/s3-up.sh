#!/usr/bin/env bash
# Installs (when absent) and starts a local S3 server, versitygw over a
# folder, for the records service's S3 blob store and its tests. Safe to run
# again: it does nothing when the server already answers with its accounts
# (one it started without --iam-dir it starts again).
#   MEDISYNC_S3_PORT (7070), MEDISYNC_S3_DIR (/var/lib/medisync-s3)
# Development credentials: access key medisync, secret medisync-secret, the
# server's root; and medisync-records, secret medisync-records-secret, an
# ordinary account allowed nothing until a bucket policy says so, on which
# the tests check records/s3-policy.json (127.0.0.1 only, like the MariaDB
# accounts of scripts/mariadb-up.sh). Accounts are kept in $dir-iam.
set -euo pipefail
. "$(dirname "$0")/go.sh"

port=${MEDISYNC_S3_PORT:-7070}
dir=${MEDISYNC_S3_DIR:-/var/lib/medisync-s3}
dir=${dir%/}
bin="$(go env GOPATH)/bin/versitygw"

# One run at a time: runs at once would install versitygw together and start
# two servers, the second truncating the log of the first and failing on the
# port. A second run waits for the first. flock holds the lock and runs this
# script again without it open, so that the server started below does not
# keep it.
lock=/run/lock/medisync-s3-up-$port.lock
if [ "${MEDISYNC_UP_LOCK:-}" != "$lock" ]; then
  mkdir -p "${lock%/*}"
  exec env MEDISYNC_UP_LOCK="$lock" flock -o "$lock" "$BASH" "$0" "$@"
fi

if [ ! -x "$bin" ]; then
  echo "s3-up: installing versitygw"
  go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
fi

answers() { curl -s -o /dev/null "http://127.0.0.1:$port/" ; }
# The limited account, made once: the server keeps it in $dir-iam.
limited_account() {
  local out
  if out=$("$bin" admin --access medisync --secret medisync-secret --endpoint-url "http://127.0.0.1:$port" \
      create-user --access medisync-records --secret medisync-records-secret --role user 2>&1) ||
    [[ "$out" == *XAdminUserExists* ]]; then
    return 0
  fi
  echo "s3-up: could not make the account medisync-records: $out" >&2
  return 1
}
if answers; then
  limited_account 2>/dev/null && exit 0
  # A server this script started before it kept accounts (no --iam-dir)
  # has none to make: start it again over the same folder.
  old=$(pgrep -f -- "versitygw --keep-alive --port 127.0.0.1:$port posix" || true)
  if [ -z "$old" ]; then
    # Not one of ours: ask once more, this time showing why it fails.
    limited_account && exit 0
    exit 1
  fi
  echo "s3-up: restarting versitygw on 127.0.0.1:$port to keep accounts"
  kill $old
  for _ in $(seq 1 50); do
    answers || break
    sleep 0.2
  done
fi

mkdir -p "$dir" "$dir-iam" /var/log
echo "s3-up: starting versitygw on 127.0.0.1:$port over $dir"
# --keep-alive: versitygw otherwise closes the connection after every
# answer, where S3 itself keeps it open; clients would dial for every
# request and start each transfer on a cold socket.
ROOT_ACCESS_KEY=medisync ROOT_SECRET_KEY=medisync-secret \
  setsid nohup "$bin" --keep-alive --port "127.0.0.1:$port" --iam-dir "$dir-iam" posix "$dir" >/var/log/medisync-s3.log 2>&1 &

for _ in $(seq 1 50); do
  if answers; then
    limited_account
    exit 0
  fi
  sleep 0.2
done
echo "s3-up: versitygw did not answer within 10s; see /var/log/medisync-s3.log" >&2
exit 1
