"""The ports: what the driver (daemon.py) needs from the outside world, as Protocols.

Owns: the interfaces between the asyncio driver and the adapters in carpd/io/, and the one
towards the operator side (`OperatorSide`, carpd.ops). The driver only ever sees these;
tests/driver drive it with in-memory fakes, the real daemon with carpd.io.
Rules: a port method that can be slow is `async` and the driver runs it off the advert path;
`AdvertTransport.send` is synchronous and non-blocking (a raw socket sendto) because adverts
must leave on time. Failures surface as exceptions (OSError and friends) which the driver
turns into events for the core.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Protocol

from carpd.core.actions import Action, SendAdvert
from carpd.core.addresses import Address, AddressWithPrefix, Family
from carpd.core.events import DatagramMalformed, PacketReceived, UnitJobFinished
from carpd.core.ownership import InterfaceAddress
from carpd.core.params import CheckParams, VipParams

DatagramCallback = Callable[[PacketReceived | DatagramMalformed], None]


class AdvertTransport(Protocol):
    """Protocol-112 send/receive on the interfaces (carpd.io.rawsock), in any family."""

    def open(self, interface: str, source: Address, groups: frozenset[Address],
             on_datagram: DatagramCallback) -> None:
        """Start receiving on `interface` in `source`'s family and prepare sending from
        `source`; `on_datagram` is called from the event loop for every protocol-112
        datagram, its IP header already parsed off (or a DatagramMalformed). Unicast
        datagrams to the host arrive as well as those to `groups`. Calling it again for the
        same interface and family makes the joined groups exactly `groups` (the driver
        passes every group its VIPs there need; empty in unicast mode)."""

    def send(self, action: SendAdvert) -> None:
        """Send one advert now. Raises OSError on failure."""

    def forget(self, interface: str) -> None:
        """Close every socket of `interface` (receive, send, L2): they stay bound to the
        device that had the name, which may be gone. The next `open` opens new ones for the
        device that carries the name then."""

    def close(self) -> None: ...


class AddressPort(Protocol):
    """Addresses and link state through netlink (carpd.io.netlink)."""

    async def start(self, on_link: Callable[[str, bool], None],
                    on_addresses: Callable[[str], None],
                    on_presence: Callable[[str, bool], None] | None = None) -> None:
        """Begin watching: on_link(ifname, carrier_up) on carrier changes, on_addresses(ifname)
        when addresses of an interface change, on_presence(ifname, present) when a device
        with that name is deleted (False) or appears (True: created, moved in or renamed to
        it), before the on_link that goes with it."""

    async def add(self, interface: str, addresses: tuple[AddressWithPrefix, ...],
                  label: str, *, deprecate_ipv6: bool = False) -> None:
        """Add those absent with carpd's mark (IPv4 also with `label`; IPv6 without DAD,
        with preferred lifetime 0 when `deprecate_ipv6`); present ones that are carpd's are
        kept; one present that is not carpd's raises an OSError (EEXIST) and is not taken."""

    def add_now(self, interface: str, addresses: tuple[AddressWithPrefix, ...], label: str,
                *, deprecate_ipv6: bool = False) -> bool:
        """`add` at once on the calling (event-loop) thread, for the takeover's critical
        path: True if every address was added; False if that could not be done at once
        (one already present, whose it is being a question for `add`; any error), then the
        caller runs `add`, which decides and reports. Never blocks beyond one acknowledged
        rtnetlink request per address."""

    def remove_now(self, interface: str, addresses: tuple[AddressWithPrefix, ...], *,
                   label: str) -> bool:
        """`remove` at once on the calling (event-loop) thread (a release, the shutdown's
        among them: its bow-out advert waits for it): True if done; False if not (any
        error), then the caller runs `remove`. One address dump and one acknowledged
        request per removed copy, each answered within the send."""

    async def remove(self, interface: str, addresses: tuple[AddressWithPrefix, ...], *,
                     label: str) -> tuple[AddressWithPrefix, ...]:
        """Remove those present that are carpd's (carpd.core.ownership.owns with `label`);
        absent ones are not an error, ones that are not carpd's stay. Returns the removed."""

    async def addresses(self, interface: str) -> set[AddressWithPrefix]:
        """Every address of the interface, both families."""

    async def listing(self, interface: str) -> tuple[InterfaceAddress, ...]:
        """Every address of the interface, both families, each saying whether it carries
        carpd's mark (and its IPv4 label): what lets carpd tell its own addresses."""

    async def primary_address(self, interface: str, family: Family) -> Address | None:
        """The interface's primary address in `family`: for IPv4 the first non-secondary
        one, for IPv6 the link-local one (adverts are sent from it)."""

    async def global_address(self, interface: str, family: Family,
                             exclude: frozenset[Address]) -> Address | None:
        """The interface's first usable global address in `family` (not link-local,
        tentative, dadfailed or deprecated) outside `exclude` (the VIPs): what unicast
        adverts to global IPv6 peers are sent from."""

    async def link_up(self, interface: str) -> bool: ...

    async def exists(self, interface: str) -> bool: ...

    async def ensure_dummy(self, interface: str) -> bool:
        """Create a dummy link `interface`, up, when no link has that name (True); leave an
        existing one alone (False). OSError (EOPNOTSUPP) on a kernel without dummy links."""

    async def close(self) -> None: ...


class Announcer(Protocol):
    """Tell the segment where addresses now live (carpd.io.announce): gratuitous ARP for
    IPv4 addresses, unsolicited neighbour advertisements for IPv6 ones (`router`: the R
    flag; None follows net.ipv6.conf.<interface>.forwarding)."""

    async def announce(self, interface: str, addresses: tuple[Address, ...], count: int,
                       interval: float, *, router: bool | None = None) -> None: ...

    def forget(self, interface: str) -> None:
        """Drop the cached socket of `interface` (the device behind the name changed)."""

    def close(self) -> None: ...


class ScriptRunner(Protocol):
    """ucarp-style up/down scripts, one at a time per VIP, in order (carpd.io.scripts)."""

    def submit(self, name: str, argv: tuple[str, ...]) -> None: ...

    async def drain(self, timeout: float) -> None:
        """Wait for every queued script (at shutdown)."""


class UnitPort(Protocol):
    """Start/stop the master units (carpd.io.units); serialized and ordered per VIP. What
    became of each unit's job comes back through the callback given to `report_to` (from the
    event loop, later: a start's result arrives when systemd finished the job)."""

    def report_to(self, report: Callable[[UnitJobFinished], None]) -> None: ...

    def start_units(self, name: str, units: tuple[str, ...]) -> None: ...

    def stop_units(self, name: str, units: tuple[str, ...]) -> None: ...

    async def drain(self, timeout: float) -> None: ...


class Notifier(Protocol):
    """sd_notify (carpd.io.systemd): no-op when NOTIFY_SOCKET is unset."""

    def notify(self, **fields: str) -> None: ...


class EventLog(Protocol):
    """Structured records: journald fields when journald is there, readable stderr otherwise."""

    def record(self, priority: int, message: str, **fields: object) -> None: ...


class HealthPort(Protocol):
    """Health checks (carpd.io.health): each started check reports raw results through
    `on_result(check_id, ok, detail)` from the event loop until it is stopped; `ok` None is
    an error (carpd could not make the check: no descriptors, memory or processes)."""

    def start(self, check_id: str, params: CheckParams,
              on_result: Callable[[str, bool | None, str], None]) -> None: ...

    def stop(self, check_id: str) -> None: ...

    async def close(self) -> None: ...


class FlagStore(Protocol):
    """Operator flags that survive restarts (carpd.io.statefile): small JSON documents in the
    state directory, written atomically. `load` returns None when there is none yet."""

    def load(self, name: str) -> dict[str, Any] | None: ...

    def save(self, name: str, document: dict[str, Any]) -> None:
        """Raises OSError when it cannot be written."""

    def set_aside(self, name: str, problem: str) -> None:
        """The stored document `name` is invalid (`problem`): warn once, move it out of the
        way, and load nothing for it from now on."""


class ResumeStore(Protocol):
    """The resume record (carpd.io.resumefile): one small JSON document in the state
    directory, replaced atomically, and this boot's identity and clock."""

    def boot(self) -> tuple[str, float]:
        """(the kernel's boot id, CLOCK_BOOTTIME now in seconds). Raises OSError."""

    def load(self) -> dict[str, Any] | None:
        """The document, or None when there is none. Raises OSError or ValueError."""

    def save(self, document: dict[str, Any]) -> None:
        """Raises OSError when it cannot be written."""


class MetricsSink(Protocol):
    """Where the OpenMetrics text goes every 15 s (a node_exporter textfile, atomically)."""

    def write(self, text: str) -> None: ...


class OperatorSide(Protocol):
    """The operator side of the daemon (carpd.ops.operations.Operations, attached by
    carpd.app): told about the VIPs' lifecycle, shown the actions the driver does not
    execute itself (reports such as StateChanged, CheckObserved, Anomaly, DemotionExpired)."""

    def before_start(self) -> None:
        """The VIPs exist and nothing has started: apply what survives restarts."""

    def vip_started(self, params: VipParams) -> None:
        """Start and BeginHoldDown were posted for this VIP: start its checks."""

    def vip_retuned(self, old: VipParams, new: VipParams) -> None:
        """Retune was posted: swap the checks whose definition changed."""

    def vip_removed(self, name: str) -> None:
        """The VIP is about to go: stop its checks."""

    def observe(self, action: Action) -> None: ...

    async def close(self) -> None: ...


class NullOperatorSide:
    """No operator side (a driver on its own): nothing is restored, checked or watched."""

    def before_start(self) -> None:
        return

    def vip_started(self, params: VipParams) -> None:
        return

    def vip_retuned(self, old: VipParams, new: VipParams) -> None:
        return

    def vip_removed(self, name: str) -> None:
        return

    def observe(self, action: Action) -> None:
        return

    async def close(self) -> None:
        return


class NullHealth:
    """No health adapter: checks never report (tests of the driver that need none)."""

    def start(self, check_id: str, params: CheckParams,
              on_result: Callable[[str, bool | None, str], None]) -> None:
        return

    def stop(self, check_id: str) -> None:
        return

    async def close(self) -> None:
        return


class MemoryFlags:
    """Flags kept in memory only (tests, and a daemon without a state directory)."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}
        self.set_aside_problems: list[str] = []

    def load(self, name: str) -> dict[str, Any] | None:
        return self.documents.get(name)

    def save(self, name: str, document: dict[str, Any]) -> None:
        self.documents[name] = document

    def set_aside(self, name: str, problem: str) -> None:
        self.documents.pop(name, None)
        self.set_aside_problems.append(f"{name}: {problem}")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Ports:
    """Every adapter the driver uses, injected by carpd.app.wiring (or a test)."""

    transport: AdvertTransport
    addresses: AddressPort
    announcer: Announcer
    scripts: ScriptRunner
    units: UnitPort
    notifier: Notifier
    log: EventLog
    health: HealthPort = dataclasses.field(default_factory=NullHealth)
    flags: FlagStore = dataclasses.field(default_factory=MemoryFlags)
    metrics: MetricsSink | None = None
    resume: ResumeStore | None = None  # None: no record, every start goes through BACKUP
