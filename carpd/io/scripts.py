"""ucarp-style up/down scripts (ports.ScriptRunner).

Owns: running hook programs one at a time per VIP name, in submission order, without ever
blocking the advert loop (CARP.md 4.2: ucarp ran them synchronously and stalled its adverts).
Each program is executed directly (no shell, no PATH search beyond what exec does for an
absolute path), stdin from /dev/null, stdout/stderr inherited (the journal under systemd), in
its own session so a timeout kills the whole process group. The outcome of every run goes to
`on_result(name, argv, returncode | None, error, duration_s)`; a program that cannot be
started or times out is reported there (returncode None), never raised.
Must not: log argv contents itself (the caller decides what is safe to log).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger(__name__)

ResultCallback = Callable[[str, tuple[str, ...], int | None, str, float], None]
KILL_WAIT = 5.0  # seconds to reap a killed process group before giving up on it


class AsyncScriptRunner:
    """Per-name FIFO queues, each served by one worker task created on demand."""

    def __init__(self, on_result: ResultCallback, timeout: float = 30.0) -> None:
        self._on_result = on_result
        self._timeout = timeout
        self._queues: dict[str, deque[tuple[str, ...]]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}

    def submit(self, name: str, argv: tuple[str, ...]) -> None:
        """Queue `argv` behind the earlier scripts of `name` (call from the event loop)."""
        self._queues.setdefault(name, deque()).append(argv)
        if name not in self._workers:
            self._workers[name] = asyncio.get_running_loop().create_task(
                self._work(name), name=f"carpd-scripts-{name}")

    def pending(self) -> int:
        """Scripts queued or running."""
        return sum(len(q) for q in self._queues.values()) + len(self._workers)

    async def drain(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for every queued script; logs what is left."""
        workers = set(self._workers.values())
        if not workers:
            return
        _done, left = await asyncio.wait(workers, timeout=timeout)
        if left:
            log.warning("%d script queue(s) still busy after %.1f s", len(left), timeout)

    async def _work(self, name: str) -> None:
        queue = self._queues[name]
        try:
            while queue:
                argv = queue.popleft()
                returncode, error, duration = await self._run(argv)
                self._report(name, argv, returncode, error, duration)
        finally:
            del self._workers[name]
            if not queue:
                self._queues.pop(name, None)

    def _report(self, name: str, argv: tuple[str, ...], returncode: int | None, error: str,
                duration: float) -> None:
        try:
            self._on_result(name, argv, returncode, error, duration)
        except Exception:
            log.exception("script result callback failed for %s", name)

    async def _run(self, argv: tuple[str, ...]) -> tuple[int | None, str, float]:
        start = time.monotonic()
        if not argv:
            return None, "empty command", 0.0
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            return None, f"cannot execute {argv[0]}: {exc.strerror or exc}", \
                time.monotonic() - start
        try:
            returncode = await asyncio.wait_for(proc.wait(), self._timeout)
        except TimeoutError:
            await self._kill(proc)
            return None, f"timed out after {self._timeout:g} s; process group killed", \
                time.monotonic() - start
        except asyncio.CancelledError:
            await self._kill(proc)
            raise
        return returncode, "", time.monotonic() - start

    @staticmethod
    async def _kill(proc: asyncio.subprocess.Process) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: pgid == pid
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), KILL_WAIT)
