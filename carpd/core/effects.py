"""What one VHID does on each transition: its state, and the effects the table names.

Owns: `VhidEffects`, the state of one VHID (state, timers, master seen, demotions, faults,
link, send suppression, counters) and the effect methods `TRANSITIONS` (core/table.py) points
at. Each effect returns its actions in contract order: becoming MASTER is AddAddresses,
Announce, SendAdvert, StartUnits, RunScript(up); a release is RemoveAddresses, StopUnits,
RunScript(down); the bow-out sends its advert after the RemoveAddresses (break before make).
Invariants: deadlines are plain instants or None; an advert always reschedules the next one
from its own instant; the VIP is released at most once before it was ever held (start-up).
Resuming after a restart (`_resume`) is MASTER with the addresses but silent for a window of
up to one slowest advert interval; it yields without a word to any master heard in it.
Families (IPV6-UNICAST-VRRP3.md 1.6): a VIP with addresses in both families sends one advert
per family per interval (each from that family's source, to its group or its peers) and, in
BACKUP, keeps one master-down timer per family: entering BACKUP arms each, an advert heard in
one family restarts only that family's, and either expiring takes the whole VIP over. The
bow-out goes out in both families; the announcement is one burst per family (GARP, NA).
Placement: the address actions name `VipParams.address_interface` (a routed VIP's
`routed_interface`), and a routed VIP has no announcement (docs/routed.md).
A MASTER with `garp_refresh_interval` re-announces its VIPs every interval (`_refresh_due`,
on the periodic advert: `garp_refresh_at` is its deadline, cleared when it stops being MASTER).
Protocol words (intervals, advert bytes, ranks) come from the VIP's ElectionProfile.
Every StateChanged also carries its context (actions.py): the peer master followed before the
change and when its last advert was heard (`_master_heard_at`, set wherever a peer's advert
makes it our master), our rank in the profile's words, and the demotions in force.
Must not: classify events (machine.py does), read the clock, draw randomness, or log.
"""

from __future__ import annotations

from dataclasses import dataclass

from carpd.core.actions import (
    Action,
    AddAddresses,
    Announce,
    Anomaly,
    RemoveAddresses,
    RunScript,
    ScriptKind,
    SendAdvert,
    StartUnits,
    StateChanged,
    StopUnits,
)
from carpd.core.addresses import Address, Family, family_of
from carpd.core.clock import Duration, Instant
from carpd.core.events import PeerAdvert
from carpd.core.params import VipParams
from carpd.core.profile import ElectionProfile, Standing
from carpd.core.states import Reason, VhidState
from carpd.core.stats import Counters

SEND_ERRORS_TO_SUPPRESS = 3  # CARP_SENDAD_MAX_ERRORS
SENDS_OK_TO_UNSUPPRESS = 3  # CARP_SENDAD_MIN_SUCCESS


@dataclass(slots=True)
class Ctx:
    """What the classifier learned about the event that the effect needs."""

    reason: Reason = Reason.CONFIGURED
    cause: str | None = None
    peer: Address | None = None
    advert: PeerAdvert | None = None
    anomaly: Anomaly | None = None
    previous: VipParams | None = None  # RETUNED: the settings before
    previous_advertised: object = None  # RETUNED: what we advertised before
    previous_master_down: Duration = 0.0  # RETUNED: the master-down interval before
    resume_window: Duration = 0.0  # RESUME: how long to listen before the first advert
    master_before: Address | None = None  # the master seen before the effect ran
    master_heard_at: Instant | None = None  # when that master's last advert was heard


class VhidEffects:
    """State and effects of one VHID; VhidMachine (machine.py) adds classification."""

    def __init__(self, params: VipParams, profile: ElectionProfile, since_at: Instant) -> None:
        self.params = params
        self.profile = profile
        self._sources = _sources(params)
        self._source: Address = self._sources[params.families[0]]
        self.state = VhidState.INIT
        self._since_at = since_at
        self._reason: Reason = Reason.CONFIGURED
        self._cause: str | None = None
        self._master: Address | None = None
        self._master_heard_at: Instant | None = None  # the last advert of a peer master
        self._enabled = False
        self._released_once = False
        self._link_up = True
        self._suppressed = False
        self._demotions: dict[str, int] = {}
        self._faults: set[str] = set()
        self._hold_down = False
        self._resuming = False  # MASTER by RESUME, before its first advert
        self._preempt_at: Instant = since_at  # preempt_delay: no preemption before this
        self.advert_due_at: Instant | None = None
        self.garp_refresh_at: Instant | None = None  # MASTER: the next re-announcement
        self._master_down: dict[Family, Instant] = {}
        self._n = Counters()

    @property
    def master_down_at(self) -> Instant | None:
        """The earliest family's master-down deadline (None outside BACKUP)."""
        return min(self._master_down.values(), default=None)

    def expired_family(self, now: Instant) -> Family | None:
        """The first family (IPv4 first) whose master-down timer is due at `now`."""
        return next((f for f in Family if self._master_down.get(f, now + 1) <= now), None)

    @property
    def standing(self) -> Standing:
        return Standing(demotion=sum(self._demotions.values()),
                        send_suppressed=self._suppressed)

    # -- effects --------------------------------------------------------------------------

    def _ignore(self, now: Instant, ctx: Ctx) -> list[Action]:
        return []

    def _impossible(self, now: Instant, ctx: Ctx) -> list[Action]:
        """A (state, input) pair the classifiers never produce: a programming error."""
        raise AssertionError(f"vip {self.params.name}: no such transition from {self.state}")

    def _enter_backup(self, now: Instant, ctx: Ctx) -> list[Action]:
        """INIT (or FAULT) -> BACKUP: wait one master-down interval. The first time
        (start-up), also make sure nothing is held (ucarp runs the downscript then); later
        entries come from INIT or FAULT, which every path reaches having released already, so
        no script runs twice."""
        self._master = None
        self.advert_due_at = None
        self._preempt_at = now + self.params.preempt_delay
        self.profile.follow(None)
        self._restart_master_down(now)
        return self._release_once()

    def _enter_fault(self, now: Instant, ctx: Ctx) -> list[Action]:
        """INIT/BACKUP -> FAULT: no timers; release if this is the first entry (start-up)."""
        self._stop_timers()
        return self._release_once()

    def _note_master(self, now: Instant, ctx: Ctx) -> list[Action]:
        """FAULT hears an advert: remember who is master (for status), nothing else."""
        self._master = None if ctx.reason is Reason.PEER_BOWED_OUT else ctx.peer
        self._master_heard_at = now
        return []

    def _follow_master(self, now: Instant, ctx: Ctx) -> list[Action]:
        """An advert of the master (or one we do not preempt): restart the master-down
        timer of the family it came in; the other family's keeps running."""
        self._master, self._master_heard_at = ctx.peer, now
        self.profile.follow(ctx.advert)
        family = family_of(ctx.peer) if ctx.peer is not None else None
        if family is not None and family in self._master_down:
            self._master_down[family] = now + self.profile.master_down_interval(self.standing)
        else:
            self._restart_master_down(now)
        return []

    def _become_master(self, now: Instant, ctx: Ctx) -> list[Action]:
        self._released_once = True  # held from now on: a later release is a real one
        self._master = self._source
        self._master_down = {}
        self._arm_refresh(now)
        return [self._add_addresses(), *self._announce(once=False), *self._adverts(now),
                *self._master_side()]

    def _resume(self, now: Instant, ctx: Ctx) -> list[Action]:
        """INIT -> MASTER at start, for a VIP that was MASTER until a moment ago (a crash and
        a quick restart): take the addresses (AddAddresses keeps carpd's copy if it is still
        there), start the master units, run the upscript, and stay silent for a window (the
        profile's `resume_window`: long enough to hear the slowest master, short enough that
        no backup times us out). Silent: a peer that took over while we were away must not
        hear our rank, or it would step down for it (a CARP master yields to a better advert
        whatever `preempt` says), so we first listen; any master heard in the window makes
        us yield without a word (RESUME_CONTESTED). At its end the first advert and the
        announcement go out (RESUME_CONFIRMED)."""
        self._released_once = True  # held, not released: nothing to clean up at start
        self._resuming = True
        self._master = self._source
        self._master_down = {}
        self.advert_due_at = now + ctx.resume_window
        return [self._add_addresses(), *self._master_side()]

    def _confirm_resume(self, now: Instant, ctx: Ctx) -> list[Action]:
        """No other master in the window: announce where the VIP lives, then the first
        advert (on schedule, as every later one)."""
        self._resuming = False
        self._arm_refresh(now)
        announce: list[Action] = list(self._announce(once=False))
        return announce + self._advertise_on_schedule(now, ctx)

    def _yield_resumed(self, now: Instant, ctx: Ctx) -> list[Action]:
        """Another master spoke before our first advert: release and follow it, sending
        nothing (see `_resume`); no GARP went out, so clients never left it."""
        self.advert_due_at = None
        self._master, self._master_heard_at = ctx.peer, now
        self.profile.follow(ctx.advert)
        self._restart_master_down(now)
        return self._release_actions()

    def _advertise(self, now: Instant, ctx: Ctx) -> list[Action]:
        return list(self._adverts(now))

    def _advertise_on_schedule(self, now: Instant, ctx: Ctx) -> list[Action]:
        """The periodic advert. The next one is due one interval after this one was *due*,
        not after the timer fired, so a loop that wakes a little late does not drift the
        schedule; a timer later than a whole interval restarts the schedule from `now`."""
        due = self.advert_due_at
        adverts: list[Action] = list(self._adverts(now))
        if due is not None and self.advert_due_at is not None:
            anchored = due + (self.advert_due_at - now)
            if anchored > now:
                self.advert_due_at = anchored
        return adverts + self._refresh_due(now)

    def _arm_refresh(self, now: Instant) -> None:
        interval = self.params.garp_refresh_interval
        self.garp_refresh_at = now + interval if interval else None

    def _refresh_due(self, now: Instant) -> list[Action]:
        """`garp_refresh_interval`: a MASTER re-announces its VIPs (one GARP/NA round) every
        interval, for routers that cache ARP for hours. Served by the periodic advert, so at
        most one advert interval late; the next one is anchored to when this one was due. A
        reload that turns it on starts counting at the next advert, one that turns it off
        stops it there."""
        if not self.params.garp_refresh_interval:
            self.garp_refresh_at = None
            return []
        if self.garp_refresh_at is None:
            self._arm_refresh(now)
            return []
        if now < self.garp_refresh_at:
            return []
        interval = self.params.garp_refresh_interval
        anchored = self.garp_refresh_at + interval
        self.garp_refresh_at = anchored if anchored > now else now + interval
        return list(self._announce(once=True))

    def _reassert(self, now: Instant, ctx: Ctx) -> list[Action]:
        """A slower master is on the wire: re-announce our VIPs and tell it at once."""
        return [*self._announce(once=True), *self._adverts(now)]

    def _step_down(self, now: Instant, ctx: Ctx) -> list[Action]:
        """A preferred master: one last advert so it knows (CARP; VRRP yields silently),
        then release and follow it."""
        last = self._adverts(now) if self.profile.farewell_on_step_down else ()
        self.advert_due_at = None
        self._master, self._master_heard_at = ctx.peer, now
        self.profile.follow(ctx.advert)
        self._restart_master_down(now)
        return [*last, *self._release_actions()]

    def _await_resigned(self, now: Instant, ctx: Ctx) -> list[Action]:
        """VRRP: the master advertised priority 0. Take over after Skew_Time (RFC 5798
        6.4.2) unless a better backup speaks first; no master meanwhile."""
        self._master = None
        self._restart_master_down(now, self.profile.resign_wait(self.standing))
        return []

    def _go_init(self, now: Instant, ctx: Ctx) -> list[Action]:
        was_master = self.state is VhidState.MASTER
        self._stop_timers()
        return self._release_actions() if was_master else []

    def _bow_out(self, now: Instant, ctx: Ctx) -> list[Action]:
        """Shutdown (or FAULT) as MASTER: release the addresses, then the profile's bow-out
        advert (CARP: advbase = advskew = 255) so the peer takes over at once. Break before
        make: the peer is told only after our VIP is gone, so the two never answer at once."""
        last = self._adverts(now, bow_out=True)
        self._stop_timers()
        remove, *rest = self._release_actions()
        return [remove, *last, *rest]

    def _count_send(self, now: Instant, ctx: Ctx) -> list[Action]:
        return self._send_bookkeeping(ok=True)

    def _count_send_failure(self, now: Instant, ctx: Ctx) -> list[Action]:
        self._n.send_errors += 1
        return self._send_bookkeeping(ok=False)

    def _count_address_failure(self, now: Instant, ctx: Ctx) -> list[Action]:
        self._n.address_errors += 1
        return []

    def _retune_master(self, now: Instant, ctx: Ctx) -> list[Action]:
        old, p = ctx.previous, self.params
        assert old is not None
        actions: list[Action] = []
        changed = ctx.previous_advertised != self.profile.advertised(self.standing)
        if changed and not self._resuming:  # resuming: the first advert says it
            actions += self._adverts(now)
        if gone := tuple(u for u in old.master_units if u not in p.master_units):
            actions.append(StopUnits(name=p.name, units=gone))
        if new := tuple(u for u in p.master_units if u not in old.master_units):
            actions.append(StartUnits(name=p.name, units=new))
        return actions

    def _retune_backup(self, now: Instant, ctx: Ctx) -> list[Action]:
        if ctx.previous_master_down != self.profile.master_down_interval(self.standing):
            self._restart_master_down(now)
        return self._retune_idle(now, ctx)

    def _retune_idle(self, now: Instant, ctx: Ctx) -> list[Action]:
        old, p = ctx.previous, self.params
        assert old is not None
        new = tuple(u for u in p.master_units if u not in old.master_units)
        return [StopUnits(name=p.name, units=new)] if new and self._released_once else []

    # -- helpers ----------------------------------------------------------------------------

    def _change_state(self, new: VhidState, now: Instant, ctx: Ctx) -> StateChanged:
        old, self.state = self.state, new
        if new is not VhidState.MASTER:
            self.garp_refresh_at = None
        self._resuming = self._resuming and new is VhidState.MASTER
        self._since_at, self._reason, self._cause = now, ctx.reason, ctx.cause
        self._n.transitions += 1
        p = self.params
        lost = ctx.master_before if ctx.master_before not in self._sources.values() else None
        return StateChanged(name=p.name, vhid=p.vhid, interface=p.interface, old=old, new=new,
                            reason=ctx.reason, cause=ctx.cause, peer=ctx.peer,
                            last_master=lost,
                            last_master_heard_at=None if lost is None else ctx.master_heard_at,
                            rank=self.profile.describe_own(self.standing),
                            demotions=tuple(sorted(self._demotions.items())))

    def _restart_master_down(self, now: Instant, interval: Duration | None = None) -> None:
        """Arm the master-down timer of every family the VIP has addresses in, for the
        profile's master-down interval unless `interval` says otherwise."""
        if interval is None:
            interval = self.profile.master_down_interval(self.standing)
        self._master_down = dict.fromkeys(self.params.families, now + interval)

    def _add_addresses(self) -> AddAddresses:
        p = self.params
        return AddAddresses(name=p.name, interface=p.address_interface, addresses=p.addresses,
                            label=p.label, deprecate_ipv6=p.deprecate_ipv6_vip)

    def _master_side(self) -> list[Action]:
        """What follows the VIP as it becomes ours: the master units, then the upscript."""
        p = self.params
        units: list[Action] = ([StartUnits(name=p.name, units=p.master_units)]
                               if p.master_units else [])
        return units + self._scripts(ScriptKind.UP, p.upscript)

    def _release_once(self) -> list[Action]:
        if self._released_once:
            return []
        self._released_once = True
        return self._release_actions()

    def _stop_timers(self) -> None:
        self.advert_due_at = None
        self._master_down = {}
        self._master = None

    def _adverts(self, now: Instant, *, bow_out: bool = False) -> tuple[SendAdvert, ...]:
        """One advert per family, each encoded on its own (CARP: its own counter value);
        one per destination when the payload depends on it (VRRPv3's pseudo-header)."""
        p, standing, profile = self.params, self.standing, self.profile
        if not bow_out:
            self.advert_due_at = now + profile.advert_interval(standing)
        adverts: list[SendAdvert] = []
        for family in p.families:
            unicast, source = p.unicast(family), self._sources[family]
            targets = p.destinations(family)
            batches = [(d,) for d in targets] if profile.per_destination else [targets]
            adverts.extend(SendAdvert(
                name=p.name, interface=p.interface, family=family, source=source,
                destinations=batch,
                payload=profile.encode(standing, source=source, destination=batch[0],
                                       bow_out=bow_out),
                traffic_class=profile.traffic_class,
                hop_limit=p.peer_ttl if unicast else 255,
                l2_broadcast=p.l2_broadcast and family is Family.IPV4 and not unicast,
                bow_out=bow_out) for batch in batches)
        self._n.adverts_sent += len(adverts)
        return tuple(adverts)

    def _announce(self, *, once: bool) -> list[Announce]:
        return announcements(self.params, once=once)

    def _release_actions(self) -> list[Action]:
        p = self.params
        actions: list[Action] = [
            RemoveAddresses(name=p.name, interface=p.address_interface, addresses=p.addresses)
        ]
        if p.master_units:
            actions.append(StopUnits(name=p.name, units=p.master_units))
        return actions + self._scripts(ScriptKind.DOWN, p.downscript)

    def _scripts(self, kind: ScriptKind, path: str | None) -> list[Action]:
        if path is None:
            return []
        p = self.params
        extra = (p.xparam,) if p.xparam is not None else ()
        return [RunScript(name=p.name, kind=kind, argv=(path, p.interface, str(ip), *extra))
                for ip in p.hosts]

    def _send_bookkeeping(self, *, ok: bool) -> list[Action]:
        n = self._n
        if ok:
            n.consecutive_send_errors, n.consecutive_sends_ok = 0, n.consecutive_sends_ok + 1
            if self._suppressed and n.consecutive_sends_ok >= SENDS_OK_TO_UNSUPPRESS:
                self._suppressed = False
        else:
            n.consecutive_sends_ok, n.consecutive_send_errors = 0, n.consecutive_send_errors + 1
            if n.consecutive_send_errors >= SEND_ERRORS_TO_SUPPRESS:
                self._suppressed = True
        return []


def _sources(params: VipParams) -> dict[Family, Address]:
    """The advert source of each family the VIP advertises in (resolved before use)."""
    sources: dict[Family, Address] = {}
    for family in params.families:
        source = params.source_for(family)
        if source is None:
            raise ValueError(f"vip {params.name}: {family.label} source address must be "
                             "resolved before use")
        sources[family] = source
    return sources


def announcements(p: VipParams, *, once: bool) -> list[Announce]:
    """GARP for the IPv4 addresses, NA for the IPv6 ones; `once`: a single round (a
    re-announcement), else the configured burst. The driver's reconcile uses it too. A routed
    VIP announces nothing: its addresses are host routes a BGP engine announces."""
    if p.routed:
        return []
    bursts = []
    if v4 := p.hosts_of(Family.IPV4):
        bursts.append(Announce(name=p.name, interface=p.interface, addresses=v4,
                               count=1 if once else p.garp_count, interval=p.garp_interval))
    if v6 := p.hosts_of(Family.IPV6):
        bursts.append(Announce(name=p.name, interface=p.interface, addresses=v6,
                               count=1 if once else p.na_count, interval=p.na_interval,
                               router=p.na_router))
    return bursts
