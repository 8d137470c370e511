"""Which protocol and which virtual router a protocol-112 datagram is for.

Owns: `identify(packet) -> (ElectionProtocol, id)` and the checks that come before any VIP is
known, in order: the payload is long enough, and the version/shape tells the protocol apart
(IPV6-UNICAST-VRRP3.md 3.7: RFC 5798 and CARP share protocol 112 and the groups 224.0.0.18 /
ff02::12): version 3 is VRRPv3 (at least its 8-byte header; the profile checks the rest);
version 2 with type 1 and authlen 7 is CARP, which must be 36 bytes; any other version-2
shape is VRRPv2, a quiet drop ("vrrp"): normal traffic on a shared segment that carpd does
not speak. These never overlap: CARP's authlen 7 read as a VRRPv2 address count means 44
bytes, not 36.
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
from carpd.core.vrrp3 import wire as vrrp3_wire

SUPPORTED = frozenset({ElectionProtocol.CARP, ElectionProtocol.VRRP3})
MIN_LEN = vrrp3_wire.HEADER_LEN


def check_length(packet: PacketReceived) -> None:
    if len(packet.payload) < MIN_LEN:
        raise Rejected(DropReason.SHORT, f"{len(packet.payload)} bytes: shorter than any "
                       "CARP or VRRP header", source=packet.source)


def identify(packet: PacketReceived) -> tuple[ElectionProtocol, int]:
    """After check_length and the own-packet check; raises Rejected."""
    data, source = packet.payload, packet.source
    version, kind, vid, authlen = data[0] >> 4, data[0] & 0x0F, data[1], data[3]
    if version == vrrp3_wire.VRRP_VERSION:
        return ElectionProtocol.VRRP3, vid
    if version != wire.CARP_VERSION:
        raise Rejected(DropReason.BAD_VERSION, f"version {version}", vid, source)
    if kind != wire.CARP_TYPE_ADVERTISEMENT or authlen != wire.CARP_AUTHLEN:
        raise Rejected(DropReason.VRRP, f"type {kind} authlen {authlen}: VRRPv2, not CARP",
                       vid, source)
    if len(data) < wire.CARP_HEADER_LEN:
        raise Rejected(DropReason.SHORT, f"{len(data)} bytes of CARP header", vid, source)
    return ElectionProtocol.CARP, vid
