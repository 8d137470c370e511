"""The status document: one typed snapshot of this node, built in one place.

Owns: the frozen types of what `carpctl status` shows (StatusDocument: NodeInfo, one
VipStatus per VIP with its VipCounters, CheckStatus list, OperatorDemotionStatus and
hold-down waits, the facts of its anomalies as AnomalyPeerStatus, MaintenanceStatus,
interface drops) and `build_document`, the only code that
builds one: from the core's `NodeStatistics` plus the few facts only the driver has (hostname,
version, uptime) and the driver's monotonic-to-wall-clock conversion, passed in as
`wall_iso`. Its renderings read it: the JSON of `status --json` and the control socket
(status/jsonform.py), `explain` (status/explain.py) and the metrics text (status/metrics.py).
Invariants: VIPs appear in configuration order, checks in each VIP's configuration order;
every instant is an ISO 8601 wall-clock string made by `wall_iso` (plus `since_at`, the
monotonic instant of the last transition, for "how long ago"); before the VIPs run the
document has no VIPs and neither interface drops nor maintenance (None).
Must not: read a clock, decide anything the core has not (it only reshapes snapshots).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from carpd.core.actions import AnomalyKind, CheckState, VhidState
from carpd.core.anomalies import AnomalyRecord
from carpd.core.drops import DropReason
from carpd.core.node import NodeStatistics
from carpd.core.policy.checks import CheckStatistics
from carpd.core.policy.demotions import OperatorDemotion
from carpd.core.stats import VhidStatistics
from carpd.core.unitjobs import UnitJobResult, UnitJobStatistics

WallIso = Callable[[float], str]  # a monotonic instant -> ISO 8601 wall-clock time


def iso_time(wall: float) -> str:
    """Wall-clock seconds as the document writes them (UTC, milliseconds). Total: an instant
    no datetime can show (NaN, infinite, beyond year 9999) is written as "invalid time X",
    so no value from a state file or a clock can make status, explain or metrics fail."""
    try:
        return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds")
    except (OverflowError, ValueError, OSError):
        return f"invalid time {wall!r}"


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeInfo:
    hostname: str
    version: str
    uptime_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckStatus:
    name: str
    type: str
    target: str
    fatal: bool
    weight: int
    state: CheckState
    detail: str
    since: str | None  # the last state change, None before the first result
    results: int
    failures: int
    changes: int
    flapping: bool
    errors: int = 0  # results that could not be made (no descriptors, memory, processes)


@dataclass(frozen=True, slots=True, kw_only=True)
class UnitJobStatus:
    """The last job carpd asked systemd for on one master unit (core/unitjobs.py)."""

    unit: str
    verb: str  # start, stop
    result: UnitJobResult
    via: str  # dbus, systemctl (the bus was not reachable: `detail` says why), none
    detail: str
    at: str

    @property
    def failed(self) -> bool:
        return self.result.failed


@dataclass(frozen=True, slots=True, kw_only=True)
class VipCounters:
    adverts_sent: int
    adverts_received: int
    auth_failures: int
    send_errors: int
    address_errors: int
    transitions: int
    drops: Mapping[str, int]  # by drop reason
    checksum_forms: Mapping[str, int] = dataclasses.field(default_factory=dict)  # VRRPv3:
    # accepted adverts per checksum form (pseudo_header, pseudo_header_group, message_only)


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorDemotionStatus:
    amount: int
    until: str | None  # None: until promoted


@dataclass(frozen=True, slots=True, kw_only=True)
class AnomalyPeerStatus:
    """Who caused one kind of anomaly on a VIP (core/anomalies.py's record)."""

    kind: AnomalyKind
    peer: str | None
    rank: str  # what it advertises, in the protocol's words ("" when not trusted)
    first_seen: str
    last_seen: str
    last_seen_at: float  # monotonic, for "how long ago" (not part of the JSON)
    count: int
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class VipStatus:
    name: str
    vhid: int
    interface: str
    addresses: tuple[str, ...]
    state: VhidState
    since: str
    since_at: float  # monotonic, for "how long ago" (not part of the JSON)
    reason: str
    protocol: str = "carp"  # "carp" | "vrrp3"
    election: Mapping[str, int | None] = dataclasses.field(default_factory=dict)  # the
    # profile's figures, own then the master's
    advbase: int | None  # CARP's figures (None for VRRPv3: see `election`)
    advskew: int | None
    effective_advskew: int | None
    preempt: bool
    master: str | None
    source: str | None  # the IPv4 advert source (None: no IPv4 addresses)
    source6: str | None  # the IPv6 advert source (None: no IPv6 addresses)
    peers: tuple[str, ...]  # unicast peers (empty: the groups)
    groups: tuple[str, ...]  # the groups adverts go to (families without peers)
    accept_ttl: int
    demotions: Mapping[str, int]  # by demotion name, sorted
    counters: VipCounters
    faults: tuple[str, ...]
    hold_down: bool
    send_suppressed: bool
    master_advbase: int | None  # what the master advertises (ours when we are it)
    master_advskew: int | None
    operator_demotion: OperatorDemotionStatus | None
    waiting_for: tuple[str, ...]  # what a boot hold-down still waits for
    checks: tuple[CheckStatus, ...]
    anomalies: Mapping[AnomalyKind, int]
    anomaly_peers: tuple[AnomalyPeerStatus, ...] = ()
    units: tuple[UnitJobStatus, ...] = ()  # the last job per master unit
    unit_jobs: Mapping[UnitJobResult, int] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class MaintenanceStatus:
    on: bool
    since: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusDocument:
    node: NodeInfo
    vips: tuple[VipStatus, ...] = ()
    interface_drops: Mapping[str, Mapping[str, int]] | None = None  # None: not running yet
    maintenance: MaintenanceStatus | None = None  # None: not running yet

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.vips)

    def vip(self, name: str) -> VipStatus | None:
        return next((v for v in self.vips if v.name == name), None)


def build_document(stats: NodeStatistics | None, *, node: NodeInfo,
                   wall_iso: WallIso) -> StatusDocument:
    """The document for `stats` (None: the VIPs do not run yet)."""
    if stats is None:
        return StatusDocument(node=node)
    vips = _VipBuilder(stats, wall_iso)
    maintenance = stats.policy.maintenance
    since = None if maintenance.since_at is None else wall_iso(maintenance.since_at)
    return StatusDocument(node=node, vips=tuple(vips.build(s) for s in stats.vips),
                          interface_drops=stats.interface_drops,
                          maintenance=MaintenanceStatus(on=maintenance.on, since=since))


class _VipBuilder:
    """The per-VIP lookups of one NodeStatistics, and one VipStatus at a time."""

    def __init__(self, stats: NodeStatistics, wall_iso: WallIso) -> None:
        self._stats, self._iso = stats, wall_iso
        self._params = {p.name: p for p in stats.params}
        self._checks: dict[str, list[CheckStatus]] = {}
        for c in stats.checks:
            self._checks.setdefault(c.vip, []).append(self._check(c))
        self._operator = {d.name: d for d in stats.policy.operator_demotions}
        self._waits = {h.name: h.waiting_for for h in stats.policy.hold_downs}
        self._peers: dict[str, list[AnomalyPeerStatus]] = {}
        for r in stats.anomaly_records:
            self._peers.setdefault(r.name, []).append(self._anomaly_peer(r))
        self._units: dict[str, list[UnitJobStatus]] = {}
        for job in stats.unit_jobs:
            self._units.setdefault(job.vip, []).append(self._unit(job))

    def build(self, s: VhidStatistics) -> VipStatus:
        p = self._params[s.name]
        master = str(s.master) if s.master else None
        source, source6 = (None if a is None else str(a) for a in (p.source, p.source6))
        groups = tuple(str(p.group_for(f)) for f in p.families if not p.unicast(f))
        own, rank = dict(s.election.own), dict(s.election.master)  # the profile's figures
        return VipStatus(
            name=s.name, vhid=s.vhid, interface=s.interface,
            addresses=tuple(str(a) for a in p.addresses), state=s.state,
            since=self._iso(s.since_at), since_at=s.since_at, reason=s.reason_code,
            protocol=s.election.protocol.value, election={**own, **rank},
            advbase=own.get("advbase"), advskew=own.get("advskew"),
            effective_advskew=own.get("effective_advskew"),
            preempt=s.preempt, master=master, source=source, source6=source6,
            peers=tuple(map(str, p.peers)), groups=groups, accept_ttl=p.accept_ttl,
            demotions=dict(s.demotions),
            counters=self._counters(s), faults=s.faults, hold_down=s.hold_down,
            send_suppressed=s.send_suppressed,
            master_advbase=rank.get("master_advbase"), master_advskew=rank.get("master_advskew"),
            operator_demotion=self._operator_status(self._operator.get(s.name)),
            waiting_for=self._waits.get(s.name, ()),
            checks=tuple(self._checks.get(s.name, ())),
            anomalies=self._stats.anomalies.get(s.name, {}),
            anomaly_peers=tuple(self._peers.get(s.name, ())),
            units=tuple(self._units.get(s.name, ())),
            unit_jobs=self._stats.unit_job_counts.get(s.name, {}))

    def _unit(self, j: UnitJobStatistics) -> UnitJobStatus:
        return UnitJobStatus(unit=j.unit, verb=j.verb.value, result=j.result,
                             via=j.via.value, detail=j.detail, at=self._iso(j.at))

    def _anomaly_peer(self, r: AnomalyRecord) -> AnomalyPeerStatus:
        return AnomalyPeerStatus(
            kind=r.kind, peer=None if r.peer is None else str(r.peer), rank=r.rank,
            first_seen=self._iso(r.first_at), last_seen=self._iso(r.last_at),
            last_seen_at=r.last_at, count=r.count, detail=r.detail)

    def _counters(self, s: VhidStatistics) -> VipCounters:
        drops = self._stats.vip_drops.get(s.name, {})
        return VipCounters(
            adverts_sent=s.adverts_sent, adverts_received=s.adverts_received,
            auth_failures=drops.get(DropReason.BAD_HMAC, 0), send_errors=s.send_errors,
            address_errors=s.address_errors, transitions=s.transitions, drops=drops,
            checksum_forms=dict(s.election.received_forms))

    def _operator_status(self, d: OperatorDemotion | None) -> OperatorDemotionStatus | None:
        if d is None:
            return None
        until = None if d.until_at is None else self._iso(d.until_at)
        return OperatorDemotionStatus(amount=d.amount, until=until)

    def _check(self, c: CheckStatistics) -> CheckStatus:
        return CheckStatus(
            name=c.name, type=c.type, target=c.target, fatal=c.fatal, weight=c.weight,
            state=c.state, detail=c.detail,
            since=None if c.since_at is None else self._iso(c.since_at),
            results=c.results, failures=c.failures, changes=c.changes, flapping=c.flapping,
            errors=c.errors)
