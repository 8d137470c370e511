"""One virtual host (VHID): classify each event into one input, then step the table.

Owns: `VhidMachine.handle(event, now) -> list[Action]`, `retune`, `next_deadline()`,
`statistics()`. How it works: an event is first classified into one `VhidInput` by small
classifiers here (link state, faults, demotions, hold-down) and by the VIP's election profile
(what a peer's advert means in BACKUP and in MASTER, with the tie-break); classifiers update
bookkeeping but never the state. Then `TRANSITIONS[(state, input)]` (table.py) gives the
effect (effects.py) and the next state. An event that only updates bookkeeping (a link-up
before start, say) classifies to None and yields no action.
Invariants: deadlines are never in the past when returned (a timer that fires late is served
with `now`); the VIP is held (AddAddresses emitted last) iff the state is MASTER; every state
change emits exactly one StateChanged, first in its action list.
Health: FAULT is the state of a VIP whose fatal check fails (SetFault); from MASTER it is the
bow-out, from INIT/BACKUP it stops the timers. In FAULT the machine has no timer and ignores
adverts except to remember who is master; when the last fault clears it goes BACKUP with a
fresh master-down timer; link loss still means INIT. Demotions are named (source -> amount);
the profile turns their sum into what is advertised (CARP: advskew + sum, at most 254). The
boot hold-down is the demotion "hold_down" (240) plus "do not preempt"; a held-down node
still takes over when no master is heard. A MASTER that hears a worse master which has had
one advert interval of its own to hear us reports a "dual_master" Anomaly.
Resume: `Resume(name, advert_at)` at start is Start, except for a machine in INIT whose last
advert as MASTER (from the driver's resume record) leaves a `resume_window` (the profile's):
RESUME, MASTER at once but silent until its first advert at the end of that window
(RESUME_CONFIRMED); until then any advert of another master (not a bow-out) is
RESUME_CONTESTED, and a demotion changes only what that first advert will say.
Must not: read the clock, draw randomness itself, touch sockets or log.
"""

from __future__ import annotations

from carpd.core.actions import Action, Anomaly, AnomalyKind
from carpd.core.addresses import Family, family_of
from carpd.core.clock import Instant
from carpd.core.effects import Ctx, VhidEffects
from carpd.core.events import (
    AddressOpFailed,
    AdvertReceived,
    LinkChanged,
    MachineEvent,
    Resume,
    SendResult,
    SetDemotion,
    SetFault,
    SetHoldDown,
    Shutdown,
    Start,
    TimerFired,
)
from carpd.core.params import VipParams, untunable_changes
from carpd.core.profile import HOLD_DOWN_DEMOTION
from carpd.core.profiles import make_profile
from carpd.core.states import Reason, VhidInput, VhidState
from carpd.core.stats import VhidStatistics
from carpd.core.table import TRANSITIONS

HOLD_DOWN = "hold_down"  # the demotion name of the boot hold-down
SYNC_GROUP = "sync_group"  # the demotion name the node sets on sync-group members

__all__ = ["TRANSITIONS", "VhidMachine"]


class VhidMachine(VhidEffects):
    """The state machine of one VHID. See the module docstring."""

    def __init__(self, params: VipParams, *, initial_counter: int,
                 since_at: Instant = 0.0) -> None:
        super().__init__(params, make_profile(params, initial_counter=initial_counter),
                         since_at)

    # -- public API ---------------------------------------------------------------------

    def handle(self, event: MachineEvent, now: Instant) -> list[Action]:
        ctx = Ctx()
        inp = self._classify(event, now, ctx)
        return [] if inp is None else self._step(inp, now, ctx)

    def retune(self, params: VipParams, now: Instant) -> list[Action]:
        """Take new tunable settings in place (a reload); ValueError if anything else
        differs (the driver re-creates such a VIP). Demotions and faults of checks the new
        settings no longer have are dropped, then RETUNED goes through the table:
        - MASTER: a changed advertised rank is advertised at once and rescheduled from `now`,
          as a demotion change is (a backup that must now preempt us hears it at once);
          master units follow: removed ones stop, new ones start.
        - BACKUP: a changed master-down interval restarts the timer from `now`. Never earlier
          than the protocol allows: the master was last heard at or before `now`, so a
          backup whose rank fell cannot race a better one; a master that died just before
          the reload is taken over later by at most the time since it was last heard.
        - BACKUP, INIT, FAULT: added master units are stopped once the VIP was released.
        Scripts and GARP settings apply from the next transition. A FAULT whose last fault
        belonged to a removed check then gets FAULT_CLEARED."""
        untunable = untunable_changes(self.params, params)
        if untunable:
            raise ValueError(f"vip {self.params.name}: {', '.join(untunable)} cannot change "
                             "in place: re-create the VIP")
        old, standing = self.params, self.standing
        ctx = Ctx(reason=Reason.RETUNED, previous=old,
                  previous_advertised=self.profile.advertised(standing),
                  previous_master_down=self.profile.master_down_interval(standing))
        self.params = params
        self.profile.retune(params)
        fault_cleared = self._forget_checks(old, params)
        actions = self._step(VhidInput.RETUNED, now, ctx)
        if fault_cleared and self.state is VhidState.FAULT:
            actions += self._step(VhidInput.FAULT_CLEARED, now,
                                  Ctx(reason=Reason.FAULT_CLEARED))
        return actions

    def next_deadline(self) -> Instant | None:
        due = [t for t in (self.advert_due_at, self.master_down_at) if t is not None]
        return min(due) if due else None

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
        p, n, standing = self.params, self._n, self.standing
        return VhidStatistics(
            name=p.name, vhid=p.vhid, interface=p.interface, state=self.state,
            since_at=self._since_at, reason=self._reason, cause=self._cause,
            master=self._master, source=self._source, preempt=p.preempt,
            election=self.profile.statistics(standing,
                                             master_is_self=self._master is not None
                                             and self._master in self._sources.values()),
            demotions=tuple(sorted(self._demotions.items())),
            send_suppressed=self._suppressed,
            adverts_sent=n.adverts_sent, adverts_received=n.adverts_received,
            send_errors=n.send_errors, address_errors=n.address_errors,
            transitions=n.transitions, faults=tuple(sorted(self._faults)),
            hold_down=self._hold_down, own_demotion=self.own_demotion,
        )

    # -- stepping -------------------------------------------------------------------------

    def _step(self, inp: VhidInput, now: Instant, ctx: Ctx) -> list[Action]:
        effect, next_state = TRANSITIONS[(self.state, inp)]
        ctx.master_before, ctx.master_heard_at = self._master, self._master_heard_at
        actions = effect(self, now, ctx)
        if next_state is not self.state:
            actions.insert(0, self._change_state(next_state, now, ctx))
        if ctx.anomaly is not None:
            actions.append(ctx.anomaly)
        return actions

    # -- classification -----------------------------------------------------------------

    def _classify(self, event: MachineEvent, now: Instant, ctx: Ctx) -> VhidInput | None:
        match event:
            case AdvertReceived():
                return self._classify_advert(event, now, ctx)
            case TimerFired():
                return self._classify_timer(now, ctx)
            case Start():
                return self._classify_start(ctx)
            case Resume(advert_at=advert_at):
                return self._classify_resume(advert_at, now, ctx)
            case Shutdown():
                self._enabled = False
                ctx.reason = Reason.SHUTDOWN
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

    def _classify_start(self, ctx: Ctx) -> VhidInput | None:
        self._enabled = True
        ctx.reason = Reason.START
        if not self._link_up:
            return None
        return self._faulted_input(ctx) if self._faults else self._start_input(ctx)

    def _start_input(self, ctx: Ctx) -> VhidInput:
        """START, or START_AS_OWNER for a VRRP address owner (priority 255): MASTER at once."""
        if self.profile.starts_as_master(self.standing):
            ctx.reason = Reason.ADDRESS_OWNER
            return VhidInput.START_AS_OWNER
        return VhidInput.START

    def _classify_resume(self, advert_at: Instant, now: Instant, ctx: Ctx) -> VhidInput | None:
        """Start, unless this INIT machine may resume: link up, no fault, and a resume window
        left (the profile's: our last advert as MASTER recent enough that no peer has timed
        us out, nor will before our first advert; see effects.py `_resume`)."""
        inp = self._classify_start(ctx)
        if inp is not VhidInput.START or self.state is not VhidState.INIT or advert_at > now:
            return inp
        window = self.profile.resume_window(self.standing, now - advert_at)
        if window is None:
            return inp
        ctx.reason, ctx.resume_window = Reason.RESUMED, window
        return VhidInput.RESUME

    def _classify_advert(self, event: AdvertReceived, now: Instant,
                         ctx: Ctx) -> VhidInput | None:
        ad, profile, standing = event.advert, self.profile, self.standing
        self._n.adverts_received += 1
        profile.heard(ad)
        ctx.peer, ctx.advert = ad.source, ad
        if self.state is VhidState.MASTER:
            own = self._sources.get(family_of(ad.source), self._source)
            inp, ctx.reason = profile.classify_in_master(ad, standing, own)
            if self._resuming:  # a bow-out is a peer leaving: nothing to yield to, or say
                ctx.reason = Reason.MASTER_HEARD_WHILE_RESUMING
                return None if profile.bowed_out(ad) else VhidInput.RESUME_CONTESTED
            if inp is VhidInput.PEER_NOT_PREFERRED:
                self._check_dual_master(now, ctx)
            return inp
        preempt = self.params.preempt and not self._hold_down and now >= self._preempt_at
        inp, ctx.reason = profile.classify_in_backup(ad, standing, preempt=preempt)
        return inp

    def _check_dual_master(self, now: Instant, ctx: Ctx) -> None:
        """A worse master that had one advert interval of its own since our takeover to
        hear us and yield is a dual master; earlier, it is a farewell or a crossed advert."""
        ad = ctx.advert
        assert ad is not None
        if now - self._since_at < self.profile.yield_interval(ad):
            return
        p, profile = self.params, self.profile
        ctx.anomaly = Anomaly(
            kind=AnomalyKind.DUAL_MASTER, name=p.name, peer=ad.source, log=True,
            rank=profile.describe_peer(ad),
            detail=f"vhid {p.vhid} on {p.interface}: {ad.source} advertises as master "
                   f"({profile.describe_peer(ad)}) while we are MASTER with "
                   f"{profile.describe_own(self.standing)}; re-announcing our VIPs")

    def _classify_timer(self, now: Instant, ctx: Ctx) -> VhidInput | None:
        family = self.expired_family(now)
        if family is not None:
            ctx.reason = (Reason.MASTER_DOWN_TIMER_INET6 if family is Family.IPV6
                          else Reason.MASTER_DOWN_TIMER)
            return VhidInput.MASTER_DOWN_DUE
        if self.advert_due_at is not None and now >= self.advert_due_at:
            return VhidInput.RESUME_CONFIRMED if self._resuming else VhidInput.ADVERT_DUE
        return None

    def _classify_link(self, up: bool, ctx: Ctx) -> VhidInput | None:
        changed = up != self._link_up
        self._link_up = up
        ctx.reason = Reason.LINK_UP if up else Reason.LINK_DOWN
        if not changed:
            return None
        if up:
            if not self._enabled:
                return None
            if self._faults:
                return self._faulted_input(ctx)
            return VhidInput.LINK_UP if self._start_input(ctx) is VhidInput.START \
                else VhidInput.START_AS_OWNER
        return VhidInput.LINK_DOWN

    def _classify_demotion(self, ev: SetDemotion, ctx: Ctx) -> VhidInput | None:
        before = self.profile.advertised(self.standing)
        if ev.amount > 0:
            self._demotions[ev.source] = ev.amount
        else:
            self._demotions.pop(ev.source, None)
        ctx.reason, ctx.cause = Reason.DEMOTION, ev.source
        changed = self.profile.advertised(self.standing) != before
        # resuming: the first advert carries the new rank (the window stays silent)
        return VhidInput.DEMOTION_CHANGED if changed and not self._resuming else None

    def _classify_hold_down(self, active: bool, ctx: Ctx) -> VhidInput | None:
        self._hold_down = active
        return self._classify_demotion(
            SetDemotion(name=self.params.name, source=HOLD_DOWN,
                        amount=HOLD_DOWN_DEMOTION if active else 0), ctx)

    def _classify_fault(self, ev: SetFault, ctx: Ctx) -> VhidInput | None:
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
        ctx.reason = Reason.FAULT_CLEARED
        return VhidInput.FAULT_CLEARED

    def _faulted_input(self, ctx: Ctx) -> VhidInput:
        ctx.reason, ctx.cause = Reason.FAULT, min(self._faults)
        return VhidInput.FAULTED

    def _forget_checks(self, old: VipParams, new: VipParams) -> bool:
        """Drop the demotions and faults of checks `new` no longer has; True if that
        cleared the last fault."""
        gone = {c.source for c in old.checks} - {c.source for c in new.checks}
        for source in gone:
            self._demotions.pop(source, None)
        faulted = bool(self._faults)
        self._faults -= gone
        return faulted and not self._faults
