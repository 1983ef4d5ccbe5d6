#!/usr/bin/env bash
# Debian's Chromium and ChromeDriver, for the dashboard tests (tests/tests/ui.rs drives a
# headless Chromium through WebDriver). Idempotent: installs only what is missing.
set -euo pipefail

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "browser.sh: installing chromium needs root" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# The package lists are only refreshed when the install cannot proceed without it.
if ! $sudo apt-get install -y --no-install-recommends chromium chromium-driver >/dev/null; then
  $sudo apt-get update >/dev/null
  $sudo apt-get install -y --no-install-recommends chromium chromium-driver >/dev/null
fi
[ -x /usr/bin/chromedriver ] || { echo "browser.sh: chromium-driver did not provide /usr/bin/chromedriver" >&2; exit 1; }
