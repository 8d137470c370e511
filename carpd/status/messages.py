"""Stable journald MESSAGE_IDs and syslog priorities for carpd's structured records.

Owns: the 128-bit ids that `journalctl MESSAGE_ID=...` and the journal catalog use (never
change an id once released: operators' alerts match on them), and the words of the records
whose wording depends on their content (`hold_down_released`).
"""

from __future__ import annotations

from carpd.core.actions import HoldDownReleased

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
