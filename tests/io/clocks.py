"""Clocks for the adapter tests that run real processes and sockets: time moves only when the
test says so, so a busy machine changes how long a test takes, never what it sees.

- `GatedClockLoop`: an event loop whose clock stands still while real I/O is awaited (a child
  process starting, a pipe, a socket) and jumps to the next timer only when `gate()` is true
  and nothing is ready. With the default gate (never) no timeout can fire: a check's result
  comes from what the process or socket did. With a gate such as "the child wrote its pid",
  a timeout fires exactly when the test's condition holds, however slow the machine is.
- `FakeMonotonic`: `monotonic()` and `sleep()` for code with an injected clock (carpctl's
  retries); `sleep` advances the fake time and runs the hooks that fall due, each once.
Waiting for real I/O is bounded only by `SAFETY_S` of real time, a guard against a hung
test, never part of what a test asserts.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")
SAFETY_S = 120.0
SLICE_S = 0.01


class _GatedSelector(selectors.DefaultSelector):
    def __init__(self, loop: GatedClockLoop) -> None:
        super().__init__()
        self._loop = loop
        self._idle_since: float | None = None

    def select(self, timeout: float | None = None) -> list[Any]:
        ready = super().select(0)
        if ready:
            self._idle_since = None
            return ready
        if timeout is not None and self._loop.gate():
            self._loop.now += max(timeout, 0.0)
            self._idle_since = None
            return []
        started = self._idle_since = self._idle_since or time.monotonic()
        if time.monotonic() - started > SAFETY_S:
            raise RuntimeError(f"nothing happened for {SAFETY_S:g} s of real time")
        return super().select(SLICE_S if timeout is None else min(SLICE_S, timeout))


class GatedClockLoop(asyncio.SelectorEventLoop):
    """Time stands still until `gate()` holds and the loop has nothing else to do."""

    def __init__(self, gate: Callable[[], bool] = lambda: False, start: float = 1000.0) -> None:
        self.now = start
        self.gate = gate
        super().__init__(_GatedSelector(self))

    def time(self) -> float:
        return self.now


def run_gated(coro: Awaitable[T], gate: Callable[[], bool] = lambda: False) -> T:
    loop = GatedClockLoop(gate)
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


class FakeMonotonic:
    """A monotonic clock and its sleep: `sleep(s)` moves `now` by s and then runs each hook
    whose instant has come (in order, once)."""

    def __init__(self, start: float = 500.0) -> None:
        self.start = self.now = start
        self.slept: list[float] = []
        self._hooks: list[tuple[float, Callable[[], None]]] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        due = [h for h in self._hooks if h[0] <= self.now - self.start]
        self._hooks = [h for h in self._hooks if h not in due]
        for _, hook in due:
            hook()

    def at(self, elapsed: float, hook: Callable[[], None]) -> None:
        """Run `hook` in the first sleep that reaches `elapsed` seconds after the start."""
        self._hooks.append((elapsed, hook))

    @property
    def elapsed(self) -> float:
        return self.now - self.start
