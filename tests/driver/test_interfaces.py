"""An interface deleted and re-created under the same name (carpd.driver.interfaces), through
the real Daemon on fake ports and a fake clock: the VIPs go INIT and release quietly, the
sockets are re-opened for the new device, and the VIPs elect again; a send failing with
ENODEV rebinds, bounded."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

from carpd.status import messages as msg
from tests.driver.fakes import FakeClockLoop, Harness, fake_ports
from tests.driver.test_daemon import WEB, peer_advert, run, until, vip


def state(d: Harness, i: int = 0) -> str:
    return str(d.status_document()["vips"][i]["state"])


def errors(ports: Any) -> list[str]:
    return [m for p, m, _ in ports.log.records if p <= msg.WARNING and "deleted" not in m]


def test_deleted_interface_goes_init_quietly_and_recreated_one_elects_again() -> None:
    ports = fake_ports()
    tr, addrs, ann = ports.transport, ports.addresses, ports.announcer
    seen: dict[str, Any] = {}

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1004.5)
        assert state(d) == "MASTER" and WEB in addrs.present["eth0"]  # type: ignore[attr-defined]
        opened = len(tr.opened)  # type: ignore[attr-defined]
        addrs.delete("eth0")  # type: ignore[attr-defined]
        assert state(d) == "INIT"
        assert tr.forgotten == ["eth0"] and ann.forgotten == ["eth0"]  # type: ignore[attr-defined]
        await until(loop, 1010.0)  # a while without the interface: nothing sent, no noise
        seen["sent_while_gone"] = [t for t, _ in tr.sent if 1004.5 < t < 1010.0]  # type: ignore[attr-defined]
        addrs.create("eth0")  # type: ignore[attr-defined]
        assert tr.opened[opened:] == [("eth0", ipaddress.IPv4Address("172.16.90.101"))]  # type: ignore[attr-defined]
        assert tr.groups[("eth0", 4)] == {ipaddress.IPv4Address("224.0.0.18")}  # type: ignore[attr-defined]
        assert state(d) == "BACKUP"
        await until(loop, 1013.1)  # alone: master-down (3 s) later it is MASTER again
        assert state(d) == "MASTER" and WEB in addrs.present["eth0"]  # type: ignore[attr-defined]
        seen["counters"] = d.status_document()["vips"][0]["counters"]
        seen["rebinds"] = d.daemon.interfaces.rebinds

    rc, _, _ = run(scenario, ports)
    assert rc == 0
    assert seen["sent_while_gone"] == []
    assert seen["counters"]["address_errors"] == 0 and seen["counters"]["send_errors"] == 0
    assert seen["rebinds"] == 1
    assert errors(ports) == []
    assert any("eth0 is gone, and its addresses went with it" in m
               for m in ports.log.messages())  # type: ignore[attr-defined]


def test_recreated_interface_with_a_master_there_stays_backup() -> None:
    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1004.5)
        d.ports.addresses.delete("eth0")  # type: ignore[attr-defined]
        d.ports.addresses.create("eth0", up=False)  # type: ignore[attr-defined]
        assert state(d) == "INIT"
        d.ports.addresses.on_link("eth0", True)  # type: ignore[attr-defined]
        assert state(d) == "BACKUP"
        for _ in range(5):
            d.ports.transport.on_packet("eth0", peer_advert(advskew=0))  # type: ignore[attr-defined]
            await asyncio.sleep(1.0)
        assert state(d) == "BACKUP"
        assert d.status_document()["vips"][0]["counters"]["adverts_received"] == 5

    rc, _, _ = run(scenario)
    assert rc == 0


def test_an_open_that_fails_is_retried_at_carrier_up() -> None:
    ports = fake_ports()
    tr, addrs = ports.transport, ports.addresses

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1004.5)
        addrs.delete("eth0")  # type: ignore[attr-defined]
        tr.missing.add("eth0")  # type: ignore[attr-defined]
        addrs.create("eth0", up=False)  # type: ignore[attr-defined]
        assert d.daemon.interfaces.unbound("eth0")
        tr.missing.clear()  # type: ignore[attr-defined]
        addrs.on_link("eth0", True)  # type: ignore[attr-defined]
        assert not d.daemon.interfaces.unbound("eth0")
        assert state(d) == "BACKUP"

    rc, _, _ = run(scenario, ports)
    assert rc == 0
    warnings = [m for p, m, _ in ports.log.records if p == msg.WARNING]  # type: ignore[attr-defined]
    assert sum("cannot re-open the sockets on eth0" in m for m in warnings) == 1


def test_enodev_on_send_rebinds_bounded_and_backing_off() -> None:
    """Three VIPs on eth0 each failing every advert (a deletion whose event was lost): a
    rebind after 0, 1, 2, 4... s (not one per packet), and none once sends work. (The core
    suppresses a VIP whose sends keep failing, which slows its adverts; that is its own
    business.)"""
    ports = fake_ports()
    tr = ports.transport
    vips = tuple(vip(name=f"v{i}", vhid=i + 1, addresses=(
        ipaddress.IPv4Interface(f"172.16.90.{31 + i}/24"),)) for i in range(3))
    seen: dict[str, int] = {}

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1003.5)
        assert [state(d, i) for i in range(3)] == ["MASTER"] * 3
        tr.fail, tr.fail_errno = True, 19  # type: ignore[attr-defined]
        before = len(tr.forgotten)  # type: ignore[attr-defined]
        await until(loop, 1011.4)
        seen["rebinds"] = len(tr.forgotten) - before  # type: ignore[attr-defined]
        seen["errors"] = sum(v["counters"]["send_errors"] for v in d.status_document()["vips"])
        tr.fail = False  # type: ignore[attr-defined]
        await until(loop, 1013.5)
        seen["after"] = len(tr.forgotten) - before  # type: ignore[attr-defined]

    rc, _, _ = run(scenario, ports, vips)
    assert rc == 0
    assert seen["errors"] >= 18  # 3 VIPs failing about every second for 7.9 s
    assert seen["rebinds"] == 3  # at 1004, 1005, 1007; the next not before 1011
    assert seen["after"] == seen["rebinds"], "a working send never rebinds"


def test_other_send_errors_do_not_rebind() -> None:
    ports = fake_ports()

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1003.5)
        ports.transport.fail = True  # type: ignore[attr-defined]  # ENETUNREACH
        await until(loop, 1006.5)

    run(scenario, ports)
    assert ports.transport.forgotten == []  # type: ignore[attr-defined]


def test_exit_with_the_interface_gone_logs_no_failure() -> None:
    ports = fake_ports()

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1004.5)
        ports.addresses.delete("eth0")  # type: ignore[attr-defined]
        await asyncio.sleep(0.5)

    rc, _, _ = run(scenario, ports)
    assert rc == 0
    assert [m for p, m, _ in ports.log.records if p <= msg.ERR] == []  # type: ignore[attr-defined]
