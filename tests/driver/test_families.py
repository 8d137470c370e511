"""The driver with IPv6, dual-stack and unicast VIPs: 'auto' sources per family (link-local
for the group, a global address for global IPv6 peers), the groups joined per interface and
family (none in unicast mode), a reload that changes peers re-joining them, and adverts and
announcements going out per family."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress

import pytest

from carpd.core.addresses import Family
from carpd.core.params import Secret, VipParams
from carpd.driver.startup import StartupError, prepare, resolve_for_reload
from tests.driver.fakes import (
    FakeAddresses,
    FakeClockLoop,
    FakeLog,
    Harness,
    drive_daemon,
    fake_ports,
)

IP, IP6 = ipaddress.IPv4Address, ipaddress.IPv6Address
V4, V6 = ipaddress.IPv4Interface("172.16.90.31/24"), ipaddress.IPv6Interface("2001:db8:90::31/64")
GROUP4, GROUP6 = IP("224.0.0.18"), IP6("ff02::12")


def vip(**kw: object) -> VipParams:
    base: dict[str, object] = {"name": "web", "vhid": 1, "interface": "eth0",
                               "addresses": (V4, V6), "password": Secret(b"s3cret")}
    base.update(kw)
    return VipParams(**base)  # type: ignore[arg-type]


def resolved(*vips: VipParams, addresses: FakeAddresses | None = None) -> tuple[VipParams, ...]:
    return asyncio.run(prepare(vips, addresses or FakeAddresses(), FakeLog()))


def test_auto_sources_resolve_per_family() -> None:
    (p,) = resolved(vip())
    assert (p.source, p.source6) == (IP("172.16.90.101"), IP6("fe80::101"))
    (v6_only,) = resolved(vip(addresses=(V6,)))
    assert (v6_only.source, v6_only.source6) == (None, IP6("fe80::101"))


def test_global_ipv6_peers_get_a_global_source_that_is_not_a_vip() -> None:
    asked: list[frozenset[object]] = []

    class Spy(FakeAddresses):
        async def global_address(self, interface: str, family: Family,
                                 exclude: frozenset[object]) -> object:  # type: ignore[override]
            asked.append(exclude)
            return await super().global_address(interface, family, exclude)  # type: ignore[arg-type]

    fake = Spy()
    (p,) = resolved(vip(peers=(IP6("2001:db8:90::102"),)), addresses=fake)
    assert p.source6 == IP6("2001:db8:90::101")
    assert asked == [frozenset({V4.ip, V6.ip})]  # never one of the VIPs
    (ll,) = resolved(vip(peers=(IP6("fe80::102"),)), addresses=fake)
    assert ll.source6 == IP6("fe80::101")  # a link-local peer: the link-local source


def test_missing_source_names_the_vip_family_and_key() -> None:
    fake = FakeAddresses()
    fake.link_local = None
    with pytest.raises(StartupError, match=r"vip web: interface eth0 has no IPv6 link-local "
                                           r"address .* set `source6`"):
        resolved(vip(), addresses=fake)
    fake = FakeAddresses()
    fake.globals6 = []
    with pytest.raises(StartupError, match="usable global IPv6 address"):
        resolved(vip(peers=(IP6("2001:db8:90::102"),)), addresses=fake)


def test_one_source_per_interface_and_family() -> None:
    a = vip(source6=IP6("fe80::7"))
    b = vip(name="mail", vhid=2, addresses=(ipaddress.IPv6Interface("2001:db8:90::32/64"),))
    fake = FakeAddresses()
    fake.host["eth0"] = {ipaddress.IPv6Interface("fe80::7/64")}
    with pytest.raises(StartupError, match="one source6 address per interface"):
        resolved(a, b, addresses=fake)


def test_reload_keeps_the_running_source_of_each_family() -> None:
    running = (dataclasses.replace(vip(), source=IP("172.16.90.9"), source6=IP6("fe80::9")),)
    new = asyncio.run(resolve_for_reload((vip(advskew=5),), running, FakeAddresses()))
    assert (new[0].source, new[0].source6) == (IP("172.16.90.9"), IP6("fe80::9"))


def run(scenario: object, vips: tuple[VipParams, ...]) -> tuple[int, object]:
    ports = fake_ports()
    rc, _loop = drive_daemon(scenario, ports, vips)  # type: ignore[arg-type]
    return rc, ports


def test_the_transport_joins_each_familys_group_or_none_in_unicast_mode() -> None:
    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await asyncio.sleep(0.5)

    mail = vip(name="mail", vhid=2, addresses=(ipaddress.IPv4Interface("172.16.90.32/24"),),
               peers=(IP("172.16.90.102"),))
    rc, ports = run(scenario, (vip(), mail))
    assert rc == 0
    groups = ports.transport.groups  # type: ignore[attr-defined]
    assert groups == {("eth0", 4): frozenset({GROUP4}), ("eth0", 6): frozenset({GROUP6})}
    rc, ports = run(scenario, (mail,))
    assert ports.transport.groups == {("eth0", 4): frozenset()}  # type: ignore[attr-defined]


def test_a_dual_stack_master_advertises_and_announces_in_both_families() -> None:
    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await asyncio.sleep(4.5)
        assert d.status_document()["vips"][0]["state"] == "MASTER"

    rc, ports = run(scenario, (vip(na_count=2),))
    assert rc == 0
    sent = [a for _, a in ports.transport.sent]  # type: ignore[attr-defined]
    periodic = [a for a in sent if not a.bow_out]
    assert [a.family for a in periodic[:4]] == [Family.IPV4, Family.IPV6] * 2
    assert {(a.source, a.destinations) for a in periodic} == {
        (IP("172.16.90.101"), (GROUP4,)), (IP6("fe80::101"), (GROUP6,))}
    assert [a.family for a in sent if a.bow_out] == [Family.IPV4, Family.IPV6]
    bursts = ports.announcer.bursts  # type: ignore[attr-defined]
    assert [(b[2], b[3]) for b in bursts] == [(("172.16.90.31",), 3), (("2001:db8:90::31",), 2)]


def test_reload_with_new_peers_leaves_the_group() -> None:
    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await asyncio.sleep(0.5)
        new = vip(peers=(IP("172.16.90.102"),))

        async def load() -> tuple[VipParams, ...]:
            return (new,)

        assert await d.daemon.reload(load)
        await asyncio.sleep(0.5)

    rc, ports = run(scenario, (vip(),))
    assert rc == 0
    groups = ports.transport.groups  # type: ignore[attr-defined]
    assert groups[("eth0", 4)] == frozenset() and groups[("eth0", 6)] == frozenset({GROUP6})
