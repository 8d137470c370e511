"""Unsolicited IPv6 Neighbour Advertisements for the VIPs, as whole Ethernet frames.

Owns: building the frame that tells a segment "this IPv6 address now lives at this MAC"
(RFC 4861 4.4, 7.2.6; IPV6-UNICAST-VRRP3.md 1.7), and reading whether the interface forwards
(the R flag's default). The announcer (carpd.io.announce) sends these frames through its
AF_PACKET socket, as it sends gratuitous ARP.

The frame: Ethernet to 33:33:00:00:00:01 (all-nodes) from the interface MAC; IPv6 with
traffic class and flow label 0, next header 58, hop limit 255 (receivers drop neighbour
discovery with any other), source = target = the VIP, destination ff02::1; ICMPv6 type 136
code 0 with the O flag (override caches), S clear (nobody solicited it), R as asked, the
VIP as target and a target link-layer address option carrying the MAC. The ICMPv6 checksum
covers the IPv6 pseudo-header and is computed here, since no kernel sees the frame on its
way out. Sent as a frame rather than through a raw ICMPv6 socket, it does not depend on the
VIP being configured yet, nor on the kernel's source selection.
Must not: write sysctls (the forwarding flag is only read).
"""

from __future__ import annotations

import ipaddress
import struct
from pathlib import Path

from carpd.core.checksum import internet_checksum

ETH_P_IPV6 = 0x86DD
IPPROTO_ICMPV6 = 58
ND_NEIGHBOR_ADVERT = 136
ND_HOP_LIMIT = 255
ND_OPT_TARGET_LINKADDR = 2
FLAG_ROUTER = 0x80000000
FLAG_SOLICITED = 0x40000000
FLAG_OVERRIDE = 0x20000000
ALL_NODES = ipaddress.IPv6Address("ff02::1")
ALL_NODES_MAC = bytes.fromhex("333300000001")
NA_LEN = 32  # 24 bytes of message + an 8-byte link-layer address option
NA_FRAME_LEN = 14 + 40 + NA_LEN

_NA = struct.Struct("!BBHI16sBB6s")
_IPV6 = struct.Struct("!IHBB16s16s")


def build_neighbour_advert(*, source: ipaddress.IPv6Address, target: ipaddress.IPv6Address,
                           mac: bytes, router: bool,
                           destination: ipaddress.IPv6Address = ALL_NODES) -> bytes:
    """The 32-byte ICMPv6 message (O set, S clear, R = `router`) with its checksum."""
    if len(mac) != 6:
        raise ValueError(f"an Ethernet MAC has 6 bytes, got {len(mac)}")
    flags = FLAG_OVERRIDE | (FLAG_ROUTER if router else 0)
    fields = (ND_NEIGHBOR_ADVERT, 0, 0, flags, target.packed, ND_OPT_TARGET_LINKADDR, 1, mac)
    message = _NA.pack(*fields)
    pseudo = (source.packed + destination.packed
              + struct.pack("!I3xB", len(message), IPPROTO_ICMPV6))
    return message[:2] + struct.pack("!H", internet_checksum(pseudo + message)) + message[4:]


def build_na_frame(mac: bytes, address: ipaddress.IPv6Address, *, router: bool) -> bytes:
    """The whole Ethernet frame announcing `address` at `mac` to all nodes."""
    message = build_neighbour_advert(source=address, target=address, mac=mac, router=router)
    header = _IPV6.pack(6 << 28, len(message), IPPROTO_ICMPV6, ND_HOP_LIMIT, address.packed,
                        ALL_NODES.packed)
    return ALL_NODES_MAC + mac + struct.pack("!H", ETH_P_IPV6) + header + message


def forwarding(interface: str, proc_sys: Path = Path("/proc/sys")) -> bool:
    """net.ipv6.conf.<interface>.forwarding of this network namespace; False when it cannot
    be read (no IPv6 on the interface)."""
    try:
        text = (proc_sys / "net/ipv6/conf" / interface / "forwarding").read_text()
    except OSError:
        return False
    return text.strip() not in ("", "0")
