"""The real Daemon driven through in-memory ports on a fake-clock loop: exact, no sleeping."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable

import pytest

from carpd.core.actions import SendAdvert
from carpd.core.carp import auth, wire
from carpd.core.params import Secret, VipParams
from carpd.driver.ports import Ports
from carpd.driver.startup import EXIT_HOST_MISMATCH
from carpd.io.ipv4 import encode_ipv4_header
from tests.driver.fakes import FakeClockLoop, Harness, Scenario, drive_daemon, fake_ports

WEB = ipaddress.IPv4Interface("172.16.90.31/24")
PEER = ipaddress.IPv4Address("172.16.90.102")


def vip(**kw: object) -> VipParams:
    base: dict[str, object] = {"name": "web", "vhid": 1, "interface": "eth0", "addresses": (WEB,),
                                   "password": Secret(b"s3cret"), "advskew": 0,
                                   "master_units": ("carpd-master@web.target",),
                                   "upscript": "/bin/up", "downscript": "/bin/down"}
    base.update(kw)
    return VipParams(**base)  # type: ignore[arg-type]


def peer_advert(advbase: int = 1, advskew: int = 0, counter: int = 7) -> bytes:
    digest = auth.compute_digest(b"s3cret", 1, (WEB.ip,), counter)
    payload = wire.encode_carp_header(wire.CarpHeader(vhid=1, advbase=advbase, advskew=advskew,
                                                      counter=counter, digest=digest))
    return encode_ipv4_header(source=PEER, destination=ipaddress.IPv4Address("224.0.0.18"),
                                   payload_length=36) + payload


def run(scenario: Scenario, ports: Ports | None = None, vips: tuple[VipParams, ...] | None = None,
        ) -> tuple[int, Ports, FakeClockLoop]:
    ports = ports or fake_ports()
    rc, loop = drive_daemon(scenario, ports, vips or (vip(),))
    return rc, ports, loop


def until(loop: FakeClockLoop, t: float) -> Awaitable[None]:
    return asyncio.sleep(t - loop.time())


def test_lone_node_becomes_master_after_exactly_master_down() -> None:
    seen: dict[str, object] = {}

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1002.999)
        seen["before"] = d.status_document()["vips"][0]["state"]
        await until(loop, 1003.001)
        seen["after"] = d.status_document()["vips"][0]["state"]
        await until(loop, 1006.5)

    rc, ports, _ = run(scenario)
    assert rc == 0
    assert seen == {"before": "BACKUP", "after": "MASTER"}
    sent = ports.transport.sent  # type: ignore[attr-defined]
    times = [round(t, 6) for t, a in sent if not a.bow_out]
    assert times == [1003.0, 1004.0, 1005.0, 1006.0]
    last = wire.decode_carp_header(sent[-1][1].payload)
    assert sent[-1][1].bow_out and (last.advbase, last.advskew) == (255, 255)
    assert ports.addresses.ops == [  # type: ignore[attr-defined]
        ("remove", "eth0", ("172.16.90.31/24",)),  # INIT -> BACKUP makes sure nothing is held
        ("add", "eth0", ("172.16.90.31/24",)), ("remove", "eth0", ("172.16.90.31/24",)),
        ("remove", "eth0", ("172.16.90.31/24",))]  # the release, then the exit safety net
    assert ports.units.jobs == [  # type: ignore[attr-defined]
        ("stop", "web", ("carpd-master@web.target",)),
        ("start", "web", ("carpd-master@web.target",)),
        ("stop", "web", ("carpd-master@web.target",))]
    assert [argv[0] for _, argv in ports.scripts.runs] == [  # type: ignore[attr-defined]
        "/bin/down", "/bin/up", "/bin/down"]
    assert ports.announcer.bursts == [  # type: ignore[attr-defined]
        (1003.0, "eth0", ("172.16.90.31",), 3)]
    notes = ports.notifier.messages  # type: ignore[attr-defined]
    assert {"READY": "1", "STATUS": "1 VIP: web BACKUP"} in notes
    assert {"STATUS": "1 VIP: web MASTER"} in notes
    assert any("STOPPING" in n for n in notes)


def test_bow_out_is_sent_only_after_the_vip_is_released() -> None:
    ports = fake_ports()
    held_at_bow_out: list[bool] = []
    transport, addrs = ports.transport, ports.addresses
    original = transport.send

    def send(action: SendAdvert) -> None:
        if action.bow_out:
            held_at_bow_out.append(WEB in addrs.present["eth0"])  # type: ignore[attr-defined]
        original(action)

    transport.send = send  # type: ignore[method-assign]

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1004.5)
        assert WEB in addrs.present["eth0"]  # type: ignore[attr-defined]

    rc, _, _ = run(scenario, ports)
    assert rc == 0
    assert held_at_bow_out == [False]


def test_stale_vip_is_removed_at_start_and_logged() -> None:
    ports = fake_ports()
    ports.addresses.present["eth0"].add(WEB)  # type: ignore[attr-defined]

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await asyncio.sleep(0.5)
        assert WEB not in ports.addresses.present["eth0"]  # type: ignore[attr-defined]

    run(scenario, ports)
    assert any("removed stale VIP 172.16.90.31/24" in m
               for m in ports.log.messages())  # type: ignore[attr-defined]


def test_preferred_peer_makes_master_step_down_and_follow() -> None:
    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1004.5)
        assert d.status_document()["vips"][0]["state"] == "MASTER"
        d.ports.transport.on_packet("eth0", peer_advert(advskew=0))  # type: ignore[attr-defined]
        # equal interval: by the x86 tie-break .101 beats .102, so we stay MASTER
        doc = d.status_document()["vips"][0]
        assert doc["counters"]["adverts_received"] == 1
        d.ports.transport.on_packet("eth0", peer_advert(advbase=0, advskew=10))  # type: ignore[attr-defined]
        doc = d.status_document()["vips"][0]
        assert doc["state"] == "BACKUP" and doc["master"] == str(PEER)
        assert doc["reason"] == "preferred_master_heard"
        await asyncio.sleep(0.1)
        assert WEB not in d.ports.addresses.present["eth0"]  # type: ignore[attr-defined]

    rc, _ports, _ = run(scenario)
    assert rc == 0


def test_address_deleted_behind_our_back_is_restored_while_master() -> None:
    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1004.0)
        addrs = d.ports.addresses
        addrs.present["eth0"].discard(WEB)  # type: ignore[attr-defined]
        addrs.on_addresses("eth0")  # type: ignore[attr-defined]
        await asyncio.sleep(0.3)
        assert WEB in addrs.present["eth0"]  # type: ignore[attr-defined]
        # and carpd's own (marked) copy present while BACKUP is removed
        d.ports.transport.on_packet("eth0", peer_advert(advbase=0, advskew=10))  # type: ignore[attr-defined]
        await asyncio.sleep(0.3)
        addrs.present["eth0"].add(WEB)  # type: ignore[attr-defined]
        addrs.on_addresses("eth0")  # type: ignore[attr-defined]
        await asyncio.sleep(0.3)
        assert WEB not in addrs.present["eth0"]  # type: ignore[attr-defined]

    _, ports, _ = run(scenario)
    logs = ports.log.messages()  # type: ignore[attr-defined]
    assert any("restored it" in m for m in logs)
    assert any("present while not MASTER; removed it" in m for m in logs)


def test_a_burst_of_address_notifications_costs_one_dump() -> None:
    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1004.0)
        addrs = d.ports.addresses
        before = addrs.dumps  # type: ignore[attr-defined]
        for _ in range(200):
            addrs.on_addresses("eth0")  # type: ignore[attr-defined]
        await asyncio.sleep(0.5)
        assert addrs.dumps - before == 1  # type: ignore[attr-defined]

    rc, _, _ = run(scenario)
    assert rc == 0


def test_three_send_failures_advertise_skew_240() -> None:
    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1003.5)
        d.ports.transport.fail = True  # type: ignore[attr-defined]
        await until(loop, 1006.5)
        assert d.status_document()["vips"][0]["effective_advskew"] == 240
        d.ports.transport.fail = False  # type: ignore[attr-defined]
        await until(loop, 1007.5)

    _, ports, _ = run(scenario)
    first_ok = ports.transport.sent[1][1]  # type: ignore[attr-defined]
    assert wire.decode_carp_header(first_ok.payload).advskew == 240


def test_missing_interface_is_a_clear_startup_failure() -> None:
    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await asyncio.sleep(0)

    rc, ports, _ = run(scenario, vips=(vip(interface="eth9"),))
    assert rc == EXIT_HOST_MISMATCH == 6  # the unit does not restart it
    assert "interface eth9 does not exist (used by vip web)" in ports.log.messages()[-1]  # type: ignore[attr-defined]


def test_link_down_at_start_holds_init_until_carrier() -> None:
    ports = fake_ports()
    ports.addresses.carrier = False  # type: ignore[attr-defined]

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1010)
        assert d.status_document()["vips"][0]["state"] == "INIT"
        d.ports.addresses.on_link("eth0", True)  # type: ignore[attr-defined]
        assert d.status_document()["vips"][0]["state"] == "BACKUP"
        await until(loop, 1013.01)
        assert d.status_document()["vips"][0]["state"] == "MASTER"

    rc, _, _ = run(scenario, ports)
    assert rc == 0


@pytest.mark.parametrize("garbage", [b"", b"\x45" * 10, b"\x00" * 56, bytes(range(256))])
def test_garbage_packets_never_disturb_the_daemon(garbage: bytes) -> None:
    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1004)
        for _ in range(100):
            d.ports.transport.on_packet("eth0", garbage)  # type: ignore[attr-defined]
        assert d.status_document()["vips"][0]["state"] == "MASTER"

    rc, ports, _ = run(scenario)
    assert rc == 0
    warnings = [m for m in ports.log.messages() if "dropped CARP packet" in m]  # type: ignore[attr-defined]
    assert len(warnings) <= 1
