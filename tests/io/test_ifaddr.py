"""carpd.io.ifaddr: the address messages carpd sends, byte for byte (carpd's IFA_PROTO mark on
every VIP, IPv4 label, IPv6 without DAD), exact deletes, and dump entries decoded with their
mark and label (the kernel's side is in tests/integration/test_ownership.py)."""

from __future__ import annotations

import ipaddress
import socket
import struct

import pytest

from carpd.core.ownership import InterfaceAddress
from carpd.io import ifaddr

I = ipaddress.ip_interface  # noqa: E741


def attrs(body: bytes) -> dict[int, bytes]:
    found, offset = {}, 8
    while offset < len(body):
        length, kind = struct.unpack_from("=HH", body, offset)
        found[kind] = body[offset + 4:offset + length]
        offset += (length + 3) & ~3
    return found


def test_the_mark_is_outside_the_kernels_values() -> None:
    assert ifaddr.CARPD_ADDRESS_PROTO == 0xCA and ifaddr.CARPD_ADDRESS_PROTO > 3
    assert ifaddr.IFA_PROTO == 11


def test_new_ipv4_address_has_label_and_mark() -> None:
    kind, flags, body = ifaddr.encode_new_address(3, I("192.0.2.10/24"), label="eth0:web")
    assert kind == 20 and flags == 0x600  # RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL
    assert body[:8] == struct.pack("=BBBBI", socket.AF_INET, 24, 0, 0, 3)
    packed = socket.inet_aton("192.0.2.10")
    assert attrs(body) == {2: packed, 1: packed, 3: b"eth0:web\0", 11: b"\xca"}
    assert len(body) % 4 == 0


def test_new_ipv6_address_without_dad_with_mark() -> None:
    addr = I("2001:db8::10/64")
    _kind, _flags, body = ifaddr.encode_new_address(3, addr, label="eth0:web")
    assert body[:8] == struct.pack("=BBBBI", socket.AF_INET6, 64, 0x02, 0, 3)
    assert attrs(body) == {1: addr.ip.packed, 8: struct.pack("=I", 0x02), 11: b"\xca"}


def test_deprecated_ipv6_address_has_preferred_zero_valid_forever() -> None:
    _kind, _flags, body = ifaddr.encode_new_address(3, I("2001:db8::10/128"), label="x",
                                                    deprecate=True)
    assert attrs(body)[6] == struct.pack("=IIII", 0, 0xFFFFFFFF, 0, 0)
    assert len(body) % 4 == 0


def test_delete_names_exactly_one_entry() -> None:
    entry = ifaddr.AddressState(I("192.0.2.10/24"), flags=0, scope=0, label="eth0:web")
    kind, _flags, body = ifaddr.encode_del_address(3, entry)
    assert kind == 21 and body[:8] == struct.pack("=BBBBI", socket.AF_INET, 24, 0, 0, 3)
    assert attrs(body)[3] == b"eth0:web\0"  # the kernel compares it: another copy stays
    v6 = ifaddr.AddressState(I("2001:db8::10/64"), flags=0, scope=0)
    assert attrs(ifaddr.encode_del_address(3, v6)[2]) == {1: v6.address.ip.packed}


def newaddr(index: int, addr: str, *, label: bytes | None = None, proto: int | None = None,
            flags: int = 0) -> bytes:
    a = I(addr)
    family = socket.AF_INET if a.version == 4 else socket.AF_INET6
    body = struct.pack("=BBBBI", family, a.network.prefixlen, flags, 0, index)
    body += ifaddr._rtattr(ifaddr.IFA_ADDRESS, a.ip.packed)
    if label is not None:
        body += ifaddr._rtattr(ifaddr.IFA_LABEL, label + b"\0")
    if proto is not None:
        body += ifaddr._rtattr(ifaddr.IFA_PROTO, bytes([proto]))
    return struct.pack("=IHHII", 16 + len(body), 20, 2, 1, 0) + body


def test_decode_a_dump_with_marks_and_labels() -> None:
    done = struct.pack("=IHHII", 20, 3, 2, 1, 0) + b"\0" * 4
    data = (newaddr(2, "172.16.90.101/24", label=b"eth0")
            + newaddr(2, "172.16.90.31/24", label=b"eth0:web", proto=0xCA)
            + newaddr(2, "2001:db8::31/64", proto=0xCA, flags=0x02)
            + newaddr(1, "::1/128", proto=1) + done)
    states, finished = ifaddr.decode_addresses(data)
    assert finished
    assert [s.listed() for s in states] == [
        InterfaceAddress(I("172.16.90.101/24"), marked=False, label="eth0"),
        InterfaceAddress(I("172.16.90.31/24"), marked=True, label="eth0:web"),
        InterfaceAddress(I("2001:db8::31/64"), marked=True, label=None),
        InterfaceAddress(I("::1/128"), marked=False, label=None)]  # the kernel's lo, 1
    assert [s.index for s in states] == [2, 2, 2, 1] and states[2].nodad


def test_a_dump_error_raises_with_its_errno() -> None:
    error = struct.pack("=IHHII", 20, 2, 0, 1, 0) + struct.pack("=i", -19)
    with pytest.raises(OSError) as info:
        ifaddr.decode_addresses(error)
    assert info.value.errno == 19


def test_address_state_flags() -> None:
    addr = I("2001:db8::10/64")
    fresh = ifaddr.AddressState(addr, flags=0x40, scope=0)
    assert fresh.tentative and not fresh.usable_source and not fresh.marked
    vip = ifaddr.AddressState(addr, flags=0x02 | 0x20, scope=0, preferred_lft=0, proto=0xCA)
    assert vip.nodad and vip.deprecated and not vip.dadfailed and not vip.usable_source
    assert vip.marked
    assert ifaddr.AddressState(addr, flags=0x80, scope=0).usable_source
    assert ifaddr.AddressState(addr, flags=0x08, scope=0).dadfailed
