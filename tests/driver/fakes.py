"""In-memory ports and a fake-clock event loop for driving the real Daemon without sleeping.

The loop's clock only moves when the loop would otherwise block: the selector "sleeps" by
advancing the fake time by the requested timeout, so call_at timers fire at their exact
deadlines and a test that runs 60 simulated seconds takes milliseconds. `drive_daemon`
attaches the real operator side (carpd.ops) as carpd.app.wiring does, and hands scenarios a
`Harness` with both.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import selectors
from collections.abc import Awaitable, Callable
from typing import Any

from carpd.control.protocol import Peer, Request
from carpd.core.actions import SendAdvert
from carpd.core.addresses import Address, AddressWithPrefix, Family
from carpd.core.events import UnitJobFinished
from carpd.core.node import Node
from carpd.core.ownership import InterfaceAddress
from carpd.core.params import VipParams
from carpd.driver.daemon import Daemon
from carpd.driver.ports import DatagramCallback, Ports
from carpd.io.ipv4 import parse_datagram
from carpd.ops.operations import Operations
from carpd.status.jsonform import to_json


class _FakeSelector(selectors.DefaultSelector):
    def __init__(self, loop: FakeClockLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        ready = super().select(0)
        if ready:
            return ready
        if timeout is None:
            raise RuntimeError("fake loop would block forever: nothing scheduled")
        self._loop.now += max(timeout, 0.0)
        return []


class FakeClockLoop(asyncio.SelectorEventLoop):
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        super().__init__(_FakeSelector(self))

    def time(self) -> float:
        return self.now


class FakeTransport:
    def __init__(self) -> None:
        self.sent: list[tuple[float, SendAdvert]] = []
        self.on_datagram: DatagramCallback | None = None
        self.fail = False
        self.opened: list[tuple[str, Address]] = []
        self.groups: dict[tuple[str, int], frozenset[Address]] = {}  # (iface, family) -> joined
        self.closed = False
        self.forgotten: list[str] = []
        self.missing: set[str] = set()  # open() raises ENODEV for these interfaces
        self.fail_errno = 101

    def open(self, interface: str, source: Address, groups: frozenset[Address],
             on_datagram: DatagramCallback) -> None:
        if interface in self.missing:
            raise OSError(19, "No such device")
        self.opened.append((interface, source))
        self.groups[(interface, source.version)] = groups
        self.on_datagram = on_datagram

    def on_packet(self, interface: str, data: bytes) -> None:
        """Raw IPv4 bytes arriving, parsed as the raw-socket transport parses them."""
        assert self.on_datagram is not None
        self.on_datagram(parse_datagram(interface, data))

    def send(self, action: SendAdvert) -> None:
        if self.fail:
            raise OSError(self.fail_errno, os.strerror(self.fail_errno))
        self.sent.append((asyncio.get_running_loop().time(), action))

    def forget(self, interface: str) -> None:
        self.forgotten.append(interface)
        for key in [k for k in self.groups if k[0] == interface]:
            del self.groups[key]

    def close(self) -> None:
        self.closed = True


class FakeAddresses:
    def __init__(self, present: dict[str, set[ipaddress.IPv4Interface]] | None = None,
                 primary: str = "172.16.90.101") -> None:
        self.present = present if present is not None else {"eth0": set()}
        self.primary = ipaddress.IPv4Address(primary)
        self.link_local: Address | None = ipaddress.IPv6Address("fe80::101")
        self.globals6: list[Address] = [ipaddress.IPv6Address("2001:db8:90::101")]
        self.ops: list[tuple[str, str, tuple[str, ...]]] = []
        self.on_link: Callable[[str, bool], None] | None = None
        self.on_addresses: Callable[[str], None] | None = None
        self.carrier = True
        self.has_primary = True  # the primary (source) address is on the interface
        self.dumps = 0
        self.on_presence: Callable[[str, bool], None] | None = None
        self.gone: set[str] = set()  # deleted interfaces: address operations fail ENODEV
        # the host's own addresses beside the primary (no carpd mark: an operator's, say):
        # listed, never removed by carpd, and an `add` of one of them is refused
        self.host: dict[str, set[AddressWithPrefix]] = {}
        self.fast = False  # add_now succeeds (the adapter's fast path) when set
        self.fast_remove = False  # remove_now likewise

    async def start(self, on_link: Callable[[str, bool], None],
                    on_addresses: Callable[[str], None],
                    on_presence: Callable[[str, bool], None] | None = None) -> None:
        self.on_link, self.on_addresses = on_link, on_addresses
        self.on_presence = on_presence

    def _check(self, interface: str) -> None:
        if interface in self.gone:
            raise OSError(19, f"interface {interface} does not exist")

    def delete(self, interface: str) -> None:
        """`ip link del`: the kernel drops the interface with its addresses."""
        self.gone.add(interface)
        self.present[interface] = set()
        assert self.on_presence is not None and self.on_link is not None
        self.on_presence(interface, False)
        self.on_link(interface, False)

    def create(self, interface: str, up: bool = True) -> None:
        """A new device under the name (no VIP on it)."""
        self.gone.discard(interface)
        self.present.setdefault(interface, set())
        assert self.on_presence is not None and self.on_link is not None
        self.on_presence(interface, True)
        self.on_link(interface, up)

    async def add(self, interface: str, addresses: tuple[AddressWithPrefix, ...],
                  label: str, *, deprecate_ipv6: bool = False) -> None:
        """As the adapter: an address that is there without carpd's mark is not taken."""
        self._check(interface)
        self.ops.append(("add", interface, tuple(map(str, addresses))))
        for addr in addresses:
            if addr in self.host.get(interface, set()):
                raise OSError(17, f"cannot add {addr} to {interface}: {addr} is already "
                              "there and was not added by carpd (no carpd mark); not "
                              "taking it")
            self.present[interface].add(addr)

    def add_now(self, interface: str, addresses: tuple[AddressWithPrefix, ...], label: str,
                *, deprecate_ipv6: bool = False) -> bool:
        """As the adapter's fast path when `fast` is set (nothing there yet: added, True),
        otherwise always False (the lane's `add` follows)."""
        if not self.fast or interface in self.gone or any(
                a in self.present.get(interface, set()) | self.host.get(interface, set())
                for a in addresses):
            return False
        self.ops.append(("add_now", interface, tuple(map(str, addresses))))
        self.present[interface].update(addresses)
        return True

    def remove_now(self, interface: str, addresses: tuple[AddressWithPrefix, ...], *,
                   label: str) -> bool:
        """As the adapter's fast path when `fast_remove` is set, otherwise False."""
        if not self.fast_remove or interface in self.gone:
            return False
        self.ops.append(("remove_now", interface, tuple(map(str, addresses))))
        self.present[interface].difference_update(addresses)
        return True

    async def remove(self, interface: str, addresses: tuple[AddressWithPrefix, ...], *,
                     label: str) -> tuple[AddressWithPrefix, ...]:
        """Only carpd's own copies (`present`) go; the `host` ones stay."""
        self._check(interface)
        self.ops.append(("remove", interface, tuple(map(str, addresses))))
        removed = tuple(a for a in addresses if a in self.present[interface])
        self.present[interface].difference_update(addresses)
        return removed

    async def addresses(self, interface: str) -> set[AddressWithPrefix]:
        """What is on the interface: the VIPs present and the primary (source) address."""
        return {entry.address for entry in await self.listing(interface)}

    async def listing(self, interface: str) -> tuple[InterfaceAddress, ...]:
        """carpd's copies (`present`, marked), then the primary (source) addresses and the
        `host` ones (unmarked)."""
        self._check(interface)
        self.dumps += 1
        primary: set[AddressWithPrefix] = set()
        if self.has_primary:
            primary.add(ipaddress.IPv4Interface(f"{self.primary}/24"))
            if self.link_local is not None:
                primary.add(ipaddress.IPv6Interface(f"{self.link_local}/64"))
            primary.update(ipaddress.IPv6Interface(f"{a}/64") for a in self.globals6)
        return (*(InterfaceAddress(a, marked=True) for a in sorted(
                    self.present[interface], key=str)),
                *(InterfaceAddress(a) for a in sorted(
                    primary | self.host.get(interface, set()), key=str)))

    async def primary_address(self, interface: str, family: Family) -> Address | None:
        return self.primary if family is Family.IPV4 else self.link_local

    async def global_address(self, interface: str, family: Family,
                             exclude: frozenset[Address]) -> Address | None:
        found = [a for a in self.globals6 if a not in exclude]
        return found[0] if family is Family.IPV6 and found else None

    async def link_up(self, interface: str) -> bool:
        return self.carrier

    async def exists(self, interface: str) -> bool:
        return interface in self.present and interface not in self.gone

    dummies = True  # the kernel has dummy links

    async def ensure_dummy(self, interface: str) -> bool:
        if await self.exists(interface):
            return False
        if not self.dummies:
            raise OSError(95, "Operation not supported")
        self.gone.discard(interface)
        self.present[interface] = set()
        self.ops.append(("create", interface, ()))
        return True

    async def close(self) -> None:
        return


class FakeAnnouncer:
    def __init__(self) -> None:
        self.bursts: list[tuple[float, str, tuple[str, ...], int]] = []
        self.forgotten: list[str] = []

    async def announce(self, interface: str, addresses: tuple[Address, ...],
                       count: int, interval: float, *, router: bool | None = None) -> None:
        self.bursts.append((asyncio.get_running_loop().time(), interface,
                            tuple(map(str, addresses)), count))

    def forget(self, interface: str) -> None:
        self.forgotten.append(interface)

    def close(self) -> None:
        return


class FakeScripts:
    def __init__(self) -> None:
        self.runs: list[tuple[str, tuple[str, ...]]] = []

    def submit(self, name: str, argv: tuple[str, ...]) -> None:
        self.runs.append((name, argv))

    async def drain(self, timeout: float) -> None:
        return


class FakeUnits:
    def __init__(self) -> None:
        self.jobs: list[tuple[str, str, tuple[str, ...]]] = []
        self.report: Callable[[UnitJobFinished], None] | None = None

    def report_to(self, report: Callable[[UnitJobFinished], None]) -> None:
        self.report = report

    def start_units(self, name: str, units: tuple[str, ...]) -> None:
        self.jobs.append(("start", name, units))

    def stop_units(self, name: str, units: tuple[str, ...]) -> None:
        self.jobs.append(("stop", name, units))

    async def drain(self, timeout: float) -> None:
        return


class FakeNotifier:
    def __init__(self) -> None:
        self.messages: list[dict[str, str]] = []

    def notify(self, **fields: str) -> None:
        self.messages.append(fields)


class FakeLog:
    def __init__(self) -> None:
        self.records: list[tuple[int, str, dict[str, object]]] = []

    def record(self, priority: int, message: str, **fields: object) -> None:
        self.records.append((priority, message, fields))

    def messages(self) -> list[str]:
        return [m for _, m, _ in self.records]


def fake_ports() -> Ports:
    return Ports(transport=FakeTransport(), addresses=FakeAddresses(),
                 announcer=FakeAnnouncer(), scripts=FakeScripts(), units=FakeUnits(),
                 notifier=FakeNotifier(), log=FakeLog())


class FakeHealth:
    """The health port: remembers started checks; a test reports results by hand."""

    def __init__(self) -> None:
        self.started: dict[str, object] = {}
        self.callbacks: dict[str, Callable[[str, bool | None, str], None]] = {}
        self.stopped: list[str] = []
        self.closed = False

    def start(self, check_id: str, params: object,
              on_result: Callable[[str, bool | None, str], None]) -> None:
        self.started[check_id] = params
        self.callbacks[check_id] = on_result

    def stop(self, check_id: str) -> None:
        self.stopped.append(check_id)
        self.callbacks.pop(check_id, None)

    async def close(self) -> None:
        self.closed = True

    def report(self, check_id: str, ok: bool | None, detail: str = "") -> None:
        self.callbacks[check_id](check_id, ok, detail)


class Harness:
    """The Daemon and its Operations, as a scenario sees them."""

    def __init__(self, daemon: Daemon, ops: Operations) -> None:
        self.daemon, self.ops, self.ports = daemon, ops, daemon.ports

    @property
    def node(self) -> Node | None:
        return self.daemon.node

    def status_document(self) -> dict[str, Any]:
        """What `carpctl status --json` shows."""
        return to_json(self.daemon.status())

    def status_line(self) -> str:
        return self.daemon.status_line()

    async def handle_control(self, req: Request, peer: Peer | None = None) -> dict[str, Any]:
        return await self.ops.control(req, peer)

    async def reload(self, load: Callable[[], Awaitable[tuple[VipParams, ...]]]) -> bool:
        return await self.daemon.reload(load)


Scenario = Callable[[Harness, FakeClockLoop], Awaitable[None]]


def drive_daemon(scenario: Scenario, ports: Ports, vips: tuple[VipParams, ...], *,
                 hostname: str = "web", counter: int = 100,
                 wall_clock: Callable[[], float] | None = None) -> tuple[int, FakeClockLoop]:
    """Run the real Daemon on a fake-clock loop: start it, run `scenario(daemon, loop)`, stop
    it as SIGTERM would, and return its exit status and the loop (for its final time)."""
    loop = FakeClockLoop()
    extra = {} if wall_clock is None else {"wall_clock": wall_clock}
    daemon = Daemon(vips, ports, hostname=hostname, version="0.1.0",
                    counter_source=lambda _n: counter, **extra)
    ops = Operations(daemon, ports)
    daemon.attach(ops)
    stop = asyncio.Event()

    async def main() -> int:
        task = asyncio.ensure_future(daemon.run(stop))
        await asyncio.sleep(0)
        await scenario(Harness(daemon, ops), loop)
        stop.set()
        return await task

    try:
        return loop.run_until_complete(main()), loop
    finally:
        loop.close()
