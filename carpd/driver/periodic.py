"""Repeating loop timers for the driver's housekeeping (watchdog, reconcile, metrics).

Owns: `Periodic`: `every(interval, fn)` calls `fn` every `interval` seconds of the loop's
clock, each next call scheduled after the previous one ran; `cancel()` stops them all.
Must not: carry protocol timing (that is the core's deadline and the driver's one timer).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Periodic:
    def __init__(self) -> None:
        self._handles: list[asyncio.TimerHandle] = []

    def every(self, interval: float, fn: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        index = len(self._handles)

        def tick() -> None:
            fn()
            self._handles[index] = loop.call_later(interval, tick)

        self._handles.append(loop.call_later(interval, tick))

    def cancel(self) -> None:
        for handle in self._handles:
            handle.cancel()
