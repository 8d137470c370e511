"""Resuming after a restart: the RESUME row, the silent window, its contest and its end.

A machine given `Resume(advert_at)` in INIT becomes MASTER at once (addresses, units, upscript)
when its last advert as MASTER leaves a resume window (CARP: the time left until advbase x
deadratio after that advert, at most the slowest advert interval advbase + 254/256, and at least
our own advert interval: with advbase 1, deadratio 3, advskew 0 an advert less than 2 s ago),
and stays silent for that window: any master heard in it is yielded to without a word; at its
end it announces and sends its first advert. Anything older starts as Start does.
"""

from __future__ import annotations

import ipaddress

import pytest

from carpd.core.actions import (
    AddAddresses,
    Announce,
    RunScript,
    SendAdvert,
    StartUnits,
    VhidState,
)
from carpd.core.events import (
    BeginHoldDown,
    LinkChanged,
    Resume,
    SetDemotion,
    SetFault,
    Shutdown,
    Start,
    TimerFired,
)
from carpd.core.machine import TRANSITIONS, VhidMachine
from carpd.core.node import Node
from carpd.core.states import Reason, VhidInput
from tests.core.test_machine import (
    BACKUP,
    COUNTER,
    INIT,
    MASTER,
    PEER,
    VIP,
    advert,
    changed,
    decoded,
    make_params,
    release,
)

FAULT = VhidState.FAULT
NOW = 100.0
SLOWEST = 1 + 254 / 256  # the longest advert interval a master can have (advbase 1)
TAKE = [
    AddAddresses(name="web", interface="eth0", addresses=(VIP,), label="eth0:web"),
    StartUnits(name="web", units=("nginx.service",)),
    RunScript(name="web", kind="up", argv=("/etc/carp/up", "eth0", "192.0.2.10")),
]


def machine(**overrides: object) -> VhidMachine:
    return VhidMachine(make_params(**overrides), initial_counter=COUNTER)


def resumed(age: float = 0.5, **overrides: object) -> VhidMachine:
    m = machine(**overrides)
    m.handle(Resume(name="web", advert_at=NOW - age), NOW)
    assert m.state is MASTER
    return m


# -- the table ------------------------------------------------------------------------------

def test_the_resume_rows() -> None:
    rows = {(s, i): nxt for (s, i), (_, nxt) in TRANSITIONS.items()
            if i in (VhidInput.RESUME, VhidInput.RESUME_CONTESTED, VhidInput.RESUME_CONFIRMED)
            and TRANSITIONS[(s, i)][0].__name__ != "_impossible"}
    assert rows == {(INIT, VhidInput.RESUME): MASTER,
                    (MASTER, VhidInput.RESUME_CONTESTED): BACKUP,
                    (MASTER, VhidInput.RESUME_CONFIRMED): MASTER}


# -- resume or start ----------------------------------------------------------------------------

def test_a_fresh_record_resumes_silently_with_addresses_units_and_upscript() -> None:
    m = machine()
    actions = m.handle(Resume(name="web", advert_at=NOW - 0.5), NOW)
    assert actions == [changed(INIT, MASTER, "resumed"), *TAKE]
    assert not any(isinstance(a, SendAdvert | Announce) for a in actions)
    assert m.next_deadline() == NOW + SLOWEST  # the first advert: the end of the window
    assert m.master_down_at is None
    assert m.statistics().reason is Reason.RESUMED


@pytest.mark.parametrize(("advskew", "age", "resumes"), [
    (0, 1.99, True), (0, 2.0, False), (0, 30.0, False),
    (100, 2.0 - 100 / 256 - 0.01, True), (100, 2.0 - 100 / 256, False),
    (0, -0.1, False),  # an advert "after" now: not a record of this run's past
])
def test_resume_needs_the_last_advert_within_the_resume_interval(
        advskew: int, age: float, resumes: bool) -> None:
    m = machine(advskew=advskew)
    m.handle(Resume(name="web", advert_at=NOW - age), NOW)
    assert m.state is (MASTER if resumes else BACKUP)


@pytest.mark.parametrize(("age", "window"), [
    (0.0, SLOWEST), (1.0, SLOWEST), (1.25, 1.75), (1.75, 1.25), (1.99, 3 - 1.99)])
def test_the_window_hears_the_slowest_master_but_ends_before_any_backup_times_out(
        age: float, window: float) -> None:
    m = resumed(age)
    assert m.next_deadline() == NOW + window


def test_the_interval_follows_advbase_and_deadratio() -> None:
    m = machine(advbase=2, deadratio=4)
    m.handle(Resume(name="web", advert_at=NOW - 5.9), NOW)  # 2 x (4 - 1) = 6
    assert m.state is MASTER and m.next_deadline() == NOW + 8 - 5.9


def test_a_stale_record_starts_exactly_as_start_does() -> None:
    a, b = machine(), machine()
    assert (a.handle(Resume(name="web", advert_at=NOW - 2.5), NOW)
            == b.handle(Start(), NOW))
    assert a.state is BACKUP and a.master_down_at == b.master_down_at == NOW + 3


def test_no_resume_with_the_link_down_or_a_fault() -> None:
    down = machine()
    down.handle(LinkChanged(interface="eth0", up=False), NOW)
    assert down.handle(Resume(name="web", advert_at=NOW - 0.1), NOW) == []
    assert down.state is INIT
    faulted = machine()
    faulted.handle(SetFault(name="web", source="check:db", failing=True), NOW)
    faulted.handle(Resume(name="web", advert_at=NOW - 0.1), NOW)
    assert faulted.state is FAULT


def test_start_after_resume_changes_nothing() -> None:
    m = resumed()
    assert m.handle(Start(), NOW) == []
    assert m.state is MASTER


# -- the window ------------------------------------------------------------------------------

@pytest.mark.parametrize(("advskew", "at"), [(0, 0.5), (100, 0.5), (254, 1.99)])
def test_any_master_heard_in_the_window_is_yielded_to_without_an_advert(
        advskew: int, at: float) -> None:
    m = resumed()
    actions = m.handle(advert(advskew=advskew), NOW + at)
    assert actions == [changed(MASTER, BACKUP, "master_heard_while_resuming", PEER), *release()]
    assert m.master_down_at == NOW + at + 3
    assert m.statistics().master == PEER


def test_a_bow_out_in_the_window_is_not_a_master() -> None:
    m = resumed()
    assert m.handle(advert(advbase=255, advskew=255), NOW + 0.5) == []
    assert m.state is MASTER


def test_the_end_of_the_window_announces_and_sends_the_first_advert() -> None:
    m = resumed()
    actions = m.handle(TimerFired(), NOW + SLOWEST)
    assert [type(a) for a in actions] == [Announce, SendAdvert]
    assert isinstance(actions[0], Announce) and actions[0].count == 3
    assert decoded(actions[1]).advskew == 0
    assert m.next_deadline() == NOW + SLOWEST + 1.0


def test_after_the_window_normal_rules_apply() -> None:
    m = resumed()
    m.handle(TimerFired(), NOW + SLOWEST)
    actions = m.handle(advert(advskew=100), NOW + 2.5)  # a slower master: reassert
    assert m.state is MASTER and any(isinstance(a, SendAdvert) for a in actions)
    m.handle(advert(advskew=0, source=ipaddress.IPv4Address("10.0.0.0")), NOW + 2.6)
    assert m.state is BACKUP  # a preferred one (tie-break won by the peer): step down


def test_a_demotion_in_the_window_waits_for_the_first_advert() -> None:
    m = resumed()
    assert m.handle(SetDemotion(name="web", source="operator", amount=50), NOW + 0.2) == []
    first = m.handle(TimerFired(), NOW + SLOWEST)
    assert decoded(first[-1]).advskew == 50


def test_shutdown_in_the_window_bows_out_and_a_later_start_is_normal() -> None:
    m = resumed()
    actions = m.handle(Shutdown(), NOW + 0.3)
    assert changed(MASTER, INIT, "shutdown") == actions[0]
    assert decoded(actions[2]).advskew == 255  # after the RemoveAddresses
    m.handle(Start(), NOW + 0.4)
    assert m.state is BACKUP
    m.handle(advert(advskew=100), NOW + 0.5)  # the window is over: a slower master is followed
    assert m.state is BACKUP


# -- the node: the boot hold-down leaves a resumed VIP alone --------------------------------

def test_a_resumed_vip_is_not_held_down_but_a_started_one_is() -> None:
    n = Node([make_params(), make_params(name="mail", vhid=11,
                                         addresses=(ipaddress.IPv4Interface("192.0.2.11/24"),))],
             counter_source=lambda _n: 7, now=NOW)
    n.handle(Resume(name="web", advert_at=NOW - 0.5), NOW)
    n.handle(Start(), NOW)
    n.handle(BeginHoldDown(), NOW)
    web, mail = n.statistics().vips
    assert (web.state, web.hold_down, web.demotions) == (MASTER, False, ())
    assert (mail.state, mail.hold_down, mail.demotions) == (BACKUP, True, (("hold_down", 240),))
