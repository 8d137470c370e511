"""Address operations on an idle lane go at once (AddressPort.add_now / remove_now), every
other case keeps the lane's order and the adapter's `add`/`remove` (fake clock, no sleeping)."""

from __future__ import annotations

import asyncio
import ipaddress

from carpd.driver.ports import Ports
from tests.driver.fakes import FakeClockLoop, Harness, fake_ports
from tests.driver.test_daemon import WEB, run, until, vip


def fast_ports(remove: bool = True) -> Ports:
    ports = fake_ports()
    ports.addresses.fast = True  # type: ignore[attr-defined]
    ports.addresses.fast_remove = remove  # type: ignore[attr-defined]
    return ports


def test_a_takeover_adds_the_vip_at_once_and_announces_it() -> None:
    seen: dict[str, object] = {}

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1003.0005)  # master-down (3 s) has fired; no loop turn for a lane
        seen["held"] = set(d.ports.addresses.present["eth0"])  # type: ignore[attr-defined]
        await until(loop, 1004.5)

    rc, ports, _ = run(scenario, fast_ports())
    assert rc == 0
    assert seen["held"] == {WEB}
    assert ports.addresses.ops == [  # type: ignore[attr-defined]
        ("remove_now", "eth0", (str(WEB),)),  # INIT -> BACKUP: nothing held
        ("add_now", "eth0", (str(WEB),)),  # the takeover
        ("remove_now", "eth0", (str(WEB),)),  # the shutdown's release, then its bow-out
        ("remove", "eth0", (str(WEB),))]  # the exit's safety net (not a lane's)
    bow_out = [t for t, a in ports.transport.sent if a.bow_out]  # type: ignore[attr-defined]
    assert len(bow_out) == 1
    assert ports.announcer.bursts == [  # type: ignore[attr-defined]
        (1003.0, "eth0", (str(WEB.ip),), 3)]


def test_a_copy_already_there_goes_through_the_lane_and_is_refused_as_before() -> None:
    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1001.0)  # an operator's copy appears while we are BACKUP
        d.ports.addresses.host = {"eth0": {WEB}}  # type: ignore[attr-defined]
        await until(loop, 1004.5)

    rc, ports, _ = run(scenario, fast_ports())
    ops = ports.addresses.ops  # type: ignore[attr-defined]
    assert rc == 0
    assert ("add_now", "eth0", (str(WEB),)) not in ops
    assert ("add", "eth0", (str(WEB),)) in ops  # the lane's add, which refuses to take it
    assert WEB not in ports.addresses.present["eth0"]  # type: ignore[attr-defined]


def test_without_the_fast_path_the_lane_adds_as_before() -> None:
    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1004.5)

    rc, ports, _ = run(scenario)
    assert rc == 0
    assert ("add", "eth0", (str(WEB),)) in ports.addresses.ops  # type: ignore[attr-defined]


def test_a_busy_lane_keeps_its_order() -> None:
    """A release still queued when the VIP is taken again: the add waits behind it."""
    ports = fast_ports(remove=False)
    gate = asyncio.Event()
    real_remove = ports.addresses.remove

    async def slow_remove(*args: object, **kw: object) -> object:
        await gate.wait()
        return await real_remove(*args, **kw)  # type: ignore[arg-type]

    ports.addresses.remove = slow_remove  # type: ignore[method-assign]
    other = ipaddress.IPv4Interface("172.16.90.32/24")

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1003.5)  # the INIT -> BACKUP removal is still waiting
        seen = list(d.ports.addresses.ops)  # type: ignore[attr-defined]
        gate.set()
        await until(loop, 1004.5)
        assert seen == []

    rc, ports, _ = run(scenario, ports, (vip(addresses=(WEB, other)),))
    ops = ports.addresses.ops  # type: ignore[attr-defined]
    assert rc == 0
    assert ops[0][0] == "remove" and ops[1] == ("add", "eth0", (str(WEB), str(other)))
