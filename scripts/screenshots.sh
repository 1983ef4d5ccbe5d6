#!/usr/bin/env bash
# Refreshes the dashboard pictures in docs/screenshots: the browser test takes them while it
# runs against real binaries (a master, an agent and Marathon on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/browser.sh
cargo build --workspace --bins 2>&1 | tail -n 1
UI_SCREENSHOTS=docs/screenshots cargo test -p mesos-tests --test ui -- --nocapture
ls docs/screenshots
