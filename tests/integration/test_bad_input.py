"""Hostile and foreign bytes on the wire at a running carpd: it keeps its state, counts every
drop by reason, and logs each kind at most once per interval (no log flood).

The injector runs in the client namespace and writes whole Ethernet frames (to the CARP
multicast MAC) through AF_PACKET, so every byte, the TTL included, is ours to choose. The
IPv6/unicast injector uses raw IPv6 (and IPv4) sockets with the hop limit set per socket:
short and bad-checksum adverts and hop limit 64 to ff02::12, adverts in the wrong mode, and
unicast adverts from a host that is not a configured peer.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.carpd_host import Carpd, Vip, wait_for
from tests.integration.netns import Lab

N = 25  # packets of each kind

INJECTOR = r"""
import ipaddress, json, os, socket, struct
from carpd.core.carp import auth, wire
from carpd.io.ipv4 import encode_ipv4_header
src, grp = ipaddress.IPv4Address("172.16.90.50"), ipaddress.IPv4Address("224.0.0.18")
vip = ipaddress.IPv4Address("172.16.90.31")
def carp(vhid=1, base=0, skew=0, pw=b"demo-pass-19b", version=2, authlen=7):
    h = wire.CarpHeader(version=version, vhid=vhid, advbase=base, advskew=skew, authlen=authlen,
                        counter=7, digest=auth.compute_digest(pw, vhid, (vip,), 7))
    return wire.encode_carp_header(h)
def ip(payload, ttl=255, proto=112):
    return encode_ipv4_header(source=src, destination=grp, payload_length=len(payload),
                                   ttl=ttl, protocol=proto) + payload
good = carp()
bad_sum = good[:6] + bytes([good[6] ^ 0xFF]) + good[7:]
kinds = {
    "short": ip(good[:20]),
    "bad_ttl": ip(good, ttl=64),
    "bad_version": ip(carp(version=1)),
    "bad_checksum": ip(bad_sum),
    "bad_hmac": ip(carp(pw=b"wrong-password")),
    "vrrp3": ip(carp(version=3)),
    "vrrp2": ip(bytes([0x21, 1, 150, 1, 0, 1]) + b"\0" * 30),
    "unknown_vhid": ip(carp(vhid=99)),
}
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
mac = open("/sys/class/net/eth0/address").read().strip()
eth = bytes.fromhex("01005e000012") + bytes.fromhex(mac.replace(":", "")) + b"\x08\x00"
rand = os.urandom
for _ in range(N):
    for frame in kinds.values():
        s.send(eth + frame)
    s.send(eth + ip(rand(36)))
    s.send(eth + rand(60))
print(json.dumps(sorted(kinds)))
"""


@pytest.fixture
def lone_master(lab: Lab, tmp_path: Path) -> Iterator[Carpd]:
    a = Carpd(lab, "a", tmp_path, [Vip("web", 1, "172.16.90.31/24", 0)])
    a.start()
    assert a.wait_state("web", "MASTER", 8) is not None, a.log_text()
    yield a
    a.signal(signal.SIGTERM)
    a.wait_exit()


def test_bad_packets_are_dropped_counted_and_logged_once(lab: Lab, lone_master: Carpd) -> None:
    a = lone_master
    lab.python("c", INJECTOR.replace("range(N)", f"range({N})"))
    expected = {"short": N, "bad_ttl": N, "bad_version": N, "bad_checksum": N, "bad_hmac": N,
                "vrrp": 2 * N, "unknown_vhid": N}

    def drops() -> dict[str, int]:
        doc = a.status() or {}
        return doc.get("interface_drops", {}).get("eth0", {})  # type: ignore[attr-defined, no-any-return]

    assert wait_for(lambda: all(drops().get(k, 0) >= v for k, v in expected.items()), 5), drops()
    counts = drops()
    for reason, n in expected.items():
        assert counts[reason] >= n, (reason, counts)
    # the random payloads land in some reason too, never in an accepted advert
    doc = a.status()
    assert doc is not None
    (web,) = doc["vips"]  # type: ignore[index]
    assert web["state"] == "MASTER" and web["reason"] == "master_down_timer"
    assert web["counters"]["adverts_received"] == 0
    assert web["counters"]["auth_failures"] == N
    log = a.log_text()
    for loud in ("short", "bad_ttl", "bad_version", "bad_checksum", "bad_hmac"):
        assert log.count(f": {loud} (") == 1, (loud, log)
    for quiet in ("vrrp", "unknown_vhid"):
        assert f": {quiet} (" not in log
    assert "Traceback" not in log
    assert a.proc is not None and a.proc.poll() is None


# -- IPv6 and unicast ---------------------------------------------------------------------

N6 = 50  # packets of each kind, sent in a burst

INJECTOR6 = r"""
import ipaddress, json, socket, time
from carpd.core.carp import auth, wire
N, PW = int("@N@"), b"demo-pass-19b"
VIPS = {1: ("fd00:90::31",), 2: ("172.16.90.33", "fd00:90::33")}
def carp(vhid, counter=7):
    addrs = [ipaddress.ip_address(a) for a in VIPS[vhid]]
    h = wire.CarpHeader(version=2, vhid=vhid, advbase=1, advskew=0, authlen=7,
                        counter=counter, digest=auth.compute_digest(PW, vhid, addrs, counter))
    return wire.encode_carp_header(h)
good = carp(1)
bad_sum = good[:6] + bytes([good[6] ^ 0xFF]) + good[7:]
idx = socket.if_nametoindex("eth0")
def sock6(hops):
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 112)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, hops)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, hops)
    return s
s255, s64 = sock6(255), sock6(64)
s4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
s4.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
GROUP, A6, A4 = ("ff02::12", 0, 0, idx), ("fd00:90::101", 0, 0, 0), ("172.16.90.101", 0)
kinds = {  # reason: (socket, payload, destination)
    "short": (s255, good[:20], GROUP),
    "bad_checksum": (s255, bad_sum, GROUP),
    "bad_ttl": (s64, good, GROUP),  # hop limit 64 to ff02::12
    "unicast_in_multicast_mode": (s255, good, A6),  # vip web6 has no peers
    "multicast_in_unicast_mode": (s255, carp(2), GROUP),  # vip uni has peers
    "unknown_peer": (s255, carp(2), A6),  # c is not among uni's peers
    "unknown_peer4": (s4, carp(2), A4),
}
for i in range(N):
    for sock, payload, dst in kinds.values():
        sock.sendto(payload, dst)
    if i % 5 == 4:
        time.sleep(0.002)
print(json.dumps(sorted(kinds)))
"""


@pytest.fixture
def lone_master6(fresh_lab6: Lab, tmp_path: Path) -> Iterator[Carpd]:
    """a alone with an IPv6-only multicast VIP (web6, vhid 1) and a dual-stack unicast VIP
    (uni, vhid 2, peers b which is not running): both MASTER on their timers."""
    a = Carpd(fresh_lab6, "a", tmp_path, [
        Vip("web6", 1, addresses=("fd00:90::31/64",)),
        Vip("uni", 2, addresses=("172.16.90.33/24", "fd00:90::33/64"),
            peers=("172.16.90.102", "fd00:90::102"))])
    a.start()
    assert wait_for(lambda: a.states() == {"web6": "MASTER", "uni": "MASTER"}, 8), a.log_text()
    yield a
    a.signal(signal.SIGTERM)
    a.wait_exit()


def test_bad_ipv6_and_unicast_packets_are_dropped_counted_and_logged_once(
        fresh_lab6: Lab, lone_master6: Carpd) -> None:
    a = lone_master6
    fresh_lab6.python("c", INJECTOR6.replace("@N@", str(N6)))
    expected = {"short": N6, "bad_checksum": N6, "bad_ttl": N6,
                "unicast_in_multicast_mode": N6, "multicast_in_unicast_mode": N6,
                "unknown_peer": 2 * N6}

    def drops() -> dict[str, int]:
        doc = a.status() or {}
        return doc.get("interface_drops", {}).get("eth0", {})  # type: ignore[attr-defined, no-any-return]

    reached = wait_for(lambda: all(drops().get(k, 0) >= v for k, v in expected.items()), 5)
    counts = drops()
    print(f"\nIPv6/unicast injection, {N6} of each kind: drops {counts}")
    assert reached is not None, counts
    for reason, n in expected.items():
        assert counts[reason] == n, (reason, counts)  # exactly: nothing else lands there
    doc = a.status()
    assert doc is not None
    for vip in doc["vips"]:  # type: ignore[attr-defined]
        assert vip["state"] == "MASTER", vip
        assert vip["counters"]["adverts_received"] == 0, vip
    log = a.log_text()
    for reason in expected:
        # one line per (interface, reason) per interval, though IPv4 and IPv6 both hit some
        lines = [line for line in log.splitlines() if f": {reason} (" in line]
        assert len(lines) == 1 and "dropped CARP packet on eth0 from" in lines[0], (reason, log)
    assert "from fd00:90::50" in log and "Traceback" not in log
    assert a.proc is not None and a.proc.poll() is None
