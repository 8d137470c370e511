"""The per-VHID machine under health input: FAULT, hold-down, named demotions, dual master."""

from __future__ import annotations

import pytest

from carpd.core.actions import Announce, Anomaly, SendAdvert, VhidState
from carpd.core.carp import wire
from carpd.core.events import (
    LinkChanged,
    SetDemotion,
    SetFault,
    SetHoldDown,
    Shutdown,
    Start,
    TimerFired,
)
from carpd.core.machine import TRANSITIONS, VhidMachine
from carpd.core.states import VhidInput
from tests.carp_words import effective_advskew, stat
from tests.core.test_machine import (
    BACKUP,
    COUNTER,
    INIT,
    IP,
    MASTER,
    PEER,
    advert,
    as_master,
    changed,
    decoded,
    make_params,
    release,
    started,
)

FAULT = VhidState.FAULT
NGINX = SetFault(name="web", source="check:nginx", failing=True)
NGINX_OK = SetFault(name="web", source="check:nginx", failing=False)


# -- the table ---------------------------------------------------------------------------------

def test_fault_rows_complete_the_table() -> None:
    for inp in VhidInput:
        assert (FAULT, inp) in TRANSITIONS
    assert all(nxt is not MASTER for (state, _), (_, nxt) in TRANSITIONS.items()
               if state is FAULT)
    assert {nxt for (state, _), (_, nxt) in TRANSITIONS.items() if state is FAULT} == {
        FAULT, BACKUP, INIT}


# -- entering FAULT ----------------------------------------------------------------------------

def test_master_faults_bows_out_and_releases() -> None:
    m = as_master()
    actions = m.handle(NGINX, 4.5)
    assert actions[0] == changed(MASTER, FAULT, "fault_check:nginx")
    remove, *rest = release()
    assert actions[1] == remove  # break before make
    bow = decoded(actions[2])
    assert isinstance(actions[2], SendAdvert) and actions[2].bow_out
    assert (bow.advbase, bow.advskew) == (255, 255)
    assert actions[3:] == rest
    assert m.next_deadline() is None
    assert m.statistics().faults == ("check:nginx",)


def test_backup_faults_stops_timers_without_releasing_twice() -> None:
    m = started()
    assert m.handle(NGINX, 1.0) == [changed(BACKUP, FAULT, "fault_check:nginx")]
    assert m.next_deadline() is None
    assert m.statistics().master is None


def test_fault_before_start_then_start_goes_fault_and_releases_once() -> None:
    m = VhidMachine(make_params(), initial_counter=COUNTER)
    assert m.handle(NGINX, 0.0) == []
    assert m.state is INIT and m.faulted
    assert m.handle(Start(), 1.0) == [changed(INIT, FAULT, "fault_check:nginx"), *release()]
    assert m.next_deadline() is None
    assert m.handle(NGINX_OK, 5.0) == [changed(FAULT, BACKUP, "fault_cleared")]
    assert m.next_deadline() == 8.0


def test_fault_ignores_adverts_but_remembers_the_master() -> None:
    m = started()
    m.handle(NGINX, 1.0)
    for ad in (advert(advskew=200), advert(advskew=0)):
        assert m.handle(ad, 2.0) == []
    assert m.state is FAULT and m.next_deadline() is None
    stats = m.statistics()
    assert stats.master == PEER and stat(stats, "master_advskew") == 0
    assert m.handle(advert(advbase=255, advskew=255), 2.5) == []
    assert m.statistics().master is None  # it bowed out


def test_last_fault_clearing_goes_backup_with_fresh_master_down() -> None:
    m = started(advskew=50)
    m.handle(NGINX, 1.0)
    db = SetFault(name="web", source="check:db", failing=True)
    assert m.handle(db, 1.5) == []
    assert m.handle(NGINX, 1.6) == []  # the same fault again
    assert m.handle(NGINX_OK, 2.0) == []
    assert m.state is FAULT
    assert m.handle(SetFault(name="web", source="check:db", failing=False), 10.0) == [
        changed(FAULT, BACKUP, "fault_cleared")]
    assert m.next_deadline() == pytest.approx(10.0 + 3 + 50 / 256)
    # and a clear that was never set is nothing
    assert m.handle(NGINX_OK, 11.0) == []


def test_cleared_fault_then_preempts_a_slower_master() -> None:
    m = started(preempt=True)
    m.handle(NGINX, 1.0)
    m.handle(NGINX_OK, 2.0)
    actions = m.handle(advert(advskew=100), 2.5)
    assert actions[0] == changed(BACKUP, MASTER, "preempted_slower_master", PEER)


def test_link_down_in_fault_goes_init_and_link_up_returns_to_fault() -> None:
    m = started()
    m.handle(NGINX, 1.0)
    assert m.handle(LinkChanged(interface="eth0", up=False), 2.0) == [
        changed(FAULT, INIT, "link_down")]
    assert m.handle(LinkChanged(interface="eth0", up=True), 3.0) == [
        changed(INIT, FAULT, "fault_check:nginx")]  # released before: no second release
    assert m.next_deadline() is None
    m.handle(LinkChanged(interface="eth0", up=False), 4.0)
    assert m.handle(NGINX_OK, 5.0) == []  # INIT keeps the bookkeeping only
    assert m.handle(LinkChanged(interface="eth0", up=True), 6.0) == [
        changed(INIT, BACKUP, "link_up")]


def test_shutdown_in_fault_is_quiet() -> None:
    m = started()
    m.handle(NGINX, 1.0)
    assert m.handle(Shutdown(), 2.0) == [changed(FAULT, INIT, "shutdown")]
    assert m.handle(Start(), 3.0) == [changed(INIT, FAULT, "fault_check:nginx")]


def test_timer_in_fault_does_nothing() -> None:
    m = as_master()
    m.handle(NGINX, 3.5)
    assert m.handle(TimerFired(), 100.0) == []


# -- named demotions ---------------------------------------------------------------------------

def test_own_demotion_excludes_the_sync_group_share() -> None:
    m = started(advskew=10)
    m.handle(SetDemotion(name="web", source="check:nginx", amount=50), 1.0)
    m.handle(SetDemotion(name="web", source="maintenance", amount=100), 1.0)
    m.handle(SetDemotion(name="web", source="sync_group", amount=30), 1.0)
    assert m.own_demotion == 150
    assert effective_advskew(m) == 10 + 50 + 100 + 30
    m.handle(SetDemotion(name="web", source="operator", amount=254), 1.0)
    assert effective_advskew(m) == 254
    assert dict(m.statistics().demotions) == {"check:nginx": 50, "maintenance": 100,
                                              "sync_group": 30, "operator": 254}


# -- hold-down ---------------------------------------------------------------------------------

def test_hold_down_as_master_advertises_240_at_once_and_release_restores() -> None:
    m = as_master(advskew=5)
    actions = m.handle(SetHoldDown(name="web", active=True), 3.5)
    assert [decoded(a).advskew for a in actions] == [245]
    assert m.statistics().hold_down and dict(m.statistics().demotions) == {"hold_down": 240}
    actions = m.handle(SetHoldDown(name="web", active=False), 4.0)
    assert [decoded(a).advskew for a in actions] == [5]
    assert m.statistics().demotions == () and not m.statistics().hold_down


def test_hold_down_backup_does_not_preempt_until_released() -> None:
    m = started(preempt=True)
    m.handle(SetHoldDown(name="web", active=True), 0.5)
    # a master at 100 is faster than our 240: followed
    assert m.handle(advert(advskew=100), 1.0) == []
    assert m.state is BACKUP
    m.handle(SetDemotion(name="web", source="hold_down", amount=0), 1.1)
    # hold-down still active (flag): slower master tolerated, not preempted
    m.handle(SetHoldDown(name="web", active=True), 1.2)
    m.handle(SetDemotion(name="web", source="x", amount=0), 1.3)
    assert m.handle(advert(advskew=250), 2.0) == []
    assert m.state is BACKUP and m.statistics().reason == "start"
    m.handle(SetHoldDown(name="web", active=False), 2.5)
    actions = m.handle(advert(advskew=100), 3.0)
    assert actions[0] == changed(BACKUP, MASTER, "preempted_slower_master", PEER)


def test_hold_down_still_takes_over_when_no_master_is_heard() -> None:
    m = started()
    m.handle(SetHoldDown(name="web", active=True), 0.0)
    deadline = m.next_deadline()
    assert deadline == 3.0  # armed at start with the skew of then
    actions = m.handle(TimerFired(), deadline)
    assert actions[0] == changed(BACKUP, MASTER, "master_down_timer")
    assert decoded(actions[3]).advskew == 240


# -- dual master -------------------------------------------------------------------------------

def test_farewell_right_after_takeover_is_not_a_dual_master() -> None:
    m = as_master()  # MASTER since t=3.0
    actions = m.handle(advert(advskew=100), 3.0 + 2 / 128)
    assert [type(a) for a in actions] == [Announce, SendAdvert]


def test_slower_master_after_its_interval_is_a_dual_master_reported() -> None:
    m = as_master()
    actions = m.handle(advert(advskew=100, source=IP("10.0.0.7")), 3.0 + 1 + 100 / 256)
    assert [type(a) for a in actions] == [Announce, SendAdvert, Anomaly]
    anomaly = actions[-1]
    assert isinstance(anomaly, Anomaly)
    assert (anomaly.kind, anomaly.name, anomaly.peer, anomaly.log) == (
        "dual_master", "web", IP("10.0.0.7"), True)
    assert "10.0.0.7 advertises as master (advbase 1 advskew 100)" in anomaly.detail


def test_preferred_master_heard_is_not_an_anomaly() -> None:
    m = as_master(advskew=100)
    actions = m.handle(advert(advskew=0), 10.0)
    assert not any(isinstance(a, Anomaly) for a in actions)
    assert m.state is BACKUP


def test_bow_out_advert_in_the_sentinel() -> None:
    m = as_master()
    actions = m.handle(NGINX, 3.5)
    header = wire.decode_carp_header(actions[2].payload)  # type: ignore[union-attr]
    assert header.advbase == header.advskew == wire.BOW_OUT
