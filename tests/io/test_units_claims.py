"""The unit port's part of the claim guarantees (carpd.io.units.SystemctlUnits): jobs run one
at a time per VIP in order, and a stop drops the starts of its units still waiting, so the
latest state wins and a claim queued while MASTER never starts after the node left MASTER.
systemctl is replaced by an in-process fake whose jobs finish when the test says."""

from __future__ import annotations

import asyncio

from carpd.core.unitjobs import UnitVerb
from carpd.io.units import SystemctlUnits

CLAIM = ("claim-vip@web.service",)


class Gated(SystemctlUnits):
    """Each job waits for the gate; `ran` lists the jobs in the order they ran."""

    def __init__(self) -> None:
        super().__init__()
        self.ran: list[tuple[str, tuple[str, ...]]] = []
        self.gate = asyncio.Event()

    async def run(self, name: str, verb: UnitVerb, units: tuple[str, ...], why: str = ""
                  ) -> None:
        self.ran.append((verb.value, units))
        await self.gate.wait()


def scenario(steps: list[tuple[str, tuple[str, ...]]]) -> tuple[list[object], list[object]]:
    """The first step's job is running (held at the gate) while the others are queued."""
    async def main() -> tuple[list[object], list[object]]:
        units = Gated()
        for verb, names in steps:
            (units.start_units if verb == "start" else units.stop_units)("web", names)
            await asyncio.sleep(0)
        waiting: list[object] = [(v.value, u) for v, u in units.pending("web")]
        units.gate.set()
        await units.drain(5.0)
        return waiting, list(units.ran)

    return asyncio.run(main())


def test_a_stop_drops_the_start_still_waiting() -> None:
    waiting, ran = scenario([("stop", CLAIM), ("start", CLAIM), ("stop", CLAIM)])
    assert waiting == [("stop", CLAIM)]
    assert ran == [("stop", CLAIM), ("stop", CLAIM)]


def test_master_again_after_the_stop_claims_once_more() -> None:
    _, ran = scenario([("stop", CLAIM), ("start", CLAIM), ("stop", CLAIM), ("start", CLAIM)])
    assert ran == [("stop", CLAIM), ("stop", CLAIM), ("start", CLAIM)]


def test_only_the_stopped_units_leave_a_waiting_start() -> None:
    other = ("web-cache.service",)
    waiting, ran = scenario([("stop", CLAIM), ("start", CLAIM + other), ("stop", CLAIM)])
    assert waiting == [("start", other), ("stop", CLAIM)]
    assert ran == [("stop", CLAIM), ("start", other), ("stop", CLAIM)]


def test_a_running_start_is_followed_by_its_stop() -> None:
    _, ran = scenario([("start", CLAIM), ("stop", CLAIM)])
    assert ran == [("start", CLAIM), ("stop", CLAIM)]
