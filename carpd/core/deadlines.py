"""The earliest deadline among many VHID machines, kept cheaply.

Owns: `DeadlineQueue`, a heap with lazy deletion keyed by machine name. With 255 VHIDs a
backup receives 255 adverts a second; recomputing the minimum over every machine after each
one was most of its CPU. Here a change costs O(log n) and a lookup amortised O(1).
Invariants: `earliest()` equals min(current deadlines); entries whose deadline no longer
matches the machine's current one are stale and skipped; equal deadlines come out in the
order the machines were tracked (the configuration order), so runs are reproducible.
Must not: know about machines: it stores names and floats only.
"""

from __future__ import annotations

import heapq


class DeadlineQueue:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str]] = []
        self._current: dict[str, float | None] = {}
        self._order: dict[str, int] = {}
        self._next_order = 0

    def track(self, name: str, deadline: float | None) -> None:
        self._order[name] = self._next_order
        self._next_order += 1
        self._current[name] = None
        self.update(name, deadline)

    def forget(self, name: str) -> None:
        del self._current[name]
        del self._order[name]

    def update(self, name: str, deadline: float | None) -> None:
        if self._current[name] == deadline:
            return
        self._current[name] = deadline
        if deadline is not None:
            heapq.heappush(self._heap, (deadline, self._order[name], name))
            if len(self._heap) > 2 * len(self._current) + 64:
                self._compact()

    def earliest(self) -> float | None:
        heap = self._heap
        while heap:
            deadline, _, name = heap[0]
            if self._current.get(name) == deadline:
                return deadline
            heapq.heappop(heap)
        return None

    def pop_due(self, now: float) -> list[str]:
        """Names whose deadline is <= now, earliest first; they count as having no deadline
        until `update` tells their new one."""
        due: list[str] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, _, name = heapq.heappop(heap)
            if self._current.get(name) == deadline:
                self._current[name] = None
                due.append(name)
        return due

    def _compact(self) -> None:
        self._heap = [(d, self._order[n], n) for n, d in self._current.items() if d is not None]
        heapq.heapify(self._heap)
