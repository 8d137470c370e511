"""FRR 8.4.4 vrrpd as a real VRRPv3 peer in a lab host (IPV6-UNICAST-VRRP3.md section 4.3).

How it works:
* `FrrRouter` creates the two macvlans FRR needs (bridge mode, VMAC, addrgenmode random, the
  VIPs on them), writes a pathspace /etc/frr/<namespace>/ whose `daemons` file carries
  `watchfrr_options="--netns"` (so watchfrr, zebra, staticd and vrrpd run inside the
  namespace of the same name) and starts it with `frrinit.sh start <namespace>`. It reads
  FRR's own view with `vtysh -N <namespace> -c 'show vrrp N json'`, changes it live through
  vtysh, reads state changes from FRR's log (`log timestamp precision 6`, wall-clock
  seconds) as vrrp_peers.Event, stops the daemons by the PIDs in /var/run/frr/<namespace>/
  (`frr_pids`, `stop_frr`: each checked to be an FRR process of that pathspace) and
  removes both directories and its log folder.
* A pathspace left by a crashed run (its lab's owner process gone) is stopped and removed by
  the next start (`remove_stale_frr`), as Lab removes stale namespaces.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tests.integration.netns import FAMILY, Lab, _owner_alive, wait_until
from tests.integration.vrrp_peers import VIP4, VIP6, VRID, Event

FRRINIT = "/usr/lib/frr/frrinit.sh"

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
