"""The node with unicast peers and IPv6 (IPV6-UNICAST-VRRP3.md 2.5): the path checks in their
order (destination, source among the peers, TTL at least accept_ttl), each a counted drop with
its own reason; IPv6 adverts demultiplexed to the VIP's IPv6 key; own IPv6 adverts ignored."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from carpd.core.actions import PacketDropped, StateChanged
from carpd.core.addresses import Address, Family
from carpd.core.carp import auth, wire
from carpd.core.events import PacketReceived, Start
from carpd.core.node import Node
from carpd.core.params import Secret, VipParams
from carpd.core.states import VhidState

IP, IP6 = ipaddress.IPv4Address, ipaddress.IPv6Address
VIP4, VIP6 = ipaddress.IPv4Interface("192.0.2.10/24"), ipaddress.IPv6Interface("2001:db8::10/64")
OWN4, OWN6 = IP("10.0.0.1"), IP6("fe80::1")
PEER4, PEER6 = IP("10.9.0.2"), IP6("2001:db8:9::2")
STRANGER = IP("10.9.0.66")
GROUP4, GROUP6 = IP("224.0.0.18"), IP6("ff02::12")


def vip(**overrides: Any) -> VipParams:
    base: dict[str, Any] = {
        "name": "web", "vhid": 10, "interface": "eth0", "addresses": (VIP4, VIP6),
        "password": Secret(b"pw"), "preempt": False, "source": OWN4, "source6": OWN6,
        "peers": (PEER4, PEER6), "accept_ttl": 64,
    }
    base.update(overrides)
    return VipParams(**base)


def started(**overrides: Any) -> Node:
    node = Node([vip(**overrides)], counter_source=lambda _n: 1)
    node.handle(Start(), 0.0)
    return node


def datagram(*, src: Address = PEER4, dst: Address = OWN4, ttl: int = 64, vhid: int = 10,
             password: bytes = b"pw", advskew: int = 0) -> PacketReceived:
    digest = auth.compute_digest(password, vhid, (VIP4.ip, VIP6.ip), 5)
    payload = wire.encode_carp_header(wire.CarpHeader(vhid=vhid, advskew=advskew, advbase=1,
                                                      counter=5, digest=digest))
    family = Family(src.version)
    return PacketReceived(interface="eth0", family=family, source=src, destination=dst,
                          hop_limit=ttl, payload=payload)


def verdict(node: Node, packet: PacketReceived) -> str:
    actions = node.handle(packet, 1.0)
    drops = [a for a in actions if isinstance(a, PacketDropped)]
    return drops[0].reason if drops else "accepted"


UNICAST_DROP_CASES = [
    # (id, packet, reason, settings)
    ("group-in-unicast", datagram(dst=GROUP4, ttl=255), "multicast_in_unicast_mode", {}),
    ("stranger", datagram(src=STRANGER), "unknown_peer", {}),
    ("ttl-below-accept", datagram(ttl=63), "bad_ttl", {}),
    ("other-group", datagram(dst=IP("224.0.0.19"), ttl=255), "wrong_destination", {}),
    ("v6-stranger", datagram(src=IP6("2001:db8:9::66"), dst=IP6("2001:db8::1")),
     "unknown_peer", {}),
]


@pytest.mark.parametrize(("packet", "reason", "settings"),
                         [pytest.param(*c[1:], id=c[0]) for c in UNICAST_DROP_CASES])
def test_unicast_drops_are_counted_with_their_reason(packet: PacketReceived, reason: str,
                                                     settings: dict[str, Any]) -> None:
    node = started(**settings)
    actions = node.handle(packet, 1.0)
    assert len(actions) == 1 and isinstance(actions[0], PacketDropped)
    drop = actions[0]
    assert drop.reason == reason and drop.log and drop.vhid == 10
    stats = node.statistics()
    assert stats.vip_drops["web"] == {reason: 1}
    assert stats.vips[0].adverts_received == 0


def test_unknown_peer_names_the_sender_so_operators_can_add_it() -> None:
    node = started()
    drop = node.handle(datagram(src=STRANGER), 1.0)[0]
    assert isinstance(drop, PacketDropped) and drop.source == STRANGER
    assert "10.9.0.66" in drop.detail and "peers" in drop.detail


def test_peer_adverts_are_accepted_in_both_families() -> None:
    node = started()
    assert verdict(node, datagram()) == "accepted"
    assert verdict(node, datagram(src=PEER6, dst=IP6("2001:db8::1"))) == "accepted"
    assert node.statistics().vips[0].adverts_received == 2


def test_the_checks_run_in_order_destination_source_ttl_then_hmac() -> None:
    node = started()
    # everything wrong: the destination is reported first, then the source, then the TTL
    assert verdict(node, datagram(src=STRANGER, dst=GROUP4, ttl=1, password=b"x")) \
        == "multicast_in_unicast_mode"
    assert verdict(node, datagram(src=STRANGER, ttl=1, password=b"x")) == "unknown_peer"
    assert verdict(node, datagram(ttl=1, password=b"x")) == "bad_ttl"
    assert verdict(node, datagram(password=b"x")) == "bad_hmac"


def test_accept_source_any_takes_strangers_with_the_right_password() -> None:
    node = started(accept_source="any")
    assert verdict(node, datagram(src=STRANGER)) == "accepted"
    assert verdict(node, datagram(src=STRANGER, password=b"x")) == "bad_hmac"


def test_accept_multicast_takes_group_adverts_from_peers_at_ttl_255_only() -> None:
    node = started(accept_multicast=True)
    assert verdict(node, datagram(dst=GROUP4, ttl=255)) == "accepted"
    assert verdict(node, datagram(dst=GROUP4, ttl=64)) == "bad_ttl"
    assert verdict(node, datagram(dst=GROUP4, ttl=255, src=STRANGER)) == "unknown_peer"


def test_multicast_mode_refuses_unicast_and_requires_255() -> None:
    node = started(peers=(), accept_ttl=255)
    assert verdict(node, datagram(dst=OWN4, ttl=255)) == "unicast_in_multicast_mode"
    assert verdict(node, datagram(dst=GROUP4, ttl=254)) == "bad_ttl"
    assert verdict(node, datagram(src=STRANGER, dst=GROUP4, ttl=255)) == "accepted"
    assert verdict(node, datagram(src=IP6("fe80::9"), dst=GROUP6, ttl=255)) == "accepted"
    assert verdict(node, datagram(src=IP6("fe80::9"), dst=GROUP6, ttl=64)) == "bad_ttl"


def test_ipv6_only_peers_leave_ipv4_in_multicast_mode() -> None:
    node = started(peers=(PEER6,))
    assert verdict(node, datagram(src=STRANGER, dst=GROUP4, ttl=255)) == "accepted"
    assert verdict(node, datagram(src=PEER6, dst=GROUP6, ttl=255)) == "multicast_in_unicast_mode"


def test_own_ipv6_adverts_are_quiet_drops() -> None:
    node = started(peers=())
    drop = node.handle(datagram(src=OWN6, dst=GROUP6, ttl=255), 1.0)[0]
    assert isinstance(drop, PacketDropped) and drop.reason == "own_packet" and not drop.log


def test_an_ipv6_advert_for_an_ipv4_only_vhid_is_an_unknown_vhid() -> None:
    node = started(addresses=(VIP4,), peers=(), accept_ttl=255)
    assert verdict(node, datagram(src=IP6("fe80::9"), dst=GROUP6, ttl=255)) == "unknown_vhid"


def test_a_preferred_ipv6_peer_demotes_our_master() -> None:
    node = started(peers=(), accept_ttl=255)
    node.handle(Start(), 0.0)
    deadline = node.next_deadline()
    assert deadline is not None
    from carpd.core.events import TimerFired
    node.handle(TimerFired(), deadline)
    assert node.states() == (("web", VhidState.MASTER),)
    # a peer with a lower advskew: we are at 0, so it must have 0 and a lower source
    actions = node.handle(datagram(src=IP6("fe80::"), dst=GROUP6, ttl=255), deadline + 0.1)
    assert isinstance(actions[0], StateChanged) and actions[0].new is VhidState.BACKUP
