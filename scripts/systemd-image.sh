#!/usr/bin/env bash
# Builds the local Docker image the packaging test installs the RPMs into: Debian 12 with
# systemd as PID 1, rpm (database in /var/lib/rpm) and curl. This machine has no image
# registry, so the root file system comes from Debian's mirror through mmdebstrap.
#
#   scripts/systemd-image.sh [IMAGE]     (default local/debian-systemd:<version below>)
#
# Idempotent: does nothing when the image exists, so the test suite pays ~75 s once per
# machine. Bump VERSION when the package list or a hook changes, so that machines rebuild.
# Concurrent callers are serialized with a lock file.
set -euo pipefail

VERSION=1
IMAGE="${1:-local/debian-systemd:$VERSION}"
LOCK="${TMPDIR:-/tmp}/mesos-systemd-image.lock"
PACKAGES=systemd,systemd-sysv,dbus,rpm,curl,procps,iproute2

exec 9>"$LOCK"
flock 9

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    exit 0
fi

if ! command -v mmdebstrap >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q mmdebstrap >/dev/null 2>&1; then
        apt-get update -q >/dev/null
        apt-get install -y -q mmdebstrap >/dev/null
    fi
fi

# The mirror apt already uses on this machine (deb822 or one-line format).
mirror="$(sed -n 's/^URIs: *\([^ ]*debian\)\/\?$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)"
if [ -z "$mirror" ]; then
    mirror="$(sed -n 's/^deb \(\[[^]]*\] \)\?\([^ ]*\/debian\)\/\? .*/\2/p' /etc/apt/sources.list 2>/dev/null | head -n 1)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# - rpm keeps its database under /root/.rpmdb on Debian unless told otherwise: put it where
#   RPM-based systems have it, and create it, so `rpm -i` works as on RHEL.
# - An empty machine-id lets each container's systemd generate its own at boot.
mmdebstrap --quiet --variant=minbase --include="$PACKAGES" \
    --customize-hook='mkdir -p "$1/etc/rpm" && echo "%_dbpath /var/lib/rpm" > "$1/etc/rpm/macros"' \
    --customize-hook='chroot "$1" rpm --initdb' \
    --customize-hook=': > "$1/etc/machine-id"' \
    bookworm "$work/rootfs.tar" "$mirror"
docker import --change 'CMD ["/sbin/init"]' --change 'ENV container=docker' \
    "$work/rootfs.tar" "$IMAGE" >/dev/null
echo "built $IMAGE"
