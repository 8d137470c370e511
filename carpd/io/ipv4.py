"""The IPv4 header around protocol-112 datagrams: parsed on receive, built for L2 broadcast.

Owns: `parse_datagram(interface, data)`, which turns what a raw IPv4 socket returns (header
included) into the core's `PacketReceived` (payload = the bytes after the header, up to the
header's total length; TTL as hop limit; source and destination) or, for bytes that are not
a protocol-112 IPv4 datagram, a `DatagramMalformed` the core counts as a drop; and
`encode_ipv4_header` (20 bytes, DF, correct header checksum) for the L2-broadcast sender,
the tests' packet injector and the bench.
Must not: interpret the payload (the core identifies and validates it).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from carpd.core.addresses import Family
from carpd.core.checksum import internet_checksum
from carpd.core.drops import DropReason
from carpd.core.events import DatagramMalformed, PacketReceived

IPV4_HEADER_LEN = 20
IPPROTO_VRRP = 112  # CARP borrowed VRRP's protocol number
ADVERT_TTL = 255  # CARP and VRRP both send and require TTL / hop limit 255
_IPV4 = struct.Struct("!BBHHHBBH4s4s")


@dataclass(frozen=True, slots=True, kw_only=True)
class Ipv4Header:
    ihl: int
    tos: int
    total_length: int
    ident: int
    ttl: int
    protocol: int
    source: ipaddress.IPv4Address
    destination: ipaddress.IPv4Address

    @property
    def header_length(self) -> int:
        return self.ihl * 4


class HeaderError(ValueError):
    def __init__(self, reason: DropReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def encode_ipv4_header(
    *, source: ipaddress.IPv4Address, destination: ipaddress.IPv4Address, payload_length: int,
    ident: int = 0, ttl: int = ADVERT_TTL, tos: int = 0, protocol: int = IPPROTO_VRRP,
) -> bytes:
    """A 20-byte header with DF set and a correct header checksum."""
    fields = (0x45, tos, IPV4_HEADER_LEN + payload_length, ident & 0xFFFF, 0x4000, ttl,
              protocol)
    raw = _IPV4.pack(*fields, 0, source.packed, destination.packed)
    return _IPV4.pack(*fields, internet_checksum(raw), source.packed, destination.packed)


def decode_ipv4_header(data: bytes) -> Ipv4Header:
    """Raises HeaderError (short, malformed)."""
    if len(data) < IPV4_HEADER_LEN:
        raise HeaderError(DropReason.SHORT,
                          f"IPv4 header needs {IPV4_HEADER_LEN} bytes, got {len(data)}")
    vihl, tos, total, ident, _frag, ttl, proto, _csum, src, dst = _IPV4.unpack_from(data)
    if vihl >> 4 != 4 or (vihl & 0x0F) < 5:
        raise HeaderError(DropReason.MALFORMED,
                          f"not an IPv4 header (first byte 0x{vihl:02x})")
    if len(data) < (vihl & 0x0F) * 4:
        raise HeaderError(DropReason.SHORT, "IPv4 options truncated")
    return Ipv4Header(
        ihl=vihl & 0x0F, tos=tos, total_length=total, ident=ident, ttl=ttl, protocol=proto,
        source=ipaddress.IPv4Address(src), destination=ipaddress.IPv4Address(dst),
    )


def parse_datagram(interface: str, data: bytes) -> PacketReceived | DatagramMalformed:
    """One datagram from a raw IPv4 socket, as the core's event."""
    try:
        ip = decode_ipv4_header(data)
    except HeaderError as exc:
        return DatagramMalformed(interface=interface, reason=exc.reason, detail=exc.detail)
    if ip.protocol != IPPROTO_VRRP:
        return DatagramMalformed(interface=interface, reason=DropReason.MALFORMED,
                                 detail=f"IP protocol {ip.protocol}", source=ip.source)
    payload = data[ip.header_length: max(ip.total_length, ip.header_length)]
    return PacketReceived(interface=interface, family=Family.IPV4, source=ip.source,
                          destination=ip.destination, hop_limit=ip.ttl, payload=payload)
