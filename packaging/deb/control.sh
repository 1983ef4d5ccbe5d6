#!/usr/bin/env bash
# Writes DEBIAN/ (control, conffiles, maintainer scripts) into a staged package tree, for
# build-rpms.sh --deb. The scripts do what the RPM spec's scriptlets do, in dpkg's terms.
#   deb/control.sh PACKAGE MESOS_VERSION MARATHON_VERSION RELEASE ARCH TREE
set -euo pipefail
pkg=$1 mesos_version=$2 marathon_version=$3 release=$4 arch=$5 tree=$6
debian="$tree/DEBIAN"
mkdir -p "$debian"
(cd "$tree" && find etc -type f | sed 's|^|/|' | sort) > "$debian/conffiles"

case "$pkg" in
    mesos)
        version="$mesos_version-$release"
        units="mesos-master.service mesos-slave.service"
        depends="libc6 (>= 2.34), libgcc-s1"
        extra="Recommends: zookeeperd"
        description="Cluster manager: the Mesos master, agent and command-line tools
 A Rust reimplementation of Apache Mesos. The systemd units mesos-master and
 mesos-slave (alias mesos-agent) start it through mesos-init-wrapper, configured
 as Mesosphere's packages were: /etc/mesos/zk, /etc/mesos-master/<flag>,
 /etc/mesos-slave/<flag>, /etc/default/mesos*."
        ;;
    marathon)
        version="$marathon_version-$release"
        units="marathon.service"
        depends="libc6 (>= 2.34), libgcc-s1, mesos (= $mesos_version-$release)"
        extra=""
        description="Marathon: keeps applications running on a Mesos cluster
 A Rust reimplementation of Marathon, with Marathon's REST API v2, started by the
 systemd unit marathon through mesos-init-wrapper: /etc/mesos/zk,
 /etc/marathon/conf/<flag>, /etc/default/marathon."
        ;;
    *) echo "control.sh: unknown package $pkg" >&2; exit 1 ;;
esac

{
    echo "Package: $pkg"
    echo "Version: $version"
    echo "Architecture: $arch"
    echo "Maintainer: mesos-rs developers <mesos-rs@localhost>"
    echo "Depends: $depends"
    [ -z "$extra" ] || echo "$extra"
    echo "Section: misc"
    echo "Priority: optional"
    echo "Homepage: https://mesos.apache.org/"
    echo "Installed-Size: $(du -sk --exclude=DEBIAN "$tree" | cut -f1)"
    echo "Description: $description"
} > "$debian/control"

# First install ($2 empty): a local ZooKeeper server gives /etc/mesos/zk. Upgrade: running
# services switch to the new binaries. Nothing is started or enabled.
cat > "$debian/postinst" <<SCRIPT
#!/bin/sh
set -e
if [ "\$1" = configure ]; then
    if [ "$pkg" = mesos ] && [ -z "\$2" ] && [ ! -e /etc/mesos/zk ] && [ -e /etc/zookeeper/conf/zoo.cfg ]; then
        echo zk://localhost:2181/mesos > /etc/mesos/zk
    fi
    systemctl daemon-reload >/dev/null 2>&1 || true
    if [ -n "\$2" ]; then
        systemctl try-restart $units >/dev/null 2>&1 || true
    fi
fi
SCRIPT
# Removal stops the services; the agent's tasks (left running by KillMode=process) go too.
cat > "$debian/prerm" <<SCRIPT
#!/bin/sh
set -e
if [ "\$1" = remove ]; then
    systemctl --no-reload disable --now $units >/dev/null 2>&1 || true
    if [ "$pkg" = mesos ]; then
        systemctl kill mesos-slave.service >/dev/null 2>&1 || true
    fi
fi
SCRIPT
cat > "$debian/postrm" <<'SCRIPT'
#!/bin/sh
set -e
systemctl daemon-reload >/dev/null 2>&1 || true
SCRIPT
chmod 0755 "$debian/postinst" "$debian/prerm" "$debian/postrm"
