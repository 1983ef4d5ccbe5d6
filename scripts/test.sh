#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian 12 machine and runs every test.
# This is the README's test command; .ci/run calls exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR=never
export RUST_BACKTRACE=1

# Binaries first: the integration tests start the real mesos-master and mesos-agent.
cargo build --workspace --bins --locked 2>&1 | tail -n 3
bash scripts/docker-image.sh  # the local image the Docker tests run (no registry here)
bash scripts/systemd-image.sh  # Debian with systemd, for the RPM test (built once, ~2 min)
bash scripts/zookeeper.sh install  # Debian's ZooKeeper: the HA tests start real servers
bash scripts/client-venv.sh >/dev/null  # marathon-python and pymesos in target/pyenv: the client checks
# Debian's HAProxy for marathon-lb's tests: they start their own daemons with config and pid
# files in temp dirs; a system service the package may have started is never used.
if ! command -v haproxy >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q haproxy >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q haproxy >/dev/null; }
fi
bash scripts/browser.sh  # Chromium and ChromeDriver: the dashboard tests drive a real browser
# The openssl command: the TLS tests make their CA and certificates with scripts/test-ca.sh.
if ! command -v openssl >/dev/null; then
    apt-get install -y -q openssl >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q openssl >/dev/null; }
fi
cargo test --workspace --locked --no-fail-fast -- --test-threads="${TEST_THREADS:-4}"
