"""Starting and stopping the master units of a VIP (carpd-master@NAME.target and friends).

Owns: `SystemctlUnits` — per VIP, one FIFO of unit jobs run by one worker task, so a stop is
never overtaken by a later start; each job is `systemctl --no-block start|stop UNIT...`
(queues the job in systemd and returns at once, so nothing waits for the unit to come up),
with a timeout; a failed job is reported through `on_result` and never touches the
election. The latest state wins: a stop drops the starts of its units still waiting in the
VIP's queue (a claim unit, docs/routed.md "Clouds without BGP", never starts on a node that
left MASTER before the start ran), and a start after a stop runs after it (a node that is
MASTER again claims again). A job already handed to systemctl is systemd's: a later stop
queues behind it, and systemd's stop job cancels or stops the unit. `NullUnits` is used when
systemd is not running (a network-namespace demo): it reports once that unit jobs are skipped.
Must not: block the event loop or the advert path.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import deque
from collections.abc import Callable

# (vip name, verb, units, ok, error text)
ResultCallback = Callable[[str, str, tuple[str, ...], bool, str], None]


def systemd_running() -> bool:
    return os.path.isdir("/run/systemd/system")


class SystemctlUnits:
    def __init__(self, on_result: ResultCallback, *, timeout: float = 30.0,
                 systemctl: str = "systemctl") -> None:
        self._on_result = on_result
        self._timeout = timeout
        self._systemctl = systemctl
        self._pending: dict[str, deque[tuple[str, tuple[str, ...]]]] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._outstanding = 0  # jobs queued or running, every VIP
        self._idle: asyncio.Event | None = None  # set while nothing is outstanding
        self._workers: dict[str, asyncio.Task[None]] = {}

    def start_units(self, name: str, units: tuple[str, ...]) -> None:
        self._submit(name, "start", units)

    def stop_units(self, name: str, units: tuple[str, ...]) -> None:
        """Queued behind what runs now; a start of these units still waiting in the queue is
        dropped first (the VIP left MASTER before it ran: the claim must never run)."""
        pending = self._pending.get(name)
        if pending:
            kept = [(verb, tuple(u for u in job if verb != "start" or u not in units))
                    for verb, job in pending]
            pending.clear()
            pending.extend((verb, job) for verb, job in kept if job)
            self._settle(len(kept) - len(pending))
        self._submit(name, "stop", units)

    def pending(self, name: str) -> list[tuple[str, tuple[str, ...]]]:
        """The jobs of VIP `name` waiting behind the running one, in order."""
        return list(self._pending.get(name, ()))

    def _submit(self, name: str, verb: str, units: tuple[str, ...]) -> None:
        if name not in self._workers:
            self._pending[name] = deque()
            self._wake[name] = asyncio.Event()
            self._workers[name] = asyncio.get_running_loop().create_task(self._work(name))
        self._pending[name].append((verb, units))
        self._wake[name].set()
        self._outstanding += 1
        self._idle_event().clear()

    def _idle_event(self) -> asyncio.Event:
        if self._idle is None:
            self._idle = asyncio.Event()
        return self._idle

    def _settle(self, done: int) -> None:
        self._outstanding -= done
        if self._outstanding == 0:
            self._idle_event().set()

    async def _work(self, name: str) -> None:
        pending, wake = self._pending[name], self._wake[name]
        while True:
            while not pending:
                wake.clear()
                await wake.wait()
            verb, units = pending.popleft()
            try:
                ok, err = await self._run(verb, units)
                self._on_result(name, verb, units, ok, err)
            finally:
                self._settle(1)

    async def _run(self, verb: str, units: tuple[str, ...]) -> tuple[bool, str]:
        try:
            proc = await asyncio.create_subprocess_exec(
                self._systemctl, "--no-block", verb, *units, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        except OSError as exc:
            return False, f"cannot run {self._systemctl}: {exc.strerror}"
        try:
            _, err = await asyncio.wait_for(proc.communicate(), self._timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            return False, f"systemctl {verb} timed out after {self._timeout:g} s"
        return proc.returncode == 0, err.decode(errors="replace").strip()

    async def drain(self, timeout: float) -> None:
        if self._outstanding:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle_event().wait(), timeout)
        for task in self._workers.values():
            task.cancel()


class NullUnits:
    """No systemd: unit jobs are skipped, said once per VIP."""

    def __init__(self, on_skip: Callable[[str, tuple[str, ...]], None]) -> None:
        self._on_skip = on_skip
        self._told: set[str] = set()

    def start_units(self, name: str, units: tuple[str, ...]) -> None:
        if name not in self._told:
            self._told.add(name)
            self._on_skip(name, units)

    def stop_units(self, name: str, units: tuple[str, ...]) -> None:
        return

    async def drain(self, timeout: float) -> None:
        return
