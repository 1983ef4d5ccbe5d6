#!/usr/bin/env bash
# Builds the `mesos` and `marathon` RPMs from this workspace.
#
#   packaging/build-rpms.sh [--profile release|debug] [--bin-dir DIR] [--out DIR] [--release N]
#                           [--deb]
#
#   --profile P   cargo profile to build the binaries with (default release)
#   --bin-dir D   package the binaries already in D instead of building (the packaging test
#                 passes target/debug: a second, release build would cost minutes)
#   --out D       where the .rpm files go (default target/packages)
#   --release N   the package release number (default 1)
#   --deb         also write .deb packages of the same content (dpkg-deb), for Debian/Ubuntu
#
# Versions come from the workspace (`cargo metadata`: mesos-master's and marathon's). Needs
# rpmbuild: on Debian the `rpm` package, installed here when missing (as root).
# Prints the paths of the packages it wrote.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
profile=release
bin_dir=""
out="$root/target/packages"
release=1
deb=false

die() { echo "build-rpms.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --profile) profile="${2:?--profile needs a value}"; shift 2
                   [ "$profile" != debug ] || profile=dev ;;
        --bin-dir) bin_dir="${2:?--bin-dir needs a directory}"; shift 2 ;;
        --out) out="${2:?--out needs a directory}"; shift 2 ;;
        --release) release="${2:?--release needs a number}"; shift 2 ;;
        --deb) deb=true; shift ;;
        -h|--help) sed -n '2,16s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

# Relative paths are the caller's, not the workspace's.
[ -z "$bin_dir" ] || bin_dir="$(cd "$bin_dir" && pwd)" || die "no directory $bin_dir"
mkdir -p "$out" && out="$(cd "$out" && pwd)"

mesos_bins=(mesos-master mesos-agent)
mesos_tools=(mesos mesos-execute mesos-ps mesos-resolve mesos-local mesos-init-wrapper)
cd "$root"
if [ -z "$bin_dir" ]; then
    cargo build --locked --profile "$profile" --bins \
        -p mesos-master -p mesos-agent -p mesos-cli -p marathon -p mesos-packaging >&2
    case "$profile" in
        dev|test) bin_dir="$root/target/debug" ;;
        *) bin_dir="$root/target/$profile" ;;
    esac
fi
for bin in "${mesos_bins[@]}" "${mesos_tools[@]}" marathon dcos; do
    [ -x "$bin_dir/$bin" ] || die "$bin_dir/$bin is missing (build the workspace's binaries first)"
done

if ! command -v rpmbuild >/dev/null; then
    command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] \
        || die "rpmbuild is missing: install rpm (Debian: apt-get install rpm; RHEL: rpm-build)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q rpm >/dev/null 2>&1 || { apt-get update -q >/dev/null; apt-get install -y -q rpm >/dev/null; }
fi

versions="$(cargo metadata --no-deps --format-version 1 --offline | python3 -c '
import json, sys
versions = {p["name"]: p["version"] for p in json.load(sys.stdin)["packages"]}
print(versions["mesos-master"], versions["marathon"])')"
read -r mesos_version marathon_version <<<"$versions"
# RPM versions cannot hold "-" (0.1.0-rc1 becomes 0.1.0~rc1, which also sorts before 0.1.0).
mesos_version="${mesos_version//-/\~}"
marathon_version="${marathon_version//-/\~}"

license=/usr/share/common-licenses/Apache-2.0
[ -f "$license" ] || license=/usr/share/licenses/common-licenses/Apache-2.0
[ -f "$license" ] || die "cannot find the Apache-2.0 license text (Debian's base-files has it)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
stage="$work/stage"
unitdir=usr/lib/systemd/system

# Copies a binary without its DWARF (symbols stay, for readable backtraces).
put_binary() {
    install -d "$(dirname "$2")"
    strip --strip-debug -o "$2" "$1"
    chmod 0755 "$2"
}

m="$stage/mesos"
for bin in "${mesos_bins[@]}"; do put_binary "$bin_dir/$bin" "$m/usr/sbin/$bin"; done
ln -s mesos-agent "$m/usr/sbin/mesos-slave"
for bin in "${mesos_tools[@]}"; do put_binary "$bin_dir/$bin" "$m/usr/bin/$bin"; done
install -D -m 0644 -t "$m/$unitdir" "$here/systemd/mesos-master.service" "$here/systemd/mesos-slave.service"
# The alias works without `systemctl enable` (which would add it from [Install] Alias=).
ln -s mesos-slave.service "$m/$unitdir/mesos-agent.service"
install -D -m 0644 -t "$m/etc/default" "$here/etc/default/mesos" "$here/etc/default/mesos-master" "$here/etc/default/mesos-slave"
install -D -m 0644 -t "$m/etc/mesos-master" "$here/etc/mesos-master/"*
install -D -m 0644 -t "$m/etc/mesos-slave" "$here/etc/mesos-slave/"*
install -d "$m/etc/mesos" "$m/var/lib/mesos"
install -D -m 0644 "$license" "$m/usr/share/licenses/mesos/LICENSE"

k="$stage/marathon"
put_binary "$bin_dir/marathon" "$k/usr/bin/marathon"
put_binary "$bin_dir/dcos" "$k/usr/bin/dcos"
install -D -m 0644 -t "$k/$unitdir" "$here/systemd/marathon.service"
install -D -m 0644 -t "$k/etc/default" "$here/etc/default/marathon"
install -d "$k/etc/marathon/conf" "$k/var/lib/marathon"
install -D -m 0644 "$license" "$k/usr/share/licenses/marathon/LICENSE"

# zstd: fast to pack and unpack (rpm >= 4.14, RHEL 8 and later); level 1 for test builds.
payload=w9.zstdio
[ "$bin_dir" = "$root/target/release" ] || payload=w1.zstdio
rpmbuild -bb --quiet \
    --define "_topdir $work/rpmbuild" \
    --define "stage $stage" \
    --define "mesos_version $mesos_version" \
    --define "marathon_version $marathon_version" \
    --define "pkg_release $release" \
    --define "_binary_payload $payload" \
    "$here/rpm/mesos.spec" >&2
for rpm in "$work"/rpmbuild/RPMS/*/*.rpm; do
    cp "$rpm" "$out/"
    echo "$out/$(basename "$rpm")"
done

if $deb; then
    arch="$(dpkg --print-architecture)"
    for pkg in mesos marathon; do
        tree="$work/deb/$pkg"
        mkdir -p "$tree"
        cp -a "$stage/$pkg/." "$tree/"
        # Debian keeps the license in the package's copyright file.
        install -D -m 0644 "$tree/usr/share/licenses/$pkg/LICENSE" "$tree/usr/share/doc/$pkg/copyright"
        rm -r "$tree/usr/share/licenses"
        bash "$here/deb/control.sh" "$pkg" "$mesos_version" "$marathon_version" "$release" "$arch" "$tree"
        file="$out/${pkg}_$([ $pkg = mesos ] && echo "$mesos_version" || echo "$marathon_version")-${release}_$arch.deb"
        dpkg-deb --root-owner-group $([ "$payload" = w1.zstdio ] && echo -Zgzip -z1) -b "$tree" "$file" >/dev/null
        echo "$file"
    done
fi
