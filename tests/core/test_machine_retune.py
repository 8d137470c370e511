"""The per-VHID machine retuned in place (a reload): exact actions per state, kept state,
timers and demotions, stale check demotions/faults dropped, untunable settings refused."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from carpd.core.actions import SendAdvert, StartUnits, StopUnits, VhidState
from carpd.core.events import LinkChanged, SetDemotion, SetFault, Start, TimerFired
from carpd.core.machine import TRANSITIONS, VhidMachine
from carpd.core.params import (
    ELECTION_FIELDS,
    TUNABLE_FIELDS,
    CheckParams,
    Secret,
    VipParams,
    untunable_changes,
)
from carpd.core.states import VhidInput
from tests.carp_words import effective_advskew, stat
from tests.core.test_machine import (
    BACKUP,
    COUNTER,
    INIT,
    IP,
    IPIF,
    MASTER,
    advert,
    as_master,
    changed,
    decoded,
    make_params,
    started,
)

FAULT = VhidState.FAULT
NGINX = CheckParams(name="nginx", type="tcp", weight=100, host="127.0.0.1", port=80)
DB = CheckParams(name="db", type="exec", fatal=True, command=("/bin/db-ok",))


def retuned(m: VhidMachine, **changes: Any) -> VipParams:
    return dataclasses.replace(m.params, **changes)


# -- which fields ------------------------------------------------------------------------------

def test_every_field_is_classified_and_identity_is_untunable() -> None:
    fields = {f.name for f in dataclasses.fields(VipParams)}
    assert fields >= TUNABLE_FIELDS >= ELECTION_FIELDS
    assert fields - TUNABLE_FIELDS == {"name", "vhid", "interface", "addresses", "password",
                                       "protocol", "source", "source6", "multicast_group",
                                       "l2_broadcast", "placement", "routed_interface"}


@pytest.mark.parametrize(("field", "value"), [
    ("name", "www"), ("vhid", 11), ("interface", "eth1"),
    ("addresses", (IPIF("192.0.2.11/24"),)), ("password", Secret(b"other")),
    ("source", IP("10.0.0.9")), ("multicast_group", IP("239.0.0.18")), ("l2_broadcast", True),
])
def test_untunable_field_raises_and_changes_nothing(field: str, value: object) -> None:
    m = as_master()
    before, stats = m.params, m.statistics()
    assert untunable_changes(before, dataclasses.replace(before, **{field: value})) == [field]
    with pytest.raises(ValueError, match=f"vip web: {field} cannot change in place"):
        m.retune(dataclasses.replace(before, advskew=50, **{field: value}), 4.5)
    assert m.params is before and m.statistics() == stats and m.next_deadline() == 4.0


def test_retuned_is_a_table_input_in_every_state() -> None:
    assert {state: TRANSITIONS[(state, VhidInput.RETUNED)][1] for state in VhidState} == {
        s: s for s in VhidState}


# -- MASTER ------------------------------------------------------------------------------------

def test_master_advertises_at_once_with_the_new_skew_and_reschedules() -> None:
    m = as_master()  # MASTER at 3.0, next advert at 4.0
    sent, transitions = m.statistics().adverts_sent, m.statistics().transitions
    actions = m.retune(retuned(m, advskew=50), 3.25)
    assert len(actions) == 1 and isinstance(actions[0], SendAdvert)
    h = decoded(actions[0])
    assert (h.advbase, h.advskew, h.counter) == (1, 50, COUNTER + 2)
    assert m.next_deadline() == 3.25 + 1 + 50 / 256
    s = m.statistics()
    assert (s.state, s.since_at, s.reason, s.transitions) == (MASTER, 3.0, "master_down_timer",
                                                              transitions)
    assert (stat(s, "advskew"), effective_advskew(s), s.adverts_sent) == (50, 50, sent + 1)


def test_master_new_advbase_keeps_its_demotion() -> None:
    m = as_master()
    m.handle(SetDemotion(name="web", source="operator", amount=20), 3.1)
    h = decoded(m.retune(retuned(m, advbase=2, advskew=10), 3.5)[0])
    assert (h.advbase, h.advskew) == (2, 30)
    assert m.next_deadline() == 3.5 + 2 + 30 / 256
    assert m.statistics().demotions == (("operator", 20),)


def test_master_without_wire_change_sends_nothing() -> None:
    m = as_master()
    assert m.retune(retuned(m, preempt=True, deadratio=5, garp_count=9, upscript="/bin/up2",
                            xparam="x", sync_group="dc"), 3.5) == []
    assert m.next_deadline() == 4.0 and m.params.garp_count == 9
    # the new garp_count and upscript apply from the next transition (after a step-down)
    m.handle(advert(advskew=0, source=IP("10.0.0.0")), 3.6)
    assert m.state is BACKUP


def test_master_units_follow_the_state_advert_first() -> None:
    m = as_master(master_units=("a.service", "b.service"))
    actions = m.retune(retuned(m, advskew=5, master_units=("b.service", "c.service")), 3.5)
    assert isinstance(actions[0], SendAdvert)
    assert actions[1:] == [StopUnits(name="web", units=("a.service",)),
                           StartUnits(name="web", units=("c.service",))]


def test_dropping_a_removed_checks_demotion_advertises_once() -> None:
    m = as_master(checks=(NGINX,))
    m.handle(SetDemotion(name="web", source="check:nginx", amount=100), 3.1)
    actions = m.retune(retuned(m, checks=()), 3.5)
    assert [decoded(a).advskew for a in actions] == [0]
    assert m.statistics().demotions == ()


def test_kept_check_keeps_its_demotion() -> None:
    m = as_master(checks=(NGINX, DB))
    m.handle(SetDemotion(name="web", source="check:nginx", amount=100), 3.1)
    assert m.retune(retuned(m, checks=(dataclasses.replace(NGINX, interval=5.0),)), 3.5) == []
    assert m.statistics().demotions == (("check:nginx", 100),)


# -- BACKUP ------------------------------------------------------------------------------------

def test_backup_restarts_master_down_from_now_with_the_new_interval() -> None:
    m = started()  # master-down at 3.0
    m.handle(advert(), 2.0)  # heard the master: 5.0
    assert m.retune(retuned(m, advskew=200), 2.5) == []
    assert m.next_deadline() == 2.5 + 3 + 200 / 256  # not 2.0 + ...: never earlier than CARP
    assert m.state is BACKUP and m.statistics().master == IP("10.0.0.2")
    assert m.retune(retuned(m, advskew=0, deadratio=4, advbase=2), 3.0) == []
    assert m.next_deadline() == 3.0 + 8


def test_backup_keeps_its_timer_when_the_interval_is_the_same() -> None:
    m = started()
    assert m.retune(retuned(m, preempt=True, garp_interval=2.0), 1.0) == []
    assert m.next_deadline() == 3.0
    # preempt now takes a slower master over at once
    actions = m.handle(advert(advskew=100), 1.5)
    assert actions[0] == changed(BACKUP, MASTER, "preempted_slower_master", IP("10.0.0.2"))


def test_backup_stops_added_master_units_only() -> None:
    m = started(master_units=("a.service",))
    assert m.retune(retuned(m, master_units=("b.service",)), 1.0) == [
        StopUnits(name="web", units=("b.service",))]
    assert m.retune(retuned(m, master_units=()), 1.1) == []


def test_backup_takes_over_later_with_the_retuned_params() -> None:
    m = started()
    m.retune(retuned(m, advskew=128, garp_count=7, master_units=()), 1.0)
    actions = m.handle(TimerFired(), 4.5)
    assert actions[0] == changed(BACKUP, MASTER, "master_down_timer")
    assert [type(a).__name__ for a in actions] == ["StateChanged", "AddAddresses", "Announce",
                                                   "SendAdvert", "RunScript"]
    assert actions[2].count == 7  # type: ignore[attr-defined]
    assert decoded(actions[3]).advskew == 128


# -- INIT and FAULT ----------------------------------------------------------------------------

def test_init_before_start_takes_params_silently() -> None:
    m = VhidMachine(make_params(), initial_counter=COUNTER)
    assert m.retune(retuned(m, advskew=64, master_units=("x.service",)), 0.0) == []
    m.handle(Start(), 1.0)
    assert m.next_deadline() == 1.0 + 3 + 64 / 256


def test_init_after_link_down_has_no_timer_and_stops_added_units() -> None:
    m = as_master()
    m.handle(LinkChanged(interface="eth0", up=False), 3.5)
    assert m.retune(retuned(m, advskew=9, master_units=("x.service",)), 4.0) == [
        StopUnits(name="web", units=("x.service",))]
    assert m.state is INIT and m.next_deadline() is None


def test_fault_stays_fault_without_timers() -> None:
    m = started(checks=(DB,))
    m.handle(SetFault(name="web", source="check:db", failing=True), 1.0)
    assert m.retune(retuned(m, advskew=30, checks=(DB, NGINX)), 2.0) == []
    assert m.state is FAULT and m.next_deadline() is None
    assert m.statistics().faults == ("check:db",)


def test_fault_of_a_removed_check_is_cleared_and_goes_backup() -> None:
    m = started(checks=(DB,))
    m.handle(SetFault(name="web", source="check:db", failing=True), 1.0)
    actions = m.retune(retuned(m, checks=(), advskew=50), 2.0)
    assert actions == [changed(FAULT, BACKUP, "fault_cleared")]
    assert m.next_deadline() == 2.0 + 3 + 50 / 256
    assert m.statistics().faults == ()


def test_fault_from_another_source_is_kept() -> None:
    m = started(checks=(DB,))
    m.handle(SetFault(name="web", source="check:db", failing=True), 1.0)
    m.handle(SetFault(name="web", source="external", failing=True), 1.0)
    assert m.retune(retuned(m, checks=()), 2.0) == []
    assert m.state is FAULT and m.statistics().faults == ("external",)
