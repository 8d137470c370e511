"""The machine with IPv6 and dual-stack VIPs (IPV6-UNICAST-VRRP3.md 1.6): an advert per family,
a master-down timer per family (either takes over, the reason names it), the bow-out and the
announcements in both families, and unicast destinations with peer_ttl."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from carpd.core.actions import AddAddresses, Announce, RemoveAddresses, SendAdvert, StateChanged
from carpd.core.addresses import Family
from carpd.core.carp import wire
from carpd.core.carp.profile import CarpAdvert
from carpd.core.events import AdvertReceived, Shutdown, Start, TimerFired
from carpd.core.machine import VhidMachine
from carpd.core.params import Secret, VipParams
from carpd.core.states import Reason, VhidState

IP, IP6 = ipaddress.IPv4Address, ipaddress.IPv6Address
VIP4, VIP6 = ipaddress.IPv4Interface("192.0.2.10/24"), ipaddress.IPv6Interface("2001:db8::10/64")
OWN4, OWN6 = IP("10.0.0.1"), IP6("fe80::1")
PEER4, PEER6 = IP("10.0.0.2"), IP6("fe80::2")
BACKUP, MASTER = VhidState.BACKUP, VhidState.MASTER
MASTER_DOWN = 3.0  # advbase 1, deadratio 3, advskew 0


def params(**overrides: Any) -> VipParams:
    base: dict[str, Any] = {
        "name": "web", "vhid": 10, "interface": "eth0", "addresses": (VIP4, VIP6),
        "password": Secret(b"pw"), "preempt": False, "source": OWN4, "source6": OWN6,
        "garp_count": 3, "garp_interval": 0.5, "na_count": 2, "na_interval": 0.25,
    }
    base.update(overrides)
    return VipParams(**base)


def started(**overrides: Any) -> VhidMachine:
    m = VhidMachine(params(**overrides), initial_counter=100)
    m.handle(Start(), 0.0)
    assert m.state is BACKUP
    return m


def heard(source: IP | IP6, advskew: int = 0) -> AdvertReceived:
    return AdvertReceived(name="web", advert=CarpAdvert(source=source, advbase=1,
                                                        advskew=advskew, counter=7))


def adverts(actions: list[object]) -> list[SendAdvert]:
    return [a for a in actions if isinstance(a, SendAdvert)]


def takeover_reason(actions: list[object]) -> Reason:
    first = actions[0]
    assert isinstance(first, StateChanged) and first.new is MASTER
    return first.reason


def test_each_family_needs_its_resolved_source() -> None:
    with pytest.raises(ValueError, match="IPv6 source"):
        VhidMachine(params(source6=None), initial_counter=0)
    VhidMachine(params(addresses=(VIP4,), source6=None), initial_counter=0)  # IPv4 only: fine
    with pytest.raises(ValueError, match="IPv4 source"):
        VhidMachine(params(source=None), initial_counter=0)
    VhidMachine(params(addresses=(VIP6,), source=None), initial_counter=0)  # IPv6 only: fine


def test_both_timers_expire_together_and_ipv4_names_the_takeover() -> None:
    m = started()
    assert m.next_deadline() == MASTER_DOWN
    actions = m.handle(TimerFired(), MASTER_DOWN)
    assert takeover_reason(actions) is Reason.MASTER_DOWN_TIMER


def test_an_advert_in_one_family_restarts_only_that_familys_timer() -> None:
    m = started()
    m.handle(heard(PEER4), 2.0)  # IPv4 master heard; its IPv6 adverts never arrive
    assert m.next_deadline() == MASTER_DOWN  # the IPv6 timer, armed at start
    actions = m.handle(TimerFired(), MASTER_DOWN)
    assert m.state is MASTER
    assert takeover_reason(actions) is Reason.MASTER_DOWN_TIMER_INET6


def test_hearing_both_families_keeps_the_backup() -> None:
    m = started()
    for t in (1.0, 2.0, 3.0, 4.0):
        m.handle(heard(PEER4), t)
        m.handle(heard(PEER6), t + 0.01)
        assert m.handle(TimerFired(), t + 0.02) == []
    assert m.state is BACKUP and m.next_deadline() == pytest.approx(4.0 + MASTER_DOWN)


def test_ipv6_only_vip_takes_over_by_its_ipv6_timer() -> None:
    m = started(addresses=(VIP6,), source=None)
    actions = m.handle(TimerFired(), MASTER_DOWN)
    assert takeover_reason(actions) is Reason.MASTER_DOWN_TIMER_INET6
    sent = adverts(actions)
    assert [(a.family, a.source, a.destinations) for a in sent] == [
        (Family.IPV6, OWN6, (IP6("ff02::12"),))]


def test_master_sends_one_advert_per_family_each_with_its_own_counter() -> None:
    m = started()
    actions = m.handle(TimerFired(), MASTER_DOWN)
    first = adverts(actions)
    assert [(a.family, a.source, a.destinations, a.hop_limit) for a in first] == [
        (Family.IPV4, OWN4, (IP("224.0.0.18"),), 255),
        (Family.IPV6, OWN6, (IP6("ff02::12"),), 255)]
    counters = [wire.decode_carp_header(a.payload).counter for a in first]
    assert counters == [101, 102]
    periodic = adverts(m.handle(TimerFired(), MASTER_DOWN + 1.0))
    assert [a.family for a in periodic] == [Family.IPV4, Family.IPV6]
    assert m.statistics().adverts_sent == 4


def test_takeover_adds_both_families_and_announces_each_its_way() -> None:
    m = started(na_router=True, deprecate_ipv6_vip=True)
    actions = m.handle(TimerFired(), MASTER_DOWN)
    add = next(a for a in actions if isinstance(a, AddAddresses))
    assert add.addresses == (VIP4, VIP6) and add.deprecate_ipv6
    bursts = [a for a in actions if isinstance(a, Announce)]
    assert [(b.addresses, b.count, b.interval, b.router) for b in bursts] == [
        ((VIP4.ip,), 3, 0.5, None), ((VIP6.ip,), 2, 0.25, True)]


def test_bow_out_goes_out_in_both_families_after_the_release() -> None:
    m = started()
    m.handle(TimerFired(), MASTER_DOWN)
    actions = m.handle(Shutdown(), 5.0)
    kinds = [type(a).__name__ for a in actions]
    assert kinds[:4] == ["StateChanged", "RemoveAddresses", "SendAdvert", "SendAdvert"]
    bows = adverts(actions)
    assert [a.family for a in bows] == [Family.IPV4, Family.IPV6]
    assert all(a.bow_out and wire.decode_carp_header(a.payload).advbase == 255 for a in bows)
    assert isinstance(actions[1], RemoveAddresses) and actions[1].addresses == (VIP4, VIP6)


def test_unicast_family_goes_to_its_peers_with_peer_ttl_the_other_to_its_group() -> None:
    peers = (IP("10.0.0.2"), IP("10.0.0.3"))
    m = started(peers=peers, peer_ttl=64, l2_broadcast=True)
    sent = adverts(m.handle(TimerFired(), MASTER_DOWN))
    assert [(a.destinations, a.hop_limit, a.l2_broadcast) for a in sent] == [
        (peers, 64, False), ((IP6("ff02::12"),), 255, False)]


def test_tie_break_in_master_compares_the_adverts_family_source() -> None:
    # equal rank: the lower source wins (ucarp compares addresses). Our IPv6 source fe80::1
    # is lower than the peer's fe80::2, so we keep MASTER against it ...
    m = started()
    m.handle(TimerFired(), MASTER_DOWN)
    m.handle(heard(PEER6), 3.5)
    assert m.state is MASTER
    # ... and yield to fe80:: (lower than ours)
    m.handle(heard(IP6("fe80::")), 3.6)
    assert m.state is BACKUP


def test_status_sees_self_as_master_in_either_family() -> None:
    m = started(addresses=(VIP6,), source=None)
    m.handle(TimerFired(), MASTER_DOWN)
    stats = m.statistics()
    assert stats.master == OWN6
    assert dict(stats.election.master)["master_advskew"] == 0
