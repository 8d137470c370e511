"""VRRPv3 timers and classifiers (RFC 5798 6.1, 6.4) against IPV6-UNICAST-VRRP3.md 4.6's table."""

from __future__ import annotations

import ipaddress

import pytest

from carpd.core.states import Reason, VhidInput
from carpd.core.vrrp3 import election

A = ipaddress.ip_address


@pytest.mark.parametrize(("interval_cs", "priority", "down_us", "skew_us"), [
    (100, 100, 3_609_375, 609_375),  # keepalived 3.609375 s
    (100, 150, 3_414_062, 414_062),
    (100, 200, 3_218_750, 218_750),
    (10, 100, 360_937, 60_937),
    (10, 150, 341_406, 41_406),
    (1, 254, 30_078, 78),
])
def test_master_down_and_skew_as_keepalived_computes_them(interval_cs: int, priority: int,
                                                          down_us: int, skew_us: int) -> None:
    assert election.skew_usec(priority, interval_cs) == skew_us
    assert election.master_down_usec(priority, interval_cs) == down_us


def test_effective_priority_lowers_by_demotion_and_keeps_one() -> None:
    assert election.effective_priority(150, 0, False) == 150
    assert election.effective_priority(150, 50, False) == 100
    assert election.effective_priority(150, 240, False) == 1
    assert election.effective_priority(150, 0, True) == 1


@pytest.mark.parametrize(("peer", "own", "preempt", "expected"), [
    (0, 100, True, (VhidInput.PEER_RESIGNED, Reason.PEER_BOWED_OUT)),
    (0, 100, False, (VhidInput.PEER_RESIGNED, Reason.PEER_BOWED_OUT)),
    (150, 100, True, (VhidInput.PEER_PREFERRED, Reason.PEER_PREFERRED)),
    (100, 100, True, (VhidInput.PEER_PREFERRED, Reason.PEER_PREFERRED)),
    (50, 100, True, (VhidInput.PEER_DISCARDED, Reason.LOWER_PRIORITY_DISCARDED)),
    (50, 100, False, (VhidInput.PEER_PREFERRED, Reason.SLOWER_MASTER_TOLERATED)),
])
def test_backup_classifier(peer: int, own: int, preempt: bool,
                           expected: tuple[VhidInput, Reason]) -> None:
    assert election.classify_in_backup(peer_priority=peer, own_priority=own,
                                       preempt=preempt) == expected


@pytest.mark.parametrize(("peer", "peer_src", "expected"), [
    (0, "10.0.0.9", (VhidInput.PEER_RESIGNED, Reason.PEER_BOWED_OUT)),
    (200, "10.0.0.1", (VhidInput.PEER_PREFERRED, Reason.PREFERRED_MASTER_HEARD)),
    (50, "10.0.0.9", (VhidInput.PEER_NOT_PREFERRED, Reason.SLOWER_MASTER_HEARD)),
    (100, "10.0.0.9", (VhidInput.PEER_PREFERRED, Reason.EQUAL_MASTER_TIE_BREAK_LOST)),
    (100, "10.0.0.3", (VhidInput.PEER_NOT_PREFERRED, Reason.EQUAL_MASTER_TIE_BREAK_WON)),
])
def test_master_classifier_with_the_greater_address_tie_break(
        peer: int, peer_src: str, expected: tuple[VhidInput, Reason]) -> None:
    assert election.classify_in_master(peer_priority=peer, own_priority=100,
                                       peer_source=A(peer_src),
                                       own_source=A("10.0.0.5")) == expected


def test_ipv6_tie_break_compares_the_addresses_as_unsigned_integers() -> None:
    assert election.address_wins(A("fe80::ff:fe00:2"), A("fe80::ff:fe00:1"))
    assert not election.address_wins(A("fe80::1"), A("fe80::ff:fe00:1"))
