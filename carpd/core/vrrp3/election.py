"""VRRPv3 timers and the election classifier (RFC 5798 6.1, 6.4.2, 6.4.3).

Owns: Skew_Time and Master_Down_Interval from a priority and a Master_Adver_Interval, the
effective priority (configured minus demotions), and the pure decisions "given a valid advert,
which VhidInput is it" in BACKUP and in MASTER, with their Reasons.
Time: intervals arrive in centiseconds (the wire's unit) and are computed in integer
microseconds, exactly as keepalived 2.2.7 does ((256 - priority) x interval x 625 / 16 us:
the 1 s / priority 100 skew is 609375 us); the profile turns them into the core's seconds.
FRR 8.4.4 truncates the skew to whole centiseconds, so its timers are up to 10 ms shorter.
Rules:
- BACKUP: priority 0 (the master resigns) -> wait Skew_Time only; preempt off, or an advert
  priority >= ours -> follow it (adopt its interval, restart the timer); otherwise (preempt
  and a lower priority) discard it: the better backup takes over when its own
  Master_Down_Timer runs out, never at once.
- MASTER: priority 0 -> advertise at once; a higher priority, or an equal one from a greater
  primary address (compared as unsigned integers in network byte order) -> step down;
  otherwise the peer is worse: re-assert (RFC 9568 change 5 sends an advert at once;
  keepalived does the same and re-announces).
Must not: hold state or read the clock.
"""

from __future__ import annotations

from carpd.core.addresses import Address
from carpd.core.states import Reason, VhidInput
from carpd.core.vrrp3.wire import PRIORITY_OWNER, PRIORITY_RESIGN

USEC_PER_CS = 10_000
MIN_PRIORITY = 1  # the lowest priority a live router advertises (0 means "resigning")
MAX_BACKUP_PRIORITY = 254
MASTER_DOWN_ADVERTS = 3  # RFC 5798: 3 x Master_Adver_Interval + Skew_Time
SUPPRESSED_PRIORITY = MIN_PRIORITY  # while our sends keep failing


def skew_usec(priority: int, master_interval_cs: int) -> int:
    """Skew_Time = (256 - priority) x Master_Adver_Interval / 256, in microseconds."""
    return (256 - priority) * master_interval_cs * USEC_PER_CS // 256


def master_down_usec(priority: int, master_interval_cs: int) -> int:
    return MASTER_DOWN_ADVERTS * master_interval_cs * USEC_PER_CS + skew_usec(
        priority, master_interval_cs)


def effective_priority(priority: int, demotion: int, send_suppressed: bool) -> int:
    """The configured priority lowered by the demotions, never below 1 (0 is the resign)."""
    if send_suppressed:
        return SUPPRESSED_PRIORITY
    return max(MIN_PRIORITY, priority - demotion)


def address_wins(peer: Address, own: Address) -> bool:
    """The equal-priority tie-break: the greater primary address wins."""
    return int(peer) > int(own)


def classify_in_backup(*, peer_priority: int, own_priority: int,
                       preempt: bool) -> tuple[VhidInput, Reason]:
    if peer_priority == PRIORITY_RESIGN:
        return VhidInput.PEER_RESIGNED, Reason.PEER_BOWED_OUT
    if not preempt or peer_priority >= own_priority:
        reason = (Reason.PEER_PREFERRED if peer_priority >= own_priority
                  else Reason.SLOWER_MASTER_TOLERATED)
        return VhidInput.PEER_PREFERRED, reason
    return VhidInput.PEER_DISCARDED, Reason.LOWER_PRIORITY_DISCARDED


def classify_in_master(*, peer_priority: int, own_priority: int, peer_source: Address,
                       own_source: Address) -> tuple[VhidInput, Reason]:
    if peer_priority == PRIORITY_RESIGN:
        return VhidInput.PEER_RESIGNED, Reason.PEER_BOWED_OUT
    if peer_priority > own_priority:
        return VhidInput.PEER_PREFERRED, Reason.PREFERRED_MASTER_HEARD
    if peer_priority < own_priority:
        return VhidInput.PEER_NOT_PREFERRED, Reason.SLOWER_MASTER_HEARD
    if address_wins(peer_source, own_source):
        return VhidInput.PEER_PREFERRED, Reason.EQUAL_MASTER_TIE_BREAK_LOST
    return VhidInput.PEER_NOT_PREFERRED, Reason.EQUAL_MASTER_TIE_BREAK_WON


__all__ = ["PRIORITY_OWNER", "address_wins", "classify_in_backup", "classify_in_master",
           "effective_priority", "master_down_usec", "skew_usec"]
