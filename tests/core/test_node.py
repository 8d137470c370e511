"""The node: validation order, drop reasons and counters, rate-limited logging, demux, fan-out."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carpd.core.actions import Anomaly, PacketDropped, SendAdvert, StateChanged, VhidState
from carpd.core.carp import auth, wire
from carpd.core.drops import QUIET_DROPS, DropReason
from carpd.core.events import (
    AddressOpFailed,
    LinkChanged,
    SendResult,
    SetDemotion,
    Shutdown,
    Start,
    TimerFired,
)
from carpd.core.node import Node
from carpd.core.params import Secret, VipParams
from carpd.io.ipv4 import encode_ipv4_header, parse_datagram
from tests.carp_words import effective_advskew

IP = ipaddress.IPv4Address
IPIF = ipaddress.IPv4Interface
GROUP = IP("224.0.0.18")
PEER = IP("10.0.0.2")
WEB_VIP, MAIL_VIP, LAN_VIP = IPIF("192.0.2.10/24"), IPIF("192.0.2.25/24"), IPIF("198.51.100.1/24")
COUNTERS = {"web": 1000, "mail": 2000, "lan": 3000}


def vip(name: str, vhid: int, interface: str, source: str, address: IPIF, password: bytes,
        **kw: Any) -> VipParams:
    return VipParams(name=name, vhid=vhid, interface=interface, addresses=(address,),
                     password=Secret(password), source=IP(source), preempt=False, **kw)


WEB = vip("web", 10, "eth0", "10.0.0.1", WEB_VIP, b"webpw")
MAIL = vip("mail", 11, "eth0", "10.0.0.1", MAIL_VIP, b"mailpw", advskew=128)
LAN = vip("lan", 10, "eth1", "10.1.0.1", LAN_VIP, b"lanpw", advbase=2)  # same vhid, other if


def make_node(drop_log_interval: float = 60.0) -> Node:
    return Node([WEB, MAIL, LAN], counter_source=COUNTERS.__getitem__,
                drop_log_interval=drop_log_interval)


def started_node(drop_log_interval: float = 60.0) -> Node:
    node = make_node(drop_log_interval)
    node.handle(Start(), 0.0)
    return node


def packet(*, vhid: int = 10, password: bytes = b"webpw", addresses: tuple[IPIF, ...] = (WEB_VIP,),
           src: IP = PEER, dst: IP = GROUP, ttl: int = 255, proto: int = 112, version: int = 2,
           type_: int = 1, authlen: int = 7, advbase: int = 1, advskew: int = 0,
           counter: int = 42, corrupt_digest: bool = False) -> bytes:
    digest = auth.compute_digest(password, vhid, [a.ip for a in addresses], counter)
    carp = bytearray(wire.encode_carp_header(wire.CarpHeader(
        version=version, type=type_, vhid=vhid, advskew=advskew, authlen=authlen,
        advbase=advbase, counter=counter, digest=digest)))
    if corrupt_digest:
        carp[20] ^= 0x01  # after the checksum was computed
    ip = encode_ipv4_header(source=src, destination=dst, payload_length=36, ttl=ttl,
                                 protocol=proto)
    return ip + bytes(carp)


def receive(node: Node, data: bytes, now: float = 1.0, interface: str = "eth0") -> list[Any]:
    """Raw IPv4 bytes as the raw-socket adapter hands them to the core."""
    return node.handle(parse_datagram(interface, data), now)


def only_drop(actions: list[Any]) -> PacketDropped:
    """The one PacketDropped; a bad HMAC is also a foreign_advert Anomaly right after it
    (tests/core/test_node_health.py checks those)."""
    if len(actions) == 2 and isinstance(actions[1], Anomaly):
        assert actions[1].kind == "foreign_advert"
        actions = actions[:1]
    assert len(actions) == 1
    assert isinstance(actions[0], PacketDropped)
    return actions[0]


def states(node: Node) -> dict[str, VhidState]:
    return {s.name: s.state for s in node.statistics().vips}


# -- drops by reason ---------------------------------------------------------------------------

DROP_CASES = [
    # (id, bytes, reason, vhid, counted for VIP "web")
    ("short-ip", b"\x45\x00\x00", "short", None, False),
    ("short-carp", packet()[:40], "short", 10, True),  # a CARP version/type/authlen, cut
    ("ipv6", b"\x60" + packet()[1:], "malformed", None, False),
    ("not-112", packet(proto=17), "malformed", None, False),
    ("own", packet(src=IP("10.0.0.1")), "own_packet", None, False),
    ("ttl", packet(ttl=64), "bad_ttl", 10, True),
    ("vrrp3", packet(version=3), "vrrp", 10, True),
    ("vrrp2-authlen", packet(authlen=1), "vrrp", 10, True),
    ("vrrp2-type", packet(type_=2), "vrrp", 10, True),
    ("version", packet(version=1), "bad_version", 10, True),
    ("unknown-vhid", packet(vhid=99), "unknown_vhid", 99, False),
    ("destination", packet(dst=IP("224.0.0.19")), "wrong_destination", 10, True),
    ("unicast", packet(dst=IP("10.0.0.1")), "unicast_in_multicast_mode", 10, True),
    ("checksum", packet(corrupt_digest=True), "bad_checksum", 10, True),
    ("hmac", packet(password=b"wrong"), "bad_hmac", 10, True),
    ("hmac-vip", packet(addresses=(IPIF("192.0.2.11/24"),)), "bad_hmac", 10, True),
]


@pytest.mark.parametrize(("data", "reason", "vhid", "per_vip"),
                         [pytest.param(*c[1:], id=c[0]) for c in DROP_CASES])
def test_drop_reason_and_exact_counters(data: bytes, reason: str, vhid: int | None,
                                        per_vip: bool) -> None:
    node = started_node()
    before = states(node)
    drop = only_drop(receive(node, data))
    assert drop.reason == reason
    assert drop.interface == "eth0"
    assert drop.vhid == vhid
    assert drop.log is (reason not in QUIET_DROPS)
    stats = node.statistics()
    assert stats.interface_drops == {"eth0": {reason: 1}}
    assert stats.vip_drops == {"web": {reason: 1} if per_vip else {}, "mail": {}, "lan": {}}
    assert states(node) == before
    assert all(s.adverts_received == 0 for s in stats.vips)


def test_quiet_reasons() -> None:
    assert {"own_packet", "vrrp", "unknown_vhid"} == QUIET_DROPS
    assert set(QUIET_DROPS) <= set(DropReason)
    from tests.core.test_node_unicast import UNICAST_DROP_CASES
    assert {c[2] for c in DROP_CASES + UNICAST_DROP_CASES} == set(DropReason)


def test_drop_details_name_the_problem() -> None:
    node = started_node()
    assert "TTL 64" in only_drop(receive(node, packet(ttl=64))).detail
    assert "VRRPv3" in only_drop(receive(node, packet(version=3))).detail
    assert "224.0.0.19" in only_drop(receive(node, packet(dst=IP("224.0.0.19")))).detail
    drop = only_drop(receive(node, packet(password=b"x")))
    assert drop.source == PEER
    assert "password" in drop.detail


@pytest.mark.parametrize(("data", "reason"), [
    (packet(ttl=64, version=3, vhid=99), "vrrp"),
    (packet(ttl=64, version=1, vhid=99), "bad_version"),
    (packet(ttl=64, vhid=99, password=b"x", dst=IP("224.0.0.19")), "unknown_vhid"),
    (packet(ttl=64, dst=IP("224.0.0.19"), corrupt_digest=True), "wrong_destination"),
    (packet(ttl=64, dst=IP("10.0.0.1"), corrupt_digest=True), "unicast_in_multicast_mode"),
    (packet(ttl=64, password=b"x", corrupt_digest=True), "bad_ttl"),
    (packet(password=b"x", corrupt_digest=True), "bad_checksum"),
    (packet(src=IP("10.0.0.1"), ttl=1, version=3), "own_packet"),
    (packet(proto=17, ttl=1), "malformed"),
])
def test_validation_order(data: bytes, reason: str) -> None:
    assert only_drop(receive(started_node(), data)).reason == reason


def test_own_source_is_per_interface() -> None:
    node = started_node()
    # 10.1.0.1 is our source on eth1, not on eth0: on eth0 it is a peer (here: bad HMAC)
    assert only_drop(receive(node, packet(src=IP("10.1.0.1"), password=b"x"))).reason == "bad_hmac"
    assert only_drop(receive(node, packet(src=IP("10.1.0.1"), vhid=10, password=b"lanpw",
                                          addresses=(LAN_VIP,)), interface="eth1")
                     ).reason == "own_packet"


def test_counters_per_vip_and_per_interface_accumulate() -> None:
    node = started_node()
    for _ in range(3):
        receive(node, packet(password=b"x"))
    receive(node, packet(vhid=11, ttl=1))
    receive(node, packet(vhid=99))
    receive(node, packet(vhid=10, password=b"x"), interface="eth1")
    receive(node, b"", interface="eth2")
    stats = node.statistics()
    assert stats.interface_drops == {
        "eth0": {"bad_hmac": 3, "bad_ttl": 1, "unknown_vhid": 1},
        "eth1": {"bad_hmac": 1},
        "eth2": {"short": 1},
    }
    assert stats.vip_drops == {"web": {"bad_hmac": 3}, "mail": {"bad_ttl": 1},
                               "lan": {"bad_hmac": 1}}


# -- rate limiting -----------------------------------------------------------------------------

def test_loud_reason_logged_once_per_interval() -> None:
    node = started_node(drop_log_interval=60.0)
    bad = packet(password=b"x")
    logs = [only_drop(receive(node, bad, now)).log for now in (0.0, 1.0, 59.9, 60.0, 61.0,
                                                               119.9, 120.0)]
    assert logs == [True, False, False, True, False, False, True]
    assert node.statistics().interface_drops["eth0"]["bad_hmac"] == 7


def test_rate_limit_is_per_reason_and_per_interface() -> None:
    node = started_node(drop_log_interval=10.0)
    assert only_drop(receive(node, packet(password=b"x"), 0.0)).log
    assert only_drop(receive(node, packet(ttl=1), 1.0)).log  # other reason
    assert only_drop(receive(node, packet(vhid=10, password=b"x"), 2.0, "eth1")).log
    assert not only_drop(receive(node, packet(password=b"x"), 3.0)).log
    assert not only_drop(receive(node, packet(ttl=1), 4.0)).log
    assert not only_drop(receive(node, packet(vhid=10, password=b"x"), 5.0, "eth1")).log


def test_quiet_reasons_never_logged() -> None:
    node = started_node(drop_log_interval=1.0)
    for now in (0.0, 5.0, 100.0):
        assert not only_drop(receive(node, packet(version=3), now)).log
        assert not only_drop(receive(node, packet(vhid=99), now)).log
        assert not only_drop(receive(node, packet(src=IP("10.0.0.1")), now)).log


# -- fuzzing -----------------------------------------------------------------------------------

def _ip_prefixed(payload: bytes, ttl: int, dst: IP) -> bytes:
    return encode_ipv4_header(source=PEER, destination=dst, payload_length=len(payload),
                                   ttl=ttl) + payload


def _mutated(offset: int, delta: int) -> bytes:
    """The valid advert with one byte changed where a change must be caught: version/IHL,
    TTL, protocol, destination, or any of the 36 CARP bytes."""
    raw = bytearray(packet())
    raw[offset] = (raw[offset] + delta) % 256
    return bytes(raw)


_fuzz = st.one_of(
    st.binary(max_size=100),
    st.builds(_ip_prefixed, st.binary(min_size=30, max_size=60), st.sampled_from([255, 64]),
              st.sampled_from([GROUP, IP("224.0.0.19")])),
    st.builds(_mutated, st.sampled_from([0, 8, 9, 16, 17, 18, 19, *range(20, 56)]),
              st.integers(1, 255)),
)


@settings(max_examples=300)
@given(st.lists(_fuzz, max_size=5), st.sampled_from(["eth0", "eth1", "eth9"]))
def test_random_bytes_never_raise_nor_change_state(datas: list[bytes], interface: str) -> None:
    node = started_node()
    before = states(node)
    deadline = node.next_deadline()
    for data in datas:
        actions = receive(node, data, interface=interface)
        assert all(isinstance(a, PacketDropped) for a in actions)
        assert len(actions) == 1
        assert states(node) == before
        assert node.next_deadline() == deadline


# -- routing -----------------------------------------------------------------------------------

def test_valid_advert_routed_to_right_machine() -> None:
    node = started_node()
    assert receive(node, packet(vhid=11, password=b"mailpw", addresses=(MAIL_VIP,)), 2.0) == []
    stats = {s.name: s for s in node.statistics().vips}
    assert (stats["web"].adverts_received, stats["mail"].adverts_received,
            stats["lan"].adverts_received) == (0, 1, 0)
    assert stats["mail"].master == PEER
    assert node.machine("mail").next_deadline() == 2.0 + 3 + 0.5  # timer restarted
    assert node.machine("web").next_deadline() == 3.0


def test_same_vhid_on_two_interfaces_is_demultiplexed() -> None:
    node = started_node()
    actions = receive(node, packet(vhid=10, password=b"lanpw", addresses=(LAN_VIP,),
                                   advbase=255, advskew=255), 2.0, "eth1")
    assert isinstance(actions[0], StateChanged)
    assert (actions[0].name, actions[0].new, actions[0].reason) == ("lan", VhidState.MASTER,
                                                                   "peer_bowed_out")
    assert {a.name for a in actions if hasattr(a, "name")} == {"lan"}
    assert states(node) == {"web": VhidState.BACKUP, "mail": VhidState.BACKUP,
                            "lan": VhidState.MASTER}
    # web's advert arriving on eth1 is checked against lan's key
    assert only_drop(receive(node, packet(), 2.5, "eth1")).reason == "bad_hmac"
    assert node.statistics().vip_drops["lan"] == {"bad_hmac": 1}


def test_demote_byte_is_passed_but_ignored() -> None:
    node = started_node()
    raw = bytearray(packet(advskew=0))
    raw[20 + 4] = 5  # demote byte, then fix the CARP checksum
    fixed = raw[:20] + wire.encode_carp_header(wire.decode_carp_header(bytes(raw[20:])))
    assert receive(node, bytes(fixed), 2.0) == []
    assert node.machine("web").next_deadline() == 5.0


def test_counter_adopted_from_peer() -> None:
    node = started_node()
    receive(node, packet(counter=0xFFFF), 1.0)
    actions = node.handle(TimerFired(), 4.0)
    send = [a for a in actions if isinstance(a, SendAdvert) and a.name == "web"]
    assert len(send) == 1
    assert wire.decode_carp_header(send[0].payload).counter == 0x10000


# -- timers and fan-out ------------------------------------------------------------------------

def test_next_deadline_is_the_min_and_timer_fans_out_to_due_only() -> None:
    node = make_node()
    assert node.next_deadline() is None
    node.handle(Start(), 0.0)
    # web 3.0, mail 3.5 (skew 128), lan 6.0 (advbase 2)
    assert node.next_deadline() == 3.0
    assert node.handle(TimerFired(), 2.9) == []
    actions = node.handle(TimerFired(), 3.0)
    assert {a.name for a in actions if hasattr(a, "name")} == {"web"}
    assert states(node) == {"web": VhidState.MASTER, "mail": VhidState.BACKUP,
                            "lan": VhidState.BACKUP}
    assert node.next_deadline() == 3.5  # min(web advert 4.0, mail 3.5, lan 6.0)
    actions = node.handle(TimerFired(), 3.5)
    assert {a.name for a in actions if hasattr(a, "name")} == {"mail"}
    assert node.next_deadline() == 4.0
    actions = node.handle(TimerFired(), 4.0)
    assert [type(a).__name__ for a in actions] == ["SendAdvert"]
    assert node.next_deadline() == 5.0  # web's and mail's next adverts (3.5 + 1.5)


def test_late_timer_serves_every_due_machine() -> None:
    node = started_node()
    actions = node.handle(TimerFired(), 10.0)
    changes = [a for a in actions if isinstance(a, StateChanged)]
    assert [c.name for c in changes] == ["web", "mail", "lan"]
    deadline = node.next_deadline()
    assert deadline is not None
    assert deadline > 10.0


def test_start_shutdown_and_demotion_by_name() -> None:
    node = make_node()
    actions = node.handle(Start(name="mail"), 0.0)
    assert [a.name for a in actions if isinstance(a, StateChanged)] == ["mail"]
    assert node.handle(Start(name="nope"), 0.0) == []
    node.handle(Start(), 0.0)
    node.handle(TimerFired(), 10.0)
    actions = node.handle(SetDemotion(name=None, source="boot", amount=10), 10.5)
    assert sorted(a.name for a in actions if isinstance(a, SendAdvert)) == ["lan", "mail", "web"]
    assert len(actions) == 3
    assert effective_advskew(node.machine("web")) == 10
    actions = node.handle(Shutdown(name="web"), 11.0)
    assert {a.name for a in actions if hasattr(a, "name")} == {"web"}
    assert states(node)["web"] is VhidState.INIT
    assert states(node)["mail"] is VhidState.MASTER


def test_link_change_only_affects_its_interface() -> None:
    node = started_node()
    actions = node.handle(LinkChanged(interface="eth1", up=False), 1.0)
    assert [(a.name, a.new) for a in actions if isinstance(a, StateChanged)] == [
        ("lan", VhidState.INIT)]
    assert node.handle(LinkChanged(interface="eth7", up=False), 1.0) == []


def test_results_for_unknown_names_are_ignored() -> None:
    node = started_node()
    assert node.handle(SendResult(name="gone", ok=False), 1.0) == []
    assert node.handle(AddressOpFailed(name="gone", error="x"), 1.0) == []
    node.handle(AddressOpFailed(name="web", error="EPERM"), 1.0)
    assert node.machine("web").statistics().address_errors == 1


def test_membership() -> None:
    node = make_node()
    assert list(node.names) == ["web", "mail", "lan"]
    with pytest.raises(ValueError, match="already present"):
        node.add(vip("web2", 10, "eth0", "10.0.0.1", WEB_VIP, b"x"), 0.0)
    with pytest.raises(ValueError, match="already present"):
        node.add(vip("web", 12, "eth0", "10.0.0.1", WEB_VIP, b"x"), 0.0)
    node.remove("web")
    assert list(node.names) == ["mail", "lan"]
    node.handle(Start(), 0.0)
    assert only_drop(receive(node, packet())).reason == "unknown_vhid"
    assert "web" not in node.statistics().vip_drops
    with pytest.raises(TypeError):
        node.handle(object(), 0.0)  # type: ignore[arg-type]
