"""What carpd.ops needs from the driver, as a Protocol, so ops never imports the driver.

Owns: `Driver`, the whole interface between the operator side and the running daemon:
post an event to the core, read the core's snapshot or the status document built from it,
and the driver's clock (the only code that reads clocks): `now()` and the conversions between
its monotonic instants and wall-clock seconds. carpd.app hands the Daemon over as a `Driver`
(it conforms structurally); tests may hand over anything that does.
Must not: grow members that let ops drive sockets, timers or the machines directly.
"""

from __future__ import annotations

from typing import Protocol

from carpd.core.events import Event
from carpd.core.node import NodeStatistics
from carpd.status.document import StatusDocument


class Driver(Protocol):
    def post(self, event: Event) -> None:
        """Hand an event to the core; its actions run before this returns (unless the
        driver is handling another event, then right after that one)."""

    def statistics(self) -> NodeStatistics | None:
        """The core's snapshot; None before the VIPs run."""

    def status(self) -> StatusDocument:
        """The status document of this node, now."""

    def now(self) -> float:
        """The monotonic clock the core's instants (`*_at`) are in."""

    def wall_of(self, at: float) -> float:
        """The monotonic instant `at` in wall-clock seconds (for people and flag files)."""

    def monotonic_of(self, wall: float) -> float:
        """Wall-clock seconds (from a flag file) as a monotonic instant."""
