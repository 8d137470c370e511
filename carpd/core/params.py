"""Frozen per-VIP parameters that the core needs, and the Secret wrapper for passwords.

Owns: `VipParams` (one VHID on one interface, fully resolved), `CheckParams` (one health
check of a VIP: what the tracker needs and what the health adapter runs), `Secret`, and which
VipParams fields a running machine may take in place (`TUNABLE_FIELDS`, `untunable_changes`):
everything but the identity of the virtual host on the wire (name, vhid, interface, addresses,
password, sources, multicast group, L2 broadcast), which peers authenticate and demultiplex on,
and where the addresses go (placement, routed_interface: a change re-creates the VIP);
unicast peers and the accept rules are tunable (the driver re-joins groups as needed).
Invariant: a `Secret` never shows its bytes in repr/str, so a password cannot leak through a
log line, a traceback or a status document by accident.
Must not: read files or the environment (config.py does that and builds these objects).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field

from carpd.core.addresses import Address, AddressWithPrefix, Family, family_of
from carpd.core.carp.auth import MAX_PASSWORD_BYTES
from carpd.core.carp.wire import CARP_GROUP, CARP_GROUP6

__all__ = ["MAX_PASSWORD_BYTES"]  # for the config loader, which checks passwords

IFNAMSIZ = 16  # Linux: interface names and address labels are at most 15 bytes


def address_label(interface: str, name: str) -> str:
    """The ifconfig-style label carpd gives VIP `name`'s IPv4 addresses: "eth0:web", cut to
    the kernel's 15 bytes (part of carpd's mark on them: carpd.core.ownership)."""
    return f"{interface}:{name}"[:IFNAMSIZ - 1]


class Secret:
    """Password bytes that refuse to print themselves."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        self._value = value

    def reveal(self) -> bytes:
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret is not picklable")


class Placement(enum.Enum):
    """Where a VIP's addresses go while it is MASTER (docs/routed.md)."""

    LINK = "link"  # on `interface`, announced to the segment by gratuitous ARP / NA
    ROUTED = "routed"  # host routes on `routed_interface`, announced by a BGP engine


DEFAULT_ROUTED_INTERFACE = "carpvip0"

CHECK_TYPES = ("unit", "exec", "tcp", "http", "interface", "bgp")
BGP_ENGINES = ("frr", "bird")


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckParams:
    """One health check. Exactly one of `weight` (1..254, added to advskew while failing)
    and `fatal` (FAULT while failing) applies; config.py guarantees it. Type-specific keys:
    unit: `unit`; exec: `command` (argv, no shell); tcp: `host`, `port`; http: `url`,
    `expect_status`; interface: `interface`; bgp: `engine` ("frr" | "bird"), `neighbor`
    (None: any session), `control` (FRR: the vtysh pathspace, BIRD: the control socket;
    None: the engine's default)."""

    name: str
    type: str
    weight: int = 0
    fatal: bool = False
    interval: float = 2.0
    timeout: float = 1.0
    rise: int = 2
    fall: int = 2
    unit: str | None = None
    command: tuple[str, ...] = ()
    host: str | None = None
    port: int | None = None
    url: str | None = None
    expect_status: int = 200
    interface: str | None = None
    engine: str | None = None
    neighbor: str | None = None
    control: str | None = None

    @property
    def source(self) -> str:
        """The demotion/fault name this check sets on its VIP."""
        return f"check:{self.name}"

    def target(self) -> str:
        """What it looks at, for status and explain ("nginx.service", "127.0.0.1:80")."""
        match self.type:
            case "unit":
                return self.unit or ""
            case "exec":
                return " ".join(self.command)
            case "tcp":
                return f"{self.host}:{self.port}"
            case "http":
                return f"{self.url} (expect {self.expect_status})"
            case "bgp":
                return f"{self.engine} session {self.neighbor or '(any)'}"
        return self.interface or ""


@dataclass(frozen=True, slots=True, kw_only=True)
class VipParams:
    """One VIP (= one VHID or VRID on one interface) as the core runs it. The election
    settings (CARP: password, advbase, advskew, deadratio; VRRPv3: priority,
    advert_interval_cs, vrrp_checksum) are read by the VIP's profile only; `protocol`
    selects it. A VRRPv3 VIP has addresses of one family (one virtual router).

    Families: `addresses` may mix IPv4 and IPv6 (one VHID, one state, one HMAC over all of
    them); each family present is advertised separately, from `source` (IPv4) or `source6`
    (IPv6), to that family's `peers` when it has any (unicast) or else to its group
    (`multicast_group` / ff02::12). Received adverts must come from one of the family's
    peers (unless `accept_source` is "any") with a TTL/hop limit of at least `accept_ttl`
    (always 255 for group adverts); `accept_multicast` also accepts group adverts in
    unicast mode (a migration aid). Peers carry no scope: a link-local peer is on
    `interface`.

    Placement: `LINK` puts the addresses on `interface` and announces them (GARP, NA);
    `ROUTED` puts them on `routed_interface` (a dummy, or `lo`) and announces nothing: a BGP
    engine announces what is there. Adverts go out on `interface` either way."""

    name: str
    vhid: int  # CARP's vhid, or VRRP's VRID
    interface: str
    addresses: tuple[AddressWithPrefix, ...]
    password: Secret = field(repr=False, default=Secret(b""))  # CARP only
    protocol: str = "carp"  # "carp" | "vrrp3" (core/profiles.py picks the profile)
    priority: int = 100  # VRRP: 1..254, 255 for the address owner; higher wins
    owner: bool = False  # VRRP: this router owns the addresses (allows priority 255)
    advert_interval_cs: int = 100  # VRRP: our Advertisement_Interval, centiseconds
    vrrp_checksum: str = "rfc5798"  # VRRP IPv4 checksum: "rfc5798" | "rfc9568" | "accept-both"
    accept_mode: bool = True  # VRRP: a non-owner master accepts traffic to the VIPs
    preempt_delay: float = 0.0  # seconds after entering BACKUP before preempting
    advbase: int = 1
    advskew: int = 0
    deadratio: int = 3
    preempt: bool = True
    source: Address | None = None  # IPv4 advert source; None until the driver resolves "auto"
    source6: Address | None = None  # IPv6 advert source; None until the driver resolves "auto"
    multicast_group: Address = CARP_GROUP
    l2_broadcast: bool = False
    peers: tuple[Address, ...] = ()
    peer_ttl: int = 255
    accept_ttl: int = 255
    accept_source: str = "peers"  # "peers" | "any"
    accept_multicast: bool = False
    garp_count: int = 3
    garp_interval: float = 1.0
    garp_refresh_interval: int = 0  # seconds between a MASTER's re-announcements; 0: off
    na_count: int = 3
    na_interval: float = 1.0
    na_router: bool | None = None  # None: follow net.ipv6.conf.<interface>.forwarding
    deprecate_ipv6_vip: bool = False  # preferred_lft 0: never picked as a source address
    master_units: tuple[str, ...] = ()
    upscript: str | None = None
    downscript: str | None = None
    xparam: str | None = None
    sync_group: str | None = None
    require_units: tuple[str, ...] = ()
    checks: tuple[CheckParams, ...] = ()
    placement: Placement = Placement.LINK
    routed_interface: str = DEFAULT_ROUTED_INTERFACE

    @property
    def routed(self) -> bool:
        return self.placement is Placement.ROUTED

    @property
    def address_interface(self) -> str:
        """Where the addresses go while MASTER: `interface`, or `routed_interface`."""
        return self.routed_interface if self.routed else self.interface

    @property
    def label(self) -> str:
        """The addresses' ifconfig-style label "eth0:web" (routed: "lo:web"), within the
        kernel's 15 bytes."""
        return address_label(self.address_interface, self.name)

    @property
    def hosts(self) -> tuple[Address, ...]:
        """The bare addresses (no prefix length), in configured order."""
        return tuple(a.ip for a in self.addresses)

    @property
    def families(self) -> tuple[Family, ...]:
        """The families this VIP has addresses in (and advertises in), IPv4 first."""
        present = {family_of(a) for a in self.addresses}
        return tuple(f for f in Family if f in present)

    @property
    def family(self) -> Family:
        """Transitional (until the machine advertises per family): the first family."""
        return self.families[0]

    def source_for(self, family: Family) -> Address | None:
        return self.source if family is Family.IPV4 else self.source6

    def peers_for(self, family: Family) -> tuple[Address, ...]:
        return tuple(a for a in self.peers if family_of(a) is family)

    def unicast(self, family: Family) -> bool:
        """Adverts of this family go to peers, not to the group."""
        return any(family_of(a) is family for a in self.peers)

    def group_for(self, family: Family) -> Address:
        return self.multicast_group if family is Family.IPV4 else CARP_GROUP6

    def destinations(self, family: Family) -> tuple[Address, ...]:
        """Where this family's adverts go: its peers, else its group."""
        return self.peers_for(family) or (self.group_for(family),)

    def groups(self, family: Family) -> frozenset[Address]:
        """The groups to join for this family: none in unicast mode unless
        `accept_multicast` asks for the group's adverts too."""
        if self.unicast(family) and not self.accept_multicast:
            return frozenset()
        return frozenset({self.group_for(family)})

    def hosts_of(self, family: Family) -> tuple[Address, ...]:
        return tuple(a for a in self.hosts if family_of(a) is family)


# What a reload may change on a running VIP without re-creating it (VhidMachine.retune). The
# election ones change the adverts or the master-down timer; the others only what happens at
# the next transition (announce, units, scripts) or what the node/driver wrap around it.
ELECTION_FIELDS = frozenset({"advbase", "advskew", "deadratio", "preempt", "preempt_delay",
                             "priority", "owner", "advert_interval_cs", "vrrp_checksum",
                             "accept_mode"})
TUNABLE_FIELDS = ELECTION_FIELDS | frozenset({
    "peers", "peer_ttl", "accept_ttl", "accept_source", "accept_multicast",
    "na_count", "na_interval", "na_router", "deprecate_ipv6_vip",
    "garp_count", "garp_interval", "garp_refresh_interval", "master_units", "upscript",
    "downscript", "xparam", "sync_group", "require_units", "checks"})


def untunable_changes(old: VipParams, new: VipParams) -> list[str]:
    """The names of the fields that differ and cannot change in place, in field order."""
    return [f.name for f in dataclasses.fields(VipParams) if f.name not in TUNABLE_FIELDS
            and getattr(old, f.name) != getattr(new, f.name)]
