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

    @property
    def ip(self) -> str:
        return self.ip_cidr.split("/")[0]


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

    def add_host(self, name: str, ip_cidr: str, mac_suffix: int) -> Host:
        ns = f"{self.prefix}-{name}"
        port = f"p{len(self.hosts)}{name}"[:15]
        mac = f"02:00:00:00:90:{mac_suffix:02x}"
        self._add_ns(ns)
        host = Host(name=name, ns=ns, ip_cidr=ip_cidr, mac=mac, port=port)
        self.hosts[name] = host
        sw = ("-n", self.switch)
        _ip(*sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
        _ip(*sw, "link", "set", port, "master", "br0")
        _ip(*sw, "link", "set", port, "up")
        self.sysctl(name, "net.ipv4.conf.all.rp_filter", "0")
        self.sysctl(name, "net.ipv4.conf.default.rp_filter", "0")
        self.sysctl(name, "net.ipv4.conf.eth0.rp_filter", "0")
        h = ("-n", ns)
        _ip(*h, "link", "set", "lo", "up")
        _ip(*h, "link", "set", "eth0", "address", mac)
        _ip(*h, "addr", "add", ip_cidr, "dev", "eth0")
        _ip(*h, "link", "set", "eth0", "up")
        return host

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
        """Pull (or plug) the cable: the host sees carrier loss."""
        _ip("-n", self.ns(host), "link", "set", "eth0", "up" if up else "down")

    def bridge_port(self, host: str, up: bool) -> None:
        """Switch port disabled/forwarding: the host keeps its carrier but nothing crosses.
        (Setting the veth peer down would also take the host's carrier away.)"""
        subprocess.run(["bridge", "-n", self.switch, "link", "set", "dev",
                        self.hosts[host].port, "state", "3" if up else "0"],
                       check=True, capture_output=True, text=True, timeout=DEFAULT_TIMEOUT)

    # -- observation ----------------------------------------------------------------------

    def multicast_crosses(self, sender: str, receiver: str) -> bool:
        """A protocol-112 packet to 224.0.0.18 with TTL 255 from `sender` reaches
        `receiver`: check it before trusting any result of the lab."""
        rx = self.python_bg(receiver, _MCAST_RECV)
        assert rx.stdout is not None
        rx.stdout.readline()  # "ready": the receiver has joined
        self.python(sender, _MCAST_SEND)
        got = self.collect(rx, timeout=10)
        return isinstance(got, dict) and got.get("ttl") == 255 and got.get("dst") == "224.0.0.18"

    def addresses(self, host: str) -> list[str]:
        out = _ip("-n", self.ns(host), "-j", "addr", "show", "dev", "eth0").stdout
        data = json.loads(out)
        return [f"{a['local']}/{a['prefixlen']}" for link in data
                for a in link.get("addr_info", []) if a.get("family") == "inet"]

    def holds(self, host: str, vip: str) -> bool:
        """`vip` (a bare address) is configured on `host`'s eth0."""
        return any(a.split("/")[0] == vip for a in self.addresses(host))

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
        """The MAC in `host`'s neighbour table for `ip`, or None."""
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
