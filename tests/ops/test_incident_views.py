"""An incident as the operator commands show it, on a fake clock: a backup that takes over
when its master falls silent (the record names the master lost and when it was last heard),
a dual master heard afterwards (status problems, explain's sentence), foreign adverts, a
failing check, history and its bound, and the watch filters. A pure Node stands in for the
daemon (tests/ops/test_commands.py's NodeDriver)."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import itertools
from typing import Any

import pytest

from carpd.control.protocol import ProtocolError, Request
from carpd.core.actions import StateChanged, VhidState
from carpd.core.carp import auth, wire
from carpd.core.events import CheckResult, TimerFired
from carpd.core.params import VipParams
from carpd.core.states import Reason
from carpd.io.ipv4 import encode_ipv4_header, parse_datagram
from carpd.ops.history import History
from carpd.ops.watch import WatchFilter
from tests.ops.test_commands import NodeDriver, call, operations, vip
from tests.ops.test_operations import NGINX, ROOT

GROUP = ipaddress.IPv4Address("224.0.0.18")
MASTER_A = "172.16.90.102"


def advert(*, source: str = MASTER_A, advskew: int = 0, counter: int = 7,
           password: bytes = b"s3cret") -> bytes:
    digest = auth.compute_digest(password, 1, (ipaddress.IPv4Address("172.16.90.31"),), counter)
    payload = wire.encode_carp_header(wire.CarpHeader(vhid=1, advbase=1, advskew=advskew,
                                                      counter=counter, digest=digest))
    return encode_ipv4_header(source=ipaddress.IPv4Address(source), destination=GROUP,
                              payload_length=36) + payload


def hear(driver: NodeDriver, at: float, data: bytes) -> None:
    driver.clock = at
    driver.post(parse_datagram("eth0", data))


def backup_web(**kw: Any) -> VipParams:
    return dataclasses.replace(vip(), advskew=100, preempt=False, **kw)


def taken_over() -> tuple[NodeDriver, Any]:
    """web (advskew 100) follows MASTER_A (advskew 0) from 1000.5 to 1002.0, then MASTER_A
    falls silent and web takes over at 1002.0 + 3 + 100/256."""
    driver = NodeDriver((backup_web(),))
    ops, _ = operations(driver)
    for i, t in enumerate((1000.5, 1001.0, 1002.0)):
        hear(driver, t, advert(counter=10 + i))
    driver.clock = 1002.0 + 3 + 100 / 256
    driver.post(TimerFired())
    assert driver.node.machine("web").state.value == "MASTER"
    return driver, ops


def test_history_names_the_master_lost_when_it_was_last_heard_and_the_rank() -> None:
    _, ops = taken_over()
    entries = call(ops, "history")["entries"]
    assert [(e["from"], e["to"], e["reason"]) for e in entries] == [
        ("BACKUP", "MASTER", "master_down_timer")]  # (the start came before ops was attached)
    takeover = entries[-1]
    assert takeover == {
        "time": "2027-01-15T08:00:05.390+00:00", "vip": "web", "vhid": 1, "interface": "eth0",
        "from": "BACKUP", "to": "MASTER", "reason": "master_down_timer", "peer": None,
        "master_before": MASTER_A, "master_after": "self",
        "master_last_heard": "2027-01-15T08:00:02.000+00:00",
        "master_last_heard_before_s": 3.391, "rank": "advskew 100", "demotions": {},
        "behind": ""}
    assert call(ops, "history", name="web")["entries"] == entries


def test_status_and_explain_show_the_takeover() -> None:
    _, ops = taken_over()
    status = call(ops, "status")
    assert status["vips"][0]["last_transition"]["master_before"] == MASTER_A
    text = call(ops, "explain", name="web")["text"]
    assert (f"It took over from {MASTER_A}, whose last advert was heard at "
            "2027-01-15 08:00:02 UTC, 3.4 s before.") in text


def test_a_dual_master_is_a_problem_while_it_lasts_with_peer_rank_and_since() -> None:
    driver, ops = taken_over()  # MASTER with advskew 100 since 1005.39
    worse = "172.16.90.109"
    for i, t in enumerate((1010.0, 1011.0, 1012.0)):
        hear(driver, t, advert(source=worse, advskew=200, counter=50 + i))
    driver.clock = 1012.5
    problems = call(ops, "status")["problems"]
    assert problems == [{"kind": "dual_master", "vip": "web", "text": (
        f"web: dual master with {worse} (advbase 1 advskew 200) since 2027-01-15 08:00:10 UTC, "
        "last heard 0s ago, 3 times")}]
    peers = call(ops, "status")["vips"][0]["anomaly_peers"]
    assert [(p["kind"], p["peer"], p["rank"], p["first_seen"], p["last_seen"], p["count"])
            for p in peers] == [("dual_master", worse, "advbase 1 advskew 200",
                                 "2027-01-15T08:00:10.000+00:00",
                                 "2027-01-15T08:00:12.000+00:00", 3)]
    text = call(ops, "explain", name="web")["text"]
    assert (f"Another node claims this VIP: {worse} advertises as master (advbase 1 advskew "
            "200) while we are MASTER, since 2027-01-15 08:00:10 UTC, last heard 0s ago, "
            "3 times: a split brain") in text
    driver.clock = 1012.0 + 10.0  # RECENT_S after the last one: still now
    assert [p["kind"] for p in call(ops, "status")["problems"]] == ["dual_master"]
    driver.clock = 1012.0 + 10.001  # then it is over: explain still tells it, as the past
    assert call(ops, "status")["problems"] == []
    assert f"Earlier another node claimed this VIP as master: {worse} (advbase 1 advskew 200)" \
        in call(ops, "explain", name="web")["text"]


def test_foreign_adverts_failing_checks_and_no_master_are_problems() -> None:
    driver = NodeDriver((backup_web(checks=(NGINX,)),))
    ops, _ = operations(driver)
    assert [p["kind"] for p in call(ops, "status")["problems"]] == ["no_master"]
    assert call(ops, "status")["problems"][0]["text"] == (
        "web: no master anywhere: BACKUP (start) here, and no master heard")
    hear(driver, 1000.5, advert(source="172.16.90.200", password=b"other"))
    hear(driver, 1000.6, advert(counter=8))
    for t in (1000.7, 1000.8):
        driver.clock = t
        driver.post(CheckResult(name="web", check="nginx", ok=False, detail="refused"))
    problems = call(ops, "status")["problems"]
    assert [(p["kind"], p["vip"]) for p in problems] == [
        ("foreign_advert", "web"), ("check_failing", "web")]
    assert problems[0]["text"].startswith(
        "web: foreign adverts on vhid 1 (bad HMAC: another cluster, or a different password "
        "or address set) from 172.16.90.200 since 2027-01-15 08:00:00 UTC")
    assert problems[1]["text"] == ("web: check nginx failing (weight 100) since "
                                   "2027-01-15 08:00:00 UTC: refused")
    assert "Adverts on vhid 1 that fail our HMAC come from 172.16.90.200" in call(
        ops, "explain", name="web")["text"]


def test_maintenance_is_a_problem_of_the_node() -> None:
    driver = NodeDriver((vip(),))
    ops, _ = operations(driver)
    driver.clock = 1003.0
    driver.post(TimerFired())
    call(ops, "maintenance", on=True)
    assert call(ops, "status")["problems"] == [{"kind": "maintenance", "vip": None, "text": (
        "maintenance mode on since 2027-01-15 08:00:03 UTC: every VIP demoted "
        "(carpctl maintenance off)")}]


def test_a_step_down_records_the_operator_demotion_behind_it() -> None:
    driver = NodeDriver((dataclasses.replace(vip(), preempt=True),))
    ops, _ = operations(driver)
    driver.clock = 1003.0
    driver.post(TimerFired())  # MASTER
    driver.clock = 1004.0
    call(ops, "demote", name="web", by=100)
    hear(driver, 1004.5, advert(advskew=50))  # a better master takes over
    last = call(ops, "history")["entries"][-1]
    assert (last["from"], last["to"], last["reason"], last["master_before"],
            last["master_after"]) == ("MASTER", "BACKUP", "preferred_master_heard", "self",
                                      MASTER_A)
    assert (last["rank"], last["demotions"], last["behind"]) == (
        "advskew 100", {"operator": 100}, "operator demotion (+100)")


def test_history_is_a_bounded_ring_oldest_dropped() -> None:
    driver = NodeDriver((vip(),), started=False)
    history = History(driver, size=3)
    states = [VhidState.INIT, VhidState.BACKUP, VhidState.MASTER, VhidState.BACKUP,
              VhidState.MASTER]
    for i, (old, new) in enumerate(itertools.pairwise(states)):
        driver.clock = 1000.0 + i
        history.record(StateChanged(name="web", vhid=1, interface="eth0", old=old, new=new,
                                    reason=Reason.START))
    assert [r.at for r in history.entries()] == [1001.0, 1002.0, 1003.0]
    assert history.last()["web"].at == 1003.0
    history.forget("web")
    assert history.last() == {}
    assert len(history.entries("web")) == 3  # a removed VIP's entries stay in the ring


def test_history_of_an_unknown_vip_is_refused() -> None:
    _, ops = taken_over()
    with pytest.raises(ProtocolError, match="no VIP named 'nope'"):
        call(ops, "history", name="nope")
    with pytest.raises(ProtocolError, match="name must be a VIP name"):
        call(ops, "history", name=3)


# -- watch filters ----------------------------------------------------------------------------

def test_watch_filter_by_vip_and_changes() -> None:
    web, changes = WatchFilter(name="web"), WatchFilter(changes=True)
    passing = {"type": "check", "vip": "web", "changed": False}
    assert web.wants(passing) and not changes.wants(passing)
    assert changes.wants({**passing, "changed": True})
    assert not web.wants({"type": "transition", "vip": "mail"})
    assert web.wants({"type": "operator", "detail": "maintenance mode on"})  # about no VIP
    assert not changes.wants({"type": "anomaly", "vip": "web", "repeat": True})
    assert changes.wants({"type": "anomaly", "vip": "web", "repeat": False})
    assert changes.wants({"type": "transition", "vip": "web"})


def test_watch_subscription_gets_only_what_it_asked_for() -> None:
    driver = NodeDriver((backup_web(checks=(NGINX,)),))
    ops, _ = operations(driver)

    async def scenario() -> tuple[list[dict[str, Any]], int]:
        queue = ops.subscribe(Request(cmd="watch", args={"name": "web", "changes": True}),
                              ROOT)
        everything = ops.subscribe(Request(cmd="watch"), ROOT)
        for i, t in enumerate((1000.1, 1000.2, 1000.3, 1000.4)):  # passing, passing, ...
            driver.clock = t
            driver.post(CheckResult(name="web", check="nginx", ok=True, detail=f"ok {i}"))
        got = []
        while not queue.empty():
            item = queue.get_nowait()
            assert item is not None
            got.append(item)
        return got, everything.qsize()

    got, unfiltered = asyncio.run(scenario())
    assert unfiltered == 4
    # the first result decides an unknown check; the passing ones after it change nothing
    assert [(e["type"], e.get("detail")) for e in got] == [("check", "ok 0")]
    assert got[0]["changed"] is True


def test_watch_of_an_unknown_vip_or_a_bad_changes_flag_is_refused() -> None:
    driver = NodeDriver((vip(),))
    ops, _ = operations(driver)
    with pytest.raises(ProtocolError, match="no VIP named 'nope'"):
        ops.subscribe(Request(cmd="watch", args={"name": "nope"}), ROOT)
    with pytest.raises(ProtocolError, match="changes must be true or false"):
        ops.subscribe(Request(cmd="watch", args={"changes": "yes"}), ROOT)
