"""A routed-VIP lab (docs/routed.md): an FRR router, two servers in two subnets, a client.

Owns: building the topology of the design (router `r`: 10.0.1.1 to s1, 10.0.2.1 to s2,
10.0.9.1 to the client `c`; servers s1 10.0.1.2 AS 65001 and s2 10.0.2.2 AS 65002, each with a
static default route to r) on one `Lab`; running the routing engines inside the namespaces
with the shipped configurations of etc/routed/ (FRR's zebra, bfdd and bgpd in the foreground,
each with its config, pid file, vty sockets, zserv socket and BFD control socket in a
temporary directory, the integrated frr.conf applied through vtysh; BIRD with `-c CONF -s SOCK
-P PID`), so nothing of the machine's own FRR or BIRD is used or touched; carpd on both
servers (a routed VIP 192.0.2.10/32, unicast CARP through the router with accept_ttl 254, a
fatal bgp check); a UDP responder on each server that answers with its name; a bounded probe
stream from the client; and an observer thread that samples the router's FIB route and BGP
paths for the VIP.
Faults: `stop_carpd` (SIGTERM or SIGKILL; after SIGKILL, `cleanup` runs `carpd --cleanup` as
the unit's ExecStopPost= does), `kill_engine` / `start_engine` (the server's bgpd or bird),
`isolate` / `heal` (an nftables drop-all in the server: only BFD notices).
The shipped files are used as written, except: the BFD intervals (`bfd_ms`), and carpvip0
becomes lo where the kernel has no dummy links (these build machines).
Everything is removed at exit: processes by PID (Lab), the namespaces, the temporary directory.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from tests.integration.carpd_host import Carpd, Vip
from tests.integration.netns import REPO, Lab, stop_process, wait_until

EXAMPLES = REPO / "etc" / "routed"
VIP = "192.0.2.10"
PORT = 9999
ROUTER_NEXT_HOP = {"10.0.1.2": "s1", "10.0.2.2": "s2"}
SERVERS = {  # name: (address, gateway, bridge, example suffix, advskew)
    "s1": ("10.0.1.2", "10.0.1.1", "br0", "a", 0),
    "s2": ("10.0.2.2", "10.0.2.1", "br1", "b", 100),
}
FRR_DAEMONS = ("zebra", "bfdd", "bgpd")
ADVERT_INTERVAL_S = 1.0  # advbase 1
CHECK_INTERVAL_S = 0.5

_RESPONDER = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", {port}))
while True:
    data, peer = s.recvfrom(64)
    s.sendto(data + b" {name}", peer)
"""

_PROBE = """
import json, os, select, socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setblocking(False)
sent, got = {{}}, {{}}
end = time.monotonic() + {duration}
n = 0
next_at = time.monotonic()
while time.monotonic() < end and not os.path.exists("{stop}"):
    now = time.monotonic()
    if now >= next_at:
        s.sendto(str(n).encode(), ("{vip}", {port}))
        sent[n] = now
        n += 1
        next_at += {period}
    r, _, _ = select.select([s], [], [], max(0.0, min(next_at, end) - time.monotonic()))
    while r:
        try:
            data, _ = s.recvfrom(64)
        except BlockingIOError:
            break
        seq, _, name = data.decode().partition(" ")
        got.setdefault(int(seq), name)
print(json.dumps([[sent[i], got.get(i)] for i in range(n)]))
"""


def kernel_has_dummy_links(lab: Lab, host: str) -> bool:
    """Probe inside `host`'s namespace (never the machine's own)."""
    made = lab.run(host, "ip", "link", "add", "rtprobe0", "type", "dummy", check=False)
    if made.returncode == 0:
        lab.run(host, "ip", "link", "del", "rtprobe0", check=False)
    return made.returncode == 0


@dataclass
class Sample:
    at: float  # when the look began
    via: str | None  # the server the router's FIB sends the VIP to
    paths: frozenset[str]  # the servers whose BGP path for the VIP the router has


@dataclass
class Probe:
    """A finished probe stream: (send instant, which server answered or None) per probe."""

    rows: list[tuple[float, str | None]]

    def answered_by(self, after: float) -> list[str]:
        return [name for at, name in self.rows if at >= after and name is not None]

    def outage(self, after: float, before: float = float("inf")) -> float:
        """The longest time without an answered probe between `after` and `before` (probes
        sent every period; an answered probe ends the gap)."""
        last, worst = after, 0.0
        for at, name in self.rows:
            if at < after or at > before:
                continue
            if name is not None:
                worst = max(worst, at - last)
                last = at
        return worst


@dataclass
class Engine:
    """The routing engine of one namespace, its processes tracked by the lab."""

    lab: Lab
    host: str
    kind: str  # "frr" | "bird"
    directory: Path
    config: str
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def control(self) -> str:
        """What carpd's bgp check names as `control`."""
        return str(self.directory) if self.kind == "frr" else str(self.directory / "bird.ctl")

    def start(self) -> None:
        if self.kind == "bird":
            self.start_daemon("bird")
            return
        for daemon in FRR_DAEMONS:
            self.start_daemon(daemon)
        self.apply_frr_config()

    def start_daemon(self, daemon: str) -> None:
        d = self.directory
        if daemon == "bird":
            (d / "bird.conf").write_text(self.config)
            argv = ["bird", "-f", "-c", str(d / "bird.conf"), "-s", str(d / "bird.ctl"),
                    "-P", str(d / "bird.pid")]
        else:
            argv = [f"/usr/lib/frr/{daemon}", "-f", "/dev/null", "-i", str(d / f"{daemon}.pid"),
                    "--vty_socket", str(d), "-P", "0", "-z", str(d / "zserv.api"),
                    "--log", f"file:{d / daemon}.log"]
            if daemon == "bfdd":
                argv += ["--bfdctl", str(d / "bfdd.sock")]
        self.procs[daemon] = self.lab.popen(self.host, argv, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL)
        sock = d / ("bird.ctl" if daemon == "bird" else f"{daemon}.vty")
        if not wait_until(sock.exists, 10.0):
            raise AssertionError(f"{daemon} in {self.host} did not come up")

    def apply_frr_config(self) -> None:
        conf = self.directory / "frr.conf"
        conf.write_text(self.config)
        shutil.chown(conf, "frr", "frr")
        proc = self.lab.run(self.host, "vtysh", "--vty_socket", str(self.directory), "-f",
                            str(conf), check=False)
        if proc.returncode != 0:
            raise AssertionError(f"vtysh -f in {self.host}: {proc.stdout}{proc.stderr}")

    @property
    def bgp_daemon(self) -> str:
        return "bird" if self.kind == "bird" else "bgpd"

    def kill_bgp(self) -> None:
        proc = self.procs.pop(self.bgp_daemon)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def restart_bgp(self) -> None:
        for leftover in ("bird.ctl", "bgpd.vty"):
            (self.directory / leftover).unlink(missing_ok=True)
        self.start_daemon(self.bgp_daemon)
        if self.kind == "frr":
            self.apply_frr_config()

    def vtysh(self, command: str) -> str:
        return self.lab.run(self.host, "vtysh", "--vty_socket", str(self.directory), "-c",
                            command, check=False, timeout=10).stdout


class RoutedLab:
    """`with RoutedLab("frr") as rl:` the whole lab, s1 MASTER and the route via s1."""

    def __init__(self, engine: str, *, bfd_ms: int = 300, tag: str = "") -> None:
        self.engine_kind = engine
        self.bfd_ms = bfd_ms
        self.lab = Lab(f"rt{tag or engine}")
        self.tmp = Path(tempfile.mkdtemp(prefix="rt-routed-", dir="/tmp"))
        self.tmp.chmod(0o755)
        self.engines: dict[str, Engine] = {}
        self.carpd: dict[str, Carpd] = {}
        self.samples: list[Sample] = []  # the router's BGP paths, every ~50-200 ms (vtysh)
        self.fib: list[tuple[float, str | None]] = []  # the router's FIB, every ~10 ms
        self._observing = threading.Event()
        self._observers: list[threading.Thread] = []
        self.routed_interface = "carpvip0"

    # -- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> RoutedLab:
        try:
            self.lab.__enter__()
            self._topology()
            self._engines()
            self._servers()
            self._observe()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._observing.clear()
        for thread in self._observers:
            thread.join(timeout=5)
        for node in self.carpd.values():
            if node.proc is not None and node.proc.poll() is None:
                stop_process(node.proc, grace=5.0)
        self.lab.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- building ---------------------------------------------------------------------------

    def _topology(self) -> None:
        lab = self.lab
        lab.add_bridge("br1")
        lab.add_bridge("br2")
        lab.add_router("r", [("br0", "10.0.1.1/24"), ("br1", "10.0.2.1/24"),
                             ("br2", "10.0.9.1/24")], 9)
        for i, (name, (addr, gateway, bridge, _, _)) in enumerate(SERVERS.items()):
            lab.add_host(name, f"{addr}/24", 1 + i, bridge=bridge, gateway=gateway)
        lab.add_host("c", "10.0.9.2/24", 5, bridge="br2", gateway="10.0.9.1")
        if not kernel_has_dummy_links(lab, "s1"):
            self.routed_interface = "lo"

    def _shipped(self, name: str) -> str:
        text = (EXAMPLES / name).read_text()
        text = text.replace("interval 300", f"interval {self.bfd_ms}")
        text = text.replace("interval 300 ms", f"interval {self.bfd_ms} ms")
        return text.replace("carpvip0", self.routed_interface)

    def _engine(self, host: str, kind: str, example: str) -> Engine:
        d = self.tmp / host
        d.mkdir()
        if kind == "frr":
            shutil.chown(d, "frr", "frr")
        engine = Engine(self.lab, host, kind, d, self._shipped(example))
        self.engines[host] = engine
        return engine

    def _engines(self) -> None:
        self._engine("r", "frr", "frr-router.conf").start()
        for name, (_, _, _, suffix, _) in SERVERS.items():
            kind = self.engine_kind
            self._engine(name, kind, f"{kind}-server-{suffix}.conf").start()

    def _servers(self) -> None:
        for name, (_, gateway, _, _, advskew) in SERVERS.items():
            peer = next(a for n, (a, *_rest) in SERVERS.items() if n != name)
            self.lab.python_bg(name, _RESPONDER.format(port=PORT, name=name))
            vip = Vip(name="web", vhid=10, address=f"{VIP}/32", advskew=advskew,
                      peers=(peer,), accept_ttl=254)
            check = "\n".join([
                'placement = "routed"', f'routed_interface = "{self.routed_interface}"', "",
                "[[vip.web.check]]", 'type = "bgp"', f'engine = "{self.engine_kind}"',
                f'neighbor = "{gateway}"', f'control = "{self.engines[name].control}"',
                "fatal = true", f"interval = {CHECK_INTERVAL_S}", "rise = 2", "fall = 2"])
            node = Carpd(self.lab, name, self.tmp / "carpd", [vip], vip_toml={"web": check})
            self.carpd[name] = node
            node.start()
        if self.carpd["s1"].wait_state("web", "MASTER", 40.0) is None:
            raise AssertionError(f"s1 never MASTER:\n{self.carpd['s1'].log_text()[-3000:]}")
        if not self.wait_route("s1", 20.0):
            raise AssertionError(f"no route via s1: {self.samples[-3:]}")

    # -- observing --------------------------------------------------------------------------

    def _observe(self) -> None:
        self._observing.set()
        for loop in (self._observe_paths, self._observe_fib):
            thread = threading.Thread(target=loop, daemon=True)
            thread.start()
            self._observers.append(thread)

    def _observe_paths(self) -> None:
        while self._observing.is_set():
            self.samples.append(Sample(time.monotonic(), self.route_via(), self.bgp_paths()))
            time.sleep(0.01)

    def _observe_fib(self) -> None:
        while self._observing.is_set():
            at = time.monotonic()
            self.fib.append((at, self.route_via()))
            time.sleep(0.01)

    def route_via(self) -> str | None:
        out = self.lab.run("r", "ip", "-j", "route", "show", f"{VIP}/32", check=False).stdout
        for route in json.loads(out or "[]"):
            return ROUTER_NEXT_HOP.get(str(route.get("gateway")))
        return None

    def bgp_paths(self) -> frozenset[str]:
        out = self.engines["r"].vtysh(f"show ip bgp {VIP}/32 json")
        try:
            paths = json.loads(out).get("paths", [])
        except ValueError:
            return frozenset()
        hops = {h.get("ip") for p in paths for h in p.get("nexthops", [])}
        return frozenset(ROUTER_NEXT_HOP[h] for h in hops if h in ROUTER_NEXT_HOP)

    def wait_route(self, server: str, timeout: float) -> float | None:
        """The instant of the first look (every 10 ms) at which the router's FIB sends the
        VIP to `server`, or None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            at = time.monotonic()
            if self.route_via() == server:
                return at
            time.sleep(0.01)
        return None

    def route_moved_at(self, server: str, after: float, timeout: float) -> float | None:
        """The instant of the FIB observer's first look after `after` that found the VIP
        routed to `server` (waiting up to `timeout` seconds for one), or None."""
        deadline = time.monotonic() + timeout
        while True:
            found = next((at for at, via in self.fib if at >= after and via == server), None)
            if found is not None or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def longest_overlap(self, after: float) -> tuple[float, float]:
        """The longest time both servers' BGP paths were in the router's table, from the
        observer's samples (from the first look that saw both to the first that did not),
        and that figure's resolution: the longer of the gaps between looks at its two ends
        (a loaded machine spaces the looks out; the true time is within that much)."""
        worst, resolution = 0.0, 0.0
        since: int | None = None
        looks = [s for s in self.samples if s.at >= after]
        for i, look in enumerate(looks):
            if len(look.paths) == 2 and since is None:
                since = i
            elif len(look.paths) < 2 and since is not None:
                if look.at - looks[since].at > worst:
                    worst = look.at - looks[since].at
                    resolution = max(look.at - looks[i - 1].at,
                                     looks[since].at - looks[max(since - 1, 0)].at)
                since = None
        return worst, resolution

    # -- the client ---------------------------------------------------------------------------

    def start_probe(self, duration: float, period: float = 0.01) -> subprocess.Popen[bytes]:
        """A probe every `period` seconds to the VIP, for at most `duration` seconds or until
        `finish_probe`."""
        stop = self.tmp / "probe.stop"
        stop.unlink(missing_ok=True)
        return self.lab.python_bg("c", _PROBE.format(duration=duration, period=period, vip=VIP,
                                                     port=PORT, stop=stop))

    def finish_probe(self, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> Probe:
        (self.tmp / "probe.stop").touch()
        rows = self.lab.collect(proc, timeout=timeout)
        assert isinstance(rows, list)
        return Probe([(float(at), name) for at, name in rows])

    # -- faults -------------------------------------------------------------------------------

    def stop_carpd(self, host: str, sig: signal.Signals) -> None:
        node = self.carpd[host]
        node.signal(sig)
        node.wait_exit(timeout=15)

    def cleanup(self, host: str) -> None:
        """What the unit's ExecStopPost= runs after any exit."""
        node = self.carpd[host]
        proc = self.lab.run(host, sys.executable, "-m", "carpd", "--cleanup", "--config",
                            str(node.config), check=False)
        if proc.returncode != 0:
            raise AssertionError(f"carpd --cleanup in {host}: {proc.stdout}{proc.stderr}")

    def start_carpd(self, host: str) -> None:
        self.carpd[host].start()

    def isolate(self, host: str) -> None:
        """Drop every frame to and from `host` on its switch port: its carrier stays up and
        its sends succeed (a drop inside the host would fail them with EPERM), so only
        timers notice: BFD on the router, CARP's master-down on the peer."""
        port = self.lab.hosts[host].port
        self.lab.nft("switch", "table bridge rtdrop {\n chain drops { type filter hook forward "
                     f'priority -300; iifname "{port}" drop; oifname "{port}" drop; }}\n}}\n')

    def heal(self, host: str) -> None:
        self.lab.run("switch", "nft", "delete", "table", "bridge", "rtdrop")

    def holds(self, host: str) -> bool:
        out = self.lab.run(host, "ip", "-j", "addr", "show", "dev", self.routed_interface,
                           check=False).stdout
        return any(a.get("local") == VIP for link in json.loads(out or "[]")
                   for a in link.get("addr_info", []))
