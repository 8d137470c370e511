"""Real VRRPv3 peers in lab hosts: the lab, keepalived (Debian 12 keepalived 2.2.7) and carpd
in VRRPv3 mode, plus the shared constants and timing helpers (IPV6-UNICAST-VRRP3.md section 4).
FRR's vrrpd lives in frr_peer.py, frame capture and advert injection in vrrp_wire.py.

How it works:
* `vrrp_lab` builds the section 4.1 topology with netns.Lab: carpd .1, keepalived .2, FRR .3
  and an observer .4 in 10.99.0.0/24 and fd00:99::/64 (fixed MACs, so fixed link-locals).
* `Keepalived` writes keepalived.conf, a notify script (it appends `date +%s.%N` and its
  arguments to a file) and the pid files into the test's temp dir and runs
  `keepalived -n -l -D -G -P` in the host's namespace through `Lab.popen` (stopped by PID).
  SIGTERM stops it the normal way (priority 0 for a MASTER); `kill` SIGKILLs the VRRP child
  first and then the parent (a parent that sees its child die would respawn it).
* `Event` is one state change of a peer (keepalived's notify file, FRR's log).
* `VrrpCarpd` is carpd_host.Carpd with a config of `protocol = "vrrp3"` VIPs.
Times are wall-clock seconds (`time.time()`), the scale of the notify file, FRR's log
(`log timestamp precision 6`) and the capture.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tests.integration.carpd_host import Carpd, toml_value
from tests.integration.netns import Lab, wait_until

KEEPALIVED = "/usr/sbin/keepalived"
VRID = 51
HOSTS = {"carpd": ("10.99.0.1/24", 1, "fd00:99::1/64"), "ka": ("10.99.0.2/24", 2, "fd00:99::2/64"),
         "frr": ("10.99.0.3/24", 3, "fd00:99::3/64"), "obs": ("10.99.0.4/24", 4, "fd00:99::4/64")}
VIP4, VIP6 = "10.99.0.100", "fd00:99::100"
FAST = 0.1  # seconds: the 100 ms advert interval of most interop tests
MARGIN = 1.0  # seconds on top of a protocol bound (a peer's start, log polling)
STARTUP_S = 30.0  # a hang guard for a carpd start (Python imports on a loaded machine)
FAMILIES = (4, 6)
NAMES = {4: "v4", 6: "v6"}  # carpd's VIP name per family


def vrrp_lab(tag: str, names: tuple[str, ...]) -> Iterator[Lab]:
    """The section 4.1 lab with the hosts `names` (a generator for a module fixture)."""
    with Lab(tag) as lab:
        for name in names:
            cidr, mac, cidr6 = HOSTS[name]
            lab.add_host(name, cidr, mac, ip6_cidr=cidr6)
        lab.wait_ipv6_ready()
        if not (lab.multicast_crosses(names[0], names[-1])
                and lab.multicast6_crosses(names[0], names[-1])):
            raise AssertionError("protocol-112 multicast does not cross the lab bridge")
        yield lab


def timings(what: str, **figures: float | None) -> None:
    """Print measured figures (pytest -s) in one line."""
    parts = [f"{k} {'-' if v is None else f'{v:.3f}'}" for k, v in figures.items()]
    print(f"\n[vrrp] {what}: " + ", ".join(parts), flush=True)


def skew(priority: int, interval: float) -> float:
    return (256 - priority) * interval / 256


def master_down(priority: int, interval: float) -> float:
    return 3 * interval + skew(priority, interval)


# ------------------------------------------------------------------------------ keepalived

@dataclass(frozen=True)
class KaInstance:
    """One vrrp_instance block (always `state BACKUP`, as the section 4.2 config)."""

    name: str
    vips: tuple[str, ...]  # CIDRs, one family
    vrid: int = VRID
    priority: int = 100
    advert_int: float = 1.0
    preempt: bool = True
    unicast_src: str | None = None
    unicast_peers: tuple[str, ...] = ()
    peer_min_ttl: int | None = None  # `min_ttl` on every peer (implies check_unicast_src)
    unicast_ttl: int | None = None

    def lines(self, notify: Path) -> list[str]:
        out = [f"vrrp_instance {self.name} {{", "    state BACKUP", "    interface eth0",
               f"    virtual_router_id {self.vrid}", f"    priority {self.priority}",
               f"    advert_int {self.advert_int}", f"    notify {notify}"]
        if not self.preempt:
            out.append("    nopreempt")
        if self.unicast_src:
            out.append(f"    unicast_src_ip {self.unicast_src}")
        if self.unicast_ttl is not None:
            out.append(f"    unicast_ttl {self.unicast_ttl}")
        if self.unicast_peers:
            ttl = f" min_ttl {self.peer_min_ttl}" if self.peer_min_ttl is not None else ""
            out += ["    unicast_peer {", *(f"        {p}{ttl}" for p in self.unicast_peers),
                    "    }"]
        return [*out, "    virtual_ipaddress {", *(f"        {v}" for v in self.vips), "    }",
                "}", ""]


@dataclass(frozen=True)
class Event:
    t: float
    name: str  # instance (keepalived) or family "IPv4"/"IPv6" (FRR)
    state: str  # MASTER BACKUP FAULT STOP (keepalived); Master Backup Initialize (FRR)


@dataclass
class Keepalived:
    lab: Lab
    workdir: Path
    instances: list[KaInstance]
    host: str = "ka"
    proc: subprocess.Popen[bytes] | None = None

    def path(self, name: str) -> Path:
        return self.workdir / f"ka-{name}"

    def write(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        notify = self.path("notify.sh")
        notify.write_text(f'#!/bin/sh\necho "$(date +%s.%N) $*" >> {self.path("events")}\n')
        notify.chmod(0o755)
        conf = ["global_defs {", f"    router_id vi_{self.host}", "    vrrp_version 3",
                "    vrrp_garp_master_delay 5", "    vrrp_garp_master_repeat 5",
                "    script_user root", "    enable_script_security", "}", ""]
        for inst in self.instances:
            conf += inst.lines(notify)
        self.path("conf").write_text("\n".join(conf))

    def start(self) -> Keepalived:
        self.write()
        self.path("events").touch()
        for stale in ("pid", "vrrp.pid"):
            with contextlib.suppress(FileNotFoundError):
                self.path(stale).unlink()
        env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
        with self.path("log").open("ab") as log:
            self.proc = self.lab.popen(self.host, [
                KEEPALIVED, "-n", "-l", "-D", "-G", "-P", "-f", str(self.path("conf")),
                "-p", str(self.path("pid")), "-r", str(self.path("vrrp.pid"))],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _child(self) -> int | None:
        """The VRRP child's PID, if its pid file names a keepalived using our config."""
        try:
            pid = int(self.path("vrrp.pid").read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            return None
        return pid if str(self.path("conf")).encode() in cmdline else None

    def stop(self, timeout: float = 10.0) -> float:
        """SIGTERM to the parent (a MASTER resigns with priority 0); the time it was sent."""
        t = time.time()
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return t

    def kill(self) -> float:
        """SIGKILL, VRRP child first (silent: no priority 0); the time it was sent."""
        t = time.time()
        child = self._child()
        if child is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        return t

    def events(self, after: float = 0.0) -> list[Event]:
        """The notify calls: `<t> INSTANCE <name> <state> <priority>`."""
        out = []
        path = self.path("events")
        for raw in (path.read_text() if path.exists() else "").splitlines():
            parts = raw.split()
            if len(parts) >= 4 and parts[1] == "INSTANCE" and float(parts[0]) >= after:
                out.append(Event(float(parts[0]), parts[2], parts[3]))
        return out

    def state(self, instance: str) -> str | None:
        states = [e.state for e in self.events() if e.name == instance]
        return states[-1] if states else None

    def wait_state(self, instance: str, state: str, timeout: float, after: float = 0.0
                   ) -> float | None:
        """The notify time of the first change of `instance` to `state` after `after`."""
        def found() -> list[Event]:
            return [e for e in self.events(after) if e.name == instance and e.state == state]
        wait_until(lambda: bool(found()), timeout, interval=0.02)
        hits = found()
        return hits[0].t if hits else None

    def log_text(self) -> str:
        return self.path("log").read_text(errors="replace") if self.path("log").exists() else ""

    def report(self) -> str:
        events = self.path("events").read_text() if self.path("events").exists() else ""
        return f"--- keepalived log ---\n{self.log_text()[-4000:]}--- notify ---\n{events}"


# ----------------------------------------------------------------------------------- carpd

@dataclass(frozen=True)
class VrrpVip:
    """One `[vip.NAME]` of protocol vrrp3 (one family); optional keys written when set."""

    name: str
    address: str  # CIDR
    vrid: int = VRID
    priority: int = 100
    advert_interval: float = 1.0
    preempt: bool | None = None
    peers: tuple[str, ...] | None = None
    peer_ttl: int | None = None
    accept_ttl: int | None = None

    def toml_lines(self) -> list[str]:
        lines = [f"[vip.{self.name}]", 'protocol = "vrrp3"', f"vrid = {self.vrid}",
                 f'address = "{self.address}"', f"priority = {self.priority}",
                 f"advert_interval = {self.advert_interval}"]
        for key in ("preempt", "peers", "peer_ttl", "accept_ttl"):
            value = getattr(self, key)
            if value is not None:
                lines.append(f"{key} = {toml_value(value)}")
        return lines


def dual_vips(priority: int, interval: float = FAST, **keys: object) -> list[VrrpVip]:
    """carpd's VRID-51 pair: `v4` with VIP4/24 and `v6` with VIP6/64, same fields."""
    return [VrrpVip(NAMES[4], f"{VIP4}/24", priority=priority, advert_interval=interval,
                    **keys),  # type: ignore[arg-type]
            VrrpVip(NAMES[6], f"{VIP6}/64", priority=priority, advert_interval=interval,
                    **keys)]  # type: ignore[arg-type]


@dataclass
class VrrpCarpd(Carpd):
    """carpd_host.Carpd with VRRPv3 VIPs (`vips` stays empty; no password file)."""

    vrrp: list[VrrpVip] = field(default_factory=list)

    def start(self) -> None:
        """Start carpd and wait until its control socket answers, so the protocol-bound
        waits that follow do not also have to cover the process start."""
        super().start()
        deadline = time.monotonic() + STARTUP_S
        while self.status() is None:
            assert self.proc is not None and self.proc.poll() is None, self.log_text()
            assert time.monotonic() < deadline, f"carpd did not start:\n{self.log_text()}"
            time.sleep(0.05)

    def write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        lines = ["[carpd]", f'control_socket = "{self.socket}"',
                 f'state_directory = "{self.workdir / (self.host + "-state")}"', "",
                 "[defaults]", 'interface = "eth0"', "master_units = []"]
        lines += [f"{k} = {v}" for k, v in self.extra.items()]
        for v in self.vrrp:
            lines += ["", *v.toml_lines()]
        self.config.write_text("\n".join(lines) + "\n")

    def vip(self, name: str) -> dict[str, object]:
        doc = self.status() or {}
        for v in doc.get("vips", []):  # type: ignore[attr-defined]
            if v["name"] == name:
                return dict(v)
        return {}

    def wait(self, name: str, state: str, timeout: float) -> float | None:
        """The wall-clock time the status first showed `state` (polled), else None."""
        ok = wait_until(lambda: self.states().get(name) == state, timeout, interval=0.01)
        return time.time() if ok else None

    def since(self, name: str) -> float | None:
        """carpd's own time of VIP `name`'s last state change (wall clock, ms)."""
        value = self.vip(name).get("since")
        return datetime.fromisoformat(str(value)).timestamp() if value else None

    def kill(self) -> float:
        assert self.proc is not None
        t = time.time()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=5)
        return t

    def terminate(self) -> float:
        assert self.proc is not None
        t = time.time()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=15)
        return t
