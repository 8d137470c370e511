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
