#!/usr/bin/env bash
# Install everything carpd's demo and tests need on Debian 12, then a venv in .venv.
# Idempotent: apt runs only when a package is missing, pip only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(python3 python3-venv python3-dev gcc pkg-config libsystemd-dev iproute2 ucarp
              tcpdump nftables iputils-ping procps kmod)
# tests/systemd: real systemd servers (systemd-nspawn; util-linux for unshare/nsenter), the
# .deb build (scripts/build-deb.sh) and carpd's Debian dependencies, which the servers use
# from this machine's / (their overlay's lower layer)
APT_PACKAGES+=(systemd-container util-linux dpkg-dev debhelper dh-python pybuild-plugin-pyproject
               python3-all python3-setuptools lintian python3-pyroute2 python3-systemd)
# unit health checks in the servers: systemd's D-Bus API (dbus) through python3-dbus-fast
APT_PACKAGES+=(dbus python3-dbus-fast)
# tests/integration/test_vrrp_*.py: the real VRRPv3 peers, run only inside lab namespaces
# (keepalived with -n from a temp dir; FRR's vrrpd through frrinit.sh with a pathspace
# /etc/frr/<namespace> that the tests create and remove). Neither service runs on the host.
APT_PACKAGES+=(keepalived frr)
# routed VIPs (tests/integration/test_routed_*.py, bench): FRR (above) and BIRD as BGP
# engines, run only inside the tests' namespaces; their host services stay stopped
APT_PACKAGES+=(bird2)

if [ "$(id -u)" -ne 0 ]; then
    # suggest sudo only where it exists (a bare Debian 12 has none)
    if command -v sudo >/dev/null 2>&1; then how="sudo $0"; else how="su - (then $0)"; fi
    echo "setup.sh: run as root (it installs Debian packages): $how" >&2
    exit 1
fi

# shellcheck source=scripts/apt-install.sh
. scripts/apt-install.sh
apt_install_missing setup.sh "${APT_PACKAGES[@]}"

# frr's package enables its host service: it must never run on this machine (the tests start
# their own zebra/vrrpd inside lab namespaces). Without systemd as PID 1 there is nothing to
# stop; policy-rc.d kept the sysvinit script from starting it at install time.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    for unit in frr; do
        if systemctl is-enabled --quiet "$unit" 2>/dev/null; then
            systemctl disable --quiet "$unit" || true
        fi
        if systemctl is-active --quiet "$unit" 2>/dev/null; then
            echo "setup.sh: $unit is running on the host; stopping it (the tests run their own)"
            systemctl stop "$unit" || true
        fi
    done
fi

PY=${PYTHON:-python3}
stamp=.venv/.carpd-setup
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "setup.sh: creating .venv with $($PY --version)"
    "$PY" -m venv .venv
    # pip's output (and the build backend's deprecation notes) only when something fails
    if ! out=$(.venv/bin/pip install -q --upgrade pip 2>&1 \
               && .venv/bin/pip install -q -e '.[test,systemd,health]' 2>&1); then
        echo "$out" >&2
        echo "setup.sh: pip install failed" >&2
        exit 1
    fi
    echo "$want" > "$stamp"
fi
