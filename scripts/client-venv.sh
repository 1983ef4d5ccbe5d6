#!/usr/bin/env bash
# The Python environment of the third-party client checks: a venv (default target/pyenv,
# or $CLIENTS_PYENV) holding marathon-python from PyPI, whose models the Marathon tests
# parse every response with (tests/python/marathon_client_check.py).
#
#   scripts/client-venv.sh          create or complete the venv; prints its python
#
# Idempotent and quick when nothing is missing. Uses Debian's python3 (installing
# python3-venv when `python3 -m venv` cannot work yet).
set -euo pipefail
cd "$(dirname "$0")/.."

MARATHON_PYTHON_VERSION=0.13.0
VENV=${CLIENTS_PYENV:-$PWD/target/pyenv}

die() { echo "client-venv.sh: $*" >&2; exit 1; }

# Debian's interpreter when there is one: python3-venv belongs to it.
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=$(command -v python3) || die "no python3 on this machine"

installed() {
  [ -x "$VENV/bin/python" ] &&
    "$VENV/bin/python" - "$MARATHON_PYTHON_VERSION" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(version("marathon") != sys.argv[1])
EOF
}

if installed; then
  echo "$VENV/bin/python"
  exit 0
fi

# `python3 -m venv` needs ensurepip, which Debian ships in python3-venv.
if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
  command -v apt-get >/dev/null || die "$PYTHON has no venv/ensurepip and there is no apt-get"
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || die "installing python3-venv needs root"
    sudo=sudo
  fi
  export DEBIAN_FRONTEND=noninteractive
  # The package lists are only refreshed when the install cannot proceed without it.
  if ! $sudo apt-get install -y --no-install-recommends python3-venv >/dev/null; then
    $sudo apt-get update >/dev/null
    $sudo apt-get install -y --no-install-recommends python3-venv >/dev/null
  fi
fi

# A half-made venv (interrupted earlier, or its interpreter gone) is made again.
if ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  "marathon==$MARATHON_PYTHON_VERSION" >&2
installed || die "marathon==$MARATHON_PYTHON_VERSION is not importable from $VENV"
echo "$VENV/bin/python"
