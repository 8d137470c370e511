"""What one VHID does on each transition: its state, and the effects the table names.

Owns: `VhidEffects`, the state of one VHID (state, timers, master seen, demotions, faults,
link, send suppression, counters) and the effect methods `TRANSITIONS` (core/table.py) points
at. Each effect returns its actions in contract order: becoming MASTER is AddAddresses,
Announce, SendAdvert, StartUnits, RunScript(up); a release is RemoveAddresses, StopUnits,
RunScript(down); the bow-out sends its advert after the RemoveAddresses (break before make).
Invariants: deadlines are plain instants or None; an advert always reschedules the next one
from its own instant; the VIP is released at most once before it was ever held (start-up).
Protocol words (intervals, advert bytes, ranks) come from the VIP's ElectionProfile.
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
from carpd.core.addresses import Address
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


class VhidEffects:
    """State and effects of one VHID; VhidMachine (machine.py) adds classification."""

    def __init__(self, params: VipParams, profile: ElectionProfile, since_at: Instant) -> None:
        if params.source is None:
            raise ValueError(f"vip {params.name}: source address must be resolved before use")
        self.params = params
        self.profile = profile
        self._source: Address = params.source
        self.state = VhidState.INIT
        self._since_at = since_at
        self._reason: Reason = Reason.CONFIGURED
        self._cause: str | None = None
        self._master: Address | None = None
        self._enabled = False
        self._released_once = False
        self._link_up = True
        self._suppressed = False
        self._demotions: dict[str, int] = {}
        self._faults: set[str] = set()
        self._hold_down = False
        self.advert_due_at: Instant | None = None
        self.master_down_at: Instant | None = None
        self._n = Counters()

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
        self._restart_master_down(now)
        return self._release_once()

    def _enter_fault(self, now: Instant, ctx: Ctx) -> list[Action]:
        """INIT/BACKUP -> FAULT: no timers; release if this is the first entry (start-up)."""
        self._stop_timers()
        return self._release_once()

    def _note_master(self, now: Instant, ctx: Ctx) -> list[Action]:
        """FAULT hears an advert: remember who is master (for status), nothing else."""
        self._master = None if ctx.reason is Reason.PEER_BOWED_OUT else ctx.peer
        return []

    def _follow_master(self, now: Instant, ctx: Ctx) -> list[Action]:
        self._master = ctx.peer
        self._restart_master_down(now)
        return []

    def _become_master(self, now: Instant, ctx: Ctx) -> list[Action]:
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
        return actions + self._scripts(ScriptKind.UP, p.upscript)

    def _advertise(self, now: Instant, ctx: Ctx) -> list[Action]:
        return [self._advert(now)]

    def _advertise_on_schedule(self, now: Instant, ctx: Ctx) -> list[Action]:
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

    def _reassert(self, now: Instant, ctx: Ctx) -> list[Action]:
        """A slower master is on the wire: re-announce our VIPs and tell it at once."""
        return [self._announce(1), self._advert(now)]

    def _step_down(self, now: Instant, ctx: Ctx) -> list[Action]:
        """A preferred master: one last advert so it knows, then release and follow it."""
        last = self._advert(now)
        self.advert_due_at = None
        self._master = ctx.peer
        self._restart_master_down(now)
        return [last, *self._release_actions()]

    def _go_init(self, now: Instant, ctx: Ctx) -> list[Action]:
        was_master = self.state is VhidState.MASTER
        self._stop_timers()
        return self._release_actions() if was_master else []

    def _bow_out(self, now: Instant, ctx: Ctx) -> list[Action]:
        """Shutdown (or FAULT) as MASTER: release the addresses, then the profile's bow-out
        advert (CARP: advbase = advskew = 255) so the peer takes over at once. Break before
        make: the peer is told only after our VIP is gone, so the two never answer at once."""
        last = self._advert(now, bow_out=True)
        self._stop_timers()
        remove, *rest = self._release_actions()
        return [remove, last, *rest]

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
        if ctx.previous_advertised != self.profile.advertised(self.standing):
            actions.append(self._advert(now))
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
        self._since_at, self._reason, self._cause = now, ctx.reason, ctx.cause
        self._n.transitions += 1
        p = self.params
        return StateChanged(name=p.name, vhid=p.vhid, interface=p.interface, old=old, new=new,
                            reason=ctx.reason, cause=ctx.cause, peer=ctx.peer)

    def _restart_master_down(self, now: Instant) -> None:
        self.master_down_at = now + self.profile.master_down_interval(self.standing)

    def _release_once(self) -> list[Action]:
        if self._released_once:
            return []
        self._released_once = True
        return self._release_actions()

    def _stop_timers(self) -> None:
        self.advert_due_at = self.master_down_at = None
        self._master = None

    def _advert(self, now: Instant, *, bow_out: bool = False) -> SendAdvert:
        p, standing = self.params, self.standing
        payload = self.profile.encode(standing, bow_out=bow_out)
        self._n.adverts_sent += 1
        if not bow_out:
            self.advert_due_at = now + self.profile.advert_interval(standing)
        return SendAdvert(name=p.name, interface=p.interface, family=p.family,
                          source=self._source, destinations=(p.multicast_group,),
                          payload=payload, traffic_class=self.profile.traffic_class,
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
