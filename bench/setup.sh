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
missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench/setup.sh: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # policy-rc.d keeps the package from starting keepalived.service on the host
    policy=/usr/sbin/policy-rc.d
    created_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"
        chmod 755 "$policy"
        created_policy=1
    fi
    trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! .venv/bin/python -c 'import matplotlib' 2>/dev/null || [ ! -x .venv/bin/py-spy ]; then
    echo "bench/setup.sh: installing matplotlib and py-spy into .venv"
    .venv/bin/pip install -q matplotlib py-spy
fi
echo "bench/setup.sh: ready: sudo .venv/bin/python -m bench all"
