"""One CARP virtual host (VHID): its states, its ONE transition table, and its machine.

Owns: `VhidMachine.handle(event, now) -> list[Action]`, `next_deadline()`, `statistics()`.
How it works: an event is first classified into one `VhidInput` (guards such as preempt, link
state and the tie-break live in the classifiers of election.py and in `_classify`), then
`TRANSITIONS[(state, input)]` gives the effect and the next state. The table is total: every
(state, input) pair is listed, so nothing is handled by accident; an event that only updates
bookkeeping (a link-up before start, say) classifies to None and yields no action.
Invariants: deadlines are plain floats or None and never in the past when returned (a timer
that fires late is served with `now`); the VIP is held (AddAddresses emitted last) iff the
state is MASTER; every state change emits exactly one StateChanged first in its action list.
Protocol sources: CARP.md 3.1-3.7 (ucarp git HEAD) and 6.1 (OpenBSD bow-out and INIT on link
loss). Deliberate differences from ucarp are listed in docs/protocol.md.
Health (issue 5): FAULT is the state of a VIP whose fatal check fails (SetFault). Entering it
from MASTER is the shutdown bow-out (255/255 advert, release); from INIT/BACKUP it stops the
timers (and releases the first time, as the start-up does). In FAULT the machine has no timer
and ignores adverts except to remember who is master; when the last fault clears it goes
BACKUP with a fresh master-down timer; link loss still means INIT, and Start/link-up while a
fault is set lead straight to FAULT. Demotions are named (SetDemotion source -> amount,
effective advskew = min(254, advskew + sum), CARP.md 6.2); the boot hold-down (SetHoldDown)
is the named demotion "hold_down" (240) plus "do not preempt" (the OpenBSD rc interlock of
6.1 in FreeBSD's arithmetic); a hold-down node still takes over when no master is heard.
A MASTER that hears a slower master which has had a full advert interval of its own to hear
us reports a "dual_master" Anomaly (the same slower-master advert that a preempted master's
farewell produces right after a takeover is not one).
Retune (a reload, OPERATORS.md row 3): `retune(params, now)` swaps in new tunable settings
(params.TUNABLE_FIELDS) and steps the input RETUNED through the same table; state, timers,
counter, statistics and demotions stay. See `retune` for what each state does and why.
Must not: read the clock, draw randomness itself, touch sockets or log.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from carpd.core.actions import (
    Action,
    AddAddresses,
    Announce,
    Anomaly,
    AnomalyKind,
    RemoveAddresses,
    RunScript,
    SendAdvert,
    StartUnits,
    StateChanged,
    StopUnits,
    VhidState,
)
from carpd.core.carp import auth, election, wire
from carpd.core.carp.election import VhidInput
from carpd.core.events import (
    AddressOpFailed,
    AdvertReceived,
    LinkChanged,
    MachineEvent,
    SendResult,
    SetDemotion,
    SetFault,
    SetHoldDown,
    Shutdown,
    Start,
    TimerFired,
)
from carpd.core.params import VipParams, untunable_changes
from carpd.core.stats import Counters, VhidStatistics

SEND_ERRORS_TO_SUPPRESS = 3  # CARP_SENDAD_MAX_ERRORS
SENDS_OK_TO_UNSUPPRESS = 3  # CARP_SENDAD_MIN_SUCCESS
HOLD_DOWN = "hold_down"  # the demotion name of the boot hold-down
SYNC_GROUP = "sync_group"  # the demotion name the node sets on sync-group members


@dataclass(slots=True)
class _Ctx:
    """What the classifier learned about the event that the effect needs."""

    reason: str = ""
    peer: ipaddress.IPv4Address | None = None
    anomaly: Anomaly | None = None
    previous: VipParams | None = None  # RETUNED: the settings before
    previous_skew: int = 0  # RETUNED: the effective advskew before


Effect = Callable[["VhidMachine", float, _Ctx], list[Action]]


class VhidMachine:
    """The state machine of one VHID. See the module docstring."""

    def __init__(self, params: VipParams, *, initial_counter: int, since_at: float = 0.0) -> None:
        if params.source is None:
            raise ValueError(f"vip {params.name}: source address must be resolved before use")
        self.params = params
        self._source: ipaddress.IPv4Address = params.source
        self.state = VhidState.INIT
        self._since_at = since_at
        self._reason = "configured"
        self._master: ipaddress.IPv4Address | None = None
        self._counter = initial_counter & 0xFFFF_FFFF_FFFF_FFFF
        self._enabled = False
        self._released_once = False
        self._link_up = True
        self._suppressed = False
        self._demotions: dict[str, int] = {}
        self._faults: set[str] = set()
        self._hold_down = False
        self._peer_interval: tuple[int, int] | None = None
        self.advert_due_at: float | None = None
        self.master_down_at: float | None = None
        self._n = Counters()

    # -- public API ---------------------------------------------------------------------

    def handle(self, event: MachineEvent, now: float) -> list[Action]:
        ctx = _Ctx()
        inp = self._classify(event, now, ctx)
        return [] if inp is None else self._step(inp, now, ctx)

    def retune(self, params: VipParams, now: float) -> list[Action]:
        """Take new tunable settings in place (a reload); ValueError if anything else
        differs (the driver re-creates such a VIP). Demotions and faults of checks the new
        settings no longer have are dropped, then RETUNED goes through the table:
        - MASTER: a changed advertised interval (advbase, effective advskew) is advertised at
          once and rescheduled from `now`, as a demotion change is (a backup that must now
          preempt us hears it at once); master units follow: removed ones stop, new ones start.
        - BACKUP: a changed master-down interval restarts the timer from `now`. Never earlier
          than CARP allows: the master was last heard at or before `now`, so a backup whose
          skew grew cannot race a better one (a kept deadline has the old skew in it); a
          master that died just before the reload is taken over later by at most the time
          since it was last heard.
        - BACKUP, INIT, FAULT: added master units are stopped once the VIP was released.
        Scripts and GARP settings apply from the next transition. A FAULT whose last fault
        belonged to a removed check then gets FAULT_CLEARED."""
        untunable = untunable_changes(self.params, params)
        if untunable:
            raise ValueError(f"vip {self.params.name}: {', '.join(untunable)} cannot change "
                             "in place: re-create the VIP")
        old = self.params
        ctx = _Ctx(reason="retuned", previous=old, previous_skew=self.effective_advskew)
        self.params = params
        fault_cleared = self._forget_checks(old, params)
        actions = self._step(VhidInput.RETUNED, now, ctx)
        if fault_cleared and self.state is VhidState.FAULT:
            actions += self._step(VhidInput.FAULT_CLEARED, now, _Ctx(reason="fault_cleared"))
        return actions

    def _step(self, inp: VhidInput, now: float, ctx: _Ctx) -> list[Action]:
        effect, next_state = TRANSITIONS[(self.state, inp)]
        actions = effect(self, now, ctx)
        if next_state is not self.state:
            actions.insert(0, self._change_state(next_state, now, ctx))
        if ctx.anomaly is not None:
            actions.append(ctx.anomaly)
        return actions

    def next_deadline(self) -> float | None:
        due = [t for t in (self.advert_due_at, self.master_down_at) if t is not None]
        return min(due) if due else None

    @property
    def effective_advskew(self) -> int:
        return election.effective_advskew(
            self.params.advskew, sum(self._demotions.values()), self._suppressed
        )

    @property
    def faulted(self) -> bool:
        """A fault (failing fatal check) is set, whatever the state (INIT keeps it too)."""
        return bool(self._faults)

    @property
    def own_demotion(self) -> int:
        """The sum of this VIP's own demotions: everything but what its sync group lent it."""
        return sum(v for k, v in self._demotions.items() if k != SYNC_GROUP)

    @property
    def link_up(self) -> bool:
        return self._link_up

    def statistics(self) -> VhidStatistics:
        p, n = self.params, self._n
        peer = self._peer_interval
        return VhidStatistics(
            name=p.name, vhid=p.vhid, interface=p.interface, state=self.state,
            since_at=self._since_at, reason=self._reason, master=self._master,
            advbase=p.advbase, advskew=p.advskew, effective_advskew=self.effective_advskew,
            preempt=p.preempt, demotions=tuple(sorted(self._demotions.items())),
            send_suppressed=self._suppressed,
            last_peer_advbase=peer[0] if peer else None,
            last_peer_advskew=peer[1] if peer else None,
            adverts_sent=n.adverts_sent, adverts_received=n.adverts_received,
            send_errors=n.send_errors, address_errors=n.address_errors,
            transitions=n.transitions, faults=tuple(sorted(self._faults)),
            hold_down=self._hold_down, own_demotion=self.own_demotion,
        )

    # -- classification -----------------------------------------------------------------

    def _classify(self, event: MachineEvent, now: float, ctx: _Ctx) -> VhidInput | None:
        match event:
            case AdvertReceived():
                return self._classify_advert(event, now, ctx)
            case TimerFired():
                return self._classify_timer(now, ctx)
            case Start():
                self._enabled = True
                ctx.reason = "start"
                if not self._link_up:
                    return None
                return self._faulted_input(ctx) if self._faults else VhidInput.START
            case Shutdown():
                self._enabled = False
                ctx.reason = "shutdown"
                return VhidInput.SHUTDOWN
            case LinkChanged(up=up):
                return self._classify_link(up, ctx)
            case SetDemotion():
                return self._classify_demotion(event, ctx)
            case SetFault():
                return self._classify_fault(event, ctx)
            case SetHoldDown(active=active):
                return self._classify_hold_down(active, ctx)
            case SendResult(ok=ok):
                return VhidInput.SEND_OK if ok else VhidInput.SEND_FAILED
            case AddressOpFailed():
                return VhidInput.ADDRESS_FAILED
        raise TypeError(f"not a machine event: {event!r}")

    def _classify_advert(self, ad: AdvertReceived, now: float, ctx: _Ctx) -> VhidInput:
        self._n.adverts_received += 1
        self._counter = ad.counter  # ucarp/FreeBSD: continue from the peer's counter
        self._peer_interval = (ad.advbase, ad.advskew)
        ctx.peer = ad.source
        p = self.params
        if self.state is VhidState.MASTER:
            inp, ctx.reason = election.classify_in_master(
                peer_base=ad.advbase, peer_skew=ad.advskew, own_base=p.advbase,
                own_skew=self.effective_advskew, peer_source=ad.source, own_source=self._source,
            )
            if inp is VhidInput.PEER_NOT_PREFERRED:
                self._check_dual_master(ad, now, ctx)
        else:
            inp, ctx.reason = election.classify_in_backup(
                peer_base=ad.advbase, peer_skew=ad.advskew, own_base=p.advbase,
                own_skew=self.effective_advskew, deadratio=p.deadratio,
                preempt=p.preempt and not self._hold_down,
            )
        return inp

    def _check_dual_master(self, ad: AdvertReceived, now: float, ctx: _Ctx) -> None:
        """A slower master that had one advert interval of its own since our takeover to
        hear us and yield is a dual master; earlier, it is a farewell or a crossed advert."""
        if now - self._since_at < election.advert_interval(ad.advbase, ad.advskew):
            return
        p = self.params
        ctx.anomaly = Anomaly(
            kind=AnomalyKind.DUAL_MASTER, name=p.name, peer=ad.source, log=True,
            detail=f"vhid {p.vhid} on {p.interface}: {ad.source} advertises as master "
                   f"(advbase {ad.advbase} advskew {ad.advskew}) while we are MASTER with "
                   f"advskew {self.effective_advskew}; re-announcing our VIPs")

    def _classify_timer(self, now: float, ctx: _Ctx) -> VhidInput | None:
        if self.master_down_at is not None and now >= self.master_down_at:
            ctx.reason = "master_down_timer"
            return VhidInput.MASTER_DOWN_DUE
        if self.advert_due_at is not None and now >= self.advert_due_at:
            return VhidInput.ADVERT_DUE
        return None

    def _classify_link(self, up: bool, ctx: _Ctx) -> VhidInput | None:
        changed = up != self._link_up
        self._link_up = up
        ctx.reason = "link_up" if up else "link_down"
        if not changed:
            return None
        if up:
            if not self._enabled:
                return None
            return self._faulted_input(ctx) if self._faults else VhidInput.LINK_UP
        return VhidInput.LINK_DOWN

    def _classify_demotion(self, ev: SetDemotion, ctx: _Ctx) -> VhidInput | None:
        before = self.effective_advskew
        if ev.amount > 0:
            self._demotions[ev.source] = ev.amount
        else:
            self._demotions.pop(ev.source, None)
        ctx.reason = f"demotion_{ev.source}"
        return VhidInput.DEMOTION_CHANGED if self.effective_advskew != before else None

    def _classify_hold_down(self, active: bool, ctx: _Ctx) -> VhidInput | None:
        self._hold_down = active
        return self._classify_demotion(
            SetDemotion(name=self.params.name, source=HOLD_DOWN,
                        amount=election.HOLD_DOWN_SKEW if active else 0), ctx)

    def _classify_fault(self, ev: SetFault, ctx: _Ctx) -> VhidInput | None:
        """Only the first fault and the end of the last one are inputs; INIT just keeps
        the set (Start or link-up will find it)."""
        before = bool(self._faults)
        if ev.failing:
            self._faults.add(ev.source)
        else:
            self._faults.discard(ev.source)
        if self.state is VhidState.INIT or before == bool(self._faults):
            return None
        if self._faults:
            return self._faulted_input(ctx)
        ctx.reason = "fault_cleared"
        return VhidInput.FAULT_CLEARED

    def _faulted_input(self, ctx: _Ctx) -> VhidInput:
        ctx.reason = f"fault_{min(self._faults)}"
        return VhidInput.FAULTED

    # -- effects (each returns the actions, in contract order) -----------------------------

    def _ignore(self, now: float, ctx: _Ctx) -> list[Action]:
        return []

    def _enter_backup(self, now: float, ctx: _Ctx) -> list[Action]:
        """INIT (or FAULT) -> BACKUP: wait one master-down interval. The first time
        (start-up), also make sure nothing is held (ucarp runs the downscript then); later
        entries come from INIT or FAULT, which every path reaches having released already, so
        no script runs twice."""
        self._master = None
        self.advert_due_at = None
        self._restart_master_down(now)
        return self._release_once()

    def _enter_fault(self, now: float, ctx: _Ctx) -> list[Action]:
        """INIT/BACKUP -> FAULT: no timers; release if this is the first entry (start-up)."""
        self._stop_timers()
        return self._release_once()

    def _note_master(self, now: float, ctx: _Ctx) -> list[Action]:
        """FAULT hears an advert: remember who is master (for status), nothing else."""
        self._master = None if ctx.reason == "peer_bowed_out" else ctx.peer
        return []

    def _follow_master(self, now: float, ctx: _Ctx) -> list[Action]:
        self._master = ctx.peer
        self._restart_master_down(now)
        return []

    def _become_master(self, now: float, ctx: _Ctx) -> list[Action]:
        p = self.params
        self._master = self._source
        self.master_down_at = None
        actions: list[Action] = [
            AddAddresses(name=p.name, interface=p.interface, addresses=p.addresses,
                         label=p.label),
            self._announce(p.garp_count),
            self._advert(now),
        ]
        if p.master_units:
            actions.append(StartUnits(name=p.name, units=p.master_units))
        return actions + self._scripts("up", p.upscript)

    def _advertise(self, now: float, ctx: _Ctx) -> list[Action]:
        return [self._advert(now)]

    def _advertise_on_schedule(self, now: float, ctx: _Ctx) -> list[Action]:
        """The periodic advert. The next one is due one interval after this one was *due*,
        not after the timer fired, so a loop that wakes a little late does not drift the
        schedule; a timer later than a whole interval restarts the schedule from `now`."""
        due = self.advert_due_at
        advert = self._advert(now)
        if due is not None and self.advert_due_at is not None:
            anchored = due + (self.advert_due_at - now)
            if anchored > now:
                self.advert_due_at = anchored
        return [advert]

    def _reassert(self, now: float, ctx: _Ctx) -> list[Action]:
        """A slower master is on the wire: re-announce our VIPs and tell it at once."""
        return [self._announce(1), self._advert(now)]

    def _step_down(self, now: float, ctx: _Ctx) -> list[Action]:
        """A preferred master: one last advert so it knows, then release and follow it."""
        last = self._advert(now)
        self.advert_due_at = None
        self._master = ctx.peer
        self._restart_master_down(now)
        return [last, *self._release_actions()]

    def _go_init(self, now: float, ctx: _Ctx) -> list[Action]:
        was_master = self.state is VhidState.MASTER
        self._stop_timers()
        return self._release_actions() if was_master else []

    def _bow_out(self, now: float, ctx: _Ctx) -> list[Action]:
        """Shutdown (or FAULT) as MASTER: release the addresses, then one advert with
        advbase = advskew = 255 so the peer takes over at once. Break before make: the peer
        is told only after our VIP is gone, so the two never answer at the same time."""
        last = self._advert(now, bow_out=True)
        self._stop_timers()
        remove, *rest = self._release_actions()
        return [remove, last, *rest]

    def _count_send(self, now: float, ctx: _Ctx) -> list[Action]:
        return self._send_bookkeeping(ok=True)

    def _count_send_failure(self, now: float, ctx: _Ctx) -> list[Action]:
        self._n.send_errors += 1
        return self._send_bookkeeping(ok=False)

    def _count_address_failure(self, now: float, ctx: _Ctx) -> list[Action]:
        self._n.address_errors += 1
        return []

    def _retune_master(self, now: float, ctx: _Ctx) -> list[Action]:
        old, p = ctx.previous, self.params
        assert old is not None
        actions: list[Action] = []
        if (old.advbase, ctx.previous_skew) != (p.advbase, self.effective_advskew):
            actions.append(self._advert(now))
        if gone := tuple(u for u in old.master_units if u not in p.master_units):
            actions.append(StopUnits(name=p.name, units=gone))
        if new := tuple(u for u in p.master_units if u not in old.master_units):
            actions.append(StartUnits(name=p.name, units=new))
        return actions

    def _retune_backup(self, now: float, ctx: _Ctx) -> list[Action]:
        old, p = ctx.previous, self.params
        assert old is not None
        if election.master_down_interval(old.advbase, old.deadratio, ctx.previous_skew) != \
                election.master_down_interval(p.advbase, p.deadratio, self.effective_advskew):
            self._restart_master_down(now)
        return self._retune_idle(now, ctx)

    def _retune_idle(self, now: float, ctx: _Ctx) -> list[Action]:
        old, p = ctx.previous, self.params
        assert old is not None
        new = tuple(u for u in p.master_units if u not in old.master_units)
        return [StopUnits(name=p.name, units=new)] if new and self._released_once else []

    # -- helpers ----------------------------------------------------------------------------

    def _change_state(self, new: VhidState, now: float, ctx: _Ctx) -> StateChanged:
        old, self.state = self.state, new
        self._since_at, self._reason = now, ctx.reason
        self._n.transitions += 1
        p = self.params
        return StateChanged(name=p.name, vhid=p.vhid, interface=p.interface, old=old, new=new,
                            reason=ctx.reason, peer=ctx.peer)

    def _restart_master_down(self, now: float) -> None:
        p = self.params
        self.master_down_at = now + election.master_down_interval(
            p.advbase, p.deadratio, self.effective_advskew
        )

    def _forget_checks(self, old: VipParams, new: VipParams) -> bool:
        """Drop the demotions and faults of checks `new` no longer has; True if that
        cleared the last fault."""
        gone = {c.source for c in old.checks} - {c.source for c in new.checks}
        for source in gone:
            self._demotions.pop(source, None)
        faulted = bool(self._faults)
        self._faults -= gone
        return faulted and not self._faults

    def _release_once(self) -> list[Action]:
        if self._released_once:
            return []
        self._released_once = True
        return self._release_actions()

    def _stop_timers(self) -> None:
        self.advert_due_at = self.master_down_at = None
        self._master = None

    def _advert(self, now: float, *, bow_out: bool = False) -> SendAdvert:
        p = self.params
        base, skew = (wire.BOW_OUT, wire.BOW_OUT) if bow_out else (p.advbase,
                                                                    self.effective_advskew)
        self._counter = (self._counter + 1) & 0xFFFF_FFFF_FFFF_FFFF
        digest = auth.compute_digest(p.password.reveal(), p.vhid, p.hosts, self._counter)
        payload = wire.encode_carp_header(wire.CarpHeader(
            vhid=p.vhid, advskew=skew, advbase=base, counter=self._counter, digest=digest))
        self._n.adverts_sent += 1
        if not bow_out:
            self.advert_due_at = now + election.advert_interval(base, skew)
        return SendAdvert(name=p.name, interface=p.interface, source=self._source,
                          destination=p.multicast_group, payload=payload,
                          l2_broadcast=p.l2_broadcast, bow_out=bow_out)

    def _announce(self, count: int) -> Announce:
        p = self.params
        return Announce(name=p.name, interface=p.interface, addresses=p.hosts, count=count,
                        interval=p.garp_interval)

    def _release_actions(self) -> list[Action]:
        p = self.params
        actions: list[Action] = [
            RemoveAddresses(name=p.name, interface=p.interface, addresses=p.addresses)
        ]
        if p.master_units:
            actions.append(StopUnits(name=p.name, units=p.master_units))
        return actions + self._scripts("down", p.downscript)

    def _scripts(self, kind: str, path: str | None) -> list[Action]:
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


_I, _B, _M, _F = VhidState.INIT, VhidState.BACKUP, VhidState.MASTER, VhidState.FAULT
V = VhidInput
M = VhidMachine

# THE transition table: (state, input) -> (effect, next state). Total over both enums.
TRANSITIONS: dict[tuple[VhidState, VhidInput], tuple[Effect, VhidState]] = {
    (_I, V.START): (M._enter_backup, _B),
    (_I, V.LINK_UP): (M._enter_backup, _B),
    (_I, V.LINK_DOWN): (M._ignore, _I),
    (_I, V.ADVERT_DUE): (M._ignore, _I),
    (_I, V.MASTER_DOWN_DUE): (M._ignore, _I),
    (_I, V.PEER_PREFERRED): (M._ignore, _I),
    (_I, V.PEER_NOT_PREFERRED): (M._ignore, _I),
    (_I, V.PEER_TAKEOVER): (M._ignore, _I),
    (_I, V.DEMOTION_CHANGED): (M._ignore, _I),
    (_I, V.SEND_FAILED): (M._count_send_failure, _I),
    (_I, V.SEND_OK): (M._count_send, _I),
    (_I, V.ADDRESS_FAILED): (M._count_address_failure, _I),
    (_I, V.SHUTDOWN): (M._ignore, _I),
    (_I, V.FAULTED): (M._enter_fault, _F),  # Start/link-up while a fault is set
    (_I, V.FAULT_CLEARED): (M._ignore, _I),  # not classified in INIT (bookkeeping only)
    (_I, V.RETUNED): (M._retune_idle, _I),

    (_B, V.START): (M._ignore, _B),
    (_B, V.LINK_UP): (M._ignore, _B),
    (_B, V.LINK_DOWN): (M._go_init, _I),
    (_B, V.ADVERT_DUE): (M._ignore, _B),
    (_B, V.MASTER_DOWN_DUE): (M._become_master, _M),
    (_B, V.PEER_PREFERRED): (M._follow_master, _B),
    (_B, V.PEER_NOT_PREFERRED): (M._follow_master, _B),
    (_B, V.PEER_TAKEOVER): (M._become_master, _M),
    (_B, V.DEMOTION_CHANGED): (M._ignore, _B),
    (_B, V.SEND_FAILED): (M._count_send_failure, _B),
    (_B, V.SEND_OK): (M._count_send, _B),
    (_B, V.ADDRESS_FAILED): (M._count_address_failure, _B),
    (_B, V.SHUTDOWN): (M._go_init, _I),
    (_B, V.FAULTED): (M._enter_fault, _F),
    (_B, V.FAULT_CLEARED): (M._ignore, _B),  # cannot happen: BACKUP has no fault
    (_B, V.RETUNED): (M._retune_backup, _B),

    (_M, V.START): (M._ignore, _M),
    (_M, V.LINK_UP): (M._ignore, _M),
    (_M, V.LINK_DOWN): (M._go_init, _I),
    (_M, V.ADVERT_DUE): (M._advertise_on_schedule, _M),
    (_M, V.MASTER_DOWN_DUE): (M._ignore, _M),
    (_M, V.PEER_PREFERRED): (M._step_down, _B),
    (_M, V.PEER_NOT_PREFERRED): (M._reassert, _M),
    (_M, V.PEER_TAKEOVER): (M._ignore, _M),
    (_M, V.DEMOTION_CHANGED): (M._advertise, _M),
    (_M, V.SEND_FAILED): (M._count_send_failure, _M),
    (_M, V.SEND_OK): (M._count_send, _M),
    (_M, V.ADDRESS_FAILED): (M._count_address_failure, _M),
    (_M, V.SHUTDOWN): (M._bow_out, _I),
    (_M, V.FAULTED): (M._bow_out, _F),  # the shutdown bow-out: the peer takes over at once
    (_M, V.FAULT_CLEARED): (M._ignore, _M),  # cannot happen: MASTER has no fault
    (_M, V.RETUNED): (M._retune_master, _M),

    (_F, V.START): (M._ignore, _F),
    (_F, V.LINK_UP): (M._ignore, _F),
    (_F, V.LINK_DOWN): (M._go_init, _I),
    (_F, V.ADVERT_DUE): (M._ignore, _F),  # FAULT has no timers
    (_F, V.MASTER_DOWN_DUE): (M._ignore, _F),
    (_F, V.PEER_PREFERRED): (M._note_master, _F),
    (_F, V.PEER_NOT_PREFERRED): (M._note_master, _F),
    (_F, V.PEER_TAKEOVER): (M._note_master, _F),  # a master we would beat, or its bow-out
    (_F, V.DEMOTION_CHANGED): (M._ignore, _F),
    (_F, V.SEND_FAILED): (M._count_send_failure, _F),
    (_F, V.SEND_OK): (M._count_send, _F),
    (_F, V.ADDRESS_FAILED): (M._count_address_failure, _F),
    (_F, V.SHUTDOWN): (M._go_init, _I),
    (_F, V.FAULTED): (M._ignore, _F),
    (_F, V.FAULT_CLEARED): (M._enter_backup, _B),
    (_F, V.RETUNED): (M._retune_idle, _F),  # no timers; a cleared last fault follows
}
