"""Fixtures for the real-systemd tests: the .deb (built once per session) and two isolated
servers `a` (192.0.2.11) and `b` (192.0.2.12) on one bridge with the package installed.

Everything here needs root, systemd-nspawn and the Debian build tools (scripts/setup.sh
installs them); the tests skip with the reason otherwise. The servers see the machine's
installed Debian packages through their overlay, so carpd's dependencies (python3-pyroute2,
python3-systemd) come from Debian's archive exactly as `apt install ./carpd_*.deb` would get
them; the package itself is installed inside each server with `apt install ./carpd_*.deb`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.systemd.sdlab import STATE_ROOT, SdLab, Server, prerequisites

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "dist"
DIST_IN_SERVER = "/mnt/carpd-dist"
BUILD_TOOLS = ("dpkg-buildpackage", "dh", "dh_python3", "lintian")


def lab_skip_reason() -> str | None:
    reason = prerequisites()
    if reason is None:
        missing = [t for t in BUILD_TOOLS if shutil.which(t) is None]
        if missing:
            reason = f"building the .deb needs {', '.join(missing)} (scripts/setup.sh)"
    return reason


@pytest.fixture(scope="session")
def deb() -> Path:
    """scripts/build-deb.sh: dpkg-buildpackage -us -uc -b, then lintian (errors fail)."""
    reason = lab_skip_reason()
    if reason:
        pytest.skip(reason)
    proc = subprocess.run(["bash", str(REPO / "scripts" / "build-deb.sh")], capture_output=True,
                          text=True, timeout=300, check=False)
    print(proc.stdout[-3000:])
    assert proc.returncode == 0, f"build-deb.sh failed:\n{proc.stdout[-3000:]}{proc.stderr}"
    debs = sorted(DIST.glob("carpd_*_all.deb"))
    assert len(debs) == 1, debs
    return debs[0]


def install(server: Server, deb: Path, *, again: bool = False) -> str:
    """What the operator does: `apt install ./carpd_*.deb`. The servers have no route out, so
    apt can fetch nothing: every dependency comes from Debian's archive as installed on the
    machine (scripts/setup.sh). Returns apt's output."""
    return server.run("env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y",
                      "--no-install-recommends", *(["--reinstall"] if again else []),
                      f"{DIST_IN_SERVER}/{deb.name}", timeout=120).stdout


@pytest.fixture(scope="session")
def staged_dist(deb: Path) -> Iterator[Path]:
    """The .deb copied under the lab's state directory: the servers see the machine's /tmp
    as a private tmpfs, so a checkout under /tmp cannot be bound into them directly."""
    staging = STATE_ROOT / f"dist-{os.getpid()}"
    staging.mkdir(parents=True, exist_ok=True)
    shutil.copy2(deb, staging / deb.name)
    yield staging
    shutil.rmtree(staging, ignore_errors=True)


@pytest.fixture(scope="module")
def lab(deb: Path, staged_dist: Path) -> Iterator[SdLab]:
    """Servers a and b booted, the .deb installed (nothing configured or enabled yet)."""
    with SdLab(nspawn_extra=(f"--bind-ro={staged_dist}:{DIST_IN_SERVER}",)) as the_lab:
        for name in ("a", "b"):
            server = the_lab.add(name)
            server.boot()
            out = install(server, deb)
            assert re.search(r"0 upgraded, 1 newly installed, 0 to remove", out), out
        yield the_lab
        for server in the_lab.servers.values():  # the journals, for a failed run's log
            if server.running:
                tail = server.run("journalctl", "--no-pager", "-n", "80", check=False)
                print(f"--- journal of {server.name} ---\n{tail.stdout}")
        run_id, prefix = the_lab.run_id, the_lab.prefix
    leftovers = [ns for ns in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                             text=True, check=True).stdout.split()
                 if ns.startswith(prefix)]
    assert leftovers == [], f"network namespaces left behind: {leftovers}"
    assert not (STATE_ROOT / run_id).exists(), "state directory left behind"
