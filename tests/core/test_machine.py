"""The per-VHID machine: the table, exact action lists, timers, demotion, statistics."""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carpd.core.actions import (
    AddAddresses,
    Announce,
    RemoveAddresses,
    RunScript,
    SendAdvert,
    StartUnits,
    StateChanged,
    StopUnits,
    VhidState,
)
from carpd.core.carp import auth, wire
from carpd.core.carp.profile import CarpAdvert
from carpd.core.events import (
    AddressOpFailed,
    AdvertReceived,
    LinkChanged,
    SendResult,
    SetDemotion,
    Shutdown,
    Start,
    TimerFired,
)
from carpd.core.machine import TRANSITIONS, VhidMachine
from carpd.core.params import Secret, VipParams
from carpd.core.states import Reason, VhidInput
from tests.carp_words import effective_advskew, stat

IP = ipaddress.IPv4Address
IPIF = ipaddress.IPv4Interface
INIT, BACKUP, MASTER = VhidState.INIT, VhidState.BACKUP, VhidState.MASTER
PASSWORD = b"hunter2pw"
OWN = IP("10.0.0.1")
PEER = IP("10.0.0.2")
VIP = IPIF("192.0.2.10/24")
COUNTER = 0x1000


def make_params(**overrides: Any) -> VipParams:
    base: dict[str, Any] = {
        "name": "web", "vhid": 10, "interface": "eth0", "addresses": (VIP,),
        "password": Secret(PASSWORD), "advbase": 1, "advskew": 0, "deadratio": 3,
        "preempt": False, "source": OWN, "garp_count": 3, "garp_interval": 0.5,
        "master_units": ("nginx.service",), "upscript": "/etc/carp/up",
        "downscript": "/etc/carp/down",
    }
    base.update(overrides)
    return VipParams(**base)


def started(now: float = 0.0, **overrides: Any) -> VhidMachine:
    m = VhidMachine(make_params(**overrides), initial_counter=COUNTER)
    m.handle(Start(), now)
    assert m.state is BACKUP
    return m


def as_master(**overrides: Any) -> VhidMachine:
    m = started(**overrides)
    deadline = m.next_deadline()
    assert deadline is not None
    m.handle(TimerFired(), deadline)
    assert m.state is MASTER
    return m


def advert(*, advbase: int = 1, advskew: int = 0, source: IP = PEER,
           counter: int = 0xABC) -> AdvertReceived:
    return AdvertReceived(name="web", advert=CarpAdvert(source=source, advbase=advbase,
                                                        advskew=advskew, counter=counter))


def decoded(action: object) -> wire.CarpHeader:
    assert isinstance(action, SendAdvert)
    return wire.decode_carp_header(action.payload)


def release(**kw: Any) -> list[object]:
    return [
        RemoveAddresses(name="web", interface="eth0", addresses=(VIP,)),
        StopUnits(name="web", units=("nginx.service",)),
        RunScript(name="web", kind="down", argv=("/etc/carp/down", "eth0", "192.0.2.10")),
    ]


def changed(old: VhidState, new: VhidState, reason: str, peer: IP | None = None) -> StateChanged:
    """`reason` as status shows it ("fault_check:nginx")."""
    return StateChanged(name="web", vhid=10, interface="eth0", old=old, new=new,
                        **reason_fields(reason), peer=peer)


def reason_fields(code: str) -> dict[str, Any]:
    """StateChanged's reason and cause for a reason code."""
    if code.startswith("fault_") and code != "fault_cleared":
        return {"reason": Reason.FAULT, "cause": code.removeprefix("fault_")}
    return {"reason": Reason(code), "cause": None}


# -- the table ---------------------------------------------------------------------------------

def test_transition_table_is_total() -> None:
    for state in VhidState:
        for inp in VhidInput:
            assert (state, inp) in TRANSITIONS, (state, inp)
    assert len(TRANSITIONS) == len(VhidState) * len(VhidInput)


def test_the_only_paths_from_init_to_master_are_resume_and_the_vrrp_owner() -> None:
    assert [inp for (state, inp), (_, nxt) in TRANSITIONS.items()
            if state is INIT and nxt is MASTER] == [VhidInput.RESUME,
                                                    VhidInput.START_AS_OWNER]


def test_source_must_be_resolved() -> None:
    with pytest.raises(ValueError, match="source address"):
        VhidMachine(make_params(source=None), initial_counter=0)


# -- start -------------------------------------------------------------------------------------

def test_start_goes_backup_releases_and_arms_master_down() -> None:
    m = VhidMachine(make_params(), initial_counter=COUNTER)
    assert m.state is INIT
    assert m.next_deadline() is None
    actions = m.handle(Start(), 100.0)
    assert actions == [changed(INIT, BACKUP, "start"), *release()]
    assert m.next_deadline() == 103.0
    assert m.advert_due_at is None


def test_start_twice_is_a_no_op() -> None:
    m = started()
    assert m.handle(Start(), 1.0) == []
    assert m.next_deadline() == 3.0


def test_start_with_master_down_skew_and_ratio() -> None:
    m = started(now=10.0, advskew=50, deadratio=2)
    assert m.next_deadline() == pytest.approx(12.1953125)


# -- master down -------------------------------------------------------------------------------

def test_master_down_takes_over_with_exact_action_list() -> None:
    m = started()
    assert m.handle(TimerFired(), 2.999) == []
    assert m.state is BACKUP
    actions = m.handle(TimerFired(), 3.0)
    assert [type(a) for a in actions] == [StateChanged, AddAddresses, Announce, SendAdvert,
                                          StartUnits, RunScript]
    assert actions[0] == changed(BACKUP, MASTER, "master_down_timer")
    assert actions[1] == AddAddresses(name="web", interface="eth0", addresses=(VIP,),
                                      label="eth0:web")
    assert actions[2] == Announce(name="web", interface="eth0", addresses=(VIP.ip,), count=3,
                                  interval=0.5)
    send = actions[3]
    assert isinstance(send, SendAdvert)
    assert (send.name, send.interface, send.source, send.destinations, send.l2_broadcast,
            send.bow_out) == ("web", "eth0", OWN, (IP("224.0.0.18"),), False, False)
    h = decoded(send)
    assert (h.vhid, h.advbase, h.advskew, h.demote, h.counter) == (10, 1, 0, 0, COUNTER + 1)
    assert wire.carp_checksum_ok(send.payload)
    assert auth.verify_digest(PASSWORD, 10, (VIP.ip,), h.counter, h.digest)
    assert actions[4] == StartUnits(name="web", units=("nginx.service",))
    assert actions[5] == RunScript(name="web", kind="up",
                                   argv=("/etc/carp/up", "eth0", "192.0.2.10"))
    assert m.next_deadline() == 4.0
    assert m.master_down_at is None


def test_master_down_with_xparam_several_addresses_no_units() -> None:
    vips = (IPIF("192.0.2.10/24"), IPIF("192.0.2.11/32"))
    m = started(addresses=vips, xparam="extra", master_units=(), l2_broadcast=True,
                multicast_group=IP("239.1.2.3"), garp_count=5)
    actions = m.handle(TimerFired(), 3.0)
    assert [type(a) for a in actions] == [StateChanged, AddAddresses, Announce, SendAdvert,
                                          RunScript, RunScript]
    assert actions[2] == Announce(name="web", interface="eth0",
                                  addresses=(vips[0].ip, vips[1].ip), count=5, interval=0.5)
    send = actions[3]
    assert isinstance(send, SendAdvert)
    assert send.l2_broadcast
    assert send.destinations == (IP("239.1.2.3"),)
    h = decoded(send)
    assert auth.verify_digest(PASSWORD, 10, (vips[0].ip, vips[1].ip), h.counter, h.digest)
    assert [a.argv for a in actions[4:] if isinstance(a, RunScript)] == [
        ("/etc/carp/up", "eth0", "192.0.2.10", "extra"),
        ("/etc/carp/up", "eth0", "192.0.2.11", "extra"),
    ]


def test_no_scripts_when_none_configured() -> None:
    m = started(upscript=None, downscript=None, master_units=())
    actions = m.handle(TimerFired(), 3.0)
    assert [type(a) for a in actions] == [StateChanged, AddAddresses, Announce, SendAdvert]


def test_label_is_truncated_to_ifnamsiz() -> None:
    m = started(interface="enp0s31f6", name="webfrontend")
    add = m.handle(TimerFired(), 3.0)[1]
    assert isinstance(add, AddAddresses)
    assert add.label == "enp0s31f6:webfr"
    assert len(add.label) == 15


# -- periodic adverts --------------------------------------------------------------------------

def test_periodic_adverts_on_a_fake_clock() -> None:
    m = as_master(advskew=50)
    interval = 1 + 50 / 256
    now = 3 + 50 / 256  # master-down with skew 50
    counters = []
    for _ in range(5):
        due = m.next_deadline()
        assert due is not None
        assert due == pytest.approx(now + interval)
        assert m.handle(TimerFired(), due - 0.001) == []  # early: nothing
        actions = m.handle(TimerFired(), due)
        assert len(actions) == 1
        h = decoded(actions[0])
        assert (h.advbase, h.advskew) == (1, 50)
        counters.append(h.counter)
        now = due
    assert counters == [COUNTER + 2 + i for i in range(5)]
    assert m.statistics().adverts_sent == 6


def test_counter_wraps_and_adopts_peer_value() -> None:
    m = VhidMachine(make_params(advskew=100), initial_counter=2**64 - 1)
    m.handle(Start(), 0.0)
    first = m.handle(TimerFired(), 3.5)
    assert decoded(first[3]).counter == 0
    # a faster master's advert: we step down, and the last advert continues from its counter
    out = m.handle(advert(advskew=0, counter=0xDEAD), 4.0)
    assert decoded(out[1]).counter == 0xDEAE


# -- step down / reassert ----------------------------------------------------------------------

def test_step_down_on_preferred_master() -> None:
    m = as_master(advskew=100)
    actions = m.handle(advert(advskew=10, counter=500), 5.0)
    assert actions[0] == changed(MASTER, BACKUP, "preferred_master_heard", PEER)
    last = decoded(actions[1])
    assert (last.advbase, last.advskew, last.counter) == (1, 100, 501)
    assert isinstance(actions[1], SendAdvert)
    assert not actions[1].bow_out
    assert actions[2:] == release()
    assert m.state is BACKUP
    assert m.advert_due_at is None
    assert m.next_deadline() == pytest.approx(5.0 + 3 + 100 / 256)
    assert m.statistics().master == PEER


def test_step_down_on_equal_interval_tie_break() -> None:
    # x86 ucarp rule (CARP.md 3.4): carpd 10.0.0.2 must yield to ucarp 10.0.1.1, because
    # 1.1.0.10 < 2.0.0.10 when the octets are read little-endian
    m = as_master(source=IP("10.0.0.2"))
    actions = m.handle(advert(source=IP("10.0.1.1")), 5.0)
    assert actions[0] == changed(MASTER, BACKUP, "equal_master_tie_break_lost", IP("10.0.1.1"))


def test_reassert_on_slower_master() -> None:
    m = as_master()
    actions = m.handle(advert(advskew=100, counter=77), 3.5)
    assert len(actions) == 2
    assert actions[0] == Announce(name="web", interface="eth0", addresses=(VIP.ip,), count=1,
                                  interval=0.5)
    h = decoded(actions[1])
    assert (h.advbase, h.advskew, h.counter) == (1, 0, 78)
    assert m.state is MASTER
    assert m.next_deadline() == 4.5  # the immediate advert restarts the interval


def test_reassert_on_equal_master_that_loses_tie_break() -> None:
    m = as_master()
    actions = m.handle(advert(source=IP("10.0.0.2")), 3.5)  # 2.0.0.10 > 1.0.0.10
    assert [type(a) for a in actions] == [Announce, SendAdvert]


def test_backup_follows_faster_master_and_restarts_timer() -> None:
    m = started()
    assert m.handle(advert(), 2.0) == []
    assert m.next_deadline() == 5.0
    assert m.statistics().master == PEER
    assert m.handle(advert(), 4.5) == []
    assert m.next_deadline() == 7.5
    assert m.state is BACKUP


def test_backup_preempts_slower_master() -> None:
    m = started(preempt=True)
    actions = m.handle(advert(advskew=1), 1.0)
    assert actions[0] == changed(BACKUP, MASTER, "preempted_slower_master", PEER)
    assert [type(a) for a in actions[1:]] == [AddAddresses, Announce, SendAdvert, StartUnits,
                                              RunScript]


def test_backup_without_preempt_tolerates_slower_master() -> None:
    m = started()
    assert m.handle(advert(advskew=1), 1.0) == []
    assert m.state is BACKUP
    assert m.next_deadline() == 4.0


def test_backup_takes_over_at_once_on_bow_out() -> None:
    m = started()
    actions = m.handle(advert(advbase=255, advskew=255), 1.0)
    assert actions[0] == changed(BACKUP, MASTER, "peer_bowed_out", PEER)
    assert m.state is MASTER


def test_init_ignores_adverts() -> None:
    m = VhidMachine(make_params(), initial_counter=0)
    assert m.handle(advert(advbase=255, advskew=255), 1.0) == []
    assert m.state is INIT
    assert m.next_deadline() is None


# -- shutdown ----------------------------------------------------------------------------------

def test_shutdown_as_master_releases_then_bows_out() -> None:
    m = as_master(advskew=20)
    actions = m.handle(Shutdown(), 3.5)
    assert actions[0] == changed(MASTER, INIT, "shutdown")
    remove, *rest = release()
    assert actions[1] == remove  # break before make: the VIP goes before the peer is told
    send = actions[2]
    assert isinstance(send, SendAdvert)
    assert send.bow_out
    h = decoded(send)
    assert (h.advbase, h.advskew) == (255, 255)
    assert h.is_bow_out
    assert auth.verify_digest(PASSWORD, 10, (VIP.ip,), h.counter, h.digest)
    assert actions[3:] == rest
    assert m.state is INIT
    assert m.next_deadline() is None


def test_shutdown_as_backup() -> None:
    m = started()
    assert m.handle(Shutdown(), 1.0) == [changed(BACKUP, INIT, "shutdown")]
    assert m.next_deadline() is None
    # nothing fires afterwards, and a link flap does not restart it
    assert m.handle(TimerFired(), 10.0) == []
    assert m.handle(LinkChanged(interface="eth0", up=False), 11.0) == []
    assert m.handle(LinkChanged(interface="eth0", up=True), 12.0) == []
    assert m.state is INIT


def test_shutdown_in_init_is_silent() -> None:
    m = VhidMachine(make_params(), initial_counter=0)
    assert m.handle(Shutdown(), 0.0) == []


# -- link --------------------------------------------------------------------------------------

def test_link_down_as_master_goes_init_and_releases() -> None:
    m = as_master()
    actions = m.handle(LinkChanged(interface="eth0", up=False), 3.5)
    assert actions == [changed(MASTER, INIT, "link_down"), *release()]
    assert m.next_deadline() is None
    assert m.handle(TimerFired(), 100.0) == []


def test_link_down_then_up_as_backup() -> None:
    m = started()
    assert m.handle(LinkChanged(interface="eth0", up=False), 1.0) == [
        changed(BACKUP, INIT, "link_down")]
    assert m.next_deadline() is None
    assert m.handle(LinkChanged(interface="eth0", up=False), 2.0) == []  # no change
    actions = m.handle(LinkChanged(interface="eth0", up=True), 50.0)
    assert actions == [changed(INIT, BACKUP, "link_up")]  # released at start; no 2nd script
    assert m.next_deadline() == 53.0  # a fresh master-down timer


def test_link_up_before_start_and_start_while_link_down() -> None:
    m = VhidMachine(make_params(), initial_counter=0)
    assert m.handle(LinkChanged(interface="eth0", up=False), 0.0) == []
    assert m.handle(Start(), 1.0) == []  # remembered, waits for the link
    assert m.state is INIT
    actions = m.handle(LinkChanged(interface="eth0", up=True), 2.0)
    assert actions == [changed(INIT, BACKUP, "link_up"), *release()]  # first entry releases
    assert m.next_deadline() == 5.0


# -- demotion ----------------------------------------------------------------------------------

def test_demotion_as_master_advertises_at_once() -> None:
    m = as_master(advskew=10)
    actions = m.handle(SetDemotion(name="web", source="health", amount=50), 3.2)
    assert len(actions) == 1
    h = decoded(actions[0])
    assert (h.advbase, h.advskew) == (1, 60)
    assert effective_advskew(m) == 60
    assert m.next_deadline() == pytest.approx(3.2 + 1 + 60 / 256)
    stats = m.statistics()
    assert stats.demotions == (("health", 50),)
    assert (stat(stats, "advskew"), effective_advskew(stats)) == (10, 60)
    # same amount again: no change, no advert
    assert m.handle(SetDemotion(name="web", source="health", amount=50), 3.3) == []
    # a second source adds up, capped at 254
    decoded(m.handle(SetDemotion(name="web", source="boot", amount=250), 3.4)[0])
    assert effective_advskew(m) == 254
    m.handle(SetDemotion(name="web", source="boot", amount=0), 3.5)
    actions = m.handle(SetDemotion(name="web", source="health", amount=0), 3.6)
    assert decoded(actions[0]).advskew == 10
    assert m.statistics().demotions == ()


def test_demoted_master_then_loses_to_equal_peer() -> None:
    m = as_master()
    m.handle(SetDemotion(name="web", source="health", amount=100), 3.1)
    actions = m.handle(advert(advskew=50, source=IP("10.0.0.200")), 3.2)
    assert actions[0] == changed(MASTER, BACKUP, "preferred_master_heard", IP("10.0.0.200"))
    assert decoded(actions[1]).advskew == 100


def test_demotion_in_backup_changes_master_down_after_next_advert() -> None:
    m = started()
    assert m.handle(SetDemotion(name="web", source="x", amount=128), 1.0) == []
    assert effective_advskew(m) == 128
    m.handle(advert(), 2.0)
    assert m.next_deadline() == pytest.approx(2.0 + 3.5)


# -- send errors -------------------------------------------------------------------------------

def test_three_send_failures_suppress_and_three_successes_restore() -> None:
    m = as_master(advskew=5)
    fail, ok = SendResult(name="web", ok=False, error="ENOBUFS"), SendResult(name="web", ok=True)
    assert m.handle(fail, 3.1) == []
    assert m.handle(fail, 3.2) == []
    assert effective_advskew(m) == 5
    assert m.handle(fail, 3.3) == []
    assert effective_advskew(m) == 240
    assert m.statistics().send_suppressed
    due = m.next_deadline()
    assert due is not None
    h = decoded(m.handle(TimerFired(), due)[0])
    assert h.advskew >= 240
    assert m.handle(ok, 4.1) == []
    assert m.handle(ok, 4.2) == []
    assert effective_advskew(m) == 240
    m.handle(fail, 4.21)  # resets the success run
    m.handle(ok, 4.22)
    m.handle(ok, 4.23)
    assert m.statistics().send_suppressed
    m.handle(ok, 4.24)
    assert not m.statistics().send_suppressed
    assert effective_advskew(m) == 5
    due = m.next_deadline()
    assert due is not None
    assert decoded(m.handle(TimerFired(), due)[0]).advskew == 5
    assert m.statistics().send_errors == 4


def test_two_failures_separated_by_a_success_do_not_suppress() -> None:
    m = as_master()
    for ok in (False, False, True, False, False):
        m.handle(SendResult(name="web", ok=ok), 3.5)
    assert effective_advskew(m) == 0


# -- late timers -------------------------------------------------------------------------------

@given(st.floats(min_value=0.0, max_value=1e6, allow_nan=False),
       st.integers(0, 254), st.integers(1, 10))
def test_next_deadline_never_in_the_past_after_late_timer(late: float, skew: int,
                                                          base: int) -> None:
    m = started(advskew=skew, advbase=base)
    down = m.next_deadline()
    assert down is not None
    now = down + late
    m.handle(TimerFired(), now)
    assert m.state is MASTER
    due = m.next_deadline()
    assert due is not None
    assert due > now
    now = due + late
    assert len(m.handle(TimerFired(), now)) == 1
    due = m.next_deadline()
    assert due is not None
    assert due > now


# -- statistics and secrets --------------------------------------------------------------------

def test_statistics_fields() -> None:
    m = VhidMachine(make_params(advskew=7, preempt=True), initial_counter=0, since_at=-5.0)
    s = m.statistics()
    assert (s.name, s.vhid, s.interface, s.state, s.since_at, s.reason) == (
        "web", 10, "eth0", INIT, -5.0, "configured")
    m.handle(Start(), 0.0)
    m.handle(TimerFired(), 3.1)
    m.handle(advert(advbase=2, advskew=9), 3.5)  # slower: reassert
    m.handle(SendResult(name="web", ok=False), 3.6)
    m.handle(AddressOpFailed(name="web", error="EPERM"), 3.7)
    s = m.statistics()
    assert s.state is MASTER
    assert s.since_at == 3.1
    assert s.reason == "master_down_timer"
    assert s.master == OWN
    assert (stat(s, "advbase"), stat(s, "advskew"), effective_advskew(s), s.preempt) == (
        1, 7, 7, True)
    assert (stat(s, "master_advbase"), stat(s, "master_advskew")) == (1, 7)  # we are master
    assert m.profile.statistics(m.standing, master_is_self=False).master == (
        ("master_advbase", 2), ("master_advskew", 9))  # the last peer heard
    assert (s.adverts_sent, s.adverts_received, s.send_errors, s.address_errors,
            s.transitions) == (2, 1, 1, 1, 2)
    assert not s.send_suppressed
    assert s.demotions == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.state = BACKUP  # type: ignore[misc]


def test_secret_never_printed() -> None:
    m = started()
    actions = [*m.handle(TimerFired(), 3.0), *m.handle(Shutdown(), 4.0)]
    texts = [repr(m.params), str(m.params), repr(m.statistics()), str(m.statistics()),
             repr(Secret(PASSWORD)), str(Secret(PASSWORD)), f"{Secret(PASSWORD)}",
             *map(repr, actions)]
    for text in texts:
        assert "hunter2pw" not in text
        assert PASSWORD.hex() not in text
    assert repr(Secret(PASSWORD)) == "Secret(***)"
    assert "password" not in repr(m.params)
    assert Secret(PASSWORD).reveal() == PASSWORD
    assert Secret(PASSWORD) == Secret(PASSWORD) != Secret(b"other")
