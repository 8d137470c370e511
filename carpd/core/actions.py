"""Outputs of the core: what the driver must do, in list order.

Owns: the frozen action dataclasses. The order of a returned list is a contract (for example,
becoming MASTER is StateChanged, AddAddresses, Announce, SendAdvert, StartUnits, RunScript).
Advert bytes are encoded by the core (`payload` is the 36-byte CARP header), so the simulator
and the real sockets carry identical bytes.
Must not: contain anything the driver has to interpret with protocol knowledge.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass


class VhidState(enum.Enum):
    INIT = "INIT"
    BACKUP = "BACKUP"
    MASTER = "MASTER"
    FAULT = "FAULT"  # a fatal check fails: released, silent, deaf until it passes


@dataclass(frozen=True, slots=True, kw_only=True)
class SendAdvert:
    name: str
    interface: str
    source: ipaddress.IPv4Address
    destination: ipaddress.IPv4Address
    payload: bytes
    l2_broadcast: bool = False
    bow_out: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AddAddresses:
    name: str
    interface: str
    addresses: tuple[ipaddress.IPv4Interface, ...]
    label: str  # e.g. "eth0:web" (ifconfig alias style), truncated to IFNAMSIZ-1


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoveAddresses:
    name: str
    interface: str
    addresses: tuple[ipaddress.IPv4Interface, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Announce:
    """Gratuitous ARP burst: `count` requests per address, `interval` seconds apart."""

    name: str
    interface: str
    addresses: tuple[ipaddress.IPv4Address, ...]
    count: int
    interval: float


@dataclass(frozen=True, slots=True, kw_only=True)
class StartUnits:
    name: str
    units: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class StopUnits:
    name: str
    units: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunScript:
    """ucarp-compatible hook: argv = (path, interface, vip[, xparam]) per address."""

    name: str
    kind: str  # "up" | "down"
    argv: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class StateChanged:
    name: str
    vhid: int
    interface: str
    old: VhidState
    new: VhidState
    reason: str
    peer: ipaddress.IPv4Address | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PacketDropped:
    """A received packet was not accepted. `log` is False for quiet reasons and for repeats
    within the rate-limit interval; the counters are kept regardless."""

    interface: str
    reason: str
    detail: str
    source: ipaddress.IPv4Address | None
    vhid: int | None
    log: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Anomaly:
    """Something an operator must hear about, once: `kind` is "dual_master" (a MASTER heard
    another master that should have yielded), "foreign_advert" (an advert on our VHID with a
    bad HMAC: another cluster, another password or address set) or "check_flapping".
    `log` is False for repeats of the same (kind, VIP, peer) within the rate-limit interval;
    the node counts every one."""

    kind: str
    name: str
    peer: ipaddress.IPv4Address | None
    detail: str
    log: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckObserved:
    """A health check result went through the tracker. `state` is "passing", "failing" or
    "unknown" (no result yet); `changed` is True when this result changed it."""

    name: str
    check: str
    ok: bool
    state: str
    changed: bool
    detail: str


Action = (
    SendAdvert | AddAddresses | RemoveAddresses | Announce | StartUnits | StopUnits | RunScript
    | StateChanged | PacketDropped | Anomaly | CheckObserved
)
