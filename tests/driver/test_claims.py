"""Master units as cloud claims (docs/routed.md, "Clouds without BGP"): they run off the advert
path, in order, the latest state wins, and a node that is no longer MASTER never starts a
claim that was queued earlier. Here the lane's part (carpd.driver.lanes); the unit port's
part is tests/io/test_units_claims.py."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
from typing import Any

import pytest

from carpd.core.actions import AddAddresses, Announce, RemoveAddresses, StartUnits, StopUnits
from carpd.core.addresses import AddressWithPrefix
from carpd.core.params import Secret, VipParams
from carpd.driver import lanes
from carpd.driver.lanes import VipWork
from tests.driver.fakes import FakeAddresses, FakeAnnouncer, FakeUnits, fake_ports

VIP = (ipaddress.IPv4Interface("192.0.2.10/32"),)
CLAIM = ("claim-vip@web.service",)


class SlowAddresses(FakeAddresses):
    """Address operations wait until the test lets them finish (a slow netlink)."""

    def __init__(self) -> None:
        super().__init__()
        self.go = asyncio.Event()

    async def add(self, interface: str, addresses: tuple[AddressWithPrefix, ...],
                  label: str, *, deprecate_ipv6: bool = False) -> None:
        await self.go.wait()
        await super().add(interface, addresses, label, deprecate_ipv6=deprecate_ipv6)


def run(actions: list[object], *, block: bool) -> list[tuple[str, str, tuple[str, ...]]]:
    async def main() -> list[tuple[str, str, tuple[str, ...]]]:
        slow = SlowAddresses()
        ports = dataclasses.replace(fake_ports(), addresses=slow)
        if not block:
            slow.go.set()
        work = VipWork(ports, lambda _e: None, lambda: ())
        work.add("web")
        for a in actions:
            work.execute(a)  # type: ignore[arg-type]
        await asyncio.sleep(0)
        slow.go.set()
        await work.drain(5.0)
        work.close()
        units = ports.units
        assert isinstance(units, FakeUnits)
        return units.jobs

    return asyncio.run(main())


PROMOTE = [AddAddresses(name="web", interface="lo", addresses=VIP, label="lo:web"),
           StartUnits(name="web", units=CLAIM)]
RELEASE = [RemoveAddresses(name="web", interface="lo", addresses=VIP),
           StopUnits(name="web", units=CLAIM)]


def test_a_claim_queued_before_a_release_never_starts() -> None:
    assert run([*PROMOTE, *RELEASE], block=True) == [("stop", "web", CLAIM)]


def test_master_again_claims_again_after_the_release() -> None:
    assert run([*PROMOTE, *RELEASE, *PROMOTE], block=True) == [
        ("stop", "web", CLAIM), ("start", "web", CLAIM)]


def test_in_order_when_nothing_is_waiting() -> None:
    async def main() -> list[tuple[str, str, tuple[str, ...]]]:
        ports = fake_ports()
        work = VipWork(ports, lambda _e: None, lambda: ())
        work.add("web")
        for a in PROMOTE:
            work.execute(a)
        await work.drain(5.0)
        for a in RELEASE:
            work.execute(a)
        await work.drain(5.0)
        work.close()
        assert isinstance(ports.units, FakeUnits)
        return ports.units.jobs

    assert asyncio.run(main()) == [("start", "web", CLAIM), ("stop", "web", CLAIM)]


ANNOUNCE = Announce(name="web", interface="lo", addresses=(VIP[0].ip,), count=3,
                    interval=1.0)


def bursts(actions: list[object]) -> list[tuple[str, ...]]:
    """The bursts that started when `actions` were queued behind a slow address add."""
    async def main() -> list[tuple[str, ...]]:
        slow = SlowAddresses()
        ports = dataclasses.replace(fake_ports(), addresses=slow)
        work = VipWork(ports, lambda _e: None, lambda: ())
        work.add("web")
        for a in actions:
            work.execute(a)  # type: ignore[arg-type]
        await asyncio.sleep(0)
        slow.go.set()
        await work.drain(5.0)
        work.close()
        assert isinstance(ports.announcer, FakeAnnouncer)
        return [b[2] for b in ports.announcer.bursts]

    return asyncio.run(main())


def test_a_burst_queued_before_a_release_never_announces_the_given_up_address() -> None:
    """A takeover immediately followed by a step-down (a better master's advert arrived
    while the lane was still adding the VIP): no GARP may claim the address afterwards."""
    assert bursts([PROMOTE[0], ANNOUNCE, *RELEASE]) == []
    assert bursts([PROMOTE[0], ANNOUNCE]) == [(str(VIP[0].ip),)]



def test_a_reconcile_pass_debounced_before_close_never_starts_after_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """At exit the adapters close while a pass may still be debounced (an address change
    just before): it must not start against the closed netlink adapter."""
    monkeypatch.setattr(lanes, "RECONCILE_DEBOUNCE_S", 0.0)  # due at the next loop turn

    async def main(close_first: bool) -> list[str]:
        ports = fake_ports()
        listed: list[str] = []
        addresses = ports.addresses
        assert isinstance(addresses, FakeAddresses)
        original = addresses.listing

        async def listing(interface: str) -> Any:
            listed.append(interface)
            return await original(interface)

        addresses.listing = listing  # type: ignore[method-assign]
        vip = VipParams(name="web", vhid=1, interface="lo", addresses=VIP,
                        password=Secret(b"pw"))
        work = VipWork(ports, lambda _e: None, lambda: (vip,))
        work.add("web")
        work.reconcile(None)
        if close_first:
            work.close()
        for _ in range(5):
            await asyncio.sleep(0)
        work.close()
        return listed

    assert asyncio.run(main(close_first=True)) == []
    assert asyncio.run(main(close_first=False)) == ["lo"]  # the same pass, not closed
