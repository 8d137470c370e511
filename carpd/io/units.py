"""Starting and stopping the master units of a VIP (carpd-master@NAME.target and friends).

Owns: the unit port's adapters; each reports what became of every job as a
`UnitJobFinished` event through the callback given to `report_to` (the driver posts it to
the core, which records it for status, explain and metrics).
- `DbusUnits` (systemd running): per VIP, one FIFO of jobs run by one worker task, so a stop
  is never queued before an earlier start, and the latest state wins (`_Queues`: a stop
  drops the starts of its units still waiting, so a claim never runs on a node that left
  MASTER; docs/routed.md). Each unit's job is queued with systemd's
  Manager.StartUnit/StopUnit (mode "replace", as `systemctl` does) over the system bus
  (dbus-fast); the call returns the job's object path at once, and the job's result arrives
  later in the Manager's JobRemoved signal (done, failed, timeout, canceled, dependency,
  skipped...), which is matched to the job by its path (a signal that overtakes the method
  reply is kept until the reply names its job). Nothing waits for a unit to come up. A call
  that fails (no such unit, access denied) is an ERROR result with systemd's message.
  Jobs still waiting for their signal when the connection is found lost (at the next job)
  are reported ERROR. When the bus cannot be reached (or dbus-fast is missing) the job falls
  back to `SystemctlUnits` for that job, reported `via systemctl` with why; the next job
  tries the bus again.
- `SystemctlUnits`: the same queues, each job `systemctl --no-block start|stop UNIT...`
  (queues the jobs and returns),
  with a timeout: QUEUED when systemctl succeeded (the outcome is not tracked), ERROR with
  its message otherwise.
- `NullUnits` (systemd not running, a network-namespace demo): every start is NOT_RUN, and
  `on_skip` says once per VIP that unit jobs are skipped.
Must not: block the event loop or the advert path; change the election (the core decides
what a result means: nothing, see carpd/core/unitjobs.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from carpd.core.events import UnitJobFinished
from carpd.core.unitjobs import UnitJobResult, UnitJobVia, UnitVerb

if TYPE_CHECKING:
    from dbus_fast import Message
    from dbus_fast.aio import MessageBus

Report = Callable[[UnitJobFinished], None]
SYSTEMD = "org.freedesktop.systemd1"
MANAGER = (SYSTEMD, "/org/freedesktop/systemd1", f"{SYSTEMD}.Manager")
JOB_REMOVED = (f"type='signal',sender='{SYSTEMD}',interface='{SYSTEMD}.Manager',"
               "member='JobRemoved'")
CALL_TIMEOUT_S = 10.0


def systemd_running() -> bool:
    return os.path.isdir("/run/systemd/system")


def _ignore(_: UnitJobFinished) -> None:
    return


class _Queues:
    """One FIFO and one worker task per VIP; `run(name, verb, units)` does a job. The latest
    state wins: a stop drops the starts of its units still waiting in the VIP's queue (a
    claim unit, docs/routed.md, never starts on a node that left MASTER before its start ran),
    and a start after a stop runs after it (a node that is MASTER again claims again). A job
    already running is systemd's: the stop queues behind it, and systemd's stop job cancels
    or stops the unit."""

    def __init__(self, run: Callable[[str, UnitVerb, tuple[str, ...]], Awaitable[None]]
                 ) -> None:
        self._run = run
        self._queues: dict[str, deque[tuple[UnitVerb, tuple[str, ...]]]] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._outstanding = 0  # jobs queued or running, every VIP
        self._idle: asyncio.Event | None = None  # set while nothing is outstanding

    def submit(self, name: str, verb: UnitVerb, units: tuple[str, ...]) -> None:
        if name not in self._queues:
            self._queues[name] = deque()
            self._wake[name] = asyncio.Event()
            self._workers[name] = asyncio.get_running_loop().create_task(self._work(name))
        queue = self._queues[name]
        if verb is UnitVerb.STOP and queue:
            kept = [(v, tuple(u for u in job if v is not UnitVerb.START or u not in units))
                    for v, job in queue]
            queue.clear()
            queue.extend((v, job) for v, job in kept if job)
            self._settle(len(kept) - len(queue))
        queue.append((verb, units))
        self._wake[name].set()
        self._outstanding += 1
        self._idle_event().clear()

    def pending(self, name: str) -> list[tuple[UnitVerb, tuple[str, ...]]]:
        """The jobs of VIP `name` waiting behind the running one, in order."""
        return list(self._queues.get(name, ()))

    def _idle_event(self) -> asyncio.Event:
        if self._idle is None:
            self._idle = asyncio.Event()
        return self._idle

    def _settle(self, done: int) -> None:
        self._outstanding -= done
        if self._outstanding == 0:
            self._idle_event().set()

    async def _work(self, name: str) -> None:
        queue, wake = self._queues[name], self._wake[name]
        while True:
            while not queue:
                wake.clear()
                await wake.wait()
            verb, units = queue.popleft()
            try:
                await self._run(name, verb, units)
            finally:
                self._settle(1)

    async def join(self) -> None:
        """Until every job queued so far has run (or was dropped)."""
        if self._outstanding:
            await self._idle_event().wait()

    async def drain(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.join(), timeout)
        for task in self._workers.values():
            task.cancel()


class SystemctlUnits:
    def __init__(self, *, timeout: float = 30.0, systemctl: str = "systemctl") -> None:
        self._report: Report = _ignore
        self._timeout = timeout
        self._systemctl = systemctl
        self._queues = _Queues(self.run)

    def report_to(self, report: Report) -> None:
        self._report = report

    def start_units(self, name: str, units: tuple[str, ...]) -> None:
        self._queues.submit(name, UnitVerb.START, units)

    def stop_units(self, name: str, units: tuple[str, ...]) -> None:
        self._queues.submit(name, UnitVerb.STOP, units)

    def pending(self, name: str) -> list[tuple[UnitVerb, tuple[str, ...]]]:
        return self._queues.pending(name)

    async def run(self, name: str, verb: UnitVerb, units: tuple[str, ...], why: str = ""
                  ) -> None:
        """One `systemctl --no-block VERB UNITS` (also DbusUnits' fallback, with `why`)."""
        ok, err = await self._systemctl_job(verb.value, units)
        result = UnitJobResult.QUEUED if ok else UnitJobResult.ERROR
        detail = "; ".join(t for t in (why, err) if t)
        for unit in units:
            self._report(UnitJobFinished(name=name, unit=unit, verb=verb, result=result,
                                         via=UnitJobVia.SYSTEMCTL, detail=detail))

    async def _systemctl_job(self, verb: str, units: tuple[str, ...]) -> tuple[bool, str]:
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
        await self._queues.drain(timeout)


class DbusUnits:
    """See the module docstring; `connect` makes the bus (a test passes its own)."""

    def __init__(self, *, fallback: SystemctlUnits | None = None,
                 connect: Callable[[], Awaitable[MessageBus]] | None = None) -> None:
        self._report: Report = _ignore
        self._fallback = fallback or SystemctlUnits()
        self._connect = connect or _system_bus
        self._bus: MessageBus | None = None
        self._queues = _Queues(self._run)
        self._pending: dict[str, tuple[str, str, UnitVerb]] = {}  # job path -> vip, unit
        self._early: dict[str, str] = {}  # job path -> result, signal before the reply

    def report_to(self, report: Report) -> None:
        self._report = report
        self._fallback.report_to(report)

    def start_units(self, name: str, units: tuple[str, ...]) -> None:
        self._queues.submit(name, UnitVerb.START, units)

    def stop_units(self, name: str, units: tuple[str, ...]) -> None:
        self._queues.submit(name, UnitVerb.STOP, units)

    async def drain(self, timeout: float) -> None:
        await self._queues.drain(timeout)
        if self._bus is not None:
            self._bus.disconnect()
            self._bus = None

    async def _run(self, name: str, verb: UnitVerb, units: tuple[str, ...]) -> None:
        try:
            bus = await self._ensure_bus()
        except Exception as exc:  # no bus, no systemd, dbus-fast missing
            await self._fallback.run(name, verb, units, f"D-Bus not reachable: {_why(exc)}")
            return
        member = "StartUnit" if verb is UnitVerb.START else "StopUnit"
        for unit in units:
            try:
                (path,) = await _call(bus, member, "ss", [unit, "replace"])
            except (ConnectionError, TimeoutError, OSError) as exc:
                self._done(name, unit, verb, UnitJobResult.ERROR, _why(exc))
                continue
            self._queued(str(path), name, unit, verb)

    async def _ensure_bus(self) -> MessageBus:
        if self._bus is None or not self._bus.connected:
            self._lost()
            bus = await self._connect()
            bus.add_message_handler(self._on_message)
            await _call(bus, "Subscribe", "", [])
            await _call(bus, "AddMatch", "s", [JOB_REMOVED], target=DBUS)
            self._bus = bus
        return self._bus

    def _lost(self) -> None:
        """The connection went away: the jobs still waiting for JobRemoved will not hear it."""
        for name, unit, verb in self._pending.values():
            self._done(name, unit, verb, UnitJobResult.ERROR,
                       "the system bus connection was lost before the job ended")
        self._pending.clear()
        self._early.clear()
        self._bus = None

    def _queued(self, path: str, name: str, unit: str, verb: UnitVerb) -> None:
        early = self._early.pop(path, None)
        if early is None:
            self._pending[path] = (name, unit, verb)
        else:
            self._done(name, unit, verb, UnitJobResult.parse(early), early)

    def _on_message(self, message: Message) -> None:
        if message.member != "JobRemoved" or message.interface != MANAGER[2]:
            return
        with contextlib.suppress(ValueError, TypeError):
            _, path, _, result = message.body
            job = self._pending.pop(str(path), None)
            if job is None:
                self._early[str(path)] = str(result)  # our call's reply may still come
                if len(self._early) > 256:  # jobs of other clients: keep the newest only
                    self._early.pop(next(iter(self._early)))
                return
            self._done(*job, UnitJobResult.parse(str(result)), str(result))

    def _done(self, name: str, unit: str, verb: UnitVerb, result: UnitJobResult,
              detail: str) -> None:
        self._report(UnitJobFinished(name=name, unit=unit, verb=verb, result=result,
                                     via=UnitJobVia.DBUS,
                                     detail="" if detail == result.value else detail))


class NullUnits:
    """No systemd: unit jobs are skipped, said once per VIP."""

    def __init__(self, on_skip: Callable[[str, tuple[str, ...]], None]) -> None:
        self._on_skip = on_skip
        self._told: set[str] = set()
        self._report: Report = _ignore

    def report_to(self, report: Report) -> None:
        self._report = report

    def start_units(self, name: str, units: tuple[str, ...]) -> None:
        if name not in self._told:
            self._told.add(name)
            self._on_skip(name, units)
        for unit in units:
            self._report(UnitJobFinished(name=name, unit=unit, verb=UnitVerb.START,
                                         result=UnitJobResult.NOT_RUN, via=UnitJobVia.NONE,
                                         detail="systemd is not running"))

    def stop_units(self, name: str, units: tuple[str, ...]) -> None:
        return

    async def drain(self, timeout: float) -> None:
        return


DBUS = ("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus")


async def _system_bus() -> MessageBus:
    from dbus_fast import BusType
    from dbus_fast.aio import MessageBus

    return await MessageBus(bus_type=BusType.SYSTEM).connect()


async def _call(bus: MessageBus, member: str, sig: str, body: list[object], *,
                target: tuple[str, str, str] = MANAGER) -> list[Any]:
    from dbus_fast import Message, MessageType

    dest, path, iface = target
    reply = await asyncio.wait_for(bus.call(Message(
        destination=dest, path=path, interface=iface, member=member, signature=sig,
        body=body)), CALL_TIMEOUT_S)
    if reply is None:
        raise ConnectionError(f"{member}: no reply")
    if reply.message_type == MessageType.ERROR:
        raise ConnectionError(f"{reply.error_name}: {reply.body[0] if reply.body else ''}")
    return list(reply.body)


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
