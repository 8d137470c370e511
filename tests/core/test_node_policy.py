"""The node with its election policy: operator demotions expire on the node's own deadline,
maintenance and operator demotions survive a re-created VIP, the boot hold-down waits and
releases, and carrier ends a hold-down before the machine leaves INIT."""

from __future__ import annotations

import ipaddress

import pytest

from carpd.core.actions import (
    DemotionExpired,
    HoldDownReleased,
    MaintenanceChanged,
    ReadAddresses,
    SendAdvert,
    StateChanged,
    VhidState,
)
from carpd.core.carp import wire
from carpd.core.events import (
    AddressesChanged,
    AddressesRead,
    BeginHoldDown,
    CheckResult,
    LinkChanged,
    OperatorDemote,
    OperatorPromote,
    RequiredUnitObserved,
    SetMaintenance,
    Start,
    TimerFired,
)
from carpd.core.node import Node
from carpd.core.params import CheckParams, Secret, VipParams
from carpd.core.policy.demotions import OperatorDemotion
from carpd.core.policy.maintenance import MaintenanceStatistics

IP = ipaddress.IPv4Address
SOURCE = IP("10.0.0.1")
NGINX = CheckParams(name="nginx", type="tcp", weight=50, host="127.0.0.1", port=80, rise=1,
                    fall=1)


def vip(name: str, vhid: int, *, group: str | None = None, **kw: object) -> VipParams:
    return VipParams(name=name, vhid=vhid, interface="eth0",  # type: ignore[arg-type]
                     addresses=(ipaddress.IPv4Interface(f"192.0.2.{vhid}/24"),),
                     password=Secret(b"pw"), source=SOURCE, sync_group=group, **kw)


WEB, MAIL = vip("web", 10), vip("mail", 11)


def started(*vips: VipParams, at: float = 0.0) -> Node:
    n = Node(vips or (WEB, MAIL), counter_source=lambda _n: 7, now=at)
    n.handle(Start(), at)
    return n


def demotions(n: Node) -> dict[str, dict[str, int]]:
    return {s.name: dict(s.demotions) for s in n.statistics().vips}


def skews(actions: list[object]) -> list[tuple[str, int]]:
    return [(a.name, wire.decode_carp_header(a.payload).advskew) for a in actions
            if isinstance(a, SendAdvert) and not a.bow_out]


# -- operator demotions ------------------------------------------------------------------------

def test_operator_demotion_expires_on_the_node_deadline_at_exactly_until_at() -> None:
    n = started(WEB)
    n.handle(TimerFired(), 3.0)  # MASTER, next advert at 4.0
    actions = n.handle(OperatorDemote(name="web", amount=254, until_at=3.75), 3.5)
    assert skews(actions) == [("web", 254)]  # a master advertises its new skew at once
    assert n.next_deadline() == 3.75
    assert n.statistics().policy.operator_demotions == (
        OperatorDemotion(name="web", amount=254, until_at=3.75),)
    assert n.handle(TimerFired(), 3.7499) == []
    actions = n.handle(TimerFired(), 3.75)
    assert skews(actions) == [("web", 0)] and actions[-1] == DemotionExpired(name="web")
    assert demotions(n) == {"web": {}} and n.statistics().policy.operator_demotions == ()
    assert n.next_deadline() == pytest.approx(4.75)  # the advert schedule, restarted at 3.75


def test_promote_clears_and_an_expiry_moves_the_sync_group() -> None:
    n = started(vip("web", 10, group="dc"), vip("mail", 11, group="dc"))
    n.handle(OperatorDemote(name="web", amount=100, until_at=2.0), 1.0)
    assert demotions(n) == {"web": {"operator": 100}, "mail": {"sync_group": 100}}
    n.handle(TimerFired(), 2.0)
    assert demotions(n) == {"web": {}, "mail": {}}
    n.handle(OperatorDemote(name="mail", amount=5), 2.5)
    n.handle(OperatorPromote(name="mail"), 2.6)
    assert demotions(n) == {"web": {}, "mail": {}}


def test_demotion_of_a_removed_vip_is_kept_by_name_and_still_expires() -> None:
    n = started()
    n.handle(OperatorDemote(name="web", amount=7, until_at=50.0), 1.0)
    n.remove("web")
    assert [d.name for d in n.statistics().policy.operator_demotions] == ["web"]
    n.add(WEB, 2.0)
    n.handle(Start(name="web"), 2.0)
    assert demotions(n)["web"] == {"operator": 7}
    n.remove("web")
    actions = n.handle(TimerFired(), 50.0)
    assert actions[0] == DemotionExpired(name="web")  # before the machines' timers (mail)
    assert n.statistics().policy.operator_demotions == ()


# -- maintenance -------------------------------------------------------------------------------

def test_maintenance_survives_a_vip_a_reload_creates() -> None:
    n = started()
    actions = n.handle(SetMaintenance(on=True), 1.0)
    assert actions == [MaintenanceChanged(on=True)]  # BACKUPs: nothing else to do
    assert n.statistics().policy.maintenance == MaintenanceStatistics(on=True, since_at=1.0)
    n.remove("web")
    n.add(WEB, 2.0)  # before its Start: the first master-down interval counts the 254
    n.handle(Start(name="web"), 2.0)
    assert demotions(n) == {"mail": {"maintenance": 254}, "web": {"maintenance": 254}}
    assert n.machine("web").master_down_at == 2.0 + 3 + 254 / 256
    n.handle(SetMaintenance(on=False), 3.0)
    assert demotions(n) == {"mail": {}, "web": {}}


# -- boot hold-down ----------------------------------------------------------------------------

def test_hold_down_waits_are_in_the_statistics_and_released_once() -> None:
    n = started(vip("web", 10, checks=(NGINX,), require_units=("nginx.service",)))
    actions = n.handle(BeginHoldDown(), 0.0)
    assert actions == [ReadAddresses(interface="eth0")]
    assert demotions(n) == {"web": {"hold_down": 240}}
    (hold,) = n.statistics().policy.hold_downs
    assert hold.waiting_for == ("the source address 10.0.0.1 on eth0", "nginx.service active",
                                "a first result of check nginx")
    assert n.handle(AddressesChanged(interface="eth0"), 0.1) == [ReadAddresses(interface="eth0")]
    n.handle(AddressesRead(interface="eth0", addresses=frozenset({SOURCE})), 0.2)
    n.handle(CheckResult(name="web", check="nginx", ok=True, detail="ok"), 0.3)
    assert n.handle(AddressesChanged(interface="eth0"), 0.4) == []
    actions = n.handle(RequiredUnitObserved(name="web", unit="nginx.service", active=True), 1.5)
    assert actions == [HoldDownReleased(name="web", held_interval=1.5)]
    assert demotions(n) == {"web": {}} and n.statistics().policy.hold_downs == ()
    assert n.statistics().vips[0].hold_down is False


def test_carrier_ends_the_hold_down_before_the_vip_leaves_init() -> None:
    n = Node([WEB], counter_source=lambda _n: 7)
    n.handle(LinkChanged(interface="eth0", up=False), 0.0)
    n.handle(Start(), 0.0)
    n.handle(BeginHoldDown(), 0.0)
    n.handle(AddressesRead(interface="eth0", addresses=frozenset({SOURCE})), 0.1)
    actions = n.handle(LinkChanged(interface="eth0", up=True), 5.0)
    assert actions[0] == HoldDownReleased(name="web", held_interval=5.0)
    assert isinstance(actions[1], StateChanged) and actions[1].new is VhidState.BACKUP
    assert n.machine("web").master_down_at == 5.0 + 3  # without the hold-down's 240
    assert demotions(n) == {"web": {}}
