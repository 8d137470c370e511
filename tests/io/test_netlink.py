"""The netlink adapter's own RTM_NEWADDR for IPv6 VIPs, byte for byte, and the address state
it reports (the kernel's side is in tests/integration/test_adapters.py)."""

from __future__ import annotations

import ipaddress
import socket
import struct

from carpd.io import netlink


def _attrs(body: bytes) -> dict[int, bytes]:
    found, offset = {}, 8
    while offset < len(body):
        length, kind = struct.unpack_from("=HH", body, offset)
        found[kind] = body[offset + 4:offset + length]
        offset += (length + 3) & ~3
    return found


def test_new_ipv6_address_without_dad() -> None:
    addr = ipaddress.IPv6Interface("2001:db8::10/64")
    kind, body = netlink.encode_new_ipv6_address(3, addr, deprecate=False)
    assert kind == 20  # RTM_NEWADDR
    assert body[:8] == struct.pack("=BBBBI", socket.AF_INET6, 64, 0x02, 0, 3)
    assert _attrs(body) == {1: addr.ip.packed, 8: struct.pack("=I", 0x02)}


def test_deprecated_ipv6_address_has_preferred_zero_valid_forever() -> None:
    addr = ipaddress.IPv6Interface("2001:db8::10/128")
    _kind, body = netlink.encode_new_ipv6_address(3, addr, deprecate=True)
    assert _attrs(body)[6] == struct.pack("=IIII", 0, 0xFFFFFFFF, 0, 0)
    assert len(body) % 4 == 0


def test_address_state_flags() -> None:
    addr = ipaddress.ip_interface("2001:db8::10/64")
    fresh = netlink.AddressState(addr, flags=0x40, scope=0)
    assert fresh.tentative and not fresh.usable_source
    vip = netlink.AddressState(addr, flags=0x02 | 0x20, scope=0, preferred_lft=0)
    assert vip.nodad and vip.deprecated and not vip.dadfailed and not vip.usable_source
    assert netlink.AddressState(addr, flags=0x80, scope=0).usable_source
    assert netlink.AddressState(addr, flags=0x08, scope=0).dadfailed
