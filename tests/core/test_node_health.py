"""The node under health input: check results to demotion/fault, sync groups, anomalies."""

from __future__ import annotations

import ipaddress
from typing import Any

from carpd.core.actions import (
    Anomaly,
    CheckObserved,
    RemoveAddresses,
    SendAdvert,
    StateChanged,
    VhidState,
)
from carpd.core.carp import wire
from carpd.core.events import (
    CheckResult,
    LinkChanged,
    SetDemotion,
    SetFault,
    SetHoldDown,
    Start,
    TimerFired,
)
from carpd.core.node import Node
from carpd.core.params import CheckParams, Secret, VipParams
from carpd.io.ipv4 import parse_datagram
from tests.carp_words import effective_advskew
from tests.core.test_machine import reason_fields
from tests.core.test_node import packet

IP = ipaddress.IPv4Address
IPIF = ipaddress.IPv4Interface
PEER = IP("10.0.0.2")
NGINX = CheckParams(name="nginx", type="tcp", weight=50, host="127.0.0.1", port=80, rise=1,
                    fall=1)
DB = CheckParams(name="db", type="exec", fatal=True, command=("/bin/true",), rise=1, fall=1)


def vip(name: str, vhid: int, address: str, password: bytes, *, group: str | None = "dc",
        checks: tuple[CheckParams, ...] = (), advskew: int = 0, interface: str = "eth0",
        source: str = "10.0.0.1") -> VipParams:
    return VipParams(name=name, vhid=vhid, interface=interface,
                     addresses=(IPIF(address),), password=Secret(password), advskew=advskew,
                     source=IP(source), sync_group=group, checks=checks)


WEB = vip("web", 10, "192.0.2.10/24", b"webpw", checks=(NGINX, DB))
MAIL = vip("mail", 11, "192.0.2.11/24", b"mailpw", advskew=10)
GW = vip("gw", 12, "10.1.0.254/24", b"gwpw", interface="eth1", source="10.1.0.1")
LONE = vip("lone", 13, "192.0.2.13/24", b"lonepw", group=None)


def node(*vips: VipParams) -> Node:
    n = Node(vips or (WEB, MAIL, GW, LONE), counter_source=lambda _n: 7)
    n.handle(Start(), 0.0)
    return n


def masters(n: Node, at: float = 4.0) -> Node:
    n.handle(TimerFired(), at)
    assert {s.state for s in n.statistics().vips} == {VhidState.MASTER}
    return n


def demotions(n: Node) -> dict[str, dict[str, int]]:
    return {s.name: dict(s.demotions) for s in n.statistics().vips}


def skews(actions: list[Any]) -> list[tuple[str, int]]:
    return [(a.name, wire.decode_carp_header(a.payload).advskew) for a in actions
            if isinstance(a, SendAdvert) and not a.bow_out]


# -- check results -----------------------------------------------------------------------------

def test_weighted_check_failure_demotes_its_vip_and_the_group() -> None:
    n = masters(node())
    actions = n.handle(CheckResult(name="web", check="nginx", ok=False, detail="refused"), 5.0)
    assert actions[0] == CheckObserved(name="web", check="nginx", ok=False, state="failing",
                                       changed=True, detail="refused")
    # web advertises its own demotion at once, then the group members in config order
    assert skews(actions) == [("web", 50), ("mail", 60), ("gw", 50)]
    assert demotions(n) == {"web": {"check:nginx": 50}, "mail": {"sync_group": 50},
                            "gw": {"sync_group": 50}, "lone": {}}
    actions = n.handle(CheckResult(name="web", check="nginx", ok=True, detail="ok"), 6.0)
    assert skews(actions) == [("web", 0), ("mail", 10), ("gw", 0)]
    assert demotions(n) == {"web": {}, "mail": {}, "gw": {}, "lone": {}}


def test_unknown_check_is_ignored() -> None:
    n = node()
    assert n.handle(CheckResult(name="web", check="gone", ok=False), 1.0) == []
    assert n.handle(CheckResult(name="nope", check="nginx", ok=False), 1.0) == []


def test_fatal_check_faults_its_vip_and_lends_240_to_the_group() -> None:
    n = masters(node())
    actions = n.handle(CheckResult(name="web", check="db", ok=False, detail="exit 1"), 5.0)
    assert isinstance(actions[0], CheckObserved)
    assert actions[1] == StateChanged(name="web", vhid=10, interface="eth0",
                                      old=VhidState.MASTER, new=VhidState.FAULT,
                                      **reason_fields("fault_check:db"))
    assert isinstance(actions[2], RemoveAddresses)  # break before make: release, then tell
    assert isinstance(actions[3], SendAdvert) and actions[3].bow_out
    assert skews(actions) == [("mail", 250), ("gw", 240)]
    actions = n.handle(CheckResult(name="web", check="db", ok=True, detail="exit 0"), 6.0)
    assert [type(a) for a in actions][:2] == [CheckObserved, StateChanged]
    assert actions[1].new is VhidState.BACKUP  # type: ignore[attr-defined]
    assert skews(actions) == [("mail", 10), ("gw", 0)]


def test_sync_group_takes_the_largest_other_weight_not_the_sum() -> None:
    n = masters(node())
    n.handle(SetDemotion(name="web", source="operator", amount=30), 5.0)
    n.handle(SetDemotion(name="mail", source="operator", amount=100), 5.0)
    assert demotions(n) == {
        "web": {"operator": 30, "sync_group": 100},
        "mail": {"operator": 100, "sync_group": 30},
        "gw": {"sync_group": 100}, "lone": {}}
    assert [effective_advskew(s) for s in n.statistics().vips] == [130, 140, 100, 0]


def test_link_down_of_a_member_moves_the_group() -> None:
    n = masters(node())
    actions = n.handle(LinkChanged(interface="eth1", up=False), 5.0)
    assert isinstance(actions[0], StateChanged) and actions[0].new is VhidState.INIT
    assert skews(actions) == [("web", 240), ("mail", 250)]
    actions = n.handle(LinkChanged(interface="eth1", up=True), 6.0)
    assert skews(actions) == [("web", 0), ("mail", 10)]


def test_hold_down_counts_as_own_demotion_for_the_group() -> None:
    n = node(WEB, MAIL)
    n.handle(SetHoldDown(name="web", active=True), 0.5)
    assert demotions(n) == {"web": {"hold_down": 240}, "mail": {"sync_group": 240}}
    n.handle(SetHoldDown(name="web", active=False), 1.0)
    assert demotions(n) == {"web": {}, "mail": {}}


def test_fault_set_directly_and_vips_without_group_are_untouched() -> None:
    n = masters(node())
    n.handle(SetFault(name="lone", source="operator", failing=True), 5.0)
    assert demotions(n) == {"web": {}, "mail": {}, "gw": {}, "lone": {}}


# -- anomalies ---------------------------------------------------------------------------------

def test_foreign_advert_reported_per_peer_once_per_interval_and_counted() -> None:
    n = node()
    def foreign(src: str, now: float) -> Anomaly:
        acts = n.handle(parse_datagram("eth0", packet(password=b"other", src=IP(src))), now)
        assert len(acts) == 2 and isinstance(acts[1], Anomaly)
        return acts[1]
    a = foreign("10.0.0.9", 1.0)
    assert (a.kind, a.name, a.peer, a.log) == ("foreign_advert", "web", IP("10.0.0.9"), True)
    assert "from 10.0.0.9 fails our HMAC" in a.detail
    assert [foreign("10.0.0.9", t).log for t in (2.0, 60.9, 61.0)] == [False, False, True]
    assert foreign("10.0.0.8", 3.0).log  # another sender is reported on its own
    assert n.statistics().anomalies["web"] == {"foreign_advert": 5}


def test_dual_master_rate_limited_per_peer() -> None:
    n = masters(node(WEB))
    logs = []
    for now in (10.0, 12.0, 70.5):
        acts = n.handle(parse_datagram("eth0", packet(advskew=100)), now)
        logs += [a.log for a in acts if isinstance(a, Anomaly)]
    assert logs == [True, False, True]
    assert n.statistics().anomalies == {"web": {"dual_master": 3}}


def test_check_statistics_exposed() -> None:
    n = node()
    n.handle(CheckResult(name="web", check="nginx", ok=False, detail="refused"), 1.0)
    by_name = {(c.vip, c.name): c for c in n.statistics().checks}
    assert by_name[("web", "nginx")].state.value == "failing"
    assert by_name[("web", "db")].state.value == "unknown"
    assert n.tracker("web", "nginx") is not None and n.tracker("web", "x") is None
    n.remove("web")
    assert n.statistics().checks == ()
