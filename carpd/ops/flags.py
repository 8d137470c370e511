"""Operator flags that survive restarts: maintenance mode and operator demotions.

Owns: the two documents in the state directory (through the FlagStore port): "maintenance"
`{"on": bool, "since": wall-clock seconds | null}` and "demotions"
`{VIP: {"amount": 1..254, "until": wall-clock seconds | null}}`. Instants are stored as
wall-clock times, so a restart neither extends a `--for` demotion nor forgets when
maintenance began. `restore` runs before Start: it turns the stored documents into core
events (SetMaintenance, OperatorDemote) with the driver converting wall-clock times to
monotonic instants; a stored demotion that ran out while carpd was down expires at once in
the core. `save_*` write what the core's snapshot says now (the core is the only record).
A state directory that cannot be written is logged loudly; the flag still applies.
Must not: keep its own copy of the flags, read the clock, or keep timers.
"""

from __future__ import annotations

from typing import Any

from carpd.core.events import OperatorDemote, SetMaintenance
from carpd.core.policy.demotions import MAX_DEMOTION
from carpd.driver.ports import EventLog, FlagStore
from carpd.ops.host import Driver
from carpd.status import messages as msg

MAINTENANCE_FILE = "maintenance"
DEMOTIONS_FILE = "demotions"


class OperatorFlags:
    def __init__(self, store: FlagStore, driver: Driver, log: EventLog) -> None:
        self._store, self._driver, self._log = store, driver, log

    def restore(self) -> None:
        """Apply the stored flags (before Start, so the first adverts carry them)."""
        doc = self._store.load(MAINTENANCE_FILE) or {}
        if doc.get("on") is True:
            since = _seconds(doc.get("since"))
            self._driver.post(SetMaintenance(on=True, since_at=self._monotonic(since)))
            self._log.record(msg.NOTICE, "maintenance mode is on (persisted): every VIP is "
                             f"demoted to {MAX_DEMOTION}", MESSAGE_ID=msg.OPERATOR_ACTION)
        stats = self._driver.statistics()
        names = {p.name for p in stats.params} if stats is not None else set()
        for name, entry in sorted((self._store.load(DEMOTIONS_FILE) or {}).items()):
            if name in names and isinstance(entry, dict):
                self._restore_demotion(name, entry)

    def _restore_demotion(self, name: str, entry: dict[str, Any]) -> None:
        amount = entry.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int) or \
                not 1 <= amount <= MAX_DEMOTION:
            return
        until_at = self._monotonic(_seconds(entry.get("until")))
        self._driver.post(OperatorDemote(name=name, amount=amount, until_at=until_at))

    def save_maintenance(self) -> None:
        stats = self._driver.statistics()
        if stats is None:
            return
        m = stats.policy.maintenance
        since = None if m.since_at is None else self._driver.wall_of(m.since_at)
        self._save(MAINTENANCE_FILE, {"on": m.on, "since": since})

    def save_demotions(self) -> None:
        stats = self._driver.statistics()
        if stats is None:
            return
        wall = self._driver.wall_of
        self._save(DEMOTIONS_FILE, {
            d.name: {"amount": d.amount, "until": None if d.until_at is None
                     else wall(d.until_at)} for d in stats.policy.operator_demotions})

    def _monotonic(self, wall: float | None) -> float | None:
        return None if wall is None else self._driver.monotonic_of(wall)

    def _save(self, name: str, document: dict[str, Any]) -> None:
        try:
            self._store.save(name, document)
        except OSError as exc:
            self._log.record(msg.ERR, f"cannot persist operator flag {name} (it will not "
                             f"survive a restart): {exc}", MESSAGE_ID=msg.IO_FAILURE)


def _seconds(value: object) -> float | None:
    """A stored instant, or None for anything that is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
