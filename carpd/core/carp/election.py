"""CARP intervals and the election classifier (CARP.md 3.2 and 3.4).

Owns: the advert interval, the master-down interval, and the pure decision "given my state and
a valid advert, which VhidInput is it". Intervals are compared exactly, as ucarp does, on
(seconds, floor(skew * 10**6 / 256)) tuples, never on floats.
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

import enum
import ipaddress

USEC_PER_SKEW_NUM = 1_000_000
SKEW_DEN = 256
SEND_ERROR_SKEW = 240  # ucarp/BSD: suppressed after 3 send errors
HOLD_DOWN_SKEW = 240  # boot hold-down and a faulted sync-group member (FreeBSD's 240)
MAX_ADVSKEW = 254


class VhidInput(enum.Enum):
    START = "start"
    ADVERT_DUE = "advert_due"
    MASTER_DOWN_DUE = "master_down_due"
    PEER_PREFERRED = "peer_preferred"
    PEER_NOT_PREFERRED = "peer_not_preferred"
    PEER_TAKEOVER = "peer_takeover"
    LINK_DOWN = "link_down"
    LINK_UP = "link_up"
    DEMOTION_CHANGED = "demotion_changed"
    SEND_FAILED = "send_failed"
    SEND_OK = "send_ok"
    ADDRESS_FAILED = "address_failed"
    SHUTDOWN = "shutdown"
    FAULTED = "faulted"  # a fault began (or Start/link-up while one is set)
    FAULT_CLEARED = "fault_cleared"  # the last fault ended
    RETUNED = "retuned"  # a reload changed tunable settings in place (VhidMachine.retune)


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


def tie_break_peer_wins(peer: ipaddress.IPv4Address, own: ipaddress.IPv4Address) -> bool:
    """x86 ucarp compares the addresses as they sit in memory (CARP.md 3.4)."""
    return int.from_bytes(peer.packed, "little") < int.from_bytes(own.packed, "little")


def classify_in_backup(
    *, peer_base: int, peer_skew: int, own_base: int, own_skew: int, deadratio: int,
    preempt: bool,
) -> tuple[VhidInput, str]:
    """Which input a valid advert is for a BACKUP, with the reason if it means takeover."""
    if peer_base == 255 and peer_skew == 255:
        return VhidInput.PEER_TAKEOVER, "peer_bowed_out"
    peer = interval_key(peer_base, peer_skew)
    own = interval_key(own_base, own_skew)
    if peer <= own:
        return VhidInput.PEER_PREFERRED, "peer_preferred"
    if preempt:
        return VhidInput.PEER_TAKEOVER, "preempted_slower_master"
    if peer > (own_base * deadratio, skew_usec(own_skew)):
        return VhidInput.PEER_TAKEOVER, "master_going_to_time_out"
    return VhidInput.PEER_PREFERRED, "slower_master_tolerated"


def classify_in_master(
    *, peer_base: int, peer_skew: int, own_base: int, own_skew: int,
    peer_source: ipaddress.IPv4Address, own_source: ipaddress.IPv4Address,
) -> tuple[VhidInput, str]:
    """Which input a valid advert is for a MASTER."""
    peer = interval_key(peer_base, peer_skew)
    own = interval_key(own_base, own_skew)
    if peer < own:
        return VhidInput.PEER_PREFERRED, "preferred_master_heard"
    if peer > own:
        return VhidInput.PEER_NOT_PREFERRED, "slower_master_heard"
    if tie_break_peer_wins(peer_source, own_source):
        return VhidInput.PEER_PREFERRED, "equal_master_tie_break_lost"
    return VhidInput.PEER_NOT_PREFERRED, "equal_master_tie_break_won"
