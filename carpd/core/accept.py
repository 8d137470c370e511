"""Whether a datagram for a known VIP came the way that VIP expects: destination, source, TTL.

Owns: `check_path(params, packet)`, the per-VIP path checks that run after the VHID is known
and before the profile looks at the bytes (IPV6-UNICAST-VRRP3.md 2.5), in this order:
1. destination: in multicast mode (the family has no peers) it must be the family's group,
   a unicast destination is `unicast_in_multicast_mode`; in unicast mode it must be one of
   ours (the kernel delivers nothing else), a group destination is
   `multicast_in_unicast_mode` unless `accept_multicast` (the migration aid) allows the
   family's own group;
2. source: in unicast mode it must be one of the family's peers (exact match, no scope)
   unless `accept_source = "any"`, else `unknown_peer` naming the sender;
3. TTL / hop limit: 255 for anything sent to a group (it cannot have crossed a router),
   at least `accept_ttl` for unicast adverts (lower it for peers behind routers).
Must not: look at the payload (demux.py and the profiles do).
"""

from __future__ import annotations

import ipaddress

from carpd.core.drops import DropReason, Rejected
from carpd.core.events import PacketReceived
from carpd.core.params import VipParams

GROUP_HOP_LIMIT = 255
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


def check_path(p: VipParams, packet: PacketReceived, vid: int) -> None:
    """Raises Rejected (with `vid`, the source and the VIP's name) if a check fails."""
    family, destination, source = packet.family, packet.destination, packet.source
    group, unicast = p.group_for(family), p.unicast(family)
    to_group = destination.is_multicast or destination == _BROADCAST

    def reject(reason: DropReason, detail: str) -> Rejected:
        return Rejected(reason, detail, vid, source, p.name)

    if not unicast:
        if not to_group:
            raise reject(DropReason.UNICAST_IN_MULTICAST_MODE,
                         f"unicast advert to {destination} from {source}, but vip {p.name} "
                         f"uses the group {group} (add peers to use unicast)")
        if destination != group:
            raise reject(DropReason.WRONG_DESTINATION,
                         f"to {destination}, expected {group}")
    elif to_group:
        if destination != group:
            raise reject(DropReason.WRONG_DESTINATION, f"to {destination}, expected one of "
                         f"our addresses (unicast peers)")
        if not p.accept_multicast:
            raise reject(DropReason.MULTICAST_IN_UNICAST_MODE,
                         f"group advert to {destination} from {source}, but vip {p.name} "
                         "has unicast peers (set accept_multicast while migrating)")
    if unicast and p.accept_source != "any" and source not in p.peers_for(family):
        raise reject(DropReason.UNKNOWN_PEER,
                     f"advert from {source}, which is not among the peers of vip {p.name} "
                     "(add it to `peers`, or set accept_source = \"any\")")
    floor = GROUP_HOP_LIMIT if to_group else p.accept_ttl
    if packet.hop_limit < floor:
        what = "TTL" if source.version == 4 else "hop limit"
        raise reject(DropReason.BAD_TTL, f"{what} {packet.hop_limit} from {source}, must be "
                     f"{'255' if floor == GROUP_HOP_LIMIT else f'at least {floor}'}")
