# shellcheck shell=bash
# The podman settings that work on a machine without systemd, overlay
# storage or a registry (sourced by scripts/images.sh and read by the
# container tests): vfs storage, cgroupfs, runc, and ulimits inside what the
# machine allows. MEDISYNC_PODMAN_ROOT, when set, keeps images and volumes
# in a storage of their own.
podman_args=(--storage-driver vfs --cgroup-manager cgroupfs --runtime runc)
if [ -n "${MEDISYNC_PODMAN_ROOT:-}" ]; then
  podman_args+=(--root "$MEDISYNC_PODMAN_ROOT/storage" --runroot "$MEDISYNC_PODMAN_ROOT/run")
fi
podman_cmd() {
  local sub=$1
  shift
  case "$sub" in
    run | create) podman "${podman_args[@]}" "$sub" --ulimit nofile=10000:10000 --ulimit nproc=4096:4096 "$@" ;;
    *) podman "${podman_args[@]}" "$sub" "$@" ;;
  esac
}
