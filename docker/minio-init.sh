#!/bin/sh
# Makes records' bucket on MinIO and records' own account, allowed only the
# actions of records/s3-policy.json, so that the service never holds the
# server's root credentials. Run by compose's minio-init before records
# starts; safe to run again.
set -eu
# Until records had an account of its own it used MinIO's root, under the
# names records' keys still have: an .env kept from then must name a new
# root, or records would hold it still.
if [ "$RECORDS_ACCESS_KEY" = "$MINIO_ROOT_USER" ]; then
  echo "minio-init: MEDISYNC_S3_ACCESS_KEY names MinIO's root (MEDISYNC_MINIO_ROOT_USER); give records keys of its own in docker/.env" >&2
  exit 1
fi
mc alias set medisync http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing medisync/medisync-records
# create replaces a policy of the same name: a changed file takes effect.
mc admin policy create medisync medisync-records /medisync/s3-policy.json
# add sets the secret again when the account exists.
mc admin user add medisync "$RECORDS_ACCESS_KEY" "$RECORDS_SECRET_KEY"
# Attaching a policy already attached is an error for some mc releases; the
# image has no grep, so the shell reads the answer.
if ! out=$(mc admin policy attach medisync medisync-records --user "$RECORDS_ACCESS_KEY" 2>&1); then
  case "$out" in
    *"already in effect"*) ;;
    *) echo "$out" >&2; exit 1 ;;
  esac
fi
echo "minio-init: bucket medisync-records and account $RECORDS_ACCESS_KEY ready"
