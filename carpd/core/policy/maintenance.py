"""Maintenance mode: the node-wide demotion "maintenance" (254) on every VIP.

Owns: `Maintenance`, on or off and since when (a monotonic instant). Turning it on sets the
demotion on every VIP (`SetDemotion(name=None)`), turning it off clears it; a VIP the node
adds while it is on (a reload) carries it from the start (`demotion_for`). Each real change
reports `MaintenanceChanged`; setting the mode it already has changes nothing.
Invariants: `since_at` is None exactly when it is off.
Must not: read the clock or persist anything (carpd.ops keeps the flag file; a restored flag
arrives with the instant it was turned on, converted by the driver).
"""

from __future__ import annotations

from dataclasses import dataclass

from carpd.core.actions import Action, MaintenanceChanged
from carpd.core.events import SetDemotion
from carpd.core.policy.demotions import MAX_DEMOTION

MAINTENANCE = "maintenance"  # the demotion name
Outcome = tuple[list[SetDemotion], list[Action]]


@dataclass(frozen=True, slots=True, kw_only=True)
class MaintenanceStatistics:
    on: bool = False
    since_at: float | None = None


class Maintenance:
    """See the module docstring."""

    def __init__(self) -> None:
        self._since_at: float | None = None

    @property
    def on(self) -> bool:
        return self._since_at is not None

    def set(self, on: bool, since_at: float | None, now: float) -> Outcome:
        """On (since `since_at`, default now) or off."""
        if on == self.on:
            return [], []
        self._since_at = (now if since_at is None else since_at) if on else None
        amount = MAX_DEMOTION if on else 0
        return ([SetDemotion(name=None, source=MAINTENANCE, amount=amount)],
                [MaintenanceChanged(on=on)])

    def demotion_for(self, name: str) -> list[SetDemotion]:
        """What a machine created for `name` while maintenance is on must carry."""
        return [SetDemotion(name=name, source=MAINTENANCE, amount=MAX_DEMOTION)] if self.on else []

    def statistics(self) -> MaintenanceStatistics:
        return MaintenanceStatistics(on=self.on, since_at=self._since_at)
