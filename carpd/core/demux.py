"""Which protocol and which virtual router a protocol-112 datagram is for.

Owns: `identify(packet) -> (ElectionProtocol, id)` and the checks that come before any VIP is
known, in order: the payload is long enough, and the version/shape tells the
protocol apart (RFC 5798 and CARP share protocol 112 and the groups 224.0.0.18 / ff02::12):
version 3 is VRRPv3; version 2 with type 1 and authlen 7 in 36 bytes is CARP; any other
version-2 shape is VRRPv2. Protocols carpd does not run (VRRPv2, and VRRPv3 until a profile
speaks it) are quiet drops ("vrrp"): normal traffic on a shared segment.
The virtual router id sits in byte 1 for all of them (CARP vhid, VRRP VRID).
The TTL / hop limit is checked once the VIP is known (accept.py: 255 for group adverts, the
VIP's `accept_ttl` for unicast peers).
Must not: look at VIPs, checksums or authentication (the node and the profiles do).
"""

from __future__ import annotations

from carpd.core.carp import wire
from carpd.core.drops import DropReason, Rejected
from carpd.core.events import PacketReceived
from carpd.core.profile import ElectionProtocol

SUPPORTED = frozenset({ElectionProtocol.CARP})


def check_length(packet: PacketReceived) -> None:
    if len(packet.payload) < wire.CARP_HEADER_LEN:
        raise Rejected(DropReason.SHORT, f"{len(packet.payload)} bytes of CARP header",
                       source=packet.source)


def identify(packet: PacketReceived) -> tuple[ElectionProtocol, int]:
    """After check_length and the own-packet check; raises Rejected."""
    data, source = packet.payload, packet.source
    version, kind, vid, authlen = data[0] >> 4, data[0] & 0x0F, data[1], data[3]
    if version == 3:
        raise Rejected(DropReason.VRRP, "VRRPv3 advertisement", vid, source)
    if version != wire.CARP_VERSION:
        raise Rejected(DropReason.BAD_VERSION, f"version {version}", vid, source)
    if kind != wire.CARP_TYPE_ADVERTISEMENT or authlen != wire.CARP_AUTHLEN:
        raise Rejected(DropReason.VRRP, f"type {kind} authlen {authlen}: VRRPv2, not CARP",
                       vid, source)
    return ElectionProtocol.CARP, vid
