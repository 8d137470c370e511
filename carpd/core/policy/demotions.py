"""Operator demotions: `carpctl demote`/`promote`, per VIP, optionally until a deadline.

Owns: `OperatorDemotions`, at most one operator demotion per VIP name: an amount 1..254 (the
named demotion "operator" on that VIP) and an optional `until_at`, a monotonic deadline. The
demotion ends when the node's timer reaches `until_at` (`expire(now)` with now >= until_at,
never before): the tracker reports its earliest deadline through `next_deadline()`, which
the node folds into its own, so the driver's one timer serves it. An expiry yields the
clearing SetDemotion and a `DemotionExpired` action (the driver's side persists and logs).
A demotion is kept by name, whether or not the VIP runs: a reload that removes a VIP and one
that brings it back finds it again (`demotion_for`, applied when the node adds the machine);
a demotion of a VIP gone for good still expires.
Invariants: amounts are 1..MAX_DEMOTION (ValueError otherwise: an operator command that got
past validation with a bad amount is a bug); `next_deadline()` is the minimum `until_at`.
Must not: read the clock or convert wall-clock times (the driver converts a persisted
wall-clock expiry to `until_at` before it gets here), or persist anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from carpd.core.actions import Action, DemotionExpired
from carpd.core.events import SetDemotion
from carpd.core.profile import MAX_DEMOTION

OPERATOR = "operator"  # the demotion name
__all__ = ["MAX_DEMOTION", "OPERATOR", "OperatorDemotions"]
Outcome = tuple[list[SetDemotion], list[Action]]


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorDemotion:
    name: str
    amount: int
    until_at: float | None


class OperatorDemotions:
    """The operator demotions of a node. See the module docstring."""

    def __init__(self) -> None:
        self._by_name: dict[str, OperatorDemotion] = {}
        self._earliest: float | None = None

    def demote(self, name: str, amount: int, until_at: float | None, now: float) -> Outcome:
        """Set (or replace) the demotion of `name`. One whose `until_at` has come already
        (a persisted demotion that ran out while carpd was down) is not applied: it expires
        at once, ending an earlier demotion of the VIP."""
        if isinstance(amount, bool) or not 1 <= amount <= MAX_DEMOTION:
            raise ValueError(f"vip {name}: operator demotion must be 1..{MAX_DEMOTION}, "
                             f"not {amount!r}")
        if until_at is not None and until_at <= now:
            return self.promote(name), [DemotionExpired(name=name)]
        self._by_name[name] = OperatorDemotion(name=name, amount=amount, until_at=until_at)
        self._update_earliest()
        return [SetDemotion(name=name, source=OPERATOR, amount=amount)], []

    def promote(self, name: str) -> list[SetDemotion]:
        """Clear the demotion of `name`; nothing if it has none."""
        if self._by_name.pop(name, None) is None:
            return []
        self._update_earliest()
        return [SetDemotion(name=name, source=OPERATOR, amount=0)]

    def expire(self, now: float) -> Outcome:
        """End every demotion whose `until_at` is <= now, earliest first."""
        if self._earliest is None or self._earliest > now:
            return [], []
        due = sorted((d for d in self._by_name.values()
                      if d.until_at is not None and d.until_at <= now),
                     key=lambda d: (d.until_at, d.name))
        events: list[SetDemotion] = []
        actions: list[Action] = []
        for d in due:
            events += self.promote(d.name)
            actions.append(DemotionExpired(name=d.name))
        return events, actions

    def next_deadline(self) -> float | None:
        return self._earliest

    def demotion_for(self, name: str) -> list[SetDemotion]:
        """What a machine created for `name` (a reload) must carry."""
        d = self._by_name.get(name)
        return [] if d is None else [SetDemotion(name=name, source=OPERATOR, amount=d.amount)]

    def get(self, name: str) -> OperatorDemotion | None:
        return self._by_name.get(name)

    def statistics(self) -> tuple[OperatorDemotion, ...]:
        return tuple(self._by_name[name] for name in sorted(self._by_name))

    def _update_earliest(self) -> None:
        deadlines = [d.until_at for d in self._by_name.values() if d.until_at is not None]
        self._earliest = min(deadlines, default=None)
