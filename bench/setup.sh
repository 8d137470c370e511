#!/usr/bin/env bash
# Extras that only the benchmark needs, on top of scripts/setup.sh (which CI runs and which
# does not run this): keepalived from Debian (the VRRP peer), and matplotlib + py-spy in .venv
# (plots and profiles). ucarp, iproute2 and the venv come from scripts/setup.sh.
# Idempotent. keepalived's own service is never started here (and must not run: the bench
# starts its keepalived processes inside network namespaces only).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "bench/setup.sh: run as root (it installs Debian packages): sudo $0" >&2
    exit 1
fi

bash scripts/setup.sh

APT_PACKAGES=(keepalived ucarp iproute2)
# shellcheck source=scripts/apt-install.sh
. scripts/apt-install.sh
apt_install_missing bench/setup.sh "${APT_PACKAGES[@]}"

if ! .venv/bin/python -c 'import matplotlib' 2>/dev/null || [ ! -x .venv/bin/py-spy ]; then
    echo "bench/setup.sh: installing matplotlib and py-spy into .venv"
    .venv/bin/pip install -q matplotlib py-spy
fi
echo "bench/setup.sh: ready: sudo .venv/bin/python -m bench all"
