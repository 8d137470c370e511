"""The IPv6 side of protocol-112 raw sockets: what recvmsg returns, made into the core's event.

Owns: the socket-option numbers and structures the raw transport needs for IPv6
(IPV6_MULTICAST_ALL, `ipv6_mreq`, the socket address with its scope), the ancillary-buffer
size to ask recvmsg for, and `parse_message`, which turns one recvmsg result into
`PacketReceived` or `DatagramMalformed`.

How it works: a raw IPv6 socket never returns the IPv6 header, so the payload is already the
CARP/VRRP message (IPV6-UNICAST-VRRP3.md 1.8). The socket asks for IPV6_HOPLIMIT and
IPV6_PKTINFO ancillary data on every datagram; the hop limit comes from the first, the
destination (ff02::12, or one of our addresses for a unicast advert) from the second. The
source is the address recvmsg returns, with its scope dropped: the receiving interface is
the event's `interface`, and the core compares sources with configured peers that carry no
scope. A datagram without both ancillary items is malformed (the socket was not set up to
report them, or the buffer was too small): without them the core could check neither the
hop limit nor the destination.
Must not: interpret the payload, or check the hop limit (the core drops non-255 group
adverts with its own reason).
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Iterable

from carpd.core.addresses import Family
from carpd.core.drops import DropReason
from carpd.core.events import DatagramMalformed, PacketReceived

IPV6_MULTICAST_ALL = 29  # Linux >= 4.20; not in Python's socket module
IPV6_FREEBIND = 78  # Linux >= 4.15: bind to an address not (yet) configured
IPV6_HOPLIMIT = socket.IPV6_HOPLIMIT
IPV6_PKTINFO = socket.IPV6_PKTINFO
_PKTINFO = struct.Struct("=16sI")  # struct in6_pktinfo {in6_addr, int ifindex}
_HOPLIMIT = struct.Struct("=i")
ANCILLARY_SPACE = socket.CMSG_SPACE(_PKTINFO.size) + socket.CMSG_SPACE(_HOPLIMIT.size) + 64

Ancillary = Iterable[tuple[int, int, bytes]]


def ipv6_mreq(group: ipaddress.IPv6Address, ifindex: int) -> bytes:
    """struct ipv6_mreq {ipv6mr_multiaddr, ipv6mr_interface}."""
    return struct.pack("=16sI", group.packed, ifindex)


def sockaddr(address: ipaddress.IPv6Address, ifindex: int) -> tuple[str, int, int, int]:
    """The (host, port, flowinfo, scope id) tuple for bind/sendto. The scope id is given
    for every address: the kernel needs it for link-local ones (source or destination,
    ff02::12 included) and ignores it for global ones."""
    return (str(unscoped(address)), 0, 0, ifindex)


def unscoped(address: ipaddress.IPv6Address) -> ipaddress.IPv6Address:
    """The same address without a scope id (IPv6Address("fe80::1%eth0") -> fe80::1)."""
    return ipaddress.IPv6Address(address.packed) if address.scope_id else address


def parse_message(interface: str, data: bytes, ancillary: Ancillary,
                  peer: tuple[str, int, int, int] | tuple[str, int]
                  ) -> PacketReceived | DatagramMalformed:
    """One recvmsg result (data, ancillary items, source sockaddr) as the core's event."""
    try:
        source = ipaddress.IPv6Address(peer[0].split("%", 1)[0])
    except ValueError:
        return DatagramMalformed(interface=interface, reason=DropReason.MALFORMED,
                                 detail=f"not an IPv6 source: {peer[0]!r}")
    hop_limit, destination = _ancillary(ancillary)
    if hop_limit is None or destination is None:
        missing = " and ".join(name for name, value in (("hop limit", hop_limit),
                                                         ("destination", destination))
                               if value is None)
        return DatagramMalformed(interface=interface, reason=DropReason.MALFORMED,
                                 detail=f"IPv6 datagram without its {missing} "
                                        "(ancillary data)", source=source)
    return PacketReceived(interface=interface, family=Family.IPV6, source=source,
                          destination=destination, hop_limit=hop_limit, payload=data)


def _ancillary(ancillary: Ancillary) -> tuple[int | None, ipaddress.IPv6Address | None]:
    hop_limit: int | None = None
    destination: ipaddress.IPv6Address | None = None
    for level, kind, value in ancillary:
        if level != socket.IPPROTO_IPV6:
            continue
        if kind == IPV6_HOPLIMIT and len(value) >= _HOPLIMIT.size:
            (hops,) = _HOPLIMIT.unpack_from(value)
            hop_limit = hops if 0 <= hops <= 255 else None
        elif kind == IPV6_PKTINFO and len(value) >= _PKTINFO.size:
            address, _ifindex = _PKTINFO.unpack_from(value)
            destination = ipaddress.IPv6Address(address)
    return hop_limit, destination


def encode_ancillary(*, hop_limit: int | None = None,
                     destination: ipaddress.IPv6Address | None = None,
                     ifindex: int = 0) -> list[tuple[int, int, bytes]]:
    """The ancillary items a raw IPv6 socket reports (for tests and the bench's injector)."""
    items = []
    if destination is not None:
        items.append((socket.IPPROTO_IPV6, IPV6_PKTINFO,
                      _PKTINFO.pack(destination.packed, ifindex)))
    if hop_limit is not None:
        items.append((socket.IPPROTO_IPV6, IPV6_HOPLIMIT, _HOPLIMIT.pack(hop_limit)))
    return items
