"""Operations against the narrow Driver interface alone: a pure Node and a hand-set clock
stand in for the Daemon (what carpd.ops.host.Driver promises is all ops may use)."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
from typing import Any

import pytest

from carpd.control.protocol import ProtocolError, Request
from carpd.core.actions import Action, DemotionExpired
from carpd.core.events import Event, Start, TimerFired
from carpd.core.node import Node, NodeStatistics
from carpd.core.params import VipParams
from carpd.driver.ports import MemoryFlags, Ports
from carpd.ops.operations import Operations
from carpd.status.document import NodeInfo, StatusDocument, build_document, iso_time
from tests.driver.fakes import fake_ports
from tests.driver.test_daemon import vip as configured


def vip() -> VipParams:
    return dataclasses.replace(configured(), source=ipaddress.IPv4Address("172.16.90.101"))

OFFSET = 1_800_000_000.0 - 1000.0  # wall clock = monotonic + OFFSET


class NodeDriver:
    """What ops sees of the daemon, over a pure Node; `started=False` is before the VIPs run."""

    def __init__(self, vips: tuple[VipParams, ...], *, started: bool = True) -> None:
        self.clock = 1000.0
        self.node = Node(vips, counter_source=lambda _n: 7, now=self.clock)
        self.started = started
        self.actions: list[Action] = []
        self.ops: Operations | None = None
        if started:
            self.post(Start())

    def post(self, event: Event) -> None:
        for action in self.node.handle(event, self.clock):
            self.actions.append(action)
            if self.ops is not None:
                self.ops.observe(action)

    def statistics(self) -> NodeStatistics | None:
        return self.node.statistics() if self.started else None

    def status(self) -> StatusDocument:
        return build_document(self.statistics(), node=NodeInfo(hostname="h", version="v",
                                                               uptime_s=0.0),
                              wall_iso=lambda at: iso_time(self.wall_of(at)))

    def now(self) -> float:
        return self.clock

    def wall_of(self, at: float) -> float:
        return at + OFFSET

    def monotonic_of(self, wall: float) -> float:
        return wall - OFFSET


def call(ops: Operations, cmd: str, **args: Any) -> dict[str, Any]:
    return asyncio.run(ops.control(Request(cmd=cmd, args=args)))


def operations(driver: NodeDriver) -> tuple[Operations, Ports]:
    ports = dataclasses.replace(fake_ports(), flags=MemoryFlags())
    driver.ops = Operations(driver, ports)
    return driver.ops, ports


def test_demote_for_expires_through_the_nodes_own_deadline() -> None:
    driver = NodeDriver((vip(),))
    ops, ports = operations(driver)
    driver.clock = 1003.0
    driver.post(TimerFired())  # MASTER
    driver.clock = 1003.5
    r = call(ops, "demote", name="web", **{"for": 30})
    assert r == {"demoted": ["web"], "by": 254, "until": "2027-01-15T08:00:33.500+00:00",
                 "persisted": True}
    assert ports.flags.documents["demotions"] == {  # type: ignore[attr-defined]
        "web": {"amount": 254, "until": 1_800_000_033.5}}
    assert driver.node.next_deadline() == 1003.5 + 1 + 254 / 256  # advertised at once
    driver.clock = 1033.499
    driver.post(TimerFired())
    assert DemotionExpired(name="web") not in driver.actions
    driver.clock = 1033.5
    driver.post(TimerFired())
    assert driver.actions[-1] == DemotionExpired(name="web")
    assert ports.flags.documents["demotions"] == {}  # type: ignore[attr-defined]
    assert "operator: operator demotion of web expired" in ports.log.messages()  # type: ignore[attr-defined]


def test_a_demotion_too_short_to_be_a_window_is_refused_and_changes_nothing() -> None:
    """`demote --for 0.001` used to move the VIP to the peer and back within milliseconds."""
    driver = NodeDriver((vip(),))
    ops, ports = operations(driver)
    driver.clock = 1003.0
    driver.post(TimerFired())  # MASTER
    for short in (0.001, 4.9):  # the control server sends a ProtocolError as the error reply
        with pytest.raises(ProtocolError, match=r"only make the VIP flap .* at least 5 s"):
            call(ops, "demote", name="web", **{"for": short})
    assert ports.flags.documents.get("demotions", {}) == {}  # type: ignore[attr-defined]
    assert driver.node.statistics().vips[0].demotions == ()
    assert call(ops, "demote", name="web", **{"for": 5})["demoted"] == ["web"]


def test_maintenance_reply_and_status_line_facts() -> None:
    driver = NodeDriver((vip(),))
    ops, ports = operations(driver)
    driver.clock = 1002.0
    assert call(ops, "maintenance", on=True) == {
        "maintenance": True, "since": "2027-01-15T08:00:02.000+00:00", "persisted": True}
    driver.clock = 1005.0  # again: nothing changes, the original instant stays
    assert call(ops, "maintenance", on=True) == {
        "maintenance": True, "since": "2027-01-15T08:00:02.000+00:00", "persisted": True}
    assert ports.flags.documents["maintenance"] == {  # type: ignore[attr-defined]
        "on": True, "since": 1_800_000_002.0}
    assert [m for m in ports.log.messages() if m.startswith("operator:")] == [  # type: ignore[attr-defined]
        "operator: maintenance mode on"]


def test_changes_are_refused_before_the_vips_run() -> None:
    ops, _ = operations(NodeDriver((vip(),), started=False))
    for cmd, args in (("maintenance", {"on": True}), ("demote", {"all": True})):
        with pytest.raises(ProtocolError, match="carpd is still starting"):
            call(ops, cmd, **args)
    assert call(ops, "status")["vips"] == []
