"""All VHIDs of one host: packet validation and demultiplexing, fan-out, deadlines, drops.

Owns: `Node.handle(event, now) -> list[Action]`, `next_deadline()`, `statistics()`.
A received datagram (IP header already stripped by the adapter; one the adapter could not
parse arrives as DatagramMalformed and is only counted) is checked in this order (CARP.md
3.3, with ucarp's log-spam problems of 7.13 fixed): short, own packet, then demux.py (VRRP,
bad version), unknown VHID, then accept.py (destination, unicast peer, TTL), then the VIP's
election profile (bad checksum, bad HMAC). Machines are found by (interface, family,
protocol, vhid/VRID): a dual-stack VIP has a key per family.
Every drop is counted by reason (per interface, and per VIP once the VHID is known) and
becomes a PacketDropped action; only the "loud" reasons may be logged, and each (interface,
reason) at most once per `drop_log_interval` seconds, so foreign traffic cannot flood a log.
Invariants: network bytes never raise out of `handle`; machines are keyed by (interface,
family, protocol, vhid) and by name, both unique (the config loader guarantees it).
Health: `CheckResult` events go through the VIP's `CheckTracker` (core/policy/checks.py),
whose verdicts become SetDemotion/SetFault for that VIP. Sync groups (OpenBSD's interface-group
demotion counter, CARP.md 6.1): after every event that can change a member's own demotion, its
fault or its link, every OTHER member of the group gets the demotion "sync_group" = the largest
weight among the other members, where a member weighs its own demotion (everything but
"sync_group"), or 240 if it is faulted or its link is down (it cannot serve), whichever is
more; the resulting actions follow the event's own, members in configuration order. So one
demoted or faulted member moves the whole group, and it moves back when that member recovers.
Retune (a reload, `retune`/`Retune`): the VIP's machine takes the new settings in place
(VhidMachine.retune); checks are matched by name: a kept one keeps its tracker (retuned, its
verdict stays), a removed one's tracker goes (the machine drops its demotion or fault), a new
one starts unknown; a VIP that leaves its sync group drops the "sync_group" demotion, and the
groups are recomputed as after any event.
Election policy (core/policy/election_policy.py: boot hold-down, operator demotions, maintenance)
rides on the same `handle`: its machine events are fanned out like any other, before the
carrier change or timer tick that caused them, and its deadline is part of `next_deadline()`.
A VIP already MASTER when its boot hold-down would begin (it resumed after a restart,
`Resume`) is not held: it was serving a moment ago, and its checks demote it if they fail.
Anomalies (dual master, foreign advert, check flapping) are counted per VIP and kind, and
their facts (peer, rank, first/last seen) kept in core/anomalies.py's bounded book; each
(kind, VIP, peer) is logged at most once per `drop_log_interval` seconds. A bad HMAC on one of
our VHIDs is both a drop and a "foreign_advert" anomaly naming the sender. Both limits are
core/loglimit.py's, which also caps each drop reason and anomaly kind across all senders per
interval and returns a LogsSuppressed summary of what that cap held back when the interval
ends (first in the actions of the event that reaches that instant; its end is part of
`next_deadline()`), so spoofed senders cannot flood the log or grow the table.
Unit jobs: `UnitJobFinished` (what became of a master unit's start or stop) is recorded for
status (core/unitjobs.py) and changes nothing else.
Must not: read the clock, draw randomness, or touch sockets.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from carpd.core import accept, demux
from carpd.core.actions import Action, Anomaly, AnomalyKind, PacketDropped
from carpd.core.addresses import Address, Family
from carpd.core.anomalies import AnomalyBook, AnomalyRecord
from carpd.core.deadlines import DeadlineQueue
from carpd.core.drops import QUIET_DROPS, DropReason, Rejected
from carpd.core.events import (
    AddressOpFailed,
    AdvertReceived,
    BeginHoldDown,
    CheckResult,
    DatagramMalformed,
    Event,
    LinkChanged,
    PacketReceived,
    PolicyEvent,
    Resume,
    Retune,
    SendResult,
    SetDemotion,
    SetFault,
    SetHoldDown,
    Shutdown,
    Start,
    TimerFired,
    UnitJobFinished,
)
from carpd.core.loglimit import LogLimit
from carpd.core.machine import SYNC_GROUP, VhidMachine
from carpd.core.params import VipParams
from carpd.core.policy.checks import CheckStatistics, CheckTracker
from carpd.core.policy.election_policy import ElectionPolicy, Outcome, PolicyStatistics
from carpd.core.profile import HOLD_DOWN_DEMOTION, ElectionProtocol
from carpd.core.profiles import protocol_of
from carpd.core.states import VhidState
from carpd.core.stats import VhidStatistics
from carpd.core.unitjobs import UnitJobResult, UnitJobs, UnitJobStatistics

_Key = tuple[str, Family, ElectionProtocol, int]  # interface, family, protocol, vhid/VRID
_ID_WORD = {ElectionProtocol.CARP: "vhid", ElectionProtocol.VRRP3: "vrid"}


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeStatistics:
    vips: tuple[VhidStatistics, ...]
    vip_drops: dict[str, dict[str, int]]
    interface_drops: dict[str, dict[str, int]]
    anomalies: dict[str, dict[AnomalyKind, int]] = dataclasses.field(default_factory=dict)
    checks: tuple[CheckStatistics, ...] = ()
    params: tuple[VipParams, ...] = ()  # what each VIP runs with, in configuration order
    policy: PolicyStatistics = dataclasses.field(default_factory=PolicyStatistics)
    anomaly_records: tuple[AnomalyRecord, ...] = ()  # who, rank, first/last seen (anomalies.py)
    unit_jobs: tuple[UnitJobStatistics, ...] = ()  # the last job per master unit
    unit_job_counts: dict[str, dict[UnitJobResult, int]] = dataclasses.field(
        default_factory=dict)


class Node:
    """The VHIDs of this host. `counter_source(name)` supplies each machine's initial
    64-bit advert counter (randomness is injected so simulations are reproducible)."""

    def __init__(self, vips: Iterable[VipParams], *, counter_source: Callable[[str], int],
                 drop_log_interval: float = 60.0, now: float = 0.0) -> None:
        self._counter_source = counter_source
        self._machines: dict[str, VhidMachine] = {}
        self._by_key: dict[_Key, VhidMachine] = {}
        self._by_vhid: dict[tuple[str, int], str] = {}  # (interface, vhid) -> VIP, for drops
        self._iface_drops: dict[str, Counter[str]] = {}
        self._vip_drops: dict[str, Counter[str]] = {}
        self._log_limit = LogLimit(drop_log_interval)
        self._checks: dict[tuple[str, str], CheckTracker] = {}
        self._anomalies: dict[str, Counter[AnomalyKind]] = {}
        self._anomaly_book = AnomalyBook()
        self._policy = ElectionPolicy()
        self._unit_jobs = UnitJobs()  # recorded for status only (core/unitjobs.py)
        self._policy_moved = False  # the policy changed a machine during this handle()
        self._deadlines = DeadlineQueue()
        self._touched: list[VhidMachine] = []
        self._own_sources: dict[str, frozenset[Address]] = {}
        self._vrrp_interfaces: frozenset[str] = frozenset()  # where a VRRPv3 VIP runs
        for params in vips:
            self.add(params, now)

    # -- membership (used at start and by reload) ------------------------------------------

    def add(self, params: VipParams, now: float) -> VhidMachine:
        keys = _keys(params)
        if params.name in self._machines or any(k in self._by_key for k in keys):
            raise ValueError(f"vip {params.name}: name or vhid {params.vhid} on "
                             f"{params.interface} already present")
        machine = VhidMachine(params, initial_counter=self._counter_source(params.name),
                              since_at=now)
        self._machines[params.name] = machine
        for key in keys:
            self._by_key[key] = machine
        self._vip_drops[params.name] = Counter()
        self._anomalies[params.name] = Counter()
        for check in params.checks:
            self._checks[(params.name, check.name)] = CheckTracker(params.name, check)
        for demotion in self._policy.demotions_for(params.name):
            machine.handle(demotion, now)  # in INIT: bookkeeping only, never an action
        self._deadlines.track(params.name, machine.next_deadline())
        self._index_sources()
        return machine

    def remove(self, name: str) -> None:
        machine = self._machines.pop(name)
        for demux_key in _keys(machine.params):
            del self._by_key[demux_key]
        del self._vip_drops[name]
        del self._anomalies[name]
        self._anomaly_book.forget(name)
        for key in [k for k in self._checks if k[0] == name]:
            del self._checks[key]
        self._policy.forget(name)
        self._unit_jobs.forget(name)
        self._deadlines.forget(name)
        self._index_sources()

    def _index_sources(self) -> None:
        """The per-interface lookups that packets need: our own advert sources, which VIP a
        (interface, vhid) drop counts for (the first configured, whatever protocol), and the
        interfaces that run a VRRPv3 VIP."""
        sources: dict[str, set[Address]] = {}
        self._by_vhid = {}
        for m in self._machines.values():
            own = sources.setdefault(m.params.interface, set())
            own.update(s for s in (m.params.source, m.params.source6) if s is not None)
            self._by_vhid.setdefault((m.params.interface, m.params.vhid), m.params.name)
        self._own_sources = {i: frozenset(s) for i, s in sources.items()}
        self._vrrp_interfaces = frozenset(k[0] for k in self._by_key
                                          if k[2] is ElectionProtocol.VRRP3)

    def retune(self, params: VipParams, now: float) -> list[Action]:
        """Give the running VIP `params.name` new tunable settings in place (= handling
        `Retune(params=params)`). ValueError if it is not running or an untunable setting
        differs; nothing has changed then."""
        return self.handle(Retune(params=params), now)

    def machine(self, name: str) -> VhidMachine:
        return self._machines[name]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._machines)

    def states(self) -> tuple[tuple[str, VhidState], ...]:
        """(name, state) of every VIP in configuration order: what the one-line status
        needs after every transition, without a whole statistics() snapshot."""
        return tuple((n, m.state) for n, m in self._machines.items())

    @property
    def maintenance(self) -> bool:
        return self._policy.maintenance
    # -- the API ------------------------------------------------------------------------------

    def handle(self, event: Event, now: float) -> list[Action]:
        self._touched, self._policy_moved = [], False
        summaries: list[Action] = list(self._log_limit.due(now))
        actions = self._dispatch(event, now)
        if isinstance(event, PacketReceived | TimerFired | SendResult | AddressOpFailed
                      | DatagramMalformed | PolicyEvent | UnitJobFinished) \
                and not self._policy_moved:
            touched = self._touched  # the frequent events reach these machines only
        else:
            actions += self._sync_groups(now)
            touched = list(self._machines.values())
        for m in touched:
            self._deadlines.update(m.params.name, m.next_deadline())
        return summaries + self._rate_limit(actions, now)

    def _dispatch(self, event: Event, now: float) -> list[Action]:
        match event:
            case PacketReceived():
                return self._receive(event, now)
            case TimerFired():
                expired = self._apply(self._policy.timer(now), now)
                due = [self._machines[n] for n in self._deadlines.pop_due(now)]
                return expired + self._fan_out(due, event, now)
            case Start(name=name) | Shutdown(name=name) | Resume(name=name):
                return self._fan_out(self._select(name), event, now)
            case SetDemotion(name=name) | SetFault(name=name) | SetHoldDown(name=name):
                return self._fan_out(self._select(name), event, now)
            case CheckResult():
                return self._check_result(event, now)
            case DatagramMalformed():
                return self._malformed(event, now)
            case Retune(params=params):
                return self._retune(params, now)
            case LinkChanged(interface=ifname, up=up):
                first = self._apply(self._policy.link_changed(ifname, up, now), now)
                targets = [m for m in self._machines.values() if m.params.interface == ifname]
                return first + self._fan_out(targets, event, now)
            case SendResult(name=name) | AddressOpFailed(name=name):
                return self._fan_out(self._select(name), event, now) \
                    if name in self._machines else []
            case UnitJobFinished():
                return self._unit_job(event, now)
            case BeginHoldDown(name=name):  # not a MASTER (one that resumed at start)
                vips = [(m.params, m.link_up) for m in self._select(name)
                        if m.state is not VhidState.MASTER]
                return self._apply(self._policy.begin_hold_down(vips, now), now)
            case _:  # the other PolicyEvents (mypy checks that nothing else is left)
                return self._apply(self._policy.handle(event, now), now)

    def _unit_job(self, ev: UnitJobFinished, now: float) -> list[Action]:
        if ev.name in self._machines:
            self._unit_jobs.observe(UnitJobStatistics(
                vip=ev.name, unit=ev.unit, verb=ev.verb, result=ev.result, via=ev.via,
                detail=ev.detail, at=now))
        return []

    def next_deadline(self) -> float | None:
        due = (self._deadlines.earliest(), self._policy.next_deadline(),
               self._log_limit.next_deadline())
        return min((d for d in due if d is not None), default=None)

    def statistics(self) -> NodeStatistics:
        jobs, counts = self._unit_jobs.statistics()
        return NodeStatistics(
            vips=tuple(m.statistics() for m in self._machines.values()),
            vip_drops={n: dict(c) for n, c in self._vip_drops.items()},
            interface_drops={i: dict(c) for i, c in self._iface_drops.items()},
            anomalies={n: dict(c) for n, c in self._anomalies.items()},
            checks=tuple(t.statistics() for t in self._checks.values()),
            params=tuple(m.params for m in self._machines.values()),
            policy=self._policy.statistics(),
            anomaly_records=self._anomaly_book.statistics(),
            unit_jobs=jobs, unit_job_counts=counts,
        )

    def tracker(self, name: str, check: str) -> CheckTracker | None:
        return self._checks.get((name, check))

    # -- health, sync groups, anomalies ---------------------------------------------------------

    def _check_result(self, ev: CheckResult, now: float) -> list[Action]:
        tracker = self._checks.get((ev.name, ev.check))
        if tracker is None:  # a check that a reload removed, still reporting: ignore
            return []
        events, actions = tracker.observe(ev.ok, ev.detail, now)
        for e in events:
            actions += self._dispatch(e, now)
        return actions + self._apply(self._policy.check_reported(ev.name, ev.check, now), now)

    def _retune(self, params: VipParams, now: float) -> list[Action]:
        machine = self._machines.get(params.name)
        if machine is None:
            raise ValueError(f"vip {params.name}: not running, cannot retune it")
        old = machine.params
        actions = machine.retune(params, now)  # raises before anything changed
        for event in self._retune_checks(old, params):
            actions += machine.handle(event, now)
        if old.sync_group is not None and params.sync_group is None:
            actions += machine.handle(SetDemotion(name=params.name, source=SYNC_GROUP,
                                                  amount=0), now)
        return actions + self._apply(self._policy.retuned(old, params, now), now)

    def _retune_checks(self, old: VipParams, new: VipParams) -> list[SetDemotion | SetFault]:
        """Trackers by check name: kept ones retuned, new ones fresh, the rest dropped (in
        the new configuration order); returns the kept ones' re-applied verdicts."""
        kept = {c.name: self._checks.pop((old.name, c.name), None) for c in old.checks}
        events: list[SetDemotion | SetFault] = []
        for check in new.checks:
            tracker = kept.get(check.name)
            if tracker is None:
                tracker = CheckTracker(new.name, check)
            else:
                events += tracker.retune(check)
            self._checks[(new.name, check.name)] = tracker
        return events

    def _sync_groups(self, now: float) -> list[Action]:
        """Lend every member the largest weight of the OTHER members (module docstring)."""
        groups: dict[str, list[VhidMachine]] = {}
        for m in self._machines.values():
            if m.params.sync_group is not None:
                groups.setdefault(m.params.sync_group, []).append(m)
        actions: list[Action] = []
        for members in groups.values():
            weights = [_sync_weight(m) for m in members]
            for i, m in enumerate(members):
                lent = max((w for j, w in enumerate(weights) if j != i), default=0)
                actions += m.handle(SetDemotion(name=m.params.name, source=SYNC_GROUP,
                                                amount=lent), now)
        return actions

    def _rate_limit(self, actions: list[Action], now: float) -> list[Action]:
        """Count every Anomaly; log each (kind, VIP, peer) once per interval."""
        for i, a in enumerate(actions):
            if not isinstance(a, Anomaly) or a.name not in self._anomalies:
                continue
            self._anomalies[a.name][a.kind] += 1
            self._anomaly_book.record(a, now)
            key = ("anomaly", a.kind, a.name, a.peer)
            if a.log and not self._log_limit.allow(key, a.kind, a.peer, now):
                actions[i] = dataclasses.replace(a, log=False)
        return actions

    # -- internals ------------------------------------------------------------------------------

    def _apply(self, outcome: Outcome, now: float) -> list[Action]:
        """The policy's machine events first, then what it reports."""
        events, reports = outcome
        actions: list[Action] = []
        for event in events:
            actions += self._dispatch(event, now)
        self._policy_moved = self._policy_moved or bool(events)
        return actions + reports

    def _select(self, name: str | None) -> list[VhidMachine]:
        if name is None:
            return list(self._machines.values())
        return [self._machines[name]] if name in self._machines else []

    def _fan_out(self, machines: list[VhidMachine], event: object, now: float) -> list[Action]:
        actions: list[Action] = []
        for m in machines:
            actions += m.handle(event, now)  # type: ignore[arg-type]
        self._touched += machines
        return actions

    def _receive(self, packet: PacketReceived, now: float) -> list[Action]:
        try:
            machine, advert = self._validate(packet)
        except Rejected as drop:
            dropped = self._count_drop(packet.interface, drop, now)
            if drop.reason is not DropReason.BAD_HMAC or drop.name is None:
                return [dropped]
            return [dropped, Anomaly(
                kind=AnomalyKind.FOREIGN_ADVERT, name=drop.name, peer=drop.source, log=True,
                detail=f"advert for vhid {drop.vhid} on {packet.interface} from {drop.source} "
                       "fails our HMAC: another cluster on our VHID, or a different password "
                       "or address set")]
        self._touched.append(machine)
        return machine.handle(advert, now)

    def _validate(self, packet: PacketReceived) -> tuple[VhidMachine, AdvertReceived]:
        """The checks in the module docstring's order; raises Rejected."""
        demux.check_length(packet)
        if packet.source in self._own_sources.get(packet.interface, ()):
            raise Rejected(DropReason.OWN_PACKET, "sent by this host", source=packet.source)
        protocol, vid = demux.identify(packet)
        machine = self._by_key.get((packet.interface, packet.family, protocol, vid))
        if machine is None:
            if protocol is ElectionProtocol.VRRP3 \
                    and packet.interface not in self._vrrp_interfaces:
                raise Rejected(DropReason.VRRP, "VRRPv3 advertisement", vid, packet.source)
            raise Rejected(DropReason.UNKNOWN_VHID, f"{_ID_WORD[protocol]} {vid}", vid,
                           packet.source)
        p = machine.params
        accept.check_path(p, packet, vid)
        advert = machine.profile.decode(packet)
        return machine, AdvertReceived(name=p.name, advert=advert)

    def _malformed(self, event: DatagramMalformed, now: float) -> list[Action]:
        drop = Rejected(event.reason, event.detail, source=event.source)
        return [self._count_drop(event.interface, drop, now)]

    def _count_drop(self, interface: str, drop: Rejected, now: float) -> PacketDropped:
        self._iface_drops.setdefault(interface, Counter())[drop.reason] += 1
        name = drop.name
        if name is None and drop.vhid is not None:
            name = self._by_vhid.get((interface, drop.vhid))
        if name is not None:
            self._vip_drops[name][drop.reason] += 1
        log = (drop.reason not in QUIET_DROPS
               and self._log_limit.allow(("drop", interface, drop.reason), drop.reason,
                                         drop.source, now))
        return PacketDropped(interface=interface, reason=drop.reason, detail=drop.detail,
                             source=drop.source, vhid=drop.vhid, log=log)


def _sync_weight(m: VhidMachine) -> int:
    """What a member lends its sync group: its own demotion, or 240 if it cannot serve."""
    down = m.faulted or not m.link_up
    return max(m.own_demotion, HOLD_DOWN_DEMOTION if down else 0)


def _keys(p: VipParams) -> list[_Key]:
    """One demux key per family the VIP advertises in."""
    return [(p.interface, family, protocol_of(p), p.vhid) for family in p.families]
