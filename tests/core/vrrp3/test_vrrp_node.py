"""A VRRPv3 VIP through the node and its machine (RFC 5798 6.4), with real encoded adverts:
start as backup or as the owner, Master_Down from the learned interval, the priority-0 resign
(Skew_Time only), preemption after the timer (never at once), a silent step-down, the
re-assert, per-destination checksums for unicast, demotion in priority words, preempt_delay,
and CARP and VRRP VIPs with the same id side by side."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from carpd.core.actions import (
    AddAddresses,
    Announce,
    Anomaly,
    PacketDropped,
    RemoveAddresses,
    SendAdvert,
    StartUnits,
    StateChanged,
)
from carpd.core.addresses import Address, Family
from carpd.core.carp import auth
from carpd.core.carp import wire as carp_wire
from carpd.core.events import PacketReceived, SetDemotion, SetFault, Shutdown, Start, TimerFired
from carpd.core.node import Node
from carpd.core.params import Secret, VipParams
from carpd.core.states import Reason, VhidState
from carpd.core.vrrp3 import wire
from carpd.core.vrrp3.wire import ChecksumForm, Vrrp3Header
from carpd.status.document import NodeInfo, build_document
from carpd.status.explain import explain
from carpd.status.jsonform import vip_json

A = ipaddress.ip_address
OWN, PEER, LOW_PEER = A("10.99.0.5"), A("10.99.0.9"), A("10.99.0.3")
VIP = ipaddress.ip_interface("10.99.0.100/24")
VIP6 = ipaddress.ip_interface("fd00:99::100/64")
OWN6, PEER6 = A("fe80::5"), A("fe80::9")
GROUP, GROUP6 = A("224.0.0.18"), A("ff02::12")
B, M, F, INIT = VhidState.BACKUP, VhidState.MASTER, VhidState.FAULT, VhidState.INIT


def vrrp(**overrides: Any) -> VipParams:
    base: dict[str, Any] = {
        "name": "api", "vhid": 51, "interface": "eth0", "addresses": (VIP,),
        "password": Secret(b""), "protocol": "vrrp3", "priority": 150,
        "advert_interval_cs": 100, "source": OWN, "master_units": ("api.target",),
    }
    base.update(overrides)
    return VipParams(**base)


def node(*vips: VipParams) -> Node:
    return Node(vips or (vrrp(),), counter_source=lambda _n: 7)


def advert(priority: int, *, src: Address = PEER, interval: int = 100, vrid: int = 51,
           dst: Address = GROUP, hosts: tuple[Address, ...] = (VIP.ip,),
           form: ChecksumForm = ChecksumForm.PSEUDO_HEADER, ttl: int = 255) -> PacketReceived:
    payload = wire.encode_vrrp3(Vrrp3Header(vrid, priority, interval, hosts), source=src,
                                destination=dst, form=form)
    return PacketReceived(interface="eth0", family=Family(src.version), source=src,
                          destination=dst, hop_limit=ttl, payload=payload)


def changes(actions: list[Any]) -> list[tuple[VhidState, VhidState, Reason]]:
    return [(a.old, a.new, a.reason) for a in actions if isinstance(a, StateChanged)]


def sent(actions: list[Any]) -> list[SendAdvert]:
    return [a for a in actions if isinstance(a, SendAdvert)]


def decoded(a: SendAdvert) -> Vrrp3Header:
    return wire.decode_vrrp3(a.payload, a.family)


def test_start_is_backup_for_three_intervals_plus_skew() -> None:
    n = node()
    assert changes(n.handle(Start(), 0.0)) == [(INIT, B, Reason.START)]
    assert n.next_deadline() == pytest.approx(3.414062)
    actions = n.handle(TimerFired(), 3.414062)
    assert changes(actions) == [(B, M, Reason.MASTER_DOWN_TIMER)]
    assert [type(a) for a in actions][:4] == [StateChanged, AddAddresses, Announce, SendAdvert]
    (ad,) = sent(actions)
    assert (ad.destinations, ad.hop_limit, ad.traffic_class) == ((GROUP,), 255, 0xC0)
    assert decoded(ad) == Vrrp3Header(51, 150, 100, (VIP.ip,))
    assert wire.checksum_form(ad.payload, OWN, GROUP, message_only=False) is \
        ChecksumForm.PSEUDO_HEADER
    assert n.next_deadline() == pytest.approx(4.414062)


def test_the_owner_is_master_at_start() -> None:
    n = node(vrrp(priority=255, owner=True))
    actions = n.handle(Start(), 0.0)
    assert changes(actions) == [(INIT, M, Reason.ADDRESS_OWNER)]
    assert decoded(sent(actions)[0]).priority == 255
    assert any(isinstance(a, StartUnits) for a in actions)


def test_a_resigning_master_is_taken_over_after_skew_time_only() -> None:
    n = node()
    n.handle(Start(), 0.0)
    n.handle(advert(200), 1.0)  # a better master: follow it
    assert n.next_deadline() == pytest.approx(1.0 + 3.414062)
    assert n.handle(advert(0), 2.0) == []
    assert n.next_deadline() == pytest.approx(2.0 + 0.414062)  # Skew_Time of priority 150
    assert changes(n.handle(TimerFired(), 2.414062)) == [(B, M, Reason.MASTER_DOWN_TIMER)]


def test_a_preempting_backup_discards_a_worse_master_and_waits_for_its_timer() -> None:
    n = node()
    n.handle(Start(), 0.0)
    for t in (0.5, 1.5, 2.5, 3.4):
        assert n.handle(advert(100), t) == []  # discarded: the timer keeps running
    assert n.machine("api").statistics().reason == Reason.START
    assert changes(n.handle(TimerFired(), 3.414062)) == [(B, M, Reason.MASTER_DOWN_TIMER)]


def test_without_preempt_a_worse_master_is_followed() -> None:
    n = node(vrrp(preempt=False))
    n.handle(Start(), 0.0)
    n.handle(advert(100), 3.0)
    assert n.next_deadline() == pytest.approx(3.0 + 3.414062)


def test_preempt_delay_follows_a_worse_master_until_it_has_passed() -> None:
    n = node(vrrp(preempt_delay=10.0))
    n.handle(Start(), 0.0)
    for t in range(1, 12):
        n.handle(advert(100), float(t))  # followed while t < 10, then discarded
    assert n.next_deadline() == pytest.approx(9.0 + 3.414062)


def test_a_backup_adopts_the_masters_faster_interval() -> None:
    n = node()
    n.handle(Start(), 0.0)
    n.handle(advert(200, interval=10), 1.0)
    assert n.next_deadline() == pytest.approx(1.0 + 0.3 + 0.041406)
    stats = dict(n.machine("api").statistics().election.master)
    assert stats == {"master_priority": 200, "master_adver_interval_cs": 10}


def master_node(**overrides: Any) -> Node:
    n = node(vrrp(**overrides))
    n.handle(Start(), 0.0)
    n.handle(TimerFired(), 3.414062)
    return n


def test_a_master_steps_down_silently_for_a_better_one() -> None:
    n = master_node()
    actions = n.handle(advert(200, interval=50), 5.0)
    assert changes(actions) == [(M, B, Reason.PREFERRED_MASTER_HEARD)]
    assert sent(actions) == []  # RFC 5798: no farewell advert
    assert isinstance(actions[1], RemoveAddresses)
    assert n.next_deadline() == pytest.approx(5.0 + 1.5 + 0.207031)


def test_equal_priority_the_greater_address_wins() -> None:
    n = master_node()
    assert changes(n.handle(advert(150, src=A("10.99.0.9")), 5.0)) == [
        (M, B, Reason.EQUAL_MASTER_TIE_BREAK_LOST)]
    n = master_node()
    actions = n.handle(advert(150, src=LOW_PEER), 5.0)
    assert changes(actions) == [] and len(sent(actions)) == 1  # we stay and re-assert


def test_a_master_reasserts_against_a_worse_one_and_answers_a_resign_at_once() -> None:
    n = master_node()
    actions = n.handle(advert(100), 5.0)  # it had a whole interval to hear us: a dual master
    assert [type(a) for a in actions] == [Announce, SendAdvert, Anomaly]
    actions = n.handle(advert(0), 5.2)
    assert [type(a) for a in actions] == [SendAdvert]
    assert n.next_deadline() == pytest.approx(6.2)


def test_shutdown_and_fatal_fault_send_priority_zero_after_releasing() -> None:
    n = master_node()
    actions = n.handle(Shutdown(), 6.0)
    assert isinstance(actions[1], RemoveAddresses)
    assert decoded(sent(actions)[0]).priority == 0
    n = master_node()
    actions = n.handle(SetFault(name="api", source="check:db", failing=True), 6.0)
    assert changes(actions)[0][:2] == (M, F)
    assert decoded(sent(actions)[0]).priority == 0


def test_a_demotion_lowers_the_advertised_priority_at_once() -> None:
    n = master_node()
    actions = n.handle(SetDemotion(name="api", source="operator", amount=100), 5.0)
    assert decoded(sent(actions)[0]).priority == 50
    assert dict(n.machine("api").statistics().election.own)["effective_priority"] == 50


def test_unicast_adverts_carry_a_checksum_for_each_destination() -> None:
    peers = (A("10.99.0.2"), A("10.99.0.7"))
    n = master_node(peers=peers, peer_ttl=64)
    actions = n.handle(TimerFired(), 4.414062)
    ads = sent(actions)
    assert [a.destinations for a in ads] == [(peers[0],), (peers[1],)]
    for ad in ads:
        assert ad.hop_limit == 64
        assert wire.checksum_form(ad.payload, OWN, ad.destinations[0], message_only=False) is \
            ChecksumForm.PSEUDO_HEADER


def test_rfc9568_mode_sends_the_message_only_form_and_accept_both_takes_it() -> None:
    n = master_node(vrrp_checksum="rfc9568")
    (ad,) = sent(n.handle(TimerFired(), 4.414062))
    assert wire.checksum_form(ad.payload, OWN, GROUP, message_only=True) is \
        ChecksumForm.MESSAGE_ONLY
    strict = node()
    strict.handle(Start(), 0.0)
    cisco = advert(200, form=ChecksumForm.MESSAGE_ONLY)
    (drop,) = strict.handle(cisco, 1.0)
    assert isinstance(drop, PacketDropped) and drop.reason == "bad_checksum"
    lenient = node(vrrp(vrrp_checksum="accept-both"))
    lenient.handle(Start(), 0.0)
    assert lenient.handle(cisco, 1.0) == []
    assert lenient.next_deadline() == pytest.approx(1.0 + 3.414062)


@pytest.mark.parametrize(("packet", "reason"), [
    (advert(200, ttl=254), "bad_ttl"),
    (advert(200, vrid=52), "unknown_vhid"),
    (PacketReceived(interface="eth0", family=Family.IPV4, source=PEER, destination=GROUP,
                    hop_limit=255, payload=bytes.fromhex("3233640100640000")), "malformed"),
])
def test_bad_vrrp_adverts_are_counted_drops(packet: PacketReceived, reason: str) -> None:
    n = node()
    n.handle(Start(), 0.0)
    (drop,) = n.handle(packet, 1.0)
    assert isinstance(drop, PacketDropped) and drop.reason == reason


def test_carp_vhid_and_vrrp_vrid_with_the_same_number_are_told_apart() -> None:
    carp = VipParams(name="web", vhid=51, interface="eth0",
                     addresses=(ipaddress.ip_interface("10.99.0.31/24"),),
                     password=Secret(b"pw"), source=OWN, master_units=())
    v6 = vrrp(name="api6", addresses=(VIP6,), source=None, source6=OWN6)
    n = node(carp, vrrp(), v6)
    n.handle(Start(), 0.0)
    assert n.handle(advert(200), 1.0) == []  # to the VRRP IPv4 router
    digest = auth.compute_digest(b"pw", 51, (A("10.99.0.31"),), 3)
    carp_payload = carp_wire.encode_carp_header(carp_wire.CarpHeader(
        vhid=51, advskew=0, advbase=1, counter=3, digest=digest))
    n.handle(PacketReceived(interface="eth0", family=Family.IPV4, source=PEER,
                            destination=GROUP, hop_limit=255, payload=carp_payload), 1.0)
    n.handle(advert(200, src=PEER6, dst=GROUP6, hosts=(VIP6.ip,)), 1.0)
    masters = {s.name: str(s.master) for s in n.statistics().vips}
    assert masters == {"web": str(PEER), "api": str(PEER), "api6": str(PEER6)}
    assert n.statistics().interface_drops == {}


def test_a_vrrp_advert_where_no_vrrp_vip_runs_is_a_quiet_vrrp_drop() -> None:
    carp = VipParams(name="web", vhid=51, interface="eth0",
                     addresses=(ipaddress.ip_interface("10.99.0.31/24"),),
                     password=Secret(b"pw"), source=OWN, master_units=())
    n = node(carp)
    n.handle(Start(), 0.0)
    (drop,) = n.handle(advert(200), 1.0)
    assert isinstance(drop, PacketDropped) and drop.reason == "vrrp" and not drop.log


def test_the_checksum_form_of_accepted_adverts_is_counted_and_explained() -> None:
    n = node(vrrp(vrrp_checksum="accept-both", peers=(PEER,), accept_multicast=True))
    n.handle(Start(), 0.0)
    n.handle(advert(200), 1.0)
    n.handle(advert(200, form=ChecksumForm.MESSAGE_ONLY), 2.0)
    n.handle(advert(200, dst=A("10.99.0.5"), form=ChecksumForm.PSEUDO_HEADER_GROUP), 3.0)
    doc = build_document(n.statistics(), node=NodeInfo(hostname="h", version="0",
                                                       uptime_s=1.0), wall_iso=lambda t: "")
    (api,) = doc.vips
    assert dict(api.counters.checksum_forms) == {
        "message_only": 1, "pseudo_header": 1, "pseudo_header_group": 1}
    assert vip_json(api)["counters"]["checksum_forms"]["message_only"] == 1
    assert "Accepted adverts with a checksum 1 summed over the message only (RFC 9568" in \
        explain(api)
