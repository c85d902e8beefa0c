#!/usr/bin/env bash
# Builds the image of every service of services.txt (or of the services
# named: scripts/images.sh auth doctor) on a machine that reaches no
# registry: each binary is built once here, static, with its version, commit
# and date linked in, then copied into a FROM scratch image of
# docker/Dockerfile's layout (docker/Containerfile.local). Needs podman (and
# runc); Debian: apt-get install podman buildah runc.
#   MEDISYNC_IMAGE_TAG   image tag (default: the short commit)
#   MEDISYNC_VERSION     version linked in (default: git describe, else dev)
# Images are named localhost/medisync/<service>:<tag> and :latest; the
# podman settings are those of scripts/podman.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/go.sh
root=$(pwd)
. scripts/podman.sh

services=("$@")
if [ ${#services[@]} -eq 0 ]; then
  while read -r name _; do
    case "$name" in ''|'#'*) continue ;; esac
    services+=("$name")
  done < services.txt
fi

commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
version=${MEDISYNC_VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
date=$(date -u +%FT%TZ)
tag=${MEDISYNC_IMAGE_TAG:-${commit:0:12}}
pkg=github.com/medisync/medisync/shared/buildinfo
ldflags="-s -w -X $pkg.Version=$version -X $pkg.Commit=$commit -X $pkg.Date=$date"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The files every image shares: the non-root user, CA certificates, the
# working directory and /tmp.
ctx=$work/context
mkdir -p "$ctx/var/lib/medisync/data" "$ctx/tmp"
chmod 1777 "$ctx/tmp"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$ctx/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$ctx/group"
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/ca-certificates.crt"
else
  : >"$ctx/ca-certificates.crt"
fi
cp docker/Containerfile.local "$ctx/Containerfile"

for s in "${services[@]}"; do
  if [ ! -d "$s/cmd/$s" ]; then
    echo "images: $s has no cmd/$s" >&2
    exit 1
  fi
  echo "== $s"
  (cd "$s" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$ctx/medisync" "./cmd/$s")
  podman_cmd build --quiet --format docker \
    --label "org.opencontainers.image.title=medisync-$s" \
    --label "org.opencontainers.image.version=$version" \
    --label "org.opencontainers.image.revision=$commit" \
    --label "org.opencontainers.image.created=$date" \
    -t "localhost/medisync/$s:$tag" -t "localhost/medisync/$s:latest" "$ctx" >/dev/null
  podman_cmd run --rm --network host --no-healthcheck "localhost/medisync/$s:$tag" -version
done
echo "images: ${#services[@]} built, tag $tag (root $root)"
