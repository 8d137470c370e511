"""The driver never removes or takes an address that is not carpd's (issue 13, item 1): the
start refuses a VIP equal to a host address (exit 6, nothing touched), carpd's own stale copy
is still removed, and a copy an operator adds while running makes the VIP FAULT, is left in
place by the reconcile pass, every release and the exit, and the VIP runs again once it goes.
`FakeAddresses.present` is what carpd added (marked), `.host` the host's own addresses."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress

from carpd.core.addresses import AddressWithPrefix
from carpd.driver.startup import EXIT_HOST_MISMATCH, StartupError, resolve_for_reload
from tests.driver.fakes import FakeAddresses, FakeClockLoop, Harness, fake_ports
from tests.driver.test_daemon import WEB, peer_advert, run, until, vip

PRIMARY = ipaddress.IPv4Interface("172.16.90.101/24")  # FakeAddresses' own primary address
COLLISION = ("vip web: 172.16.90.101/24 is already on eth0 and was not added by carpd (it has "
             "no carpd mark); carpd never takes or removes an address it did not add: use "
             "another VIP address or remove 172.16.90.101/24 from eth0")


def addrs(d: Harness) -> FakeAddresses:
    fake = d.ports.addresses
    assert isinstance(fake, FakeAddresses)
    return fake


def state(d: Harness) -> str:
    return str(d.status_document()["vips"][0]["state"])


async def settle() -> None:
    await asyncio.sleep(0.3)  # past the reconcile debounce


def test_a_vip_equal_to_the_hosts_primary_address_is_refused_and_the_address_stays() -> None:
    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await asyncio.sleep(0)

    rc, ports, _ = run(scenario, vips=(vip(addresses=(PRIMARY,)),))
    assert rc == EXIT_HOST_MISMATCH == 6
    assert ports.log.messages() == [f"carpd cannot start: {COLLISION}"]  # type: ignore[attr-defined]
    assert ports.addresses.ops == []  # type: ignore[attr-defined]  # nothing removed or added
    assert ports.notifier.messages == [{"STATUS": f"failed: {COLLISION}"}]  # type: ignore[attr-defined]


def test_the_same_ip_with_another_prefix_is_still_a_collision() -> None:
    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await asyncio.sleep(0)

    rc, ports, _ = run(scenario, vips=(vip(addresses=(ipaddress.IPv4Interface(
        "172.16.90.101/32"),)),))
    assert rc == EXIT_HOST_MISMATCH
    assert "172.16.90.101/24 is already on eth0" in ports.log.messages()[-1]  # type: ignore[attr-defined]


def test_a_configured_source_not_on_the_interface_is_refused() -> None:
    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await asyncio.sleep(0)

    rc, ports, _ = run(scenario, vips=(vip(source=ipaddress.IPv4Address("172.16.90.9")),))
    assert rc == EXIT_HOST_MISMATCH
    assert ports.log.messages() == [  # type: ignore[attr-defined]
        "carpd cannot start: vip web: source 172.16.90.9 is not an address of eth0"]


def test_carpds_own_stale_copy_is_removed_at_start_the_hosts_are_not() -> None:
    ports = fake_ports()
    fake = ports.addresses
    assert isinstance(fake, FakeAddresses)
    other = ipaddress.IPv4Interface("172.16.90.40/24")
    fake.present["eth0"].add(WEB)  # left by a crashed run: carries the mark
    fake.host["eth0"] = {other}

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await asyncio.sleep(0.1)
        assert WEB not in fake.present["eth0"] and other in fake.host["eth0"]

    assert run(scenario, ports)[0] == 0
    assert ("vip web: removed stale VIP 172.16.90.31/24 from eth0 (carpd's, left by an earlier "
            "run that did not exit cleanly)") in ports.log.messages()  # type: ignore[attr-defined]


def operator_adds(d: Harness, address: AddressWithPrefix) -> None:
    addrs(d).host.setdefault("eth0", set()).add(address)
    assert addrs(d).on_addresses is not None
    addrs(d).on_addresses("eth0")


def operator_removes(d: Harness, address: AddressWithPrefix) -> None:
    addrs(d).host["eth0"].discard(address)
    assert addrs(d).on_addresses is not None
    addrs(d).on_addresses("eth0")


def test_an_operators_copy_while_backup_makes_the_vip_fault_and_stays() -> None:
    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1001.0)
        assert state(d) == "BACKUP"
        operator_adds(d, WEB)
        await settle()
        doc = d.status_document()["vips"][0]
        assert (doc["state"], doc["reason"]) == ("FAULT", "fault_foreign_address")
        await until(loop, 1010.0)  # long past master-down: never takes it
        assert state(d) == "FAULT" and WEB in addrs(d).host["eth0"]
        assert not any(op == "add" for op, _, _ in addrs(d).ops)
        operator_removes(d, WEB)
        await settle()
        assert state(d) == "BACKUP"
        await until(loop, 1014.0)
        assert state(d) == "MASTER" and WEB in addrs(d).present["eth0"]

    rc, ports, _ = run(scenario)
    assert rc == 0
    logs = ports.log.messages()  # type: ignore[attr-defined]
    assert ("vip web: 172.16.90.31/24 is already on eth0 and was not added by carpd (it has no "
            "carpd mark); carpd never takes or removes an address it did not add: use another "
            "VIP address or remove 172.16.90.31/24 from eth0; the VIP is FAULT (not served by "
            "this host) until it is gone") in logs
    assert ("vip web: no address on eth0 equal to the VIP that carpd did not add any more; the "
            "VIP runs again") in logs


def test_an_operators_copy_with_another_prefix_while_master_is_never_removed() -> None:
    host32 = ipaddress.IPv4Interface("172.16.90.31/32")  # IPv4 lets both copies coexist

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1004.0)
        assert state(d) == "MASTER"
        operator_adds(d, host32)
        await settle()
        assert state(d) == "FAULT"  # bowed out: released carpd's copy only
        assert WEB not in addrs(d).present["eth0"] and host32 in addrs(d).host["eth0"]

    rc, ports, _ = run(scenario)
    assert rc == 0
    assert host32 in ports.addresses.host["eth0"]  # type: ignore[attr-defined]  # exit too


def test_an_add_that_finds_an_operators_copy_fails_and_is_not_taken() -> None:
    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1002.9)
        addrs(d).host["eth0"] = {WEB}  # added just before the takeover, not yet noticed
        await until(loop, 1003.5)
        assert WEB in addrs(d).host["eth0"] and WEB not in addrs(d).present["eth0"]

    rc, ports, _ = run(scenario)
    assert rc == 0
    assert WEB in ports.addresses.host["eth0"]  # type: ignore[attr-defined]
    assert any("cannot add 172.16.90.31/24 to eth0" in m and "not taking it" in m
               for m in ports.log.messages())  # type: ignore[attr-defined]


def test_a_reload_that_adds_a_colliding_vip_is_refused() -> None:
    running = (dataclasses.replace(vip(), source=ipaddress.IPv4Address("172.16.90.101")),)
    mail = vip(name="mail", vhid=2, addresses=(PRIMARY,))
    try:
        asyncio.run(resolve_for_reload((vip(), mail), running, FakeAddresses()))
    except StartupError as exc:
        assert str(exc) == COLLISION.replace("vip web", "vip mail")
    else:
        raise AssertionError("the reload was not refused")


def test_peer_adverts_do_not_lift_the_fault() -> None:
    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1001.0)
        operator_adds(d, WEB)
        await settle()
        d.ports.transport.on_packet("eth0", peer_advert(advskew=100))  # type: ignore[attr-defined]
        assert state(d) == "FAULT"

    assert run(scenario)[0] == 0
