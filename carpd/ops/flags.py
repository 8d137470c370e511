"""Operator flags that survive restarts: maintenance mode and operator demotions.

Owns: the two documents in the state directory (through the FlagStore port): "maintenance"
`{"on": bool, "since": wall-clock seconds | null}` and "demotions"
`{VIP: {"amount": 1..254, "until": wall-clock seconds | null}}`. Instants are stored as
wall-clock times, so a restart neither extends a `--for` demotion nor forgets when
maintenance began. `restore` runs before Start: it turns the stored documents into core
events (SetMaintenance, OperatorDemote) with the driver converting wall-clock times to
monotonic instants; a stored demotion that ran out while carpd was down expires at once in
the core. `save_*` write what the core's snapshot says now (the core is the only record).
A stored document is checked whole before anything of it applies: `on` a boolean, `amount`
an integer 1..254 (true is not 1), instants a finite number of seconds between 1970 and the
end of year 9999 (MAX_WALL, so every renderer can show them) or null. An invalid document is
handed to the store's `set_aside` with the problem (one warning naming the file and the
problem; the file is renamed) and nothing of it applies: the daemon runs with the defaults
(no maintenance, no operator demotion). VIP names that are not configured are skipped.
A state directory that cannot be written is logged loudly; the flag still applies in memory,
and `save_*` return False so the command can tell the operator it holds only until the next
restart.
Must not: keep its own copy of the flags, read the clock, or keep timers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

from carpd.core.events import OperatorDemote, SetMaintenance
from carpd.core.policy.demotions import MAX_DEMOTION
from carpd.driver.ports import EventLog, FlagStore
from carpd.ops.host import Driver
from carpd.status import messages as msg

MAINTENANCE_FILE = "maintenance"
DEMOTIONS_FILE = "demotions"
T = TypeVar("T")
MAX_WALL = 253402300799.0  # 9999-12-31T23:59:59Z: the last instant datetime can show


class InvalidFlagsError(ValueError):
    """A stored document that does not have the documented shape (the text says where)."""


class OperatorFlags:
    def __init__(self, store: FlagStore, driver: Driver, log: EventLog) -> None:
        self._store, self._driver, self._log = store, driver, log

    def restore(self) -> None:
        """Apply the stored flags (before Start, so the first adverts carry them)."""
        maintenance = self._valid(MAINTENANCE_FILE, _maintenance)
        if maintenance is not None and maintenance[0]:
            self._driver.post(SetMaintenance(on=True, since_at=self._monotonic(maintenance[1])))
            self._log.record(msg.NOTICE, "maintenance mode is on (persisted): every VIP is "
                             f"demoted to {MAX_DEMOTION}", MESSAGE_ID=msg.OPERATOR_ACTION)
        stats = self._driver.statistics()
        names = {p.name for p in stats.params} if stats is not None else set()
        for name, (amount, until) in sorted((self._valid(DEMOTIONS_FILE, _demotions)
                                             or {}).items()):
            if name in names:
                self._driver.post(OperatorDemote(name=name, amount=amount,
                                                 until_at=self._monotonic(until)))

    def _valid(self, name: str, check: Callable[[dict[str, Any]], T]) -> T | None:
        """The stored document `name` as `check` reads it, None when absent or invalid (an
        invalid one is set aside by the store, with the problem)."""
        document = self._store.load(name)
        if document is None:
            return None
        try:
            return check(document)
        except InvalidFlagsError as exc:
            self._store.set_aside(name, str(exc))
            return None

    def save_maintenance(self) -> bool:
        """Write the core's maintenance flag; False when it could not be saved."""
        stats = self._driver.statistics()
        if stats is None:
            return True
        m = stats.policy.maintenance
        since = None if m.since_at is None else self._driver.wall_of(m.since_at)
        return self._save(MAINTENANCE_FILE, {"on": m.on, "since": since})

    def save_demotions(self) -> bool:
        """Write the core's operator demotions; False when they could not be saved."""
        stats = self._driver.statistics()
        if stats is None:
            return True
        wall = self._driver.wall_of
        return self._save(DEMOTIONS_FILE, {
            d.name: {"amount": d.amount, "until": None if d.until_at is None
                     else wall(d.until_at)} for d in stats.policy.operator_demotions})

    def _monotonic(self, wall: float | None) -> float | None:
        return None if wall is None else self._driver.monotonic_of(wall)

    def _save(self, name: str, document: dict[str, Any]) -> bool:
        try:
            self._store.save(name, document)
        except OSError as exc:
            self._log.record(msg.ERR, f"cannot persist operator flag {name} (it will not "
                             f"survive a restart): {exc}", MESSAGE_ID=msg.IO_FAILURE)
            return False
        return True


def _maintenance(doc: dict[str, Any]) -> tuple[bool, float | None]:
    on = doc.get("on", False)
    if not isinstance(on, bool):
        raise InvalidFlagsError(f'"on" must be true or false, not {_shown(on)}')
    return on, _instant(doc.get("since"), '"since"')


def _demotions(doc: dict[str, Any]) -> dict[str, tuple[int, float | None]]:
    found = {}
    for name, entry in doc.items():
        if not isinstance(entry, dict):
            raise InvalidFlagsError(f"{name}: must be an object with amount and until, not "
                               f"{_shown(entry)}")
        amount = entry.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int) or \
                not 1 <= amount <= MAX_DEMOTION:
            raise InvalidFlagsError(f'{name}: "amount" must be an integer 1..{MAX_DEMOTION}, not '
                               f"{_shown(amount)}")
        found[name] = (amount, _instant(entry.get("until"), f'{name}: "until"'))
    return found


def _instant(value: object, what: str) -> float | None:
    """A stored wall-clock instant: null, or seconds from 1970 to the end of 9999."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or \
            not math.isfinite(value) or not 0 <= value <= MAX_WALL:
        raise InvalidFlagsError(f"{what} must be null or seconds since 1970 up to year 9999, not "
                           f"{_shown(value)}")
    return float(value)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
