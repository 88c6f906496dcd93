#!/usr/bin/env bash
# Install what the service (or, with --test, the test suite) needs on Debian 12:
# system packages via apt when missing, then a virtualenv in .venv with the project in it.
# Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=run
[ "${1:-}" = "--test" ] && mode=test

# System packages. The service itself needs only Python 3.11 with venv; the tests also need a
# real PostgreSQL server (started per test session, never the system one), and espeak-ng and
# sox to make and measure speech.
packages=(python3-venv)
if [ "$mode" = test ]; then
  # libatomic1: the Node.js driver inside the playwright wheel links against it.
  packages+=(postgresql util-linux espeak-ng sox chromium fonts-noto-cjk libatomic1)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "install.sh: missing ${missing[*]} and no apt-get: install them by hand" >&2; exit 1
  fi
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install.sh: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
  fi
  echo "install.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The virtualenv, refreshed when the packaging metadata changes.
python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "install.sh: Python 3.11 or newer is required" >&2; exit 1; }
[ -x .venv/bin/python ] || "$python" -m venv .venv
extras=postgres
[ "$mode" = test ] && extras=postgres,test
stamp=.venv/.hotline-installed
want="$(cat setup.cfg pyproject.toml | sha256sum | cut -c1-16)-$extras"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "install.sh: installing Python packages ($extras)"
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$extras]"
  echo "$want" > "$stamp"
fi
