"""carpd and keepalived as VRRPv3 routers for `python -m bench vrrp3`, configured alike.

One virtual router per pair: IPv4 VIP, multicast to 224.0.0.18, VRRPv3 (RFC 5798), preempt
on, accept mode on (both implementations' default), the RFC 5798 checksum (the only one
keepalived 2.2.7 has). The preferred server `a` has priority 150, the backup `b` 100; both
start as BACKUP and elect. Process handling (start, SIGKILL, SIGTERM, shutdown by PID) is
bench/impls.py's `Server`; only the configuration and the argv differ:

- carpd: `protocol = "vrrp3"`, `vrid`, `priority`, `advert_interval` (seconds), `preempt`,
  one `[vip.*]` table; control socket and state directory in the bench's temp dir.
- keepalived 2.2.7: `vrrp_version 3` in global_defs and `version 3` in the instance,
  `advert_int` in seconds (keepalived rounds to centiseconds in v3), `state BACKUP`, run with
  `-P` (VRRP only) `-n -l -D -G` and its pid files in the temp dir.

The protocol's own timers (RFC 5798 6.1, in seconds here) are `skew_time` and
`master_down_interval`; the bench's targets are stated against them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from bench import impls
from tests.integration.netns import REPO, Lab

IMPLS = ("carpd", "keepalived")
PRIORITY = {"master": 150, "backup": 100}
ROLE_OF = {"a": "master", "b": "backup"}


def skew_time(interval: float, priority: int = PRIORITY["backup"]) -> float:
    """RFC 5798 6.1: ((256 - Priority) x Master_Adver_Interval) / 256."""
    return (256 - priority) * interval / 256


def master_down_interval(interval: float, priority: int = PRIORITY["backup"]) -> float:
    """RFC 5798 6.1: 3 x Master_Adver_Interval + Skew_Time."""
    return 3 * interval + skew_time(interval, priority)


@dataclass(frozen=True)
class Router:
    """One virtual router of the bench: its VRID, VIP and advert interval (s)."""

    vrid: int
    cidr: str
    interval: float

    @property
    def ip(self) -> str:
        return self.cidr.split("/")[0]


class CarpdVrrp(impls.Server):
    router: Router
    wrap: list[str]  # an argv prefix (bench/vrrp3_perf.py), usually empty

    def config_text(self) -> str:
        r = self.router
        return "\n".join([
            "[carpd]", f'control_socket = "{self.base / "control.sock"}"',
            f'state_directory = "{self.base / "state"}"', "",
            "[defaults]", 'interface = "eth0"', "master_units = []", "",
            f"[vip.r{r.vrid}]", 'protocol = "vrrp3"', f"vrid = {r.vrid}",
            f'address = "{r.cidr}"', f"priority = {PRIORITY[self.role]}",
            f"advert_interval = {r.interval}", "preempt = true", ""])

    def start(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        conf = self.base / "carpd.toml"
        conf.write_text(self.config_text())
        env = {**os.environ, "PYTHONPATH": str(REPO), "CARPD_LOG_STDERR": "1"}
        env.pop("NOTIFY_SOCKET", None)
        self.starts += 1
        self._popen([*self.wrap, sys.executable, "-m", "carpd", "--config", str(conf)], env)

    def forget(self) -> None:
        """What a crashed carpd leaves besides its VIP: the resume record. Removed before a
        restart so every trial starts from a cold start (a restart after the resume window)."""
        state = self.base / "state"
        if state.is_dir():
            for f in state.iterdir():
                with contextlib.suppress(OSError):
                    f.unlink()


class KeepalivedVrrp(impls.KeepalivedServer):
    router: Router
    wrap: list[str]

    def config_text(self) -> str:
        r = self.router
        return "\n".join([
            "global_defs {", f"    router_id vb_{self.host}", "    vrrp_version 3",
            "    script_user root", "    enable_script_security", "}", "",
            f"vrrp_instance VI_{r.vrid} {{", "    state BACKUP", "    interface eth0",
            "    version 3", f"    virtual_router_id {r.vrid}",
            f"    priority {PRIORITY[self.role]}", f"    advert_int {r.interval}",
            "    virtual_ipaddress {", f"        {r.cidr} dev eth0", "    }", "}", ""])

    def start(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        conf = self.base / "keepalived.conf"
        conf.write_text(self.config_text())
        b = self.base
        self.starts += 1
        for stale in ("k.pid", "vrrp.pid", "check.pid", "bfd.pid"):
            with contextlib.suppress(FileNotFoundError):
                (b / stale).unlink()
        env = {**os.environ}
        env.pop("NOTIFY_SOCKET", None)
        self._popen([*self.wrap, "keepalived", "-P", "-n", "-l", "-D", "-G", "-f", str(conf),
                     "-p", str(b / "k.pid"), "-r", str(b / "vrrp.pid"),
                     "-c", str(b / "check.pid"), "-b", str(b / "bfd.pid")], env)

    def forget(self) -> None:
        """keepalived keeps nothing across a crash but its VIP (removed by the bench)."""


Vrrp = CarpdVrrp | KeepalivedVrrp


def make(impl: str, lab: Lab, host: str, workdir: Path, router: Router) -> Vrrp:
    cls: type[Vrrp] = {"carpd": CarpdVrrp, "keepalived": KeepalivedVrrp}[impl]
    srv = cls(impl=impl, lab=lab, host=host, workdir=workdir,
              vips=[impls.VipSpec(router.vrid, router.cidr)], role=ROLE_OF[host])
    srv.router, srv.wrap = router, []
    return srv
