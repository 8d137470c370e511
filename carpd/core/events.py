"""Inputs to the core: what happened, never what to do.

Owns: the frozen event dataclasses the driver feeds into `Node.handle(event, now)`.
Network input arrives as datagrams (`PacketReceived`: the IP header already stripped by the
adapter, which reports family, source, destination and hop limit); the node identifies the
protocol and the VIP, and the VIP's election profile decodes and authenticates the payload. I/O
outcomes of actions come back as events (`SendResult`, `AddressOpFailed`) and the core decides
what they mean.
Must not: carry the time they happen at (that is the `now` argument of `handle`); instants
an event is about (an operator demotion's `until_at`) are monotonic, like `now`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from carpd.core.addresses import Address, Family
from carpd.core.drops import DropReason
from carpd.core.params import VipParams
from carpd.core.unitjobs import UnitJobResult, UnitJobVia, UnitVerb


@dataclass(frozen=True, slots=True, kw_only=True)
class Start:
    """Bring every VIP from INIT to BACKUP (or only `name`)."""

    name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Resume:
    """Start VIP `name`, which the resume record says was MASTER until the restart and last
    advertised at the monotonic instant `advert_at` (this boot; before the start, so it may
    be before 0). The machine resumes as MASTER if that is recent enough that no peer can
    have declared it dead (see core/machine.py), and otherwise starts as Start does."""

    name: str
    advert_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Shutdown:
    """Bow out of every MASTER VIP, release, go INIT (or only `name`)."""

    name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerFired:
    """The driver's single timer reached the node's next deadline."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PacketReceived:
    """A protocol-112 datagram read on `interface`: `payload` starts after the IP header."""

    interface: str
    family: Family
    source: Address
    destination: Address
    hop_limit: int  # IPv4 TTL or IPv6 hop limit, as received
    payload: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class DatagramMalformed:
    """The adapter read something that is not a protocol-112 datagram of its family (a bad
    IPv4 header, another protocol): the node counts and reports it as a drop."""

    interface: str
    reason: DropReason
    detail: str
    source: Address | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkChanged:
    interface: str
    up: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SetDemotion:
    """Set (amount > 0) or clear (amount == 0) the demotion named `source` on VIP `name`
    (every VIP when `name` is None). Effective advskew = advskew + sum of demotions."""

    name: str | None
    source: str
    amount: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SetFault:
    """A fault named `source` (a fatal check, "check:NAME") starts (`failing`) or ends on VIP
    `name` (every VIP when None). While any fault is set the VIP is FAULT: it bows out,
    releases and ignores adverts; when the last one ends it goes BACKUP."""

    name: str | None
    source: str
    failing: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SetHoldDown:
    """Boot hold-down on VIP `name` (every VIP when None): while active the VIP carries the
    demotion "hold_down" (240) and does not preempt; it may still take over when no master
    is heard at all (its master-down timer fires)."""

    name: str | None
    active: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    """One raw result of health check `check` of VIP `name` (from carpd.io.health); the node's
    tracker (core/checks.py) turns results into states and states into SetDemotion/SetFault.
    `ok` None is an error: carpd could not make the check (it says nothing about the service
    and never changes the verdict)."""

    name: str
    check: str
    ok: bool | None
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendResult:
    """Outcome of one SendAdvert action."""

    name: str
    ok: bool
    error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AddressOpFailed:
    """Adding or removing the VIP's addresses failed."""

    name: str
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Retune:
    """A reload changed VIP `params.name` only in tunable settings (params.TUNABLE_FIELDS):
    the running machine takes them in place (Node.retune)."""

    params: VipParams


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorDemote:
    """The operator demotes VIP `name` by `amount` (1..254: the demotion "operator") until
    the monotonic instant `until_at` (None: until promoted); see core/policy/demotions.py."""

    name: str
    amount: int
    until_at: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorPromote:
    """The operator clears the operator demotion of VIP `name` (if it has one)."""

    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SetMaintenance:
    """Maintenance mode on (the demotion "maintenance", 254, on every VIP) or off.
    `since_at`: the instant it was turned on when that is not now (a restored flag)."""

    on: bool
    since_at: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BeginHoldDown:
    """Hold VIP `name` (every VIP when None) down at boot until its carrier, source address,
    required units and first check results are there (core/policy/holddown.py)."""

    name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RequiredUnitObserved:
    """A `require_units` unit of VIP `name` is active, or not (a unit watcher's result)."""

    name: str
    unit: str
    active: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class AddressesChanged:
    """The addresses of `interface` changed (a netlink notification)."""

    interface: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AddressesRead:
    """The outcome of a ReadAddresses action: the addresses now on `interface`."""

    interface: str
    addresses: frozenset[Address]


@dataclass(frozen=True, slots=True, kw_only=True)
class UnitJobFinished:
    """A master-unit job of VIP `name` ended (or could not be queued): see core/unitjobs.py.
    Recorded for status; never an election input."""

    name: str
    unit: str
    verb: UnitVerb
    result: UnitJobResult
    via: UnitJobVia
    detail: str = ""


PolicyEvent = (
    OperatorDemote | OperatorPromote | SetMaintenance | BeginHoldDown | RequiredUnitObserved
    | AddressesChanged | AddressesRead
)


Event = (
    Start | Resume | Shutdown | TimerFired | PacketReceived | LinkChanged | SetDemotion | SendResult
    | AddressOpFailed | SetFault | SetHoldDown | CheckResult | Retune | DatagramMalformed
    | PolicyEvent | UnitJobFinished
)


class PeerAdvert(Protocol):
    """A decoded, authenticated advert, as its profile made it (the machine only reads the
    sender and hands it back to the profile to classify)."""

    @property
    def source(self) -> Address: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class AdvertReceived:
    """A valid advert for VIP `name` (made by the node, given to the machine)."""

    name: str
    advert: PeerAdvert


MachineEvent = (
    Start | Resume | Shutdown | TimerFired | AdvertReceived | LinkChanged | SetDemotion | SendResult
    | AddressOpFailed | SetFault | SetHoldDown
)
