"""CARP intervals and the election classifier (CARP.md 3.2 and 3.4).

Owns: the advert interval, the master-down interval, and the pure decision "given my state and
a valid advert, which VhidInput is it" (with its Reason); the CARP profile (profile.py) calls
these with its settings and the machine's standing. Intervals are compared exactly, as ucarp
does, on (seconds, floor(skew * 10**6 / 256)) tuples, never on floats.
Rules followed (ucarp git HEAD, CARP.md 3.4):
- BACKUP: a faster or equal master restarts the master-down timer; a slower one is taken over
  at once with preempt, or without preempt when its interval exceeds our master-down interval
  ("going to time out"); a bow-out advert (255/255) is always taken over at once.
- MASTER: a faster peer wins (we send one last advert and step down); a slower one loses (we
  reassert with a gratuitous ARP); on an equal interval the raw source addresses decide as
  x86 ucarp does: the peer wins iff its address read as a little-endian integer is lower.
Must not: hold state or read the clock.
"""

from __future__ import annotations

from carpd.core.addresses import Address
from carpd.core.states import Reason, VhidInput

USEC_PER_SKEW_NUM = 1_000_000
SKEW_DEN = 256
SEND_ERROR_SKEW = 240  # ucarp/BSD: suppressed after 3 send errors
MAX_ADVSKEW = 254


def skew_usec(advskew: int) -> int:
    return advskew * USEC_PER_SKEW_NUM // SKEW_DEN


def interval_key(advbase: int, advskew: int) -> tuple[int, int]:
    """ucarp's (sec, usec) representation, for exact comparisons."""
    return (advbase, skew_usec(advskew))


def advert_interval(advbase: int, advskew: int) -> float:
    return advbase + advskew / SKEW_DEN


def master_down_interval(advbase: int, deadratio: int, advskew: int) -> float:
    """ucarp: the dead ratio multiplies advbase only; the local skew is added once."""
    return advbase * deadratio + advskew / SKEW_DEN


def effective_advskew(advskew: int, demotion: int, send_suppressed: bool) -> int:
    skew = min(MAX_ADVSKEW, advskew + demotion)
    return max(skew, SEND_ERROR_SKEW) if send_suppressed else skew


def tie_break_peer_wins(peer: Address, own: Address) -> bool:
    """x86 ucarp compares the addresses as they sit in memory (CARP.md 3.4)."""
    return int.from_bytes(peer.packed, "little") < int.from_bytes(own.packed, "little")


def classify_in_backup(
    *, peer_base: int, peer_skew: int, own_base: int, own_skew: int, deadratio: int,
    preempt: bool,
) -> tuple[VhidInput, Reason]:
    """Which input a valid advert is for a BACKUP, with the reason if it means takeover."""
    if peer_base == 255 and peer_skew == 255:
        return VhidInput.PEER_TAKEOVER, Reason.PEER_BOWED_OUT
    peer = interval_key(peer_base, peer_skew)
    own = interval_key(own_base, own_skew)
    if peer <= own:
        return VhidInput.PEER_PREFERRED, Reason.PEER_PREFERRED
    if preempt:
        return VhidInput.PEER_TAKEOVER, Reason.PREEMPTED_SLOWER_MASTER
    if peer > (own_base * deadratio, skew_usec(own_skew)):
        return VhidInput.PEER_TAKEOVER, Reason.MASTER_GOING_TO_TIME_OUT
    return VhidInput.PEER_PREFERRED, Reason.SLOWER_MASTER_TOLERATED


def classify_in_master(
    *, peer_base: int, peer_skew: int, own_base: int, own_skew: int,
    peer_source: Address, own_source: Address,
) -> tuple[VhidInput, Reason]:
    """Which input a valid advert is for a MASTER."""
    peer = interval_key(peer_base, peer_skew)
    own = interval_key(own_base, own_skew)
    if peer < own:
        return VhidInput.PEER_PREFERRED, Reason.PREFERRED_MASTER_HEARD
    if peer > own:
        return VhidInput.PEER_NOT_PREFERRED, Reason.SLOWER_MASTER_HEARD
    if tie_break_peer_wins(peer_source, own_source):
        return VhidInput.PEER_PREFERRED, Reason.EQUAL_MASTER_TIE_BREAK_LOST
    return VhidInput.PEER_NOT_PREFERRED, Reason.EQUAL_MASTER_TIE_BREAK_WON
