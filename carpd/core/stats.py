"""Statistics of one VHID: the frozen snapshot `VhidMachine.statistics()` returns, and the
mutable counters the machine keeps to build it.

Owns: field names that status, explain and metrics read (renaming one is an interface change).
What the election protocol contributes (CARP: advbase, advskew, the master's interval) is in
`election`, the profile's own snapshot with its words.
Must not: hold logic; the machine (machine.py, effects.py) updates the counters.
"""

from __future__ import annotations

from dataclasses import dataclass

from carpd.core.addresses import Address
from carpd.core.clock import Instant
from carpd.core.profile import ElectionStatistics
from carpd.core.states import Reason, VhidState, reason_code


@dataclass(frozen=True, slots=True, kw_only=True)
class VhidStatistics:
    name: str
    vhid: int
    interface: str
    state: VhidState
    since_at: Instant
    reason: Reason
    cause: str | None
    master: Address | None
    source: Address
    preempt: bool
    election: ElectionStatistics
    demotions: tuple[tuple[str, int], ...]
    send_suppressed: bool
    adverts_sent: int
    adverts_received: int
    send_errors: int
    address_errors: int
    transitions: int
    faults: tuple[str, ...] = ()
    hold_down: bool = False
    own_demotion: int = 0

    @property
    def reason_code(self) -> str:
        """The last transition's reason as status shows it ("fault_check:db")."""
        return reason_code(self.reason, self.cause)


@dataclass(slots=True)
class Counters:
    adverts_sent: int = 0
    adverts_received: int = 0
    send_errors: int = 0
    address_errors: int = 0
    transitions: int = 0
    consecutive_send_errors: int = 0
    consecutive_sends_ok: int = 0
