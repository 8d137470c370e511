"""The boot hold-down tracker: what a VIP waits for, in order, and its one release."""

from __future__ import annotations

import ipaddress

from carpd.core.actions import HoldDownReleased, ReadAddresses
from carpd.core.events import BeginHoldDown, SetHoldDown, Start, TimerFired
from carpd.core.node import Node
from carpd.core.params import CheckParams, Secret, VipParams
from carpd.core.policy.holddown import MAX_HOLD_DOWN, HoldDowns, HoldDownStatistics

IP = ipaddress.IPv4Address
SOURCE = IP("10.0.0.1")
NGINX = CheckParams(name="nginx", type="tcp", weight=50, host="127.0.0.1", port=80)
DB = CheckParams(name="db", type="exec", fatal=True, command=("/bin/true",))


def vip(name: str = "web", *, interface: str = "eth0", units: tuple[str, ...] = (),
        checks: tuple[CheckParams, ...] = ()) -> VipParams:
    return VipParams(name=name, vhid=10, interface=interface,
                     addresses=(ipaddress.IPv4Interface("192.0.2.10/24"),),
                     password=Secret(b"pw"), source=SOURCE, require_units=units, checks=checks)


RELEASED = ([SetHoldDown(name="web", active=False)],)


def test_begin_holds_down_and_asks_for_the_addresses_once_per_interface() -> None:
    holds = HoldDowns()
    events, actions = holds.begin([(vip("web"), True), (vip("mail"), True),
                                   (vip("gw", interface="eth1"), False)], 10.0)
    assert events == [SetHoldDown(name=n, active=True) for n in ("web", "mail", "gw")]
    assert actions == [ReadAddresses(interface="eth0"), ReadAddresses(interface="eth1")]
    assert holds.waiting_for("gw") == ("carrier on eth1", "the source address 10.0.0.1 on eth1")


def test_waits_are_listed_in_order_and_released_once_when_all_are_there() -> None:
    holds = HoldDowns()
    holds.begin([(vip(units=("nginx.service", "db.service"), checks=(NGINX, DB)), False)], 1.0)
    assert holds.waiting_for("web") == (
        "carrier on eth0", "the source address 10.0.0.1 on eth0", "nginx.service active",
        "db.service active", "a first result of check db", "a first result of check nginx")
    assert holds.link_changed("eth0", True, 2.0) == ([], [])
    assert holds.addresses_read("eth0", frozenset({IP("10.0.0.9")}), 2.5) == ([], [])
    assert holds.addresses_read("eth0", frozenset({SOURCE}), 3.0) == ([], [])
    assert holds.unit_observed("web", "nginx.service", True, 3.5) == ([], [])
    assert holds.unit_observed("web", "db.service", True, 4.0) == ([], [])
    assert holds.unit_observed("web", "db.service", False, 4.5) == ([], [])  # waits again
    assert holds.waiting_for("web") == ("db.service active", "a first result of check db",
                                        "a first result of check nginx")
    assert holds.check_reported("web", "nginx", 5.0) == ([], [])
    assert holds.check_reported("web", "db", 5.5) == ([], [])
    events, actions = holds.unit_observed("web", "db.service", True, 6.0)
    assert events == [SetHoldDown(name="web", active=False)]
    assert actions == [HoldDownReleased(name="web", held_interval=5.0)]
    assert holds.waiting_for("web") == () and holds.statistics() == ()
    assert holds.check_reported("web", "db", 7.0) == ([], [])  # forgotten: nothing twice


def test_carrier_lost_before_release_is_waited_for_again() -> None:
    holds = HoldDowns()
    holds.begin([(vip(checks=(NGINX,)), True)], 0.0)
    holds.addresses_read("eth0", frozenset({SOURCE}), 0.1)
    holds.link_changed("eth0", False, 0.2)
    holds.link_changed("eth1", True, 0.3)  # another interface: not ours
    assert holds.check_reported("web", "nginx", 0.4) == ([], [])
    assert holds.statistics() == (HoldDownStatistics(name="web", since_at=0.0,
                                                     waiting_for=("carrier on eth0",)),)
    events, _ = holds.link_changed("eth0", True, 0.5)
    assert events == [SetHoldDown(name="web", active=False)]


def test_address_changes_ask_again_only_while_an_address_is_awaited() -> None:
    holds = HoldDowns()
    holds.begin([(vip(units=("a.service",)), True)], 0.0)
    assert holds.addresses_changed("eth0") == [ReadAddresses(interface="eth0")]
    assert holds.addresses_changed("eth1") == []
    holds.addresses_read("eth0", frozenset({SOURCE}), 1.0)
    assert holds.addresses_changed("eth0") == []


def test_retune_swaps_units_and_keeps_what_checks_have_reported() -> None:
    holds = HoldDowns()
    old = vip(units=("nginx.service",), checks=(NGINX, DB))
    holds.begin([(old, True)], 0.0)
    holds.addresses_read("eth0", frozenset({SOURCE}), 0.0)
    holds.check_reported("web", "nginx", 0.5)
    front = CheckParams(name="front", type="tcp", weight=5, host="127.0.0.1", port=81)
    new = vip(units=("db.service",), checks=(NGINX, DB, front))
    assert holds.retune(old, new, 1.0) == ([], [])
    assert holds.waiting_for("web") == ("db.service active", "a first result of check db",
                                        "a first result of check front")
    events, actions = holds.retune(new, vip(), 2.0)  # nothing left to wait for
    assert (events, actions) == ([SetHoldDown(name="web", active=False)],
                                 [HoldDownReleased(name="web", held_interval=2.0)])


def test_unknown_inputs_and_forget() -> None:
    holds = HoldDowns()
    assert holds.unit_observed("web", "x.service", True, 0.0) == ([], [])
    assert holds.check_reported("web", "nginx", 0.0) == ([], [])
    assert holds.retune(vip(), vip(), 0.0) == ([], [])
    holds.begin([(vip(units=("a.service",)), True)], 0.0)
    assert holds.unit_observed("web", "other.service", True, 0.0) == ([], [])
    holds.forget("web")
    assert holds.waiting_for("web") == () and holds.statistics() == ()


def test_ipv6_only_and_dual_stack_vips_wait_for_each_familys_source() -> None:
    """An IPv6-only VIP has no IPv4 source: it waits for (and is released by) its source6;
    a dual-stack VIP waits for both sources, each counting once seen."""
    ll = ipaddress.IPv6Address("fe80::1")
    v6 = VipParams(name="web6", vhid=11, interface="eth0",
                   addresses=(ipaddress.IPv6Interface("2001:db8::10/64"),),
                   password=Secret(b"pw"), source6=ll)
    dual = VipParams(name="dual", vhid=12, interface="eth0",
                     addresses=(ipaddress.IPv4Interface("192.0.2.12/24"),
                                ipaddress.IPv6Interface("2001:db8::12/64")),
                     password=Secret(b"pw"), source=SOURCE, source6=ll)
    holds = HoldDowns()
    holds.begin([(v6, True), (dual, True)], 1.0)
    assert holds.waiting_for("web6") == ("the source address fe80::1 on eth0",)
    assert holds.waiting_for("dual") == ("the source address 10.0.0.1 on eth0",
                                         "the source address fe80::1 on eth0")
    events, _ = holds.addresses_read("eth0", frozenset({ll}), 2.0)
    assert events == [SetHoldDown(name="web6", active=False)]
    assert holds.waiting_for("dual") == ("the source address 10.0.0.1 on eth0",)
    events, _ = holds.addresses_read("eth0", frozenset({SOURCE}), 3.0)
    assert events == [SetHoldDown(name="dual", active=False)]


def test_a_hold_that_never_completes_is_given_up_after_the_maximum_naming_what_is_missing(
) -> None:
    """The system bus unreachable: the required unit is never reported. The hold ends anyway
    at MAX_HOLD_DOWN, and the report says what never came."""
    holds = HoldDowns()
    holds.begin([(vip(units=("nginx.service",)), True)], 10.0)
    holds.addresses_read("eth0", frozenset({SOURCE}), 11.0)
    assert holds.next_deadline() == 10.0 + MAX_HOLD_DOWN
    assert holds.timer(10.0 + MAX_HOLD_DOWN - 0.001) == ([], [])
    events, actions = holds.timer(10.0 + MAX_HOLD_DOWN)
    assert events == [SetHoldDown(name="web", active=False)]
    assert actions == [HoldDownReleased(name="web", held_interval=MAX_HOLD_DOWN,
                                        unmet=("nginx.service active",))]
    assert holds.waiting_for("web") == () and holds.next_deadline() is None


def test_the_node_gives_up_a_stuck_hold_down_on_its_timer() -> None:
    node = Node([vip(units=("db.service",))], counter_source=lambda _n: 1)
    node.handle(Start(), 0.0)
    node.handle(BeginHoldDown(), 0.0)
    assert node.next_deadline() == 3.0  # the master-down timer first
    node.handle(TimerFired(), 3.0)  # alone: MASTER while held (nobody else is there)
    assert node.statistics().vips[0].hold_down
    while (due := node.next_deadline()) is not None and due < MAX_HOLD_DOWN:
        node.handle(TimerFired(), due)
    actions = node.handle(TimerFired(), MAX_HOLD_DOWN)
    released = [a for a in actions if isinstance(a, HoldDownReleased)]
    assert released == [HoldDownReleased(name="web", held_interval=MAX_HOLD_DOWN,
                                         unmet=("the source address 10.0.0.1 on eth0",
                                                "db.service active"))]
    assert not node.statistics().vips[0].hold_down
