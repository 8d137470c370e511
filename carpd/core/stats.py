"""Statistics of one VHID: the frozen snapshot `VhidMachine.statistics()` returns, and the
mutable counters the machine keeps to build it.

Owns: field names that status, explain and metrics read (renaming one is an interface change).
Must not: hold logic; the machine in vhid.py updates the counters.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from carpd.core.actions import VhidState


@dataclass(frozen=True, slots=True, kw_only=True)
class VhidStatistics:
    name: str
    vhid: int
    interface: str
    state: VhidState
    since_at: float
    reason: str
    master: ipaddress.IPv4Address | None
    advbase: int
    advskew: int
    effective_advskew: int
    preempt: bool
    demotions: tuple[tuple[str, int], ...]
    send_suppressed: bool
    last_peer_advbase: int | None
    last_peer_advskew: int | None
    adverts_sent: int
    adverts_received: int
    send_errors: int
    address_errors: int
    transitions: int
    faults: tuple[str, ...] = ()
    hold_down: bool = False
    own_demotion: int = 0


@dataclass(slots=True)
class Counters:
    adverts_sent: int = 0
    adverts_received: int = 0
    send_errors: int = 0
    address_errors: int = 0
    transitions: int = 0
    consecutive_send_errors: int = 0
    consecutive_sends_ok: int = 0
