#!/usr/bin/env bash
# Installs Debian's podman, buildah and runc when absent: the container
# tests (e2e TestContainers) build and run the images with them. Safe to run
# again.
set -euo pipefail
if command -v podman >/dev/null && command -v buildah >/dev/null && command -v runc >/dev/null; then
  exit 0
fi
echo "podman-install: installing podman, buildah and runc"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends podman buildah runc >/dev/null
