"""Starting and stopping the master units of a VIP (carpd-master@NAME.target and friends).

Owns: `SystemctlUnits` — per VIP, one FIFO of unit jobs run by one worker task, so a stop is
never overtaken by a later start; each job is `systemctl --no-block start|stop UNIT...`
(queues the job in systemd and returns at once, so nothing waits for the unit to come up),
with a timeout; a failed job is reported through `on_result` and never touches the
election. `NullUnits` is used when systemd is not running (a network-namespace demo): it
reports once that unit jobs are skipped.
Must not: block the event loop or the advert path.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
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
        self._queues: dict[str, asyncio.Queue[tuple[str, tuple[str, ...]]]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}

    def start_units(self, name: str, units: tuple[str, ...]) -> None:
        self._submit(name, "start", units)

    def stop_units(self, name: str, units: tuple[str, ...]) -> None:
        self._submit(name, "stop", units)

    def _submit(self, name: str, verb: str, units: tuple[str, ...]) -> None:
        if name not in self._queues:
            self._queues[name] = asyncio.Queue()
            self._workers[name] = asyncio.get_running_loop().create_task(self._work(name))
        self._queues[name].put_nowait((verb, units))

    async def _work(self, name: str) -> None:
        queue = self._queues[name]
        while True:
            verb, units = await queue.get()
            try:
                ok, err = await self._run(verb, units)
                self._on_result(name, verb, units, ok, err)
            finally:
                queue.task_done()

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
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(q.join() for q in self._queues.values())), timeout)
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
