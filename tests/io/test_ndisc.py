"""Unsolicited neighbour advertisements: the design's known-answer vector byte for byte, the
frame around it, and the forwarding flag the R bit follows by default."""

from __future__ import annotations

import ipaddress
import struct
from pathlib import Path

import pytest

from carpd.core.checksum import internet_checksum
from carpd.io import ndisc

IP6 = ipaddress.IPv6Address
VIP = IP6("fd00:99::100")
VRRP_MAC = bytes.fromhex("00005e000233")
MAC = bytes.fromhex("020000009002")


def test_known_answer_vector_router_and_override() -> None:
    # IPV6-UNICAST-VRRP3.md 1.7: source = target = fd00:99::100, to ff02::1, R+O.
    na = ndisc.build_neighbour_advert(source=VIP, target=VIP, mac=VRRP_MAC, router=True)
    assert na.hex() == "88007938a0000000fd000099000000000000000000000100020100005e000233"


def test_override_only_and_checksum_over_the_pseudo_header() -> None:
    na = ndisc.build_neighbour_advert(source=VIP, target=VIP, mac=MAC, router=False)
    assert len(na) == ndisc.NA_LEN
    assert (na[0], na[1]) == (136, 0)
    (flags,) = struct.unpack_from("!I", na, 4)
    assert flags == ndisc.FLAG_OVERRIDE  # O set; S and R clear
    assert na[8:24] == VIP.packed and na[24:26] == b"\x02\x01" and na[26:32] == MAC
    pseudo = VIP.packed + ndisc.ALL_NODES.packed + struct.pack("!I3xB", 32, 58)
    assert internet_checksum(pseudo + na) == 0


def test_frame_layout() -> None:
    frame = ndisc.build_na_frame(MAC, VIP, router=False)
    assert len(frame) == ndisc.NA_FRAME_LEN == 86
    assert frame[:6] == bytes.fromhex("333300000001") and frame[6:12] == MAC
    assert frame[12:14] == b"\x86\xdd"
    ip = frame[14:54]
    assert ip[:4] == b"\x60\x00\x00\x00"  # version 6, traffic class 0, flow label 0
    assert struct.unpack("!H", ip[4:6])[0] == 32
    assert (ip[6], ip[7]) == (58, 255)  # ICMPv6, hop limit 255
    assert ip[8:24] == VIP.packed and ip[24:40] == IP6("ff02::1").packed
    assert frame[54:] == ndisc.build_neighbour_advert(source=VIP, target=VIP, mac=MAC,
                                                      router=False)


def test_bad_mac() -> None:
    with pytest.raises(ValueError, match="6 bytes"):
        ndisc.build_na_frame(b"\x00" * 5, VIP, router=False)


def test_forwarding_is_read_from_proc_sys(tmp_path: Path) -> None:
    conf = tmp_path / "net/ipv6/conf"
    for name, value in (("eth0", "1\n"), ("eth1", "0\n"), ("eth0.10", "1\n")):
        (conf / name).mkdir(parents=True)
        (conf / name / "forwarding").write_text(value)
    assert ndisc.forwarding("eth0", tmp_path) is True
    assert ndisc.forwarding("eth1", tmp_path) is False
    assert ndisc.forwarding("eth0.10", tmp_path) is True  # a VLAN keeps its dot here
    assert ndisc.forwarding("nosuch0", tmp_path) is False
