"""Hostile and foreign bytes on the wire at a running carpd: it keeps its state, counts every
drop by reason, and logs each kind at most once per interval (no log flood).

The injector runs in the client namespace and writes whole Ethernet frames (to the CARP
multicast MAC) through AF_PACKET, so every byte, the TTL included, is ours to choose.
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
