#!/usr/bin/env bash
# Runs photomapd's tests on a fresh machine: Debian packages (Chromium for the UI tests, Xvfb and
# trayer for the tray tests, systemd-analyze for the unit file), a dev virtualenv, then pytest.
# Re-running reuses what is already installed. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "photomapd needs Python >= 3.11 (found $("$PYTHON" --version 2>&1)); set PYTHON=python3.11" >&2
  exit 1
}

packages=$(grep -v '^#' scripts/apt-packages.txt | tr '\n' ' ')
missing=$(for p in $packages; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian packages: $missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "missing Debian packages (browser/tray tests will be skipped): $missing" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# Installing torch/torchvision as a matching pair from the index (never a +cpu torch with PyPI's
# torchvision: open_clip then fails with "operator torchvision::nms does not exist").
.venv/bin/python -m pip install -q -e ".[dev,tray]"

.venv/bin/ruff check photomapd tests bench
.venv/bin/mypy photomapd
.venv/bin/python -m pytest -q "$@"
