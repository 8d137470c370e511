"""carpd.io.units.DbusUnits against an in-memory bus: jobs queued with StartUnit/StopUnit,
each job's result matched from JobRemoved (also when the signal overtakes the reply), call
errors, and the systemctl fallback when the bus cannot be reached. No real bus, no sleeping:
the fake answers at once and the test drives the signals."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from dbus_fast import MessageType

from carpd.core.events import UnitJobFinished
from carpd.core.unitjobs import UnitJobResult, UnitJobVia, UnitVerb
from carpd.io.units import DbusUnits, SystemctlUnits


@dataclass
class Reply:
    body: list[Any]
    message_type: MessageType = MessageType.METHOD_RETURN
    error_name: str | None = None


@dataclass
class Signal:
    body: list[Any]
    member: str = "JobRemoved"
    interface: str = "org.freedesktop.systemd1.Manager"


@dataclass
class FakeBus:
    missing: set[str] = field(default_factory=set)
    early: dict[str, str] = field(default_factory=dict)  # unit -> result sent before reply
    calls: list[tuple[str, list[Any]]] = field(default_factory=list)
    handlers: list[Any] = field(default_factory=list)
    connected: bool = True

    def add_message_handler(self, fn: Any) -> None:
        self.handlers.append(fn)

    def disconnect(self) -> None:
        self.connected = False

    async def call(self, message: Any) -> Reply:
        self.calls.append((message.member, list(message.body)))
        if message.member not in ("StartUnit", "StopUnit"):
            return Reply([])
        unit = message.body[0]
        if unit in self.missing:
            return Reply([f"Unit {unit} not found."], MessageType.ERROR,
                         "org.freedesktop.systemd1.NoSuchUnit")
        path = f"/org/freedesktop/systemd1/job/{len(self.calls)}"
        if unit in self.early:
            self.job_removed(path, unit, self.early[unit])
        return Reply([path])

    def job_removed(self, path: str, unit: str, result: str) -> None:
        for handler in self.handlers:
            handler(Signal([7, path, unit, result]))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _jobs(bus: FakeBus, *starts: tuple[str, ...]) -> tuple[DbusUnits, list[Any]]:
    async def connect() -> FakeBus:
        return bus

    got: list[UnitJobFinished] = []
    units = DbusUnits(connect=connect)  # type: ignore[arg-type]
    units.report_to(got.append)
    for names in starts:
        units.start_units("web", names)
    await settle(units)
    return units, got


async def settle(units: DbusUnits) -> None:
    """Every job queued so far has made its calls (the fake answers at once)."""
    await asyncio.wait_for(units._queues.join(), 1.0)


def test_results_come_from_job_removed_matched_by_job_path() -> None:
    async def main() -> list[Any]:
        bus = FakeBus()
        _, got = await _jobs(bus, ("carpd-master@web.target", "nginx.service"))
        assert got == []  # queued; nothing has finished yet
        starts = [(m, b) for m, b in bus.calls if m == "StartUnit"]
        assert starts == [("StartUnit", ["carpd-master@web.target", "replace"]),
                          ("StartUnit", ["nginx.service", "replace"])]
        assert ("Subscribe", []) in bus.calls
        bus.job_removed("/org/freedesktop/systemd1/job/999", "other.service", "done")
        bus.job_removed("/org/freedesktop/systemd1/job/4", "nginx.service", "failed")
        bus.job_removed("/org/freedesktop/systemd1/job/3", "carpd-master@web.target", "done")
        return got

    got = run(main())
    assert [(g.unit, g.result, g.via, g.verb) for g in got] == [
        ("nginx.service", UnitJobResult.FAILED, UnitJobVia.DBUS, UnitVerb.START),
        ("carpd-master@web.target", UnitJobResult.DONE, UnitJobVia.DBUS, UnitVerb.START)]


def test_a_signal_before_the_reply_and_a_call_error() -> None:
    async def main() -> list[Any]:
        _, got = await _jobs(FakeBus(missing={"nope.service"}, early={"fast.service": "done"}),
                             ("fast.service", "nope.service"))
        return got

    got = run(main())
    assert [(g.unit, g.result) for g in got] == [("fast.service", UnitJobResult.DONE),
                                                 ("nope.service", UnitJobResult.ERROR)]
    assert "NoSuchUnit" in got[1].detail and "not found" in got[1].detail


def test_no_bus_falls_back_to_systemctl_and_says_why(tmp_path: Any) -> None:
    fake = tmp_path / "systemctl"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)

    async def main() -> list[Any]:
        async def connect() -> Any:
            raise FileNotFoundError(2, "No such file or directory")

        got: list[UnitJobFinished] = []
        units = DbusUnits(fallback=SystemctlUnits(systemctl=str(fake)), connect=connect)
        units.report_to(got.append)
        units.start_units("web", ("nginx.service",))
        await asyncio.sleep(0)  # the start is running (a stop would drop a waiting one)
        units.stop_units("web", ("nginx.service",))
        await units.drain(5.0)
        return got

    got = run(main())
    assert [(g.verb, g.result, g.via) for g in got] == [
        (UnitVerb.START, UnitJobResult.QUEUED, UnitJobVia.SYSTEMCTL),
        (UnitVerb.STOP, UnitJobResult.QUEUED, UnitJobVia.SYSTEMCTL)]
    assert got[0].detail == "D-Bus not reachable: No such file or directory"


def test_jobs_pending_when_the_bus_is_lost_are_reported_at_the_next_job() -> None:
    async def main() -> list[Any]:
        bus = FakeBus()
        units, got = await _jobs(bus, ("slow.service",))
        bus.connected = False
        units.start_units("web", ("next.service",))
        await settle(units)
        return got

    got = run(main())
    assert [(g.unit, g.result) for g in got] == [("slow.service", UnitJobResult.ERROR)]
    assert "connection was lost" in got[0].detail
