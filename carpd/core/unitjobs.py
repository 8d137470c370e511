"""What became of the master units' jobs: the outcome of each start/stop carpd asked for.

Owns: `UnitJobResult` (systemd's JobRemoved results, plus carpd's own: ERROR, the job could
not be queued at all; QUEUED, it was queued through `systemctl --no-block` because the D-Bus
was not reachable, so its outcome is unknown; NOT_RUN, systemd is not running), `UnitJobVia`,
`UnitVerb`, and `UnitJobs`, the per-VIP record the node keeps of the last outcome per unit
and of how many jobs ended with each result (for status, explain and metrics).
Policy: a unit job's result never changes the election (a master unit that fails to start
is the service's problem; a health check on it demotes the VIP if the operator wants that):
it is recorded and shown, nothing else.
Must not: read the clock (instants come in with the event), or know D-Bus or systemctl.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass

from carpd.core.clock import Instant


class UnitVerb(enum.Enum):
    START = "start"
    STOP = "stop"


class UnitJobVia(enum.Enum):
    DBUS = "dbus"  # org.freedesktop.systemd1.Manager, its result from the JobRemoved signal
    SYSTEMCTL = "systemctl"  # `systemctl --no-block`: the D-Bus was not reachable
    NONE = "none"  # systemd is not running


class UnitJobResult(enum.Enum):
    DONE = "done"
    CANCELED = "canceled"  # replaced by a later job (a stop after a start, say)
    TIMEOUT = "timeout"
    FAILED = "failed"
    DEPENDENCY = "dependency"
    SKIPPED = "skipped"
    INVALID = "invalid"
    ASSERT = "assert"
    UNSUPPORTED = "unsupported"
    COLLECTED = "collected"
    ONCE = "once"
    FROZEN = "frozen"
    OTHER = "other"  # a result this carpd does not know (the raw word is in the detail)
    ERROR = "error"  # carpd could not queue the job (no such unit, bus error, systemctl)
    QUEUED = "queued"  # queued by systemctl --no-block: its outcome is not tracked
    NOT_RUN = "not_run"  # systemd is not running

    @classmethod
    def parse(cls, word: str) -> UnitJobResult:
        try:
            return cls(word)
        except ValueError:
            return cls.OTHER

    @property
    def failed(self) -> bool:
        """A job that did not do what was asked (a later job replacing it is no failure)."""
        return self not in (UnitJobResult.DONE, UnitJobResult.CANCELED, UnitJobResult.SKIPPED,
                            UnitJobResult.QUEUED, UnitJobResult.NOT_RUN)


@dataclass(frozen=True, slots=True, kw_only=True)
class UnitJobStatistics:
    """The last job of one unit of VIP `vip`."""

    vip: str
    unit: str
    verb: UnitVerb
    result: UnitJobResult
    via: UnitJobVia
    detail: str
    at: Instant


class UnitJobs:
    def __init__(self) -> None:
        self._last: dict[tuple[str, str], UnitJobStatistics] = {}
        self._counts: dict[str, Counter[UnitJobResult]] = {}

    def observe(self, job: UnitJobStatistics) -> None:
        self._last[(job.vip, job.unit)] = job
        self._counts.setdefault(job.vip, Counter())[job.result] += 1

    def forget(self, name: str) -> None:
        self._last = {k: v for k, v in self._last.items() if k[0] != name}
        self._counts.pop(name, None)

    def statistics(self) -> tuple[tuple[UnitJobStatistics, ...], dict[str, dict[UnitJobResult,
                                                                             int]]]:
        """(the last job per unit, in the order first seen; job counts per VIP and result)."""
        return tuple(self._last.values()), {n: dict(c) for n, c in self._counts.items()}
