"""`carpctl history`: the recent transitions of this daemon, in a bounded ring.

Owns: `History`, the last HISTORY_SIZE transitions of all VIPs (oldest dropped first), each
a carpd/status/transitions.py `TransitionRecord` made when the StateChanged is observed,
stamped with the driver's clock; `entries(name)` (oldest first, one VIP or all) and `last()`
(each VIP's latest, for status and explain). Memory is bounded whatever the VIPs do.
Must not: read a clock (the driver's `now` and `wall_of` are asked) or block.
"""

from __future__ import annotations

from collections import deque

from carpd.core.actions import StateChanged
from carpd.ops.host import Driver
from carpd.status.document import iso_time
from carpd.status.transitions import TransitionRecord, record_of

HISTORY_SIZE = 200


class History:
    def __init__(self, driver: Driver, size: int = HISTORY_SIZE) -> None:
        self._driver = driver
        self._ring: deque[TransitionRecord] = deque(maxlen=size)
        self._last: dict[str, TransitionRecord] = {}

    def record(self, a: StateChanged) -> TransitionRecord:
        d = self._driver
        r = record_of(a, d.now(), lambda at: iso_time(d.wall_of(at)))
        self._ring.append(r)
        self._last[r.vip] = r
        return r

    def forget(self, name: str) -> None:
        """A removed VIP has no last transition any more (its entries stay in the ring)."""
        self._last.pop(name, None)

    def entries(self, name: str | None = None) -> list[TransitionRecord]:
        return [r for r in self._ring if name is None or r.vip == name]

    def last(self) -> dict[str, TransitionRecord]:
        return dict(self._last)
