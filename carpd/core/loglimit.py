"""How often the node may log one kind of thing, and the summary of what it held back.

Owns: `LogLimit`, the node's log limiter for drops and anomalies. The node's counters count
every event; this only decides which ones also become a log line (`allow`). Two limits apply:
- Per key (a drop's (interface, reason), an anomaly's (kind, VIP, peer)): at most one line per
  `interval` seconds. The table of keys is bounded: an entry whose interval has passed is
  pruned (it would allow again anyway), and a full table (`max_keys`) evicts its oldest entry.
  Entries are kept in the order they last logged, so both happen at the front of the table.
  A repeat of a key within its interval is counted by the node only, as it always was.
- Per kind (a DropReason or an AnomalyKind, across all keys, VIPs and senders): at most
  `per_kind` lines per window. A window opens with the kind's first line and lasts `interval`
  seconds. What this limit holds back is tallied: how many events and how many distinct
  sources (tracked up to `max_sources`; beyond that the count is a lower bound). When a
  window with a tally ends, `due(now)` returns one `LogsSuppressed` summary for it (in the
  order the windows opened); `next_deadline()` is the earliest such end, so the driver wakes
  for it even when the flood has stopped.
Invariants: whatever the number of senders, a kind logs at most `per_kind` lines plus one
summary per window; memory is at most `max_keys` entries plus `max_sources` per kind with a
tally; the tallies are exact (bar the source cap), the summary says so otherwise.
Must not: read the clock (time is the `now` argument), or decide what is loud (the node does).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from carpd.core.actions import AnomalyKind, LogsSuppressed
from carpd.core.drops import DropReason

MAX_KEYS = 256
PER_KIND_LINES = 10
MAX_SOURCES = 8192

Kind = AnomalyKind | DropReason


@dataclass(slots=True)
class _Window:
    """One kind's current window: when it opened, its lines, and what it held back."""

    opened_at: float
    lines: int = 0
    held: int = 0
    sources: set[Hashable] = field(default_factory=set)
    sources_capped: bool = False


class LogLimit:
    """See the module docstring."""

    def __init__(self, interval: float, *, max_keys: int = MAX_KEYS,
                 per_kind: int = PER_KIND_LINES, max_sources: int = MAX_SOURCES) -> None:
        self._interval = interval
        self._max_keys, self._per_kind, self._max_sources = max_keys, per_kind, max_sources
        self._last: dict[Hashable, float] = {}  # key -> when it last logged, oldest first
        self._windows: dict[Kind, _Window] = {}
        self._ended: list[tuple[float, LogsSuppressed]] = []  # (due at, summary): closed by allow

    def allow(self, key: Hashable, kind: Kind, source: Hashable, now: float) -> bool:
        """Whether this event of `key` (of `kind`, from `source`) may be logged now."""
        self._prune(now)
        if key in self._last:
            return False  # logged within the interval (the prune kept only those)
        window = self._window(kind, now)
        if window.lines >= self._per_kind:
            self._hold(window, source)
            return False
        window.lines += 1
        if len(self._last) >= self._max_keys:
            del self._last[next(iter(self._last))]
        self._last[key] = now
        return True

    def due(self, now: float) -> list[LogsSuppressed]:
        """The summaries of the windows that ended by `now`; those windows close."""
        summaries, self._ended = [s for _, s in self._ended], []
        for kind in [k for k, w in self._windows.items() if now - w.opened_at >= self._interval]:
            summaries += [s for _, s in self._close(kind)]
        return summaries

    def next_deadline(self) -> float | None:
        """When the earliest window with something held back ends (its summary is due)."""
        ends = [at for at, _ in self._ended]
        ends += [w.opened_at + self._interval for w in self._windows.values() if w.held]
        return min(ends, default=None)

    def statistics(self) -> tuple[int, int]:
        """(keys in the table, sources tracked across the open windows): for tests."""
        return len(self._last), sum(len(w.sources) for w in self._windows.values())

    def _prune(self, now: float) -> None:
        while self._last:
            oldest = next(iter(self._last))
            if now - self._last[oldest] < self._interval:
                return
            del self._last[oldest]

    def _window(self, kind: Kind, now: float) -> _Window:
        """The kind's open window; an ended one closes first (its summary waits for due)."""
        window = self._windows.get(kind)
        if window is not None and now - window.opened_at < self._interval:
            return window
        if window is not None:
            self._ended += self._close(kind)
        window = self._windows[kind] = _Window(opened_at=now)
        return window

    def _close(self, kind: Kind) -> list[tuple[float, LogsSuppressed]]:
        """Close the kind's window: (when it ended, its summary) if it held anything back."""
        window = self._windows.pop(kind)
        if not window.held:
            return []
        return [(window.opened_at + self._interval, LogsSuppressed(
            kind=kind, count=window.held, sources=len(window.sources),
            sources_at_least=window.sources_capped, interval=self._interval))]

    def _hold(self, window: _Window, source: Hashable) -> None:
        window.held += 1
        if source in window.sources:
            return
        if len(window.sources) < self._max_sources:
            window.sources.add(source)
        else:
            window.sources_capped = True
