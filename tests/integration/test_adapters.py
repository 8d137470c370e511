"""The carpd.io adapters against real kernels, inside the namespace lab.

Each asyncio part runs in a host namespace as a Python snippet (Lab.python) that prints one
JSON result; the assertions are made here. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.integration.netns import Lab, start_arp_capture, wait_until

pytestmark = pytest.mark.integration

VIP = "172.16.90.200"


def snippet(code: str) -> str:
    return textwrap.dedent(code)


# --------------------------------------------------------------------------- netlink

_NETLINK = snippet(r"""
import asyncio, errno, ipaddress, json, os, subprocess, time
import pyroute2
from carpd.core.addresses import Family
from carpd.io.netlink import NetlinkAddresses

I = ipaddress.IPv4Interface
SWITCH, PORT = os.environ["LAB_SWITCH"], os.environ["LAB_PORT"]

async def wait_for(pred, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not pred():
        await asyncio.sleep(0.02)
    return pred()

async def main():
    links, addrs, out = [], [], {"module": pyroute2.__file__}
    nl = NetlinkAddresses()
    await nl.start(lambda n, up: links.append([n, up]), addrs.append)
    vip, other = I("172.16.90.200/24"), I("10.9.9.9/32")
    await nl.add("eth0", (vip, other), "eth0:web")
    await nl.add("eth0", (vip,), "eth0:web")  # EEXIST is fine
    every = await nl.addresses("eth0")
    out["addresses"] = sorted(str(a) for a in every if a.version == 4)
    out["link_local"] = sorted(str(a.ip) for a in every if a.version == 6 and a.ip.is_link_local)
    show = json.loads(subprocess.run(["ip", "-j", "addr", "show", "dev", "eth0"],
                                     capture_output=True, text=True).stdout)
    out["labels"] = {a["local"]: a.get("label") for a in show[0]["addr_info"]
                     if a["family"] == "inet"}
    out["primary"] = str(await nl.primary_address("eth0", Family.IPV4))
    out["primary_excl"] = str(await nl.primary_address(
        "eth0", Family.IPV4, exclude=frozenset({ipaddress.IPv4Address("172.16.90.101")})))
    out["primary6"] = str(await nl.primary_address("eth0", Family.IPV6))
    v6 = ipaddress.IPv6Interface("fd00:90::200/64")
    await nl.add("eth0", (v6,), "eth0:web")
    out["v6_added"] = str(v6) in map(str, await nl.addresses("eth0"))
    await nl.remove("eth0", (v6,))
    out["v6_removed"] = str(v6) not in map(str, await nl.addresses("eth0"))
    out["addr_event"] = await wait_for(lambda: "eth0" in addrs)
    await nl.remove("eth0", (vip, other))
    await nl.remove("eth0", (vip,))  # absent is fine
    out["after_remove"] = sorted(str(a) for a in await nl.addresses("eth0") if a.version == 4)
    out["exists"] = [await nl.exists("eth0"), await nl.exists("nosuch0")]
    try:
        await nl.add("nosuch0", (vip,), "x")
    except OSError as exc:
        out["missing_if"] = [exc.errno, str(exc)]
    out["up0"] = await nl.link_up("eth0")
    links.clear()
    subprocess.run(["ip", "-n", SWITCH, "link", "set", PORT, "down"], check=True)
    out["down_event"] = await wait_for(lambda: ["eth0", False] in links)
    out["up1"] = await nl.link_up("eth0")
    subprocess.run(["ip", "-n", SWITCH, "link", "set", PORT, "up"], check=True)
    out["up_event"] = await wait_for(lambda: ["eth0", True] in links)
    out["up2"] = await nl.link_up("eth0")
    out["links"] = links
    t = time.monotonic()
    await nl.close()
    out["close_s"] = time.monotonic() - t
    print(json.dumps(out))

asyncio.run(main())
""")


def _pyroute2_paths() -> list[object]:
    """The venv's pyroute2 and, when CARPD_PYROUTE2_072 names an unpacked Debian
    python3-pyroute2 0.7.2 (…/usr/lib/python3/dist-packages), that one too."""
    params: list[object] = [pytest.param(None, id="pyroute2-venv")]
    old = os.environ.get("CARPD_PYROUTE2_072")
    params.append(pytest.param(old, id="pyroute2-0.7.2", marks=pytest.mark.skipif(
        not old or not Path(old, "pyroute2").is_dir(),
        reason="set CARPD_PYROUTE2_072 to an unpacked python3-pyroute2 0.7.2")))
    return params


@pytest.mark.parametrize("pyroute2_path", _pyroute2_paths())
def test_netlink_addresses(lab: Lab, pyroute2_path: str | None) -> None:
    env = {"LAB_SWITCH": lab.switch, "LAB_PORT": lab.hosts["a"].port}
    if pyroute2_path:
        env["PYTHONPATH"] = f"{pyroute2_path}:{Path(__file__).resolve().parents[2]}"
    out = lab.python("a", _NETLINK, env=env)
    assert isinstance(out, dict), out
    if pyroute2_path:
        assert out["module"].startswith(pyroute2_path)
    assert out["addresses"] == ["10.9.9.9/32", "172.16.90.101/24", "172.16.90.200/24"]
    assert out["labels"]["172.16.90.200"] == "eth0:web"
    assert out["labels"]["10.9.9.9"] == "eth0:web"
    assert out["primary"] == "172.16.90.101"
    assert out["primary_excl"] == "10.9.9.9"  # .200 is secondary in .101's subnet
    assert len(out["link_local"]) == 1 and out["primary6"] == out["link_local"][0]
    assert out["v6_added"] and out["v6_removed"]
    assert out["addr_event"]
    assert out["after_remove"] == ["172.16.90.101/24"]
    assert out["exists"] == [True, False]
    assert out["missing_if"][0] == 19 and "nosuch0" in out["missing_if"][1]
    assert out["up0"] is True
    assert out["down_event"] and out["up1"] is False
    assert out["up_event"] and out["up2"] is True
    assert out["links"] == [["eth0", False], ["eth0", True]]
    assert out["close_s"] < 1.5
    assert lab.addresses("a") == ["172.16.90.101/24"]


def test_netlink_error_translation() -> None:
    from pyroute2.netlink.exceptions import NetlinkError

    from carpd.io.netlink import _oserror

    exc = _oserror(NetlinkError(1, "Operation not permitted"), "cannot add 1.2.3.4/24 to eth0")
    assert isinstance(exc, PermissionError)
    assert str(exc).endswith("cannot add 1.2.3.4/24 to eth0: Operation not permitted")


# --------------------------------------------------------------------------- raw sockets

_RAW_RECEIVER = snippet(r"""
import asyncio, ipaddress, json, os, socket, struct, time
from carpd.io.rawsock import RawSocketTransport

SOURCE = ipaddress.IPv4Address(os.environ["SOURCE"])
GROUPS = frozenset(ipaddress.IPv4Address(g) for g in os.environ["GROUPS"].split())
WANT, LIMIT = int(os.environ["WANT"]), float(os.environ["LIMIT"])

async def main():
    got, frames = [], []
    cap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    cap.bind(("eth0", 0x0800))
    cap.setblocking(False)
    loop = asyncio.get_running_loop()
    def on_frame():
        while True:
            try:
                f = cap.recv(2048)
            except BlockingIOError:
                return
            if f[14 + 9] == 112:
                frames.append({"dst": f[0:6].hex(":"), "src": f[6:12].hex(":"),
                               "ttl": f[14 + 8], "tos": f[14 + 1], "proto": f[14 + 9]})
    loop.add_reader(cap.fileno(), on_frame)
    def on_packet(ev):
        got.append({"if": ev.interface, "ttl": ev.hop_limit, "family": int(ev.family),
                    "src": str(ev.source), "dst": str(ev.destination),
                    "len": len(ev.payload), "payload": ev.payload.hex()})
    tr = RawSocketTransport()
    tr.open("eth0", SOURCE, GROUPS, on_packet)
    print("ready", flush=True)
    deadline = time.monotonic() + LIMIT
    while len(got) < WANT and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)
    tr.close()
    loop.remove_reader(cap.fileno())
    print(json.dumps({"got": got, "frames": frames}))

asyncio.run(main())
""")

_RAW_SENDER = snippet(r"""
import asyncio, ipaddress, json, os
from carpd.core.actions import SendAdvert
from carpd.core.addresses import Family
from carpd.io.rawsock import RawSocketTransport

SOURCE = ipaddress.IPv4Address(os.environ["SOURCE"])
PAYLOAD = bytes.fromhex(os.environ["PAYLOAD"])

async def main():
    own = []
    tr = RawSocketTransport()
    groups = frozenset({ipaddress.IPv4Address("224.0.0.18"), ipaddress.IPv4Address("224.0.0.99")})
    tr.open("eth0", SOURCE, groups, lambda ev: own.append(ev.payload.hex()))
    for dst, l2 in (("224.0.0.18", False), ("224.0.0.99", False), ("224.0.0.18", True)):
        tr.send(SendAdvert(name="web", interface="eth0", family=Family.IPV4, source=SOURCE,
                           destinations=(ipaddress.IPv4Address(dst),), payload=PAYLOAD,
                           traffic_class=0x10, l2_broadcast=l2))
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    errors = []
    try:
        tr.send(SendAdvert(name="web", interface="nosuch0", family=Family.IPV4, source=SOURCE,
                           destinations=(ipaddress.IPv4Address("224.0.0.18"),),
                           payload=PAYLOAD))
    except OSError as exc:
        errors.append(str(exc))
    tr.close()
    tr.close()
    print(json.dumps({"own": own, "errors": errors}))

asyncio.run(main())
""")

# Captured ucarp CARP header (CARP.md 1.3).
UCARP_PAYLOAD = ("214d0007000165b4d58802380f182260"
                 "002479c1ece123e487e765badc7715a41e10e743")


def _start_receiver(lab: Lab, host: str, source: str, groups: str, want: int,
                    limit: float) -> subprocess.Popen[bytes]:
    rx = lab.python_bg(host, _RAW_RECEIVER, env={"SOURCE": source, "GROUPS": groups,
                                                 "WANT": str(want), "LIMIT": str(limit)})
    assert rx.stdout is not None
    assert rx.stdout.readline().strip() == b"ready"
    return rx


def test_rawsock_multicast_and_l2_broadcast(lab: Lab) -> None:
    rx = _start_receiver(lab, "b", "172.16.90.102", "224.0.0.18 224.0.0.99", want=3, limit=5)
    sent = lab.python("a", _RAW_SENDER, env={"SOURCE": "172.16.90.101",
                                             "PAYLOAD": UCARP_PAYLOAD})
    got = lab.collect(rx)
    assert isinstance(sent, dict) and isinstance(got, dict)
    assert sent["own"] == [], "own packets must not loop back"
    assert "nosuch0" in sent["errors"][0]
    packets = got["got"]
    assert [p["dst"] for p in packets] == ["224.0.0.18", "224.0.0.99", "224.0.0.18"]
    for p in packets:  # as the transport hands them to the core: the IPv4 header parsed off
        assert p["if"] == "eth0"
        assert (p["ttl"], p["family"], p["src"]) == (255, 4, "172.16.90.101")
        assert p["len"] == 36 and p["payload"] == UCARP_PAYLOAD
    a_mac = lab.hosts["a"].mac
    on_wire = {"src": a_mac, "ttl": 255, "tos": 0x10, "proto": 112}
    assert {"dst": "ff:ff:ff:ff:ff:ff", **on_wire} in got["frames"]
    assert {"dst": "01:00:5e:00:00:12", **on_wire} in got["frames"]
    assert {"dst": "01:00:5e:00:00:63", **on_wire} in got["frames"]


def test_rawsock_receives_ucarp_nomcast(lab: Lab, tmp_path: Path) -> None:
    passfile = tmp_path / "pass"
    passfile.write_text("secret\n")
    passfile.chmod(0o600)
    rx = _start_receiver(lab, "b", "172.16.90.102", "224.0.0.18", want=2, limit=8)
    lab.popen("a", ["ucarp", "-i", "eth0", "-s", "172.16.90.101", "-v", "77", "-o",
                    str(passfile), "-a", VIP, "-b", "1", "-k", "0", "-M", "-n",
                    "-u", "/bin/true", "-d", "/bin/true"],
              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    got = lab.collect(rx, timeout=15)
    assert isinstance(got, dict)
    packets = [p for p in got["got"] if p["src"] == "172.16.90.101"]
    assert len(packets) >= 2, got
    assert all(p["ttl"] == 255 and p["dst"] == "224.0.0.18" for p in packets)
    assert all(p["payload"][:4] == "214d" for p in packets)  # version 2 type 1, vhid 77
    assert {f["dst"] for f in got["frames"]} == {"ff:ff:ff:ff:ff:ff"}


# --------------------------------------------------------------------------- GARP

_GARP_SEND = snippet(r"""
import asyncio, ipaddress, json, time
from carpd.io.announce import AddressAnnouncer
async def main():
    ann = AddressAnnouncer()
    t = time.monotonic()
    await ann.announce("eth0", (ipaddress.IPv4Address("172.16.90.200"),
                                ipaddress.IPv4Address("172.16.90.201")), 3, 0.2)
    took = time.monotonic() - t
    try:
        await ann.announce("nosuch0", (ipaddress.IPv4Address("172.16.90.200"),), 1, 0.1)
        err = None
    except OSError as exc:
        err = str(exc)
    print(json.dumps({"took": took, "err": err}))
asyncio.run(main())
""")


def test_garp_announcer(lab: Lab) -> None:
    lab.run("a", "ip", "addr", "add", f"{VIP}/24", "dev", "eth0")
    # The client still believes b owns the VIP (as after a fail-over).
    lab.run("c", "ip", "neigh", "replace", VIP, "lladdr", lab.hosts["b"].mac, "dev", "eth0",
            "nud", "stale")
    cap = start_arp_capture(lab, "c", duration=3.0)
    sent = lab.python("a", _GARP_SEND)
    frames = lab.collect(cap)
    assert isinstance(sent, dict) and isinstance(frames, list)
    assert "nosuch0" in sent["err"]
    assert 0.35 <= sent["took"] < 1.0
    a_mac = lab.hosts["a"].mac
    garps = [f for f in frames if f["src"] == a_mac]
    assert len(garps) == 6
    for f in garps:
        assert f["dst"] == "ff:ff:ff:ff:ff:ff" and f["op"] == 1 and f["len"] >= 42
        assert f["sha"] == f["tha"] == a_mac and f["spa"] == f["tpa"]
    for ip in (VIP, "172.16.90.201"):
        times = [f["t"] for f in garps if f["spa"] == ip]
        assert len(times) == 3
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(0.15 <= g <= 0.5 for g in gaps), gaps
    assert lab.neighbour("c", VIP) == a_mac
    assert lab.arp_probe("c", VIP) == a_mac


def test_build_garp_frame() -> None:
    import ipaddress

    from carpd.io.announce import build_garp_frame

    mac = bytes.fromhex("020000009001")
    frame = build_garp_frame(mac, ipaddress.IPv4Address("10.0.0.7"))
    assert frame.hex() == (
        "ffffffffffff" "020000009001" "0806"
        "0001" "0800" "06" "04" "0001"
        "020000009001" "0a000007" "020000009001" "0a000007")
    with pytest.raises(ValueError):
        build_garp_frame(b"\x00", ipaddress.IPv4Address("10.0.0.7"))


# --------------------------------------------------------------------------- scripts

def _script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def _run_scripts(jobs: Sequence[tuple[str, tuple[str, ...]]], timeout: float = 30.0,
                 drain: float = 10.0) -> tuple[list[tuple[Any, ...]], float, int]:
    import asyncio

    from carpd.io.scripts import AsyncScriptRunner

    results: list[tuple[Any, ...]] = []

    async def main() -> tuple[float, int]:
        runner = AsyncScriptRunner(lambda *r: results.append(r), timeout=timeout)
        start = time.monotonic()
        for name, argv in jobs:
            runner.submit(name, argv)
        await runner.drain(drain)
        return time.monotonic() - start, runner.pending()

    took, pending = asyncio.run(main())
    return results, took, pending


def test_scripts_order_per_name_and_parallel_names(tmp_path: Path) -> None:
    log = tmp_path / "log"
    s = _script(tmp_path / "s", f'sleep "$3"; echo "$1 $2" >> {log}\nexit "$4"\n')
    jobs = [("web", (s, "web", "up", "0.3", "0")), ("web", (s, "web", "down", "0", "3")),
            ("db", (s, "db", "up", "0", "0")), ("web", (s, "web", "up2", "0", "0"))]
    results, took, pending = _run_scripts(jobs)
    assert log.read_text().splitlines() == ["db up", "web up", "web down", "web up2"]
    assert [(r[0], r[1][2], r[2], r[3]) for r in results] == [
        ("db", "up", 0, ""), ("web", "up", 0, ""), ("web", "down", 3, ""),
        ("web", "up2", 0, "")]
    assert all(isinstance(r[4], float) and r[4] >= 0 for r in results)
    assert took < 3 and pending == 0


def test_scripts_timeout_kills_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child"
    s = _script(tmp_path / "slow", f"sleep 30 & echo $! > {pidfile}\nwait\n")
    results, took, _ = _run_scripts([("web", (s,))], timeout=0.5)
    assert len(results) == 1
    _name, _argv, rc, error, duration = results[0]
    assert rc is None and "timed out" in str(error)
    assert 0.4 < duration < 3 and took < 4
    child = int(pidfile.read_text())
    assert wait_gone(child, 3), "the script's child survived the timeout"


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # a zombie still answers kill(0); check its state
        with contextlib.suppress(FileNotFoundError):
            if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                return True
        time.sleep(0.05)
    return False


def test_scripts_missing_and_not_executable(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("#!/bin/sh\nexit 0\n")
    plain.chmod(0o644)
    ok = _script(tmp_path / "ok", "exit 0\n")
    jobs = [("web", (str(tmp_path / "missing"), "eth0", VIP)), ("web", (str(plain),)),
            ("web", (ok,)), ("web", ())]
    results, _took, pending = _run_scripts(jobs)
    assert [r[2] for r in results] == [None, None, 0, None]
    assert "cannot execute" in str(results[0][3]) and "missing" in str(results[0][3])
    assert "cannot execute" in str(results[1][3])
    assert results[3][3] == "empty command"
    assert pending == 0


def test_scripts_drain_is_bounded(tmp_path: Path) -> None:
    s = _script(tmp_path / "slow", "sleep 2\n")
    results, took, pending = _run_scripts([("web", (s,))], timeout=5, drain=0.3)
    assert took < 1.5 and pending == 1 and results == []


# --------------------------------------------------------------------------- the lab itself

def _carrier(lab: Lab, host: str) -> bool:
    out = lab.run(host, "ip", "-j", "link", "show", "eth0").stdout
    return "LOWER_UP" in json.loads(out)[0]["flags"]


def test_lab_cable_and_switch_port(lab: Lab) -> None:
    assert lab.ping("c", "172.16.90.101")
    lab.bridge_port("a", False)  # switch port disabled: carrier stays, traffic stops
    assert _carrier(lab, "a") and not lab.ping("c", "172.16.90.101", wait=0.5)
    lab.bridge_port("a", True)
    assert lab.ping("c", "172.16.90.101", count=1, wait=2)
    lab.link("a", False)  # cable pulled: a loses the interface
    assert not _carrier(lab, "a")
    lab.link("a", True)
    assert wait_until(lambda: _carrier(lab, "a"), 3)
    assert lab.ping("c", "172.16.90.101", count=1, wait=2)


# --------------------------------------------------------------------------- IPv6

LL = {"a": "fe80::ff:fe00:9001", "b": "fe80::ff:fe00:9002"}  # EUI-64 of 02:00:00:00:90:0n
G6 = {"a": "fd00:90::101", "b": "fd00:90::102", "c": "fd00:90::50"}
VIP6 = "fd00:90::200"


def _ipv6_settled(lab: Lab, host: str) -> bool:
    out = lab.run(host, "ip", "-6", "-j", "addr", "show", "dev", "eth0").stdout
    infos = [a for link in json.loads(out) for a in link.get("addr_info", [])]
    return bool(infos) and not any(a.get("tentative") for a in infos)


@pytest.fixture
def lab6() -> Any:
    """Hosts a, b and client c as in conftest's lab, named with the tag "c6io", each with a
    non-tentative link-local and a global fd00:90::/64 address (added without DAD)."""
    from tests.integration.conftest import CLIENT, HOST_A, HOST_B

    with Lab("c6io") as the_lab:
        for name, cidr, mac in (HOST_A, HOST_B, CLIENT):
            the_lab.add_host(name, cidr, mac)
        for name in ("a", "b", "c"):
            the_lab.run(name, "ip", "addr", "add", f"{G6[name]}/64", "dev", "eth0", "nodad")
        if not all(wait_until(lambda h=h: _ipv6_settled(the_lab, h), 5) for h in "abc"):
            pytest.fail("IPv6 link-local addresses stayed tentative")
        if not the_lab.multicast_crosses("a", "b"):
            pytest.fail("protocol-112 multicast to 224.0.0.18 does not cross the lab bridge")
        yield the_lab


_RAW6_RECEIVER = snippet(r"""
import asyncio, ipaddress, json, os, socket, struct, time
from carpd.io.rawsock import RawSocketTransport

OPEN = json.loads(os.environ["OPEN"])  # [[source, [groups...]], ...]
FOREIGN = json.loads(os.environ.get("FOREIGN", "[]"))  # groups a plain socket joins
WANT, LIMIT = int(os.environ["WANT"]), float(os.environ["LIMIT"])
idx = socket.if_nametoindex("eth0")

def foreign_socket(group):
    g = ipaddress.ip_address(group)
    if g.version == 4:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                     g.packed + b"\0" * 4 + struct.pack("=i", idx))
    else:
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 112)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, g.packed + struct.pack("=I", idx))
    s.setblocking(False)
    return s

async def main():
    got, frames, foreign_got = [], [], []
    loop = asyncio.get_running_loop()
    cap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x86DD))
    cap.bind(("eth0", 0x86DD))
    cap.setblocking(False)
    def on_frame():
        while True:
            try:
                f = cap.recv(2048)
            except BlockingIOError:
                return
            ip = f[14:]
            if ip[6] == 112:
                frames.append({"dst": f[0:6].hex(":"), "src": f[6:12].hex(":"),
                               "hops": ip[7], "tc": (int.from_bytes(ip[0:2], "big") >> 4) & 0xFF,
                               "plen": int.from_bytes(ip[4:6], "big"),
                               "ipdst": str(ipaddress.IPv6Address(ip[24:40]))})
    loop.add_reader(cap.fileno(), on_frame)
    foreign = [foreign_socket(g) for g in FOREIGN]
    def on_foreign(s):
        while True:
            try:
                data = s.recv(2048)
            except BlockingIOError:
                return
            foreign_got.append(data[-1])  # the payload's last byte numbers the advert
    for s in foreign:
        loop.add_reader(s.fileno(), on_foreign, s)
    def on_packet(ev):
        got.append({"if": ev.interface, "family": int(ev.family), "src": str(ev.source),
                    "dst": str(ev.destination), "hops": ev.hop_limit,
                    "payload": ev.payload.hex()})
    tr = RawSocketTransport()
    for source, groups in OPEN:
        tr.open("eth0", ipaddress.ip_address(source),
                frozenset(ipaddress.ip_address(g) for g in groups), on_packet)
    print("ready", flush=True)
    deadline = time.monotonic() + LIMIT
    while len(got) < WANT and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)
    tr.close()
    print(json.dumps({"got": got, "frames": frames, "foreign": sorted(set(foreign_got))}))

asyncio.run(main())
""")

_RAW6_SENDER = snippet(r"""
import asyncio, ipaddress, json, os
from carpd.core.actions import SendAdvert
from carpd.core.addresses import family_of
from carpd.io.rawsock import RawSocketTransport

OPEN = json.loads(os.environ["OPEN"])
SENDS = json.loads(os.environ["SENDS"])  # [[source, destination, hop limit, tclass], ...]
PAYLOAD = bytes.fromhex(os.environ["PAYLOAD"])

async def main():
    own, errors = [], []
    tr = RawSocketTransport()
    for source, groups in OPEN:
        tr.open("eth0", ipaddress.ip_address(source),
                frozenset(ipaddress.ip_address(g) for g in groups), own.append)
    for n, (source, dst, hops, tc) in enumerate(SENDS):
        src = ipaddress.ip_address(source)
        tr.send(SendAdvert(name="web", interface="eth0", family=family_of(src), source=src,
                           destinations=(ipaddress.ip_address(dst),),
                           payload=PAYLOAD[:35] + bytes([n]), hop_limit=hops,
                           traffic_class=tc))
        await asyncio.sleep(0.05)
    try:
        src = ipaddress.ip_address(OPEN[0][0])
        tr.send(SendAdvert(name="web", interface="eth0", family=family_of(src), source=src,
                           destinations=(ipaddress.ip_address("ff02::12"),),
                           payload=PAYLOAD, l2_broadcast=True))
    except OSError as exc:
        errors.append(str(exc))
    await asyncio.sleep(0.3)
    tr.close()
    print(json.dumps({"own": len(own), "errors": errors}))

asyncio.run(main())
""")


def _advert_numbered(n: int) -> str:
    return UCARP_PAYLOAD[:70] + f"{n:02x}"


def _exchange(lab: Lab, rx_open: list[Any], tx_open: list[Any], sends: list[Any], want: int,
              foreign: Sequence[str] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    rx = lab.python_bg("b", _RAW6_RECEIVER, env={
        "OPEN": json.dumps(rx_open), "FOREIGN": json.dumps(list(foreign)), "WANT": str(want),
        "LIMIT": "5"})
    assert rx.stdout is not None
    assert rx.stdout.readline().strip() == b"ready"
    sent = lab.python("a", _RAW6_SENDER, env={"OPEN": json.dumps(tx_open),
                                              "SENDS": json.dumps(sends),
                                              "PAYLOAD": UCARP_PAYLOAD})
    got = lab.collect(rx)
    assert isinstance(sent, dict) and isinstance(got, dict)
    return sent, got


def test_rawsock_ipv6_multicast(lab6: Lab) -> None:
    sends = [[LL["a"], "ff02::12", 255, 0xE0], [LL["a"], "ff02::12", 64, 0xE0]]
    sent, got = _exchange(lab6, [[LL["b"], ["ff02::12"]]], [[LL["a"], ["ff02::12"]]], sends,
                          want=2)
    assert sent["own"] == 0, "own packets must not loop back"
    assert "IPv4 only" in sent["errors"][0]
    assert got["got"] == [  # the core, not the transport, drops the hop limit 64 one
        {"if": "eth0", "family": 6, "src": LL["a"], "dst": "ff02::12", "hops": hops,
         "payload": _advert_numbered(n)} for n, hops in enumerate((255, 64))]
    on_wire = {"dst": "33:33:00:00:00:12", "src": lab6.hosts["a"].mac, "tc": 0xE0, "plen": 36,
               "ipdst": "ff02::12"}
    assert got["frames"] == [{**on_wire, "hops": 255}, {**on_wire, "hops": 64}]


def test_rawsock_unicast_both_families_without_groups(lab6: Lab) -> None:
    a4, b4 = lab6.hosts["a"].ip, lab6.hosts["b"].ip
    sends = [[a4, "224.0.0.18", 255, 0], [G6["a"], "ff02::12", 255, 0],  # 0, 1: not for us
             [a4, b4, 255, 0], [G6["a"], G6["b"], 64, 0], [LL["a"], LL["b"], 255, 0]]
    _sent, got = _exchange(lab6, [[b4, []], [G6["b"], []]],
                           [[a4, []], [G6["a"], []], [LL["a"], []]], sends, want=3,
                           foreign=["224.0.0.18", "ff02::12"])
    assert {0, 1} <= set(got["foreign"]), "the group adverts reached the host"
    assert [(p["family"], p["src"], p["dst"], p["hops"], p["payload"]) for p in got["got"]] == [
        (4, a4, b4, 255, _advert_numbered(2)),
        (6, G6["a"], G6["b"], 64, _advert_numbered(3)),
        (6, LL["a"], LL["b"], 255, _advert_numbered(4))]


_GROUPS6 = snippet(r"""
import asyncio, ipaddress, json, subprocess
from carpd.core.addresses import Family
from carpd.io.rawsock import RawSocketTransport

def maddrs():
    out = json.loads(subprocess.run(["ip", "-j", "maddr", "show", "dev", "eth0"],
                                    capture_output=True, text=True, check=True).stdout)
    return sorted(m["address"] for link in out for m in link.get("maddr", [])
                  if m.get("address", "").endswith(("::12", "::99", ".18", ".99")))

async def main():
    tr, steps = RawSocketTransport(), []
    sets = [("fe80::ff:fe00:9001", ["ff02::12", "ff02::99"]), ("fe80::ff:fe00:9001", ["ff02::12"]),
            ("172.16.90.101", ["224.0.0.18", "224.0.0.99"]), ("172.16.90.101", []),
            ("fe80::ff:fe00:9001", [])]
    for source, groups in sets:
        tr.open("eth0", ipaddress.ip_address(source),
                frozenset(ipaddress.ip_address(g) for g in groups), lambda ev: None)
        steps.append(maddrs())
    tr.close()
    steps.append(maddrs())
    print(json.dumps(steps))

asyncio.run(main())
""")


def test_rawsock_reopen_joins_and_leaves_for_real(lab6: Lab) -> None:
    steps = lab6.python("a", _GROUPS6)
    assert steps == [["ff02::12", "ff02::99"], ["ff02::12"],
                     ["224.0.0.18", "224.0.0.99", "ff02::12"], ["ff02::12"], [], []]


_NA_SEND = snippet(r"""
import asyncio, ipaddress, json, subprocess, time
from carpd.io.announce import AddressAnnouncer
VIP = ipaddress.IPv6Address("fd00:90::200")
async def main():
    ann, out = AddressAnnouncer(), {}
    t = time.monotonic()
    await ann.announce("eth0", (VIP,), 3, 0.2)
    out["took"] = time.monotonic() - t
    subprocess.run(["sysctl", "-q", "-w", "net.ipv6.conf.eth0.forwarding=1"], check=True)
    await ann.announce("eth0", (VIP,), 1, 0.0)
    await ann.announce("eth0", (VIP,), 1, 0.0, router=False)
    ann.close()
    print(json.dumps(out))
asyncio.run(main())
""")

_NA_CAPTURE = snippet(r"""
import json, socket, struct, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x86DD))
s.bind(("eth0", 0x86DD))
print("ready", flush=True)
found, deadline = [], time.monotonic() + 4.0
while len(found) < 5 and time.monotonic() < deadline:
    s.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        f = s.recv(2048)
    except socket.timeout:
        break
    ip, icmp = f[14:54], f[54:]
    if ip[6] != 58 or icmp[0] != 136:
        continue
    flags = struct.unpack_from("!I", icmp, 4)[0]
    found.append({"t": time.time(), "dst": f[:6].hex(":"), "src": f[6:12].hex(":"),
                  "hops": ip[7], "ipsrc": socket.inet_ntop(socket.AF_INET6, ip[8:24]),
                  "ipdst": socket.inet_ntop(socket.AF_INET6, ip[24:40]),
                  "R": bool(flags & 1 << 31), "S": bool(flags & 1 << 30),
                  "O": bool(flags & 1 << 29),
                  "target": socket.inet_ntop(socket.AF_INET6, icmp[8:24]),
                  "option": icmp[24:26].hex(), "tlla": icmp[26:32].hex(":")})
print(json.dumps(found))
""")


def test_neighbour_advert_moves_the_vip(lab6: Lab) -> None:
    a_mac, b_mac = lab6.hosts["a"].mac, lab6.hosts["b"].mac
    lab6.run("a", "ip", "addr", "add", f"{VIP6}/64", "dev", "eth0", "nodad")
    assert lab6.run("c", "ping", "-6", "-n", "-q", "-c", "1", "-W", "2", VIP6,
                    check=False).returncode == 0
    assert lab6.neighbour("c", VIP6) == a_mac
    # The takeover: a lets go, b holds it and announces.
    lab6.run("a", "ip", "addr", "del", f"{VIP6}/64", "dev", "eth0")
    lab6.run("b", "ip", "addr", "add", f"{VIP6}/64", "dev", "eth0", "nodad")
    forwarding = lab6.run("b", "cat", "/proc/sys/net/ipv6/conf/eth0/forwarding").stdout.strip()
    cap = lab6.python_bg("c", _NA_CAPTURE)
    assert cap.stdout is not None and cap.stdout.readline().strip() == b"ready"
    sent = lab6.python("b", _NA_SEND)
    frames = lab6.collect(cap)
    assert isinstance(sent, dict) and isinstance(frames, list)
    assert lab6.neighbour("c", VIP6) == b_mac
    nas = [f for f in frames if f["src"] == b_mac]
    assert [f["R"] for f in nas] == [forwarding == "1"] * 3 + [True, False]
    for f in nas:
        assert (f["dst"], f["hops"], f["ipsrc"], f["ipdst"]) == ("33:33:00:00:00:01", 255,
                                                                  VIP6, "ff02::1")
        assert (f["O"], f["S"], f["target"], f["option"], f["tlla"]) == (True, False, VIP6,
                                                                         "0201", b_mac)
    gaps = [y["t"] - x["t"] for x, y in itertools.pairwise(nas[:3])]
    assert all(0.15 <= g <= 0.5 for g in gaps), gaps
    assert lab6.run("c", "ping", "-6", "-n", "-q", "-c", "1", "-W", "2", VIP6,
                    check=False).returncode == 0


_NETLINK6 = snippet(r"""
import asyncio, ipaddress, json, subprocess, time
import pyroute2
from carpd.core.addresses import Family
from carpd.io.netlink import NetlinkAddresses

I6 = ipaddress.IPv6Interface
VIP, VIP128 = I6("fd00:90::200/64"), I6("fd00:90::201/128")

def ip_json():
    out = json.loads(subprocess.run(["ip", "-6", "-j", "addr", "show", "dev", "eth0"],
                                    capture_output=True, text=True, check=True).stdout)
    return {a["local"]: a for link in out for a in link["addr_info"]}

async def main():
    addrs, out = [], {"module": pyroute2.__file__}
    nl = NetlinkAddresses()
    await nl.start(lambda n, up: None, addrs.append)
    await nl.add("eth0", (VIP,), "eth0:web")
    await nl.add("eth0", (VIP128,), "eth0:web", deprecate_ipv6=True)
    await nl.add("eth0", (VIP,), "eth0:web")  # present: kept
    deadline = time.monotonic() + 3
    while "eth0" not in addrs and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    out["addr_event"] = "eth0" in addrs
    states = {str(s.address): s for s in await nl.address_states("eth0", Family.IPV6)}
    out["states"] = {k: {"tentative": s.tentative, "dadfailed": s.dadfailed,
                         "deprecated": s.deprecated, "nodad": s.nodad,
                         "preferred": s.preferred_lft, "valid": s.valid_lft, "scope": s.scope}
                     for k, s in states.items()}
    out["ip"] = {k: {f: v.get(f) for f in ("tentative", "dadfailed", "deprecated", "nodad",
                                           "preferred_life_time", "valid_life_time")}
                 for k, v in ip_json().items()}
    out["primary6"] = str(await nl.primary_address("eth0", Family.IPV6))
    hosts = frozenset({VIP.ip, VIP128.ip})
    out["global"] = str(await nl.global_address("eth0", Family.IPV6, exclude=hosts))
    out["global_vip"] = str(await nl.global_address("eth0", Family.IPV6))
    out["global4"] = str(await nl.global_address("eth0", Family.IPV4))
    await nl.remove("eth0", (VIP, VIP128))
    out["after"] = sorted(str(a) for a in await nl.addresses("eth0") if a.version == 6)
    await nl.close()
    print(json.dumps(out))

asyncio.run(main())
""")


@pytest.mark.parametrize("pyroute2_path", _pyroute2_paths())
def test_netlink_ipv6_vips(lab6: Lab, pyroute2_path: str | None) -> None:
    env = {"PYTHONPATH": f"{pyroute2_path}:{Path(__file__).resolve().parents[2]}"} \
        if pyroute2_path else {}
    out = lab6.python("a", _NETLINK6, env=env)
    assert isinstance(out, dict), out
    if pyroute2_path:
        assert out["module"].startswith(pyroute2_path)
    assert out["addr_event"], "IPv6 address changes are reported"
    forever = 0xFFFFFFFF
    states, shown = out["states"], out["ip"]
    assert not any(s["tentative"] or s["dadfailed"] for s in states.values()), states
    assert not any(s["tentative"] or s["dadfailed"] for s in shown.values()), shown
    assert states["fd00:90::200/64"] == {"tentative": False, "dadfailed": False,
                                         "deprecated": False, "nodad": True,
                                         "preferred": forever, "valid": forever, "scope": 0}
    assert states["fd00:90::201/128"] == {"tentative": False, "dadfailed": False,
                                          "deprecated": True, "nodad": True,
                                          "preferred": 0, "valid": forever, "scope": 0}
    assert shown["fd00:90::201"]["preferred_life_time"] == 0
    assert shown["fd00:90::201"]["valid_life_time"] == forever
    assert shown["fd00:90::201"]["deprecated"] and shown["fd00:90::201"]["nodad"]
    assert shown["fd00:90::200"]["nodad"] and not shown["fd00:90::200"].get("deprecated")
    assert out["primary6"] == LL["a"]
    assert out["global"] == G6["a"]
    assert out["global_vip"] in (G6["a"], VIP6)  # the non-deprecated VIP qualifies if first
    assert out["global4"] == lab6.hosts["a"].ip
    assert out["after"] == sorted([f"{G6['a']}/64", f"{LL['a']}/64"])


_CLEANUP = snippet(r"""
import asyncio, ipaddress, json, subprocess
from carpd.app.cleanup import Target, _remove_addresses

class Log:
    def __init__(self):
        self.lines = []
    def record(self, priority, message, **fields):
        self.lines.append(message)

I = ipaddress.ip_interface
for a in ("172.16.90.200/24", "fd00:90::200/64", "fd00:90::77/64", "fd00:90::201/64"):
    subprocess.run(["ip", "addr", "add", a, "dev", "eth0", "nodad"] if ":" in a else
                   ["ip", "addr", "add", a, "dev", "eth0"], check=True)
log = Log()
target = Target("web", "eth0", (I("172.16.90.200/24"), I("fd00:90::200/64"),
                                I("fd00:90::201/128"), I("fd00:90::202/64")), ())
removed = asyncio.run(_remove_addresses([target], log))
again = asyncio.run(_remove_addresses([target], log))
out = json.loads(subprocess.run(["ip", "-j", "addr", "show", "dev", "eth0"], capture_output=True,
                                text=True, check=True).stdout)
left = sorted(f"{a['local']}/{a['prefixlen']}" for a in out[0]["addr_info"]
              if not a["local"].startswith("fe80"))
print(json.dumps({"removed": removed, "again": again, "left": left, "log": log.lines}))
""")


def test_cleanup_removes_leftover_vips_of_both_families(lab6: Lab) -> None:
    out = lab6.python("a", _CLEANUP)
    assert isinstance(out, dict)
    assert (out["removed"], out["again"]) == (2, 0)
    # Not configured (::77), or configured with another prefix (::201): not carpd's.
    assert out["left"] == ["172.16.90.101/24", "fd00:90::101/64", "fd00:90::201/64",
                           "fd00:90::77/64"]
    assert any("fd00:90::200/64" in line for line in out["log"])
