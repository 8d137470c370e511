"""The health-check runners' wiring: which checks run on the HealthPort for which VIP.

Owns: `CheckRunners`. For each running VIP it starts its checks and, for the boot hold-down,
one unit watcher per `require_units` entry (a fatal `unit` check named "require:UNIT") on the
HealthPort, under the check id "VIP/CHECK". Raw results go to the core: a check's as
`CheckResult` (the core's tracker decides what it means), a unit watcher's as
`RequiredUnitObserved` (the core's hold-down decides; an error result of a unit watcher, `ok`
None, says nothing about the unit and is dropped). A result of a check that was stopped
meanwhile (its VIP is gone, or a reload removed or redefined it) is dropped here.
On a reload retune only the checks and watchers whose definition changed are stopped and
started again (a redefined check keeps its verdict in the core's tracker).
Must not: interpret results, or read the clock.
"""

from __future__ import annotations

from collections.abc import Callable

from carpd.core.events import CheckResult, Event, RequiredUnitObserved
from carpd.core.params import CheckParams, VipParams
from carpd.driver.ports import HealthPort

REQUIRE = "require:"  # the name prefix of a required unit's watcher
UNIT_WATCH_INTERVAL = 2.0  # seconds (D-Bus signals report changes sooner)


class CheckRunners:
    def __init__(self, health: HealthPort, post: Callable[[Event], None]) -> None:
        self._health, self._post = health, post
        self._running: dict[str, tuple[str, ...]] = {}  # vip -> started check ids

    def start(self, p: VipParams) -> None:
        specs = watches(p)
        for check_id, spec in specs.items():
            self._health.start(check_id, spec, self.check_result)
        self._running[p.name] = tuple(specs)

    def retune(self, old: VipParams, new: VipParams) -> None:
        """Stop what is gone or redefined, start what is new or redefined."""
        before, after = watches(old), watches(new)
        for check_id, spec in before.items():
            if after.get(check_id) != spec:
                self._health.stop(check_id)
        for check_id, spec in after.items():
            if before.get(check_id) != spec:
                self._health.start(check_id, spec, self.check_result)
        self._running[new.name] = tuple(after)

    def stop(self, name: str) -> None:
        for check_id in self._running.pop(name, ()):
            self._health.stop(check_id)

    async def close(self) -> None:
        self._running.clear()
        await self._health.close()

    def check_result(self, check_id: str, ok: bool | None, detail: str) -> None:
        """The HealthPort's callback (from the event loop)."""
        name, _, check = check_id.partition("/")
        if check_id not in self._running.get(name, ()):
            return
        if check.startswith(REQUIRE):
            if ok is None:
                return
            self._post(RequiredUnitObserved(name=name, unit=check.removeprefix(REQUIRE),
                                            active=ok))
        else:
            self._post(CheckResult(name=name, check=check, ok=ok, detail=detail))


def watches(p: VipParams) -> dict[str, CheckParams]:
    """What the health port runs for a VIP, by check id: its checks, then one fatal unit
    watcher per `require_units` entry (for the hold-down)."""
    specs = {f"{p.name}/{c.name}": c for c in p.checks}
    for unit in p.require_units:
        specs[f"{p.name}/{REQUIRE}{unit}"] = CheckParams(
            name=REQUIRE + unit, type="unit", fatal=True, unit=unit,
            interval=UNIT_WATCH_INTERVAL, rise=1, fall=1)
    return specs
