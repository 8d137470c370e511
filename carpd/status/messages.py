"""Stable journald MESSAGE_IDs and syslog priorities for carpd's structured records.

Owns: the 128-bit ids that `journalctl MESSAGE_ID=...` and the journal catalog use (never
change an id once released: operators' alerts match on them; every id has an entry in
packaging/carpd.catalog, which tests/status/test_catalog.py enforces), and the words of the
records whose wording depends on their content (`hold_down_released`, `state_changed`: a
takeover names the master it lost and when that was last heard).
"""

from __future__ import annotations

from collections.abc import Callable

from carpd.core.actions import HoldDownReleased, StateChanged, VhidState
from carpd.core.states import Reason

STATE_CHANGED = "92dd296804234c9298501830338ebcfa"
PACKET_DROPPED = "7a7fae6f4117476fbe3465e9ed975bba"
VIP_RECONCILED = "a44c27e29beb4277be4861ed84785f40"
IO_FAILURE = "792c7d7e10c4495c9155293334675e94"
DAEMON_LIFECYCLE = "6ec5c6d04a1c4cc196298b8ffdd195a8"
SCRIPT_RESULT = "2e7ad9ad74b846aabf4ffc508aa37ce6"
CHECK_CHANGED = "5b2f0c5f7f0e4a7f9a3d1c6e2b8d4f10"  # a health check became passing/failing
ANOMALY = "c1d7e4a29b6f4e08a5f3b2d1e0c9a817"  # dual master, foreign advert, check flapping
OPERATOR_ACTION = "0f8e3a6b5c2d4e19b7a6c5d4e3f2a1b0"  # demote, promote, maintenance

# syslog priorities
ERR, WARNING, NOTICE, INFO, DEBUG = 3, 4, 5, 6, 7


def hold_down_released(a: HoldDownReleased) -> tuple[int, str]:
    """(priority, message) of the end of a VIP's boot hold-down."""
    if not a.unmet:
        return INFO, (f"vip {a.name}: boot hold-down released after {a.held_interval:.2f} s "
                      "(carrier, address, required units and first check results are there)")
    return WARNING, (f"vip {a.name}: boot hold-down given up after {a.held_interval:.0f} s, "
                     f"still waiting for {', '.join(a.unmet)}: competing at full rank anyway")


def state_changed(a: StateChanged, now: float,
                  wall_iso: Callable[[float], str]) -> tuple[int, str, dict[str, object]]:
    """(priority, message, journal fields) of a transition at the monotonic instant `now`;
    a takeover because a peer master went silent (a master-down timer) adds
    CARP_LOST_MASTER and CARP_LOST_MASTER_HEARD (ISO)."""
    peer = f" (peer {a.peer})" if a.peer is not None else ""
    prio = NOTICE if VhidState.MASTER in (a.old, a.new) else INFO
    text = f"vip {a.name}: {a.old.value} -> {a.new.value} ({a.reason_code}){peer}"
    fields: dict[str, object] = {
        "MESSAGE_ID": STATE_CHANGED, "CARP_NAME": a.name, "CARP_VHID": a.vhid,
        "CARP_INTERFACE": a.interface, "CARP_STATE": a.new.value,
        "CARP_PREV_STATE": a.old.value, "CARP_REASON": a.reason_code, "CARP_PEER": a.peer,
        "CARP_RANK": a.rank or None}
    lost, heard_at = a.last_master, a.last_master_heard_at
    silent = a.reason in (Reason.MASTER_DOWN_TIMER, Reason.MASTER_DOWN_TIMER_INET6)
    if silent and a.new is VhidState.MASTER and lost is not None and heard_at is not None:
        heard = wall_iso(heard_at)
        text += (f"; took over from master {lost}, last heard {heard} "
                 f"({now - heard_at:.1f} s before)")
        fields |= {"CARP_LOST_MASTER": lost, "CARP_LOST_MASTER_HEARD": heard}
    return prio, text, fields
