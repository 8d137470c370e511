"""The driver with routed VIPs (docs/routed.md): the address goes on `routed_interface` (a dummy
carpd creates when missing, or lo), only while MASTER, with no GARP/NA; start-up cleans and
refuses there as on the advert interface; a kernel without dummy links is a host mismatch."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from carpd.core.params import Placement, Secret, VipParams
from carpd.driver.startup import EXIT_HOST_MISMATCH, HostMismatchError, prepare, resolve_for_reload
from tests.driver.fakes import (
    FakeAddresses,
    FakeClockLoop,
    FakeLog,
    Harness,
    drive_daemon,
    fake_ports,
)

IP = ipaddress.IPv4Address
VIP32 = ipaddress.IPv4Interface("192.0.2.10/32")


def routed(**kw: object) -> VipParams:
    base: dict[str, object] = {"name": "web", "vhid": 1, "interface": "eth0",
                               "addresses": (VIP32,), "password": Secret(b"s3cret"),
                               "placement": Placement.ROUTED, "peers": (IP("10.0.2.2"),),
                               "accept_ttl": 254}
    base.update(kw)
    return VipParams(**base)  # type: ignore[arg-type]


def test_start_creates_a_missing_dummy_once_and_uses_an_existing_one() -> None:
    fake, log = FakeAddresses(), FakeLog()
    asyncio.run(prepare((routed(), routed(name="mail", vhid=2, addresses=(
        ipaddress.IPv4Interface("192.0.2.11/32"),))), fake, log))
    assert [op for op in fake.ops if op[0] == "create"] == [("create", "carpvip0", ())]
    assert any("created dummy link carpvip0" in r[1] for r in log.records)  # type: ignore[attr-defined]
    fake.ops.clear()
    asyncio.run(prepare((routed(),), fake, FakeLog()))
    assert not [op for op in fake.ops if op[0] == "create"]


def test_a_kernel_without_dummy_links_is_a_host_mismatch_that_names_lo() -> None:
    fake = FakeAddresses()
    fake.dummies = False
    with pytest.raises(HostMismatchError) as info:
        asyncio.run(prepare((routed(),), fake, FakeLog()))
    assert info.value.exit_status == EXIT_HOST_MISMATCH
    assert "routed_interface carpvip0 does not exist and this kernel has no dummy links" \
        in str(info.value)
    assert 'routed_interface = "lo"' in str(info.value)


def test_lo_is_used_as_it_is_and_a_stale_copy_there_is_removed() -> None:
    fake = FakeAddresses(present={"eth0": set(), "lo": {VIP32}})
    asyncio.run(prepare((routed(routed_interface="lo"),), fake, FakeLog()))
    assert ("remove", "lo", ("192.0.2.10/32",)) in fake.ops
    assert fake.present["lo"] == set()
    assert not [op for op in fake.ops if op[0] == "create"]


def test_a_foreign_copy_on_the_routed_interface_is_refused() -> None:
    fake = FakeAddresses(present={"eth0": set(), "lo": set()})
    fake.host["lo"] = {VIP32}
    with pytest.raises(HostMismatchError, match=r"192\.0\.2\.10/32 is already on lo"):
        asyncio.run(prepare((routed(routed_interface="lo"),), fake, FakeLog()))


def test_a_routed_master_holds_the_address_on_lo_only_and_announces_nothing() -> None:
    seen: list[set[object]] = []

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await asyncio.sleep(4.5)
        assert d.status_document()["vips"][0]["state"] == "MASTER"
        fake = d.ports.addresses
        assert isinstance(fake, FakeAddresses)
        seen.append(set(fake.present["lo"]))
        seen.append(set(fake.present["eth0"]))

    ports = fake_ports()
    assert isinstance(ports.addresses, FakeAddresses)
    ports.addresses.present["lo"] = set()
    rc, _ = drive_daemon(scenario, ports, (routed(routed_interface="lo"),))
    assert rc == 0
    assert seen == [{VIP32}, set()]
    assert ports.announcer.bursts == []  # type: ignore[attr-defined]
    assert ports.addresses.present["lo"] == set()  # released at exit
    sent = [a for _, a in ports.transport.sent]  # type: ignore[attr-defined]
    assert {a.interface for a in sent} == {"eth0"}
    assert {a.destinations for a in sent} == {(IP("10.0.2.2"),)}


def test_the_reconcile_pass_restores_a_routed_address_removed_behind_carpds_back() -> None:
    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await asyncio.sleep(4.5)
        fake = d.ports.addresses
        assert isinstance(fake, FakeAddresses)
        fake.present["lo"].clear()
        assert fake.on_addresses is not None
        fake.on_addresses("lo")
        await asyncio.sleep(1.0)
        assert fake.present["lo"] == {VIP32}

    ports = fake_ports()
    assert isinstance(ports.addresses, FakeAddresses)
    ports.addresses.present["lo"] = set()
    rc, _ = drive_daemon(scenario, ports, (routed(routed_interface="lo"),))
    assert rc == 0
    assert ports.announcer.bursts == []  # type: ignore[attr-defined]


def test_planning_a_reload_creates_nothing_and_does_not_refuse_a_missing_dummy() -> None:
    fake = FakeAddresses()
    asyncio.run(resolve_for_reload((routed(),), (), fake))
    assert [op for op in fake.ops if op[0] == "create"] == []


def test_a_reload_that_adds_a_routed_vip_creates_its_dummy() -> None:
    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await asyncio.sleep(0.5)

        async def load() -> tuple[VipParams, ...]:
            return (routed(),)

        assert await d.reload(load)
        await asyncio.sleep(0.5)

    ports = fake_ports()
    plain = routed(name="mail", vhid=2, placement=Placement.LINK,
                   addresses=(ipaddress.IPv4Interface("172.16.90.32/24"),), peers=(),
                   accept_ttl=255)
    rc, _ = drive_daemon(scenario, ports, (plain,))
    assert rc == 0
    assert isinstance(ports.addresses, FakeAddresses)
    assert [op for op in ports.addresses.ops if op[0] == "create"] == [
        ("create", "carpvip0", ())]
