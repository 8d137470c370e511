"""Outputs of the core: what the driver must do, in list order.

Owns: the frozen action dataclasses. The order of a returned list is a contract (for example,
becoming MASTER is StateChanged, AddAddresses, Announce, SendAdvert, StartUnits, RunScript).
Advert bytes are encoded by the core (`payload` is what follows the IP header, made by the
VIP's election profile), so the simulator and the real sockets carry identical bytes.
Addresses are IPv4 or IPv6 (carpd.core.addresses); nothing here names a protocol.
Must not: contain anything the driver has to interpret with protocol knowledge.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from carpd.core.addresses import Address, AddressWithPrefix, Family
from carpd.core.drops import DropReason
from carpd.core.states import Reason, VhidState, reason_code

__all__ = ["VhidState"]  # re-exported: actions and their states travel together


class ScriptKind(enum.StrEnum):
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True, slots=True, kw_only=True)
class SendAdvert:
    """One advert in one family: `payload` to each of `destinations` (the family's group, or
    its unicast peers), sent from `source` with `hop_limit` (IPv4 TTL / IPv6 hop limit; 255
    to a group, `peer_ttl` to peers) and `traffic_class` (IPv4 TOS / IPv6 traffic class)."""

    name: str
    interface: str
    family: Family
    source: Address
    destinations: tuple[Address, ...]
    payload: bytes
    traffic_class: int = 0
    hop_limit: int = 255
    l2_broadcast: bool = False
    bow_out: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AddAddresses:
    name: str
    interface: str
    addresses: tuple[AddressWithPrefix, ...]
    label: str  # e.g. "eth0:web" (ifconfig alias style), truncated to IFNAMSIZ-1
    deprecate_ipv6: bool = False  # IPv6 ones with preferred lifetime 0 (never a source)


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoveAddresses:
    name: str
    interface: str
    addresses: tuple[AddressWithPrefix, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Announce:
    """Where addresses of one family now live: for IPv4 a gratuitous ARP burst, for IPv6
    unsolicited neighbour advertisements (O flag; R flag = `router`, None: follow the
    interface's forwarding setting); `count` per address, `interval` seconds apart."""

    name: str
    interface: str
    addresses: tuple[Address, ...]
    count: int
    interval: float
    router: bool | None = None


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
    kind: ScriptKind
    argv: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class StateChanged:
    """A VIP changed state. The last four fields are the record's context, not part of the
    action contract (compare=False, so exact action lists stay about what happens):
    `last_master`/`last_master_heard_at` the peer this VIP followed as master before the
    change and when its last advert was heard (None: none was, or we were the master), so a
    takeover names the master it lost; `rank` our rank after it in the protocol's words
    ("advskew 0"); `demotions` the named demotions in force (what moved the rank)."""

    name: str
    vhid: int
    interface: str
    old: VhidState
    new: VhidState
    reason: Reason
    cause: str | None = None  # FAULT: the fault's source ("check:db")
    peer: Address | None = None
    last_master: Address | None = field(default=None, compare=False)
    last_master_heard_at: float | None = field(default=None, compare=False)
    rank: str = field(default="", compare=False)
    demotions: tuple[tuple[str, int], ...] = field(default=(), compare=False)

    @property
    def reason_code(self) -> str:
        """The reason as journald and status show it ("fault_check:db")."""
        return reason_code(self.reason, self.cause)


@dataclass(frozen=True, slots=True, kw_only=True)
class PacketDropped:
    """A received packet was not accepted. `log` is False for quiet reasons and for repeats
    within the rate-limit interval; the counters are kept regardless."""

    interface: str
    reason: DropReason
    detail: str
    source: Address | None
    vhid: int | None
    log: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Anomaly:
    """Something an operator must hear about, once: `kind` is DUAL_MASTER (a MASTER heard
    another master that should have yielded), FOREIGN_ADVERT (an advert on our VHID with a
    bad HMAC: another cluster, another password or address set) or CHECK_FLAPPING.
    `log` is False for repeats of the same (kind, VIP, peer) within the rate-limit interval;
    the node counts every one. `rank`: what the peer advertises in the protocol's words
    (DUAL_MASTER; empty when unknown or untrusted), context only (compare=False)."""

    kind: AnomalyKind
    name: str
    peer: Address | None
    detail: str
    log: bool
    rank: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class LogsSuppressed:
    """The node's log limit (core/loglimit.py) held back `count` log lines of `kind` (an
    AnomalyKind or a DropReason) from `sources` distinct senders in the `interval` seconds
    that just ended (`sources_at_least`: more senders than it tracks, `sources` is a lower
    bound). The node's counters count every one of them."""

    kind: AnomalyKind | DropReason
    count: int
    sources: int
    interval: float
    sources_at_least: bool = False

    @property
    def text(self) -> str:
        """"12 more foreign adverts from 12 sources suppressed in the last 60 s"."""
        noun = (_ANOMALY_NOUNS[self.kind] if isinstance(self.kind, AnomalyKind)
                else f"{self.kind.value} drops")
        if self.count == 1:
            noun = noun[:-1]
        at_least = "at least " if self.sources_at_least else ""
        return (f"{self.count} more {noun} from {at_least}{self.sources} "
                f"source{'' if self.sources == 1 else 's'} suppressed in the last "
                f"{self.interval:g} s (all are counted: carpctl status)")


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckObserved:
    """A health check result went through the tracker: `state` is the verdict after it;
    `changed` is True when this result changed it; `ok` None is an error result (the check
    could not be made; the verdict stays)."""

    name: str
    check: str
    ok: bool | None
    state: CheckState
    changed: bool
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadAddresses:
    """Read the addresses of `interface` and report them as an AddressesRead event (a boot
    hold-down waits for the source address)."""

    interface: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HoldDownReleased:
    """The boot hold-down of VIP `name` ended, `held_interval` seconds after it began;
    `unmet` lists what it still waited for when it gave up (empty: everything was there)."""

    name: str
    held_interval: float
    unmet: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class DemotionExpired:
    """The operator demotion of VIP `name` reached its `until_at` and ended (the operator
    side persists the remaining demotions and tells the operator)."""

    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MaintenanceChanged:
    """Maintenance mode was turned on or off (the service status line says so)."""

    on: bool


PolicyAction = ReadAddresses | HoldDownReleased | DemotionExpired | MaintenanceChanged


class CheckState(enum.StrEnum):
    """A health check's verdict (core/policy/checks.py); the value is the status/journal word."""

    UNKNOWN = "unknown"  # no result yet
    PASSING = "passing"
    FAILING = "failing"


class AnomalyKind(enum.StrEnum):
    """What an Anomaly reports; the value is the journal's CARP_ANOMALY and the status key."""

    DUAL_MASTER = "dual_master"
    FOREIGN_ADVERT = "foreign_advert"
    CHECK_FLAPPING = "check_flapping"


_ANOMALY_NOUNS = {AnomalyKind.DUAL_MASTER: "dual master warnings",
                  AnomalyKind.FOREIGN_ADVERT: "foreign adverts",
                  AnomalyKind.CHECK_FLAPPING: "check flapping warnings"}

Action = (
    SendAdvert | AddAddresses | RemoveAddresses | Announce | StartUnits | StopUnits | RunScript
    | StateChanged | PacketDropped | Anomaly | LogsSuppressed | CheckObserved
    | PolicyAction
)
