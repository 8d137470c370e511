"""Real VRRPv3 peers in lab hosts (Debian 12 keepalived 2.2.7, FRR 8.4.4 vrrpd), carpd in
VRRPv3 mode, and the wire helpers the interop tests need (IPV6-UNICAST-VRRP3.md section 4).

How it works:
* `vrrp_lab` builds the section 4.1 topology with netns.Lab: carpd .1, keepalived .2, FRR .3
  and an observer .4 in 10.99.0.0/24 and fd00:99::/64 (fixed MACs, so fixed link-locals).
* `Keepalived` writes keepalived.conf, a notify script (it appends `date +%s.%N` and its
  arguments to a file) and the pid files into the test's temp dir and runs
  `keepalived -n -l -D -G -P` in the host's namespace through `Lab.popen` (stopped by PID).
  SIGTERM stops it the normal way (priority 0 for a MASTER); `kill` SIGKILLs the VRRP child
  first and then the parent (a parent that sees its child die would respawn it).
* `FrrRouter` creates the two macvlans FRR needs (bridge mode, VMAC, addrgenmode random, the
  VIPs on them), writes a pathspace /etc/frr/<namespace>/ whose `daemons` file carries
  `watchfrr_options="--netns"` (so watchfrr, zebra, staticd and vrrpd run inside the
  namespace of the same name) and starts it with `frrinit.sh start <namespace>`. It reads
  FRR's own view with `vtysh -N <namespace> -c 'show vrrp N json'`, changes it live through
  vtysh, stops the daemons by the PIDs in /var/run/frr/<namespace>/ (each checked to be an
  FRR process of that pathspace) and removes both directories and its log folder. A
  pathspace left by a crashed run (its lab's owner process gone) is stopped and removed by
  the next start (`remove_stale_frr`), as Lab removes stale namespaces.
* `VrrpCarpd` is carpd_host.Carpd with a config of `protocol = "vrrp3"` VIPs.
* `start_capture` records every protocol-112 frame an observer sees (AF_PACKET, both
  families) with its MAC, addresses, TTL/hop limit, TOS/class and VRRP bytes; `inject`
  sends hand-built VRRPv3 adverts (own encoder, RFC 5798 checksum) from any address.
Times are wall-clock seconds (`time.time()`), the scale of the notify file, FRR's log
(`log timestamp precision 6`) and the capture.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tests.integration.carpd_host import Carpd, toml_value
from tests.integration.netns import FAMILY, Lab, _owner_alive, wait_until

KEEPALIVED = "/usr/sbin/keepalived"
FRRINIT = "/usr/lib/frr/frrinit.sh"
VRID = 51
HOSTS = {"carpd": ("10.99.0.1/24", 1, "fd00:99::1/64"), "ka": ("10.99.0.2/24", 2, "fd00:99::2/64"),
         "frr": ("10.99.0.3/24", 3, "fd00:99::3/64"), "obs": ("10.99.0.4/24", 4, "fd00:99::4/64")}
VIP4, VIP6 = "10.99.0.100", "fd00:99::100"


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


# ------------------------------------------------------------------------------------- FRR

_FRR_LINE = re.compile(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d+) (.*)$")
_FRR_CHANGE = re.compile(r"\[CORE\] \[VRID (\d+)\] \[(IPv[46])\] (\w+) -> (\w+)")
FRR_DAEMONS = ("watchfrr", "vrrpd", "staticd", "zebra")  # the order they are stopped in


@dataclass
class FrrRouter:
    lab: Lab
    vip4: str | None = VIP4
    vip6: str | None = VIP6
    vrid: int = VRID
    priority: int = 100
    advert_ms: int = 1000
    preempt: bool = True
    host: str = "frr"
    logdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="vi-frr-")))
    _macvlans: bool = False

    @property
    def pathspace(self) -> str:
        return self.lab.ns(self.host)

    @property
    def etc(self) -> Path:
        return Path("/etc/frr") / self.pathspace

    @property
    def run_dir(self) -> Path:
        return Path("/var/run/frr") / self.pathspace

    @property
    def log(self) -> Path:
        return self.logdir / "frr.log"

    def macvlans(self) -> None:
        """Section 4.3: one bridge-mode macvlan per family with the VMAC, random link-local."""
        for fam, vip, plen in (("4", self.vip4, 32), ("6", self.vip6, 128)):
            if vip is None:
                continue
            dev = f"vrrp{fam}-{self.vrid}"
            mac = f"00:00:5e:00:0{2 if fam == '6' else 1}:{self.vrid:02x}"
            run = self.lab.run
            run(self.host, "ip", "link", "add", dev, "link", "eth0", "type", "macvlan", "mode",
                "bridge")
            run(self.host, "ip", "link", "set", "dev", dev, "address", mac)
            run(self.host, "ip", "link", "set", "dev", dev, "addrgenmode", "random")
            run(self.host, "ip", "addr", "add", f"{vip}/{plen}", "dev", dev,
                *(["nodad"] if fam == "6" else []))
            run(self.host, "ip", "link", "set", "dev", dev, "up")
        # The random link-local of vrrp6 is FRR's IPv6 source: until its DAD is done no
        # IPv6 advert leaves (a peer started meanwhile would promote itself once).
        self.lab.wait_ipv6_ready()
        self._macvlans = True

    def vrrp_lines(self) -> list[str]:
        v = f" vrrp {self.vrid}"
        out = [f"{v} version 3", f"{v} priority {self.priority}",
               f"{v} advertisement-interval {self.advert_ms}"]
        out += [] if self.preempt else [f" no{v} preempt"]
        out += [f"{v} ip {self.vip4}"] if self.vip4 else []
        return out + ([f"{v} ipv6 {self.vip6}"] if self.vip6 else [])

    def write(self) -> None:
        self.etc.mkdir(parents=True, exist_ok=True)
        self.log.touch()
        (self.etc / "daemons").write_text(textwrap.dedent("""\
            vrrpd=yes
            vtysh_enable=yes
            watchfrr_options="--netns"
            zebra_options=" -A 127.0.0.1 -s 90000000"
            vrrpd_options=" -A 127.0.0.1"
            staticd_options="-A 127.0.0.1"
            """))
        conf = [f"hostname {self.host}", f"log file {self.log} debugging",
                "log timestamp precision 6", "debug vrrp protocol", "debug vrrp packets", "!",
                "interface eth0", *self.vrrp_lines(), "exit", ""]
        (self.etc / "frr.conf").write_text("\n".join(conf))
        (self.etc / "vtysh.conf").write_text("service integrated-vtysh-config\n")
        for path in (self.etc, *self.etc.iterdir(), self.logdir, self.log):
            shutil.chown(path, "frr", "frr")

    def start(self) -> FrrRouter:
        remove_stale_frr()
        if not self._macvlans:
            self.macvlans()
        self.write()
        proc = self.lab.run(self.host, FRRINIT, "start", self.pathspace, check=False,
                            timeout=60)
        if proc.returncode != 0 or not wait_until(lambda: bool(self.show()), 10, 0.05):
            raise AssertionError(f"FRR did not start:\n{proc.stdout}{proc.stderr}\n"
                                 f"{self.log_text()[-3000:]}")
        return self

    def vtysh(self, *commands: str) -> str:
        argv = ["vtysh", "-N", self.pathspace]
        for c in commands:
            argv += ["-c", c]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=15, check=False)
        return proc.stdout if proc.returncode == 0 else ""

    def configure(self, *lines: str) -> None:
        """Change the running config: lines inside `interface eth0` (e.g. `vrrp 51 priority
        200`)."""
        self.vtysh("configure terminal", "interface eth0", *lines)

    def show(self) -> dict[str, object]:
        """FRR's own view: the `show vrrp VRID json` entry ({} when vrrpd is not up)."""
        with contextlib.suppress(json.JSONDecodeError):
            for entry in json.loads(self.vtysh(f"show vrrp {self.vrid} json") or "[]"):
                if entry.get("vrid") == self.vrid:
                    return dict(entry)
        return {}

    def family(self, family: int) -> dict[str, object]:
        got = self.show().get("v4" if family == 4 else "v6")
        return dict(got) if isinstance(got, dict) else {}

    def status(self, family: int) -> str | None:
        got = self.family(family).get("status")
        return str(got) if got is not None else None

    def wait_status(self, family: int, status: str, timeout: float) -> bool:
        return wait_until(lambda: self.status(family) == status, timeout, interval=0.05)

    def changes(self, after: float = 0.0) -> list[Event]:
        """State changes from FRR's log ("[CORE] [VRID 51] [IPv4] Backup -> Master")."""
        out = []
        for raw in self.log_text().splitlines():
            m, c = _FRR_LINE.match(raw), _FRR_CHANGE.search(raw)
            if m and c and int(c.group(1)) == self.vrid:
                t = datetime.strptime(m.group(1), "%Y/%m/%d %H:%M:%S.%f").timestamp()
                if t >= after:
                    out.append(Event(t, c.group(2), c.group(4)))
        return out

    def wait_change(self, family: int, state: str, timeout: float, after: float = 0.0
                    ) -> float | None:
        name = f"IPv{family}"

        def found() -> list[Event]:
            return [e for e in self.changes(after) if e.name == name and e.state == state]
        wait_until(lambda: bool(found()), timeout, interval=0.05)
        hits = found()
        return hits[0].t if hits else None

    def pids(self) -> dict[str, int]:
        return frr_pids(self.pathspace)

    def stop_watchfrr(self, timeout: float = 8.0) -> None:
        """SIGINT to watchfrr alone (so it restarts nothing); the daemons keep running."""
        stop_frr(self.pathspace, ("watchfrr",), timeout=timeout)

    def stop(self, sig: signal.Signals = signal.SIGINT, timeout: float = 8.0,
             wait_all: bool = True) -> float:
        """Stop the daemons by PID (watchfrr first so nothing is restarted, zebra last), as
        frrinit.sh does; SIGKILL what is left after `timeout`. vrrpd resigns with priority
        0 on SIGINT/SIGTERM. `wait_all=False` returns once vrrpd is gone (zebra takes ~2 s
        more; a later stop/close waits for it). Returns the time vrrpd was signalled."""
        self.stop_watchfrr(timeout)
        t_vrrpd = time.time()
        stop_frr(self.pathspace, ("vrrpd", "staticd"), sig, timeout)
        if wait_all:
            stop_frr(self.pathspace, ("zebra",), sig, timeout)
        return t_vrrpd

    def close(self) -> None:
        """Stop everything and remove /etc/frr/<pathspace>, its run dir and the logs."""
        self.stop()
        for path in (self.etc, self.run_dir, self.logdir):
            shutil.rmtree(path, ignore_errors=True)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def report(self) -> str:
        lines = [ln for ln in self.log_text().splitlines() if "[Q79JG-SJBP4]" not in ln]
        return f"--- FRR {self.show()}\n--- FRR log ---\n" + "\n".join(lines[-60:])


def frr_pids(pathspace: str) -> dict[str, int]:
    """PIDs from the pathspace's pid files that really are its FRR daemons."""
    out = {}
    for daemon in FRR_DAEMONS:
        try:
            pid = int((Path("/var/run/frr") / pathspace / f"{daemon}.pid").read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if cmdline[0].endswith(daemon.encode()) and pathspace.encode() in cmdline:
            out[daemon] = pid
    return out


def stop_frr(pathspace: str, daemons: tuple[str, ...], sig: signal.Signals = signal.SIGINT,
             timeout: float = 8.0) -> None:
    """Signal those of `daemons` that run, wait for them; SIGKILL after `timeout`."""
    pids = frr_pids(pathspace)
    running = [pids[d] for d in daemons if d in pids]
    for pid in running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    for pid in running:
        if not _wait_gone(pid, timeout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 2.0)


def remove_stale_frr() -> list[str]:
    """Stop the daemons of, and remove, FRR pathspaces of lab namespaces whose creating
    process is gone (a crashed earlier run): /etc/frr/<FAMILY><pid>-... and its run dir."""
    removed = []
    for etc in Path("/etc/frr").glob(f"{FAMILY}*"):
        if etc.is_dir() and not _owner_alive(etc.name):
            for daemons in (("watchfrr",), ("vrrpd", "staticd"), ("zebra",)):
                stop_frr(etc.name, daemons, timeout=5.0)
            for path in (etc, Path("/var/run/frr") / etc.name):
                shutil.rmtree(path, ignore_errors=True)
            removed.append(etc.name)
    return removed


def _wait_gone(pid: int, timeout: float) -> bool:
    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    return wait_until(gone, timeout, interval=0.02)


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


@dataclass
class VrrpCarpd(Carpd):
    """carpd_host.Carpd with VRRPv3 VIPs (`vips` stays empty; no password file)."""

    vrrp: list[VrrpVip] = field(default_factory=list)

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


# ------------------------------------------------------------------------ capture, inject

@dataclass(frozen=True)
class Frame:
    t: float
    mac: str  # Ethernet source
    family: int
    src: str
    dst: str
    ttl: int  # TTL / hop limit
    tos: int  # TOS / traffic class
    vrrp: bytes  # the VRRP message

    @property
    def version(self) -> int:
        return self.vrrp[0] >> 4

    @property
    def vrid(self) -> int:
        return self.vrrp[1]

    @property
    def priority(self) -> int:
        return self.vrrp[2]

    @property
    def interval_cs(self) -> int:
        return int.from_bytes(self.vrrp[4:6], "big") & 0x0FFF


_CAPTURE = textwrap.dedent(r"""
    import json, os, socket, time
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.bind(("eth0", 0))
    deadline = time.monotonic() + float(os.environ["DURATION"])
    out = []
    print("ready", flush=True)
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            f, addr = s.recvfrom(4096)
        except socket.timeout:
            break
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        t, kind, ip = time.time(), f[12:14], f[14:]
        if kind == b"\x08\x00" and ip[9] == 112:
            hl = (ip[0] & 15) * 4
            row = (4, socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20]), ip[8], ip[1],
                   ip[hl:int.from_bytes(ip[2:4], "big")])
        elif kind == b"\x86\xdd" and ip[6] == 112:
            row = (6, socket.inet_ntop(socket.AF_INET6, ip[8:24]),
                   socket.inet_ntop(socket.AF_INET6, ip[24:40]), ip[7],
                   ((ip[0] & 15) << 4) | (ip[1] >> 4), ip[40:40 + int.from_bytes(ip[4:6], "big")])
        else:
            continue
        out.append([t, f[6:12].hex(":"), *row[:5], row[5].hex()])
    print(json.dumps(out))
""")


def first_advert(seen: list[Frame], mac: str, family: int, after: float) -> Frame | None:
    """The first advert (priority > 0) from Ethernet source `mac` in `family` after `after`."""
    hits = [f for f in seen if f.mac == mac and f.family == family and f.t >= after
            and f.priority > 0]
    return min(hits, key=lambda f: f.t) if hits else None


def start_capture(lab: Lab, host: str, duration: float) -> subprocess.Popen[bytes]:
    """Record protocol-112 frames arriving at `host`'s eth0 for `duration` s (`frames`)."""
    proc = lab.python_bg(host, _CAPTURE, env={"DURATION": str(duration)})
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    return proc


def frames(proc: subprocess.Popen[bytes], timeout: float = 60.0) -> list[Frame]:
    rows = Lab.collect(proc, timeout=timeout)
    assert isinstance(rows, list)
    return [Frame(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bytes.fromhex(r[7])) for r in rows]


def inet_checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def vrrp3_message(src: str, dst: str, vrid: int, priority: int, interval_cs: int,
                  vips: list[str]) -> bytes:
    """An RFC 5798 advert with the pseudo-header checksum (IPv4 as keepalived/FRR do it)."""
    addrs = b"".join(ipaddress.ip_address(v).packed for v in vips)
    body = bytes([0x31, vrid, priority, len(vips)]) + interval_cs.to_bytes(2, "big")
    msg = body + b"\0\0" + addrs
    s, d = ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed
    if len(s) == 4:
        pseudo = s + d + b"\0\x70" + len(msg).to_bytes(2, "big")
    else:
        pseudo = s + d + len(msg).to_bytes(4, "big") + b"\0\0\0\x70"
    return body + inet_checksum(pseudo + msg).to_bytes(2, "big") + addrs


_INJECT = textwrap.dedent(r"""
    import json, os, socket, time
    src, dst, ttl = os.environ["SRC"], os.environ["DST"], int(os.environ["TTL"])
    msg = bytes.fromhex(os.environ["MSG"])
    count, gap = int(os.environ["COUNT"]), float(os.environ["GAP"])
    if ":" in src:
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 112)
        s.bind((src, 0, 0, socket.if_nametoindex("eth0")))
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, ttl)
        target, data = (dst, 0, 0, socket.if_nametoindex("eth0")), msg
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
        hdr = bytes([0x45, 0xC0]) + (20 + len(msg)).to_bytes(2, "big") + bytes(4)
        hdr += bytes([ttl, 112, 0, 0]) + socket.inet_aton(src) + socket.inet_aton(dst)
        target, data = (dst, 0), hdr + msg
    sent = []
    for _ in range(count):
        sent.append(time.time())
        s.sendto(data, target)
        time.sleep(gap)
    print(json.dumps(sent))
""")


def inject(lab: Lab, host: str, *, src: str, dst: str, priority: int, vips: list[str],
           vrid: int = VRID, interval_cs: int = 100, ttl: int = 255, count: int = 10,
           gap: float = 0.05) -> list[float]:
    """Send `count` hand-built VRRPv3 adverts from `host` with source `src` (IPv4: any
    address, header included; IPv6: an address of `host`); their send times."""
    msg = vrrp3_message(src, dst, vrid, priority, interval_cs, vips)
    sent = lab.python(host, _INJECT, timeout=count * gap + 15, env={
        "SRC": src, "DST": dst, "TTL": str(ttl), "MSG": msg.hex(), "COUNT": str(count),
        "GAP": str(gap)})
    assert isinstance(sent, list)
    return [float(t) for t in sent]
