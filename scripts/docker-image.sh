#!/usr/bin/env bash
# Builds the local Docker image the Docker tests and benchmark run: `mesos-test/busybox:latest`,
# made from Debian's busybox-static (the machine has no image registry to pull from).
# Idempotent: does nothing when the image exists; installs busybox-static when missing.
# Concurrent callers are serialized with a lock file.
set -euo pipefail

IMAGE="${1:-mesos-test/busybox:latest}"
LOCK="${TMPDIR:-/tmp}/mesos-docker-image.lock"

exec 9>"$LOCK"
flock 9

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    exit 0
fi

if [ ! -x /bin/busybox ] || ! /bin/busybox --list 2>/dev/null | grep -qx httpd; then
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q busybox-static >/dev/null 2>&1; then
        apt-get update -q >/dev/null
        apt-get install -y -q busybox-static >/dev/null
    fi
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/bin" "$work/rootfs/tmp" "$work/rootfs/www"
cp /bin/busybox "$work/rootfs/bin/busybox"
chroot "$work/rootfs" /bin/busybox --install -s /bin
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
docker import --change 'CMD ["/bin/sh"]' "$work/rootfs.tar" "$IMAGE" >/dev/null
echo "built $IMAGE"
