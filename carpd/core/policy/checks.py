"""Health check state: raw results in, a passing/failing verdict and its effect on a VIP out.

Owns: `CheckTracker`, one per configured check of a VIP. The health adapter (carpd.io.health)
only reports raw results (ok or not, with a detail); this module decides what they mean:
- the first result sets the state at once (there is nothing to debounce against yet);
- afterwards the state flips to failing after `fall` consecutive failures and back to passing
  after `rise` consecutive passes (HAProxy/keepalived vocabulary);
- a failing check with a `weight` is the demotion named "check:NAME" of that amount on its
  VIP (the BSD demotion way: advskew + weight), a failing `fatal` check is the fault of the
  same name (the VIP goes FAULT); the tracker returns those as core events for the node;
- FLAP_CHANGES state changes within FLAP_WINDOW seconds is flapping: one "check_flapping"
  Anomaly when it starts, re-armed once the changes in the window fall below the threshold.
An error result (`ok` None: carpd could not make the check for lack of descriptors, memory
or processes) is counted (`errors`) and reported but changes neither the state nor the
streak: a daemon short of resources must not demote a healthy service.
Every result also yields one `CheckObserved` action (the watch stream, the journal when the
state changes). The verdict enum `CheckState` is defined beside CheckObserved in
core/actions.py (which carries it) and exported from here. Time is the `now` argument; the
tracker never reads a clock.
A reload that redefines a check under the same name retunes its tracker (`retune`): the
verdict and its history stay, so a failing check's demotion never lapses for a reload.
Must not: run checks, read the clock, or know about sockets or processes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from carpd.core.actions import Action, Anomaly, AnomalyKind, CheckObserved, CheckState
from carpd.core.events import SetDemotion, SetFault
from carpd.core.params import CheckParams

__all__ = ["FLAP_CHANGES", "FLAP_WINDOW", "CheckState", "CheckStatistics", "CheckTracker"]

FLAP_CHANGES = 4
FLAP_WINDOW = 60.0

@dataclass(frozen=True, slots=True, kw_only=True)
class CheckStatistics:
    vip: str
    name: str
    type: str
    target: str
    fatal: bool
    weight: int
    state: CheckState
    detail: str
    since_at: float | None
    results: int
    failures: int
    errors: int
    changes: int
    flapping: bool


class CheckTracker:
    """Debounces one check's results. See the module docstring."""

    def __init__(self, vip: str, params: CheckParams) -> None:
        self.vip = vip
        self.params = params
        self.state = CheckState.UNKNOWN
        self._detail = ""
        self._since_at: float | None = None
        self._streak = 0  # consecutive results that disagree with the state
        self._results = 0
        self._failures = 0
        self._errors = 0
        self._changes = 0
        self._change_times: deque[float] = deque()
        self._flapping = False

    @property
    def failing(self) -> bool:
        return self.state is CheckState.FAILING

    def observe(self, ok: bool | None, detail: str, now: float
                ) -> tuple[list[SetDemotion | SetFault], list[Action]]:
        """One raw result: the events for the VIP (only when the state changed) and the
        actions to report (CheckObserved, and an Anomaly when flapping starts)."""
        self._results += 1
        if ok is None:
            self._errors += 1
            self._detail = detail
            return [], [CheckObserved(name=self.vip, check=self.params.name, ok=None,
                                      state=self.state, changed=False, detail=detail)]
        self._failures += 0 if ok else 1
        self._detail = detail
        new = self._next_state(ok)
        changed = new is not self.state
        events: list[SetDemotion | SetFault] = []
        actions: list[Action] = []
        if changed:
            counted = self.state is not CheckState.UNKNOWN
            self.state, self._since_at, self._streak = new, now, 0
            events.append(self.effect())
            if counted:
                self._changes += 1
                actions += self._flap(now)
        actions.insert(0, CheckObserved(name=self.vip, check=self.params.name, ok=ok,
                                        state=self.state, changed=changed, detail=detail))
        return events, actions

    def retune(self, params: CheckParams) -> list[SetDemotion | SetFault]:
        """New settings for the same check: state, counters and flap history stay; rise,
        fall and the rest apply from the next result. Returns what re-applies a failing
        verdict whose effect changed (another weight, or fatal <-> weight): the new effect
        first, then the end of the old kind (so fatal -> weight demotes before leaving
        FAULT, and weight -> fatal bows out before dropping the demotion)."""
        if params.name != self.params.name:
            raise ValueError(f"check {self.params.name} of vip {self.vip}: cannot retune "
                             f"to another check ({params.name})")
        old, self.params = self.params, params
        if not self.failing or (old.fatal, old.weight) == (params.fatal, params.weight):
            return []
        events = [self.effect()]
        if old.fatal != params.fatal:
            events.append(SetFault(name=self.vip, source=old.source, failing=False) if old.fatal
                          else SetDemotion(name=self.vip, source=old.source, amount=0))
        return events

    def effect(self) -> SetDemotion | SetFault:
        """The event that applies the current state to the VIP."""
        p = self.params
        if p.fatal:
            return SetFault(name=self.vip, source=p.source, failing=self.failing)
        return SetDemotion(name=self.vip, source=p.source,
                           amount=p.weight if self.failing else 0)

    def statistics(self) -> CheckStatistics:
        p = self.params
        return CheckStatistics(
            vip=self.vip, name=p.name, type=p.type, target=p.target(), fatal=p.fatal,
            weight=p.weight, state=self.state, detail=self._detail, since_at=self._since_at,
            results=self._results, failures=self._failures, errors=self._errors,
            changes=self._changes, flapping=self._flapping)

    def _next_state(self, ok: bool) -> CheckState:
        wanted = CheckState.PASSING if ok else CheckState.FAILING
        if self.state is CheckState.UNKNOWN or wanted is self.state:
            self._streak = 0
            return wanted if self.state is CheckState.UNKNOWN else self.state
        self._streak += 1
        needed = self.params.rise if ok else self.params.fall
        return wanted if self._streak >= needed else self.state

    def _flap(self, now: float) -> list[Action]:
        times = self._change_times
        times.append(now)
        while times and times[0] <= now - FLAP_WINDOW:
            times.popleft()
        if len(times) < FLAP_CHANGES:
            self._flapping = False
            return []
        if self._flapping:
            return []
        self._flapping = True
        return [Anomaly(kind=AnomalyKind.CHECK_FLAPPING, name=self.vip, peer=None, log=True,
                        detail=f"check {self.params.name} of vip {self.vip} changed state "
                               f"{len(times)} times within {FLAP_WINDOW:g} s; last: "
                               f"{self.state.value} ({self._detail})")]
