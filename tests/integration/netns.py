"""Network-namespace test lab: a switch namespace with a bridge, hosts as namespaces.

Owns: creating and tearing down the namespaces of one test (see /work/shared/lab/README.md).
The machine's own namespace never sees an interface, address, route or sysctl of the lab:
veth pairs are created inside the switch namespace and one end goes straight into the host
namespace. Every name starts with FAMILY + the creating process id + a random tag, so a later
run can remove the leftovers of a crashed run (owner process gone) without touching a run in
progress. Processes started through `popen` are tracked and stopped by PID at teardown.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

FAMILY = "cdt-"
REPO = Path(__file__).resolve().parents[2]
DEFAULT_TIMEOUT = 15.0


def have_lab_prerequisites() -> str | None:
    """None when the lab can run here, otherwise the reason it cannot."""
    if os.geteuid() != 0:
        return "integration tests need root (network namespaces)"
    if shutil.which("ip") is None:
        return "integration tests need iproute2 (`ip`)"
    if not Path("/proc/self/ns/net").exists():
        return "kernel without network namespaces"
    return None


def _ip(*argv: str, check: bool = True, timeout: float = DEFAULT_TIMEOUT
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *argv], check=check, capture_output=True, text=True,
                          timeout=timeout)


def configure_switch(ns: str) -> None:
    """Make namespace `ns` the lab's switch: lo up and a bridge br0 with STP off, no forward
    delay and no multicast snooping (so 224.0.0.18 is flooded to every port)."""
    sw = ("-n", ns)
    _ip(*sw, "link", "set", "lo", "up")
    _ip(*sw, "link", "add", "br0", "type", "bridge", "stp_state", "0",
        "forward_delay", "0", "mcast_snooping", "0")
    _ip(*sw, "link", "set", "br0", "up")


def _owner_alive(name: str) -> bool:
    """Namespaces are named FAMILY<pid>-<tag>-<role>; alive when that pid still exists."""
    try:
        pid = int(name[len(FAMILY):].split("-", 1)[0])
    except ValueError:
        return True  # not one of ours by construction: never treat it as stale
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def list_namespaces() -> list[str]:
    out = _ip("netns", "list").stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def remove_stale() -> list[str]:
    """Delete lab namespaces whose creating process is gone (a crashed earlier run)."""
    removed = []
    for name in list_namespaces():
        if name.startswith(FAMILY) and not _owner_alive(name):
            _ip("netns", "del", name, check=False)
            removed.append(name)
    return removed


@dataclass
class Host:
    name: str
    ns: str
    ip_cidr: str
    mac: str
    port: str  # bridge port in the switch namespace
    ip6_cidr: str | None = None  # the host's own global IPv6 address (added with nodad)
    bridge: str = "br0"

    @property
    def ip(self) -> str:
        return self.ip_cidr.split("/")[0]

    @property
    def ip6(self) -> str:
        assert self.ip6_cidr is not None, f"host {self.name} has no IPv6 address"
        return self.ip6_cidr.split("/")[0]

    @property
    def link_local(self) -> str:
        """The EUI-64 link-local the kernel derives from the fixed MAC."""
        b = bytes.fromhex(self.mac.replace(":", ""))
        eui = bytes([b[0] ^ 0x02]) + b[1:3] + b"\xff\xfe" + b[3:]
        return str(ipaddress.IPv6Address(b"\xfe\x80" + b"\0" * 6 + eui))


class Lab:
    """Context manager; `with Lab() as lab: lab.add_host("a", "172.16.90.101/24", 1)`."""

    def __init__(self, prefix: str | None = None) -> None:
        """`prefix` is an optional short tag; names are always FAMILY<pid>-<tag>-<role>, so
        the stale-leftover cleanup can tell whether the creating process is still alive."""
        tag = prefix or secrets.token_hex(3)
        if not tag.isalnum() or len(tag) > 12:
            raise ValueError(f"lab tag must be at most 12 letters/digits, got {tag!r}")
        self.prefix = f"{FAMILY}{os.getpid()}-{tag}"
        self.switch = f"{self.prefix}-sw"
        self.hosts: dict[str, Host] = {}
        self._namespaces: list[str] = []
        self._procs: list[subprocess.Popen[bytes]] = []

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> Lab:
        remove_stale()
        try:
            self._create_switch()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _create_switch(self) -> None:
        self._add_ns(self.switch)
        configure_switch(self.switch)

    def _add_ns(self, ns: str) -> None:
        _ip("netns", "add", ns)
        self._namespaces.append(ns)

    def close(self) -> None:
        """Stop tracked processes by PID, delete this lab's namespaces (bounded)."""
        for proc in self._procs:
            stop_process(proc)
        self._procs.clear()
        # Host namespaces first, then the switch (which removes the bridge and veth peers).
        for ns in reversed(self._namespaces):
            _ip("netns", "del", ns, check=False)
        self._namespaces.clear()

    # -- topology -------------------------------------------------------------------------

    def add_bridge(self, bridge: str) -> None:
        """Another bridge (a second subnet's switch) in the switch namespace, set up like br0."""
        _ip("-n", self.switch, "link", "add", bridge, "type", "bridge", "stp_state", "0",
            "forward_delay", "0", "mcast_snooping", "0")
        _ip("-n", self.switch, "link", "set", bridge, "up")

    def _plug(self, ns: str, port: str, ifname: str, bridge: str) -> None:
        """A veth pair made in the switch namespace: `port` on `bridge`, `ifname` in `ns`."""
        sw = ("-n", self.switch)
        _ip(*sw, "link", "add", port, "type", "veth", "peer", "name", ifname, "netns", ns)
        _ip(*sw, "link", "set", port, "master", bridge)
        _ip(*sw, "link", "set", port, "up")

    def add_host(self, name: str, ip_cidr: str, mac_suffix: int, *,
                 ip6_cidr: str | None = None, bridge: str = "br0",
                 gateway: str | None = None) -> Host:
        """A host with eth0 on `bridge`. `ip6_cidr`: also a global IPv6 address, added with
        `nodad` (the lab's own addresses need no duplicate detection; the kernel still runs
        it on the link-local, see `wait_ipv6_ready`). `gateway`: a default route via it."""
        ns = f"{self.prefix}-{name}"
        port = f"p{len(self.hosts)}{name}"[:15]
        mac = f"02:00:00:00:90:{mac_suffix:02x}"
        self._add_ns(ns)
        host = Host(name=name, ns=ns, ip_cidr=ip_cidr, mac=mac, port=port, ip6_cidr=ip6_cidr,
                    bridge=bridge)
        self.hosts[name] = host
        self._plug(ns, port, "eth0", bridge)
        self.sysctl(name, "net.ipv4.conf.all.rp_filter", "0")
        self.sysctl(name, "net.ipv4.conf.default.rp_filter", "0")
        self.sysctl(name, "net.ipv4.conf.eth0.rp_filter", "0")
        h = ("-n", ns)
        _ip(*h, "link", "set", "lo", "up")
        _ip(*h, "link", "set", "eth0", "address", mac)
        _ip(*h, "addr", "add", ip_cidr, "dev", "eth0")
        self._add_ip6(name)
        _ip(*h, "link", "set", "eth0", "up")
        if gateway is not None:
            _ip(*h, "route", "add", "default", "via", gateway)
        return host

    def _add_ip6(self, name: str) -> None:
        host = self.hosts[name]
        if host.ip6_cidr is not None:
            _ip("-n", host.ns, "addr", "replace", host.ip6_cidr, "dev", "eth0", "nodad")

    def add_router(self, name: str, legs: list[tuple[str, str]], mac_suffix: int) -> Host:
        """A router namespace with one interface per (bridge, ip_cidr) leg (eth0, eth1...),
        forwarding on inside its own namespace only. Registered as a host (its first leg)."""
        ns = f"{self.prefix}-{name}"
        self._add_ns(ns)
        first_port = ""
        for i, (bridge, cidr) in enumerate(legs):
            port = f"r{i}{name}"[:15]
            first_port = first_port or port
            self._plug(ns, port, f"eth{i}", bridge)
            _ip("-n", ns, "link", "set", f"eth{i}", "address",
                f"02:00:00:00:9{i + 1}:{mac_suffix:02x}")
            _ip("-n", ns, "addr", "add", cidr, "dev", f"eth{i}")
            _ip("-n", ns, "link", "set", f"eth{i}", "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        host = Host(name=name, ns=ns, ip_cidr=legs[0][1], mac=f"02:00:00:00:91:{mac_suffix:02x}",
                    port=first_port, bridge=legs[0][0])
        self.hosts[name] = host
        self.sysctl(name, "net.ipv4.ip_forward", "1")  # inside the router namespace only
        self.sysctl(name, "net.ipv4.conf.all.rp_filter", "0")
        return host

    def wait_ipv6_ready(self, timeout: float = 10.0) -> float:
        """Seconds until no address of any host is tentative (link-local DAD done); raises
        AssertionError on timeout. Call before starting daemons that bind link-locals."""
        t0 = time.monotonic()
        ok = wait_until(lambda: all(not self.dad_problems(h, tentative_only=True)
                                    for h in self.hosts), timeout)
        if not ok:
            raise AssertionError(f"IPv6 DAD unfinished after {timeout} s: "
                                 f"{ {h: self.dad_problems(h) for h in self.hosts} }")
        return time.monotonic() - t0

    def sysctl(self, host: str, key: str, value: str) -> None:
        self.run(host, "sysctl", "-q", "-w", f"{key}={value}")

    # -- running things -------------------------------------------------------------------

    def ns(self, host: str) -> str:
        return self.switch if host == "switch" else self.hosts[host].ns

    def run(self, host: str, *argv: str, check: bool = True, timeout: float = DEFAULT_TIMEOUT,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", self.ns(host), *argv], check=check,
                              capture_output=True, text=True, timeout=timeout, input=input,
                              cwd=REPO)

    def popen(self, host: str, argv: list[str], **kw: object) -> subprocess.Popen[bytes]:
        """Start a process in `host`; it is stopped by PID at teardown."""
        proc: subprocess.Popen[bytes] = subprocess.Popen(  # type: ignore[call-overload]
            ["ip", "netns", "exec", self.ns(host), *argv], cwd=kw.pop("cwd", REPO), **kw)
        self._procs.append(proc)
        return proc

    def python(self, host: str, code: str, timeout: float = DEFAULT_TIMEOUT,
               env: dict[str, str] | None = None) -> object:
        """Run a Python snippet in `host` (this interpreter, repo on sys.path); the snippet
        prints one JSON document as its last stdout line, which is returned."""
        full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
        proc = subprocess.run(["ip", "netns", "exec", self.ns(host), sys.executable, "-c",
                               code], capture_output=True, text=True, timeout=timeout,
                              cwd=REPO, env=full_env, check=False)
        if proc.returncode != 0:
            raise AssertionError(f"snippet in {host} failed ({proc.returncode}):\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        lines = proc.stdout.strip().splitlines()
        if not lines:
            raise AssertionError(f"snippet in {host} printed nothing:\n{proc.stderr}")
        return json.loads(lines[-1])

    def python_bg(self, host: str, code: str, env: dict[str, str] | None = None
                  ) -> subprocess.Popen[bytes]:
        """Start a snippet in `host` in the background (tracked); read its JSON later with
        `collect`."""
        full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
        return self.popen(host, [sys.executable, "-c", code], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=full_env)

    @staticmethod
    def collect(proc: subprocess.Popen[bytes], timeout: float = DEFAULT_TIMEOUT) -> object:
        out, err = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            raise AssertionError(f"background snippet failed ({proc.returncode}):\n"
                                 f"{out.decode()}\n{err.decode()}")
        lines = out.decode().strip().splitlines()
        if not lines:
            raise AssertionError(f"background snippet printed nothing:\n{err.decode()}")
        return json.loads(lines[-1])

    # -- link manipulation ----------------------------------------------------------------

    def link(self, host: str, up: bool) -> None:
        """Pull (or plug) the cable: the host sees carrier loss. Setting eth0 down also
        flushes its IPv6 addresses (kernel default keep_addr_on_down=0); plugging it back in
        restores the host's own global IPv6 address (as ifupdown would), the link-local comes
        back by itself (with DAD)."""
        _ip("-n", self.ns(host), "link", "set", "eth0", "up" if up else "down")
        if up:
            self._add_ip6(host)

    def bridge_port(self, host: str, up: bool) -> None:
        """Switch port disabled/forwarding: the host keeps its carrier but nothing crosses.
        (Setting the veth peer down would also take the host's carrier away.)"""
        subprocess.run(["bridge", "-n", self.switch, "link", "set", "dev",
                        self.hosts[host].port, "state", "3" if up else "0"],
                       check=True, capture_output=True, text=True, timeout=DEFAULT_TIMEOUT)

    # -- observation ----------------------------------------------------------------------

    def multicast_crosses(self, sender: str, receiver: str, wait: float = 3.0) -> bool:
        """A protocol-112 packet to 224.0.0.18 with TTL 255 from `sender` reaches
        `receiver`: check it before trusting any result of the lab."""
        code = _MCAST_RECV.replace("settimeout(3.0)", f"settimeout({wait})")
        rx = self.python_bg(receiver, code)
        assert rx.stdout is not None
        rx.stdout.readline()  # "ready": the receiver has joined
        self.python(sender, _MCAST_SEND)
        got = self.collect(rx, timeout=10)
        return isinstance(got, dict) and got.get("ttl") == 255 and got.get("dst") == "224.0.0.18"

    def _addr_info(self, host: str, dev: str = "eth0") -> list[dict[str, object]]:
        out = _ip("-n", self.ns(host), "-j", "addr", "show", "dev", dev).stdout
        return [a for link in json.loads(out or "[]") for a in link.get("addr_info", [])]

    def multicast6_crosses(self, sender: str, receiver: str, wait: float = 3.0) -> bool:
        """A protocol-112 packet to ff02::12 with hop limit 255 from `sender`'s link-local
        reaches `receiver` (the IPv6 counterpart of `multicast_crosses`)."""
        code = _MCAST6_RECV.replace("settimeout(3.0)", f"settimeout({wait})")
        rx = self.python_bg(receiver, code)
        assert rx.stdout is not None
        rx.stdout.readline()  # "ready": the receiver has joined
        self.python(sender, _MCAST6_SEND)
        got = self.collect(rx, timeout=10)
        return isinstance(got, dict) and got.get("hops") == 255 and got.get("dst") == "ff02::12"

    def addresses(self, host: str) -> list[str]:
        """IPv4 addresses of `host`'s eth0 as ADDRESS/PREFIX."""
        return [f"{a['local']}/{a['prefixlen']}" for a in self._addr_info(host)
                if a.get("family") == "inet"]

    def addresses6(self, host: str, dev: str = "eth0") -> dict[str, set[str]]:
        """IPv6 addresses of `host`'s `dev`: {ADDRESS/PREFIX: flags}, the flags as `ip -6
        addr` shows them (tentative, dadfailed, nodad, deprecated, permanent...)."""
        result: dict[str, set[str]] = {}
        for a in self._addr_info(host, dev):
            if a.get("family") != "inet6":
                continue
            flags = {k for k in ("tentative", "dadfailed", "nodad", "deprecated",
                                 "optimistic", "permanent", "noprefixroute") if a.get(k)}
            if a.get("preferred_life_time") == 0:
                flags.add("deprecated")
            result[f"{a['local']}/{a['prefixlen']}"] = flags
        return result

    def dad_problems(self, host: str, tentative_only: bool = False) -> list[str]:
        """IPv6 addresses on any interface of `host` that are tentative or dadfailed."""
        bad = {"tentative"} if tentative_only else {"tentative", "dadfailed"}
        out = _ip("-n", self.ns(host), "-j", "-6", "addr", "show").stdout
        return [f"{link['ifname']} {a['local']}/{a['prefixlen']} "
                f"{','.join(sorted(k for k in bad if a.get(k)))}"
                for link in json.loads(out or "[]") for a in link.get("addr_info", [])
                if any(a.get(k) for k in bad)]

    def holds(self, host: str, vip: str) -> bool:
        """`vip` (a bare IPv4 or IPv6 address) is configured on `host`'s eth0."""
        return any(str(a.get("local")) == vip for a in self._addr_info(host))

    def nft(self, host: str, script: str) -> None:
        """Load an nftables script in `host`'s namespace ("switch" for the bridge's)."""
        proc = subprocess.run(["ip", "netns", "exec", self.ns(host), "nft", "-f", "-"],
                              input=script, capture_output=True, text=True,
                              timeout=DEFAULT_TIMEOUT, check=False)
        if proc.returncode != 0:
            raise AssertionError(f"nft in {host} failed: {proc.stderr}\n{script}")

    def nft_counters(self, host: str, family: str, table: str) -> dict[str, int]:
        """Packets counted by each commented rule of `table`: {comment: packets}."""
        out = self.run(host, "nft", "-j", "list", "table", family, table).stdout
        counts: dict[str, int] = {}
        for item in json.loads(out)["nftables"]:
            rule = item.get("rule")
            if not rule or "comment" not in rule:
                continue
            for expr in rule["expr"]:
                if "counter" in expr:
                    counts[rule["comment"]] = int(expr["counter"]["packets"])
        return counts

    def ping(self, client: str, ip: str, count: int = 1, wait: float = 1.0) -> bool:
        proc = self.run(client, "ping", "-n", "-q", "-c", str(count), "-W", str(wait), ip,
                        check=False, timeout=count * wait + 5)
        return proc.returncode == 0

    def arp_probe(self, client: str, vip: str, timeout: float = 1.0) -> str | None:
        """Send one ARP request for `vip` from `client`; the MAC that answers, or None."""
        code = _ARP_PROBE.format(sender=self.hosts[client].ip, target=vip, timeout=timeout)
        result = self.python(client, code, timeout=timeout + 10)
        return result if isinstance(result, str) else None

    def neighbour(self, host: str, ip: str) -> str | None:
        """The MAC in `host`'s neighbour table for `ip` (IPv4 or IPv6), or None."""
        out = _ip("-n", self.ns(host), "-j", "neigh", "show", "to", ip, "dev", "eth0").stdout
        for entry in json.loads(out or "[]"):
            if entry.get("lladdr"):
                return str(entry["lladdr"])
        return None


def stop_process(proc: subprocess.Popen[bytes], grace: float = 2.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; only this PID."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)


def wait_until(predicate: object, timeout: float, interval: float = 0.05) -> bool:
    """Poll `predicate()` until true or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(interval)
    return bool(predicate())  # type: ignore[operator]


_ARP_PROBE = r'''
import json, socket, struct, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind(("eth0", 0x0806))
mac = s.getsockname()[4]
sip, tip = socket.inet_aton("{sender}"), socket.inet_aton("{target}")
arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, sip, b"\0" * 6, tip)
s.send(b"\xff" * 6 + mac + b"\x08\x06" + arp)
deadline = time.monotonic() + {timeout}
found = None
while found is None and time.monotonic() < deadline:
    s.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        frame = s.recv(2048)
    except socket.timeout:
        break
    op, sha, spa = struct.unpack_from("!6xH6s4s", frame, 14)
    if op == 2 and spa == tip:
        found = ":".join(f"{{b:02x}}" for b in sha)
print(json.dumps(found))
'''


_MCAST_SEND = r"""
import socket, json, time
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
for _ in range(20):
    s.sendto(b"\x21" + b"\0" * 35, ("224.0.0.18", 0))
    time.sleep(0.05)
print(json.dumps(True))
"""

_MCAST_RECV = r"""
import socket, struct, json, time
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
idx = socket.if_nametoindex("eth0")
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
             socket.inet_aton("224.0.0.18") + b"\0" * 4 + struct.pack("=i", idx))
s.settimeout(3.0)
print("ready", flush=True)
try:
    data = s.recv(2048)
    print(json.dumps({"ttl": data[8], "dst": socket.inet_ntoa(data[16:20])}))
except socket.timeout:
    print(json.dumps(None))
"""


_MCAST6_SEND = r"""
import json, socket, time
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 112)
idx = socket.if_nametoindex("eth0")
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
for _ in range(20):
    s.sendto(b"\x21" + b"\0" * 35, ("ff02::12", 0, 0, idx))
    time.sleep(0.05)
print(json.dumps(True))
"""

_MCAST6_RECV = r"""
import json, socket, struct
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 112)
idx = socket.if_nametoindex("eth0")
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
             socket.inet_pton(socket.AF_INET6, "ff02::12") + struct.pack("=I", idx))
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
s.settimeout(3.0)
print("ready", flush=True)
try:
    data, anc, _, src = s.recvmsg(2048, 256)
    out = {"src": src[0]}
    for level, kind, value in anc:
        if kind == socket.IPV6_HOPLIMIT:
            out["hops"] = struct.unpack("=i", value[:4])[0]
        elif kind == socket.IPV6_PKTINFO:
            out["dst"] = socket.inet_ntop(socket.AF_INET6, value[:16])
    print(json.dumps(out))
except socket.timeout:
    print(json.dumps(None))
"""


_ARP_CAPTURE = textwrap.dedent(r"""
    import json, os, socket, struct, time
    duration = float(os.environ["DURATION"])
    stop_src, stop_count = os.environ.get("STOP_SRC", ""), int(os.environ.get("STOP_COUNT", "0"))
    extra = float(os.environ.get("EXTRA", "0"))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
    s.bind(("eth0", 0x0806))
    print("ready", flush=True)
    frames, deadline = [], time.monotonic() + duration
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            f = s.recv(2048)
        except socket.timeout:
            break
        if len(f) < 42:
            continue
        op, sha, spa, tha, tpa = struct.unpack_from("!6xH6s4s6s4s", f, 14)
        frames.append({"t": time.time(), "dst": f[:6].hex(":"), "src": f[6:12].hex(":"),
                       "op": op, "sha": sha.hex(":"), "spa": socket.inet_ntoa(spa),
                       "tha": tha.hex(":"), "tpa": socket.inet_ntoa(tpa), "len": len(f)})
        if stop_count and sum(1 for x in frames if x["src"] == stop_src) >= stop_count:
            deadline = min(deadline, time.monotonic() + extra)
    print(json.dumps(frames))
""")


def start_arp_capture(lab: Lab, host: str, *, duration: float, stop_src: str = "",
                      stop_count: int = 0, extra: float = 0.0) -> subprocess.Popen[bytes]:
    """Capture ARP frames on `host`'s eth0 (AF_PACKET) for at most `duration` s, or until
    `stop_count` frames from `stop_src` were seen plus `extra` s. Collect with `Lab.collect`."""
    proc = lab.python_bg(host, _ARP_CAPTURE, env={
        "DURATION": str(duration), "STOP_SRC": stop_src, "STOP_COUNT": str(stop_count),
        "EXTRA": str(extra)})
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    return proc
