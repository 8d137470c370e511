"""The three implementations under test, configured as equally as the protocols allow.

Every server runs advbase 1 / advert_int 1 with preemption on; the preferred server ("master")
has CARP advskew 0 / VRRP priority 150, the other ("backup") advskew 100 / priority 100.
Both start as BACKUP and elect. Each server's files (config, key, scripts, pid files, logs)
live in the bench's private temporary directory; processes are started through the lab (which
stops them by PID at teardown) and are stopped here by PID only.

- carpd: one process per server, all VIPs in one TOML; password from a 0600 file.
- ucarp (Debian): one process per VIP (as it must be run), `-o passfile` (never `-p`), `-P`,
  `-z` so SIGTERM runs the downscript, up/down scripts that add/remove the VIP.
- keepalived (Debian): one process (plus its VRRP child) per server, one vrrp_instance per
  VIP, `-n -l -D -G` in the foreground with pid files in the temp dir.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import procstat
from bench.variants import HOST6, VARIANTS, Variant, peer_of, vrrp_version
from tests.integration.netns import REPO, Lab

PASSWORD = "bench-pass-6a1"  # noqa: S105 - a lab-only key, in a 0600 file
IMPLS = ("carpd", "ucarp", "keepalived")
SKEW = {"master": 0, "backup": 100}
PRIORITY = {"master": 150, "backup": 100}


@dataclass(frozen=True)
class VipSpec:
    vhid: int
    cidr: str  # "A.B.C.D/LEN"

    @property
    def ip(self) -> str:
        return self.cidr.split("/")[0]

    @property
    def prefixlen(self) -> str:
        return self.cidr.split("/")[1]


ADVERT_INTERVAL = 1  # advbase / advert_int (s)


def master_down_interval(impl: str, role: str = "backup", variant: Variant | None = None
                         ) -> float:
    """The protocol bound for the backup taking over from a silent master (seconds)."""
    v = variant or VARIANTS["ipv4"]
    if impl == "keepalived":
        if vrrp_version(impl, v) == 3:
            # VRRPv3 (RFC 5798 6.1): 3 x Master_Adver_Interval + Skew_Time, Skew_Time =
            # (256 - priority) x Master_Adver_Interval / 256
            return 3 * ADVERT_INTERVAL + (256 - PRIORITY[role]) * ADVERT_INTERVAL / 256
        # VRRPv2 (RFC 3768 6.1): 3 x advert_int + (256 - priority) / 256
        return 3 * ADVERT_INTERVAL + (256 - PRIORITY[role]) / 256
    # CARP as ucarp and carpd: advbase x deadratio (3) + advskew / 256
    return 3 * ADVERT_INTERVAL + SKEW[role] / 256


def bound_rule(impl: str, variant: Variant | None = None, role: str = "backup") -> str:
    """The master-down rule behind `master_down_interval`, in words, with the numbers."""
    v = variant or VARIANTS["ipv4"]
    if impl == "keepalived":
        if vrrp_version(impl, v) == 3:
            return f"VRRPv3: 3 x 1 s + (256 - {PRIORITY[role]}) x 1 s/256"
        return f"VRRPv2: 3 x 1 s + (256 - {PRIORITY[role]})/256 s"
    return f"CARP: 3 x 1 s + {SKEW[role]}/256 s"


def available(impl: str) -> str | None:
    """None when `impl` can run here, else the reason."""
    binary = {"carpd": None, "ucarp": "ucarp", "keepalived": "keepalived"}[impl]
    if binary and shutil.which(binary) is None:
        return f"{binary} is not installed (run bench/setup.sh)"
    return None


@dataclass
class Server:
    """One implementation on one lab host (base class)."""

    impl: str
    lab: Lab
    host: str
    workdir: Path
    vips: list[VipSpec]
    role: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    starts: int = 0
    variant: Variant = VARIANTS["ipv4"]

    def own_address(self) -> str:
        """This server's address in the variant's family (without prefix length)."""
        if self.variant.family == 6:
            return HOST6[self.host].split("/")[0]
        return self.lab.hosts[self.host].ip

    def peer_address(self) -> str:
        """The other server's address in the variant's family (its unicast peer)."""
        other = peer_of(self.host)
        if self.variant.family == 6:
            return HOST6[other].split("/")[0]
        return self.lab.hosts[other].ip

    @property
    def base(self) -> Path:
        return self.workdir / f"{self.impl}-{self.host}"

    @property
    def log(self) -> Path:
        return self.base / "daemon.log"

    def prepare(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        key = self.base / "key"
        key.write_text(PASSWORD + "\n")
        key.chmod(0o600)

    def start(self) -> None:
        raise NotImplementedError

    def _popen(self, argv: list[str], env: dict[str, str] | None = None
               ) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as log:
            log.write(f"\n=== start #{self.starts} at {time.monotonic():.6f}: "
                      f"{' '.join(argv)}\n".encode())
            log.flush()
            proc = self.lab.popen(self.host, argv, stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=env or dict(os.environ))
        self.procs.append(proc)
        return proc

    def running(self) -> bool:
        return bool(self.procs) and all(p.poll() is None for p in self.procs)

    def main_pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.poll() is None]

    def pids(self) -> list[int]:
        """Every live process of this server, children (keepalived's VRRP child) included."""
        return procstat.descendants(self.main_pids())

    def crash(self) -> float:
        """SIGKILL every process of the daemon; returns the stamp taken before the first."""
        victims = self._crash_order()
        t = time.monotonic()
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return t

    def _crash_order(self) -> list[int]:
        return self.main_pids()

    def terminate(self) -> float:
        """The graceful stop (SIGTERM to each main process, as a service stop would)."""
        t = time.monotonic()
        for pid in self.main_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        return t

    def wait_exit(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for p in self.procs:
            try:
                p.wait(timeout=max(0.01, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                return False
        self.procs = []
        return True

    def shutdown(self, grace: float = 10.0) -> None:
        """Orderly stop (bounded), then SIGKILL of whatever is left; our PIDs only."""
        leftovers = self.pids()
        self.terminate()
        if not self.wait_exit(grace):
            for pid in procstat.descendants(self.main_pids()) + leftovers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            for p in self.procs:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(timeout=5)
            self.procs = []




class CarpdServer(Server):
    def config_text(self) -> str:
        skew = SKEW[self.role]
        lines = ["[carpd]", f'control_socket = "{self.base / "control.sock"}"',
                 f'state_directory = "{self.base / "state"}"', "",
                 "[defaults]", 'interface = "eth0"', f'password_file = "{self.base / "key"}"',
                 "advbase = 1", f"advskew = {skew}", "preempt = true", "master_units = []"]
        for v in self.vips:
            lines += ["", f"[vip.v{v.vhid}]", f"vhid = {v.vhid}"]
            if self.variant.family == 6:
                lines.append(f'addresses = ["{v.cidr}"]')
            else:
                lines.append(f'address = "{v.cidr}"')
            if self.variant.unicast:
                lines.append(f'peers = ["{self.peer_address()}"]')
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        self.prepare()
        conf = self.base / "carpd.toml"
        conf.write_text(self.config_text())
        env = {**os.environ, "PYTHONPATH": str(REPO), "CARPD_LOG_STDERR": "1"}
        env.pop("NOTIFY_SOCKET", None)
        self.starts += 1
        self._popen([sys.executable, "-m", "carpd", "--config", str(conf)], env)


UCARP_UP = """#!/bin/sh
# ucarp upscript: $1 interface, $2 VIP, $3 prefix length (-x)
exec ip addr add "$2/$3" dev "$1"
"""
UCARP_DOWN = """#!/bin/sh
ip addr del "$2/$3" dev "$1" 2>/dev/null
exit 0
"""


class UcarpServer(Server):
    def start(self) -> None:
        self.prepare()
        up, down = self.base / "vip-up", self.base / "vip-down"
        up.write_text(UCARP_UP)
        down.write_text(UCARP_DOWN)
        for s in (up, down):
            s.chmod(0o755)
        src = self.lab.hosts[self.host].ip
        self.starts += 1
        env = {**os.environ}
        env.pop("NOTIFY_SOCKET", None)
        for v in self.vips:
            self._popen(["ucarp", "-i", "eth0", "-s", src, "-v", str(v.vhid),
                         "-o", str(self.base / "key"), "-a", v.ip, "-b", "1",
                         "-k", str(SKEW[self.role]), "-P", "-z", "-f", "none",
                         "-u", str(up), "-d", str(down), "-x", v.prefixlen], env)


class KeepalivedServer(Server):
    def config_text(self) -> str:
        prio = PRIORITY[self.role]
        out = ["global_defs {", f"    router_id bench_{self.host}",
               "    script_user root", "    enable_script_security", "}", ""]
        version = vrrp_version("keepalived", self.variant)
        for v in self.vips:
            out += [f"vrrp_instance VI_{v.vhid} {{", "    state BACKUP", "    interface eth0",
                    f"    virtual_router_id {v.vhid}", f"    priority {prio}",
                    "    advert_int 1"]
            if version == 3:  # keepalived 2.2.7 speaks IPv6 only in VRRPv3
                out.append("    version 3")
            if self.variant.unicast:
                out += [f"    unicast_src_ip {self.own_address()}", "    unicast_peer {",
                        f"        {self.peer_address()}", "    }"]
            out += ["    virtual_ipaddress {", f"        {v.cidr} dev eth0", "    }", "}", ""]
        return "\n".join(out)

    def start(self) -> None:
        self.prepare()
        conf = self.base / "keepalived.conf"
        conf.write_text(self.config_text())
        b = self.base
        self.starts += 1
        for stale in ("k.pid", "vrrp.pid", "check.pid", "bfd.pid"):
            with contextlib.suppress(FileNotFoundError):
                (b / stale).unlink()
        env = {**os.environ}
        env.pop("NOTIFY_SOCKET", None)
        self._popen(["keepalived", "-n", "-l", "-D", "-G", "-f", str(conf),
                     "-p", str(b / "k.pid"), "-r", str(b / "vrrp.pid"),
                     "-c", str(b / "check.pid"), "-b", str(b / "bfd.pid")], env)

    def _crash_order(self) -> list[int]:
        # Children first: if the parent died first its VRRP child would get a death signal
        # and shut down gracefully, and a parent that sees its child die respawns it.
        parents = self.main_pids()
        children = [p for p in procstat.descendants(parents) if p not in parents]
        return children + parents


def make_server(impl: str, lab: Lab, host: str, workdir: Path,  # noqa: PLR0917
                vips: list[VipSpec], role: str, variant: Variant | None = None) -> Server:
    cls = {"carpd": CarpdServer, "ucarp": UcarpServer, "keepalived": KeepalivedServer}[impl]
    v = variant or VARIANTS["ipv4"]
    if impl == "ucarp" and (v.family != 4 or v.unicast):
        raise ValueError(f"ucarp cannot run the {v.name} variant")
    return cls(impl=impl, lab=lab, host=host, workdir=workdir, vips=vips, role=role, variant=v)
