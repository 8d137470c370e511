"""Time as the core sees it: monotonic instants and durations passed in by the driver.

Owns: the `Instant` and `Duration` aliases every core signature uses, and the one place that
says what unit they are in. Today both are seconds as floats: CARP's intervals (advbase +
advskew/256) are dyadic, so the simulator's sums of them are exact; a protocol with decimal
intervals keeps them as integers inside its profile and converts only when it schedules.
Must not: read a clock (the driver stamps every event with its loop's monotonic time).
"""

from __future__ import annotations

Instant = float  # monotonic seconds, origin chosen by the driver
Duration = float  # seconds
