"""Intervals and the election classifier over the whole table of CARP.md 3.4."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from carpd.core.carp import election
from carpd.core.states import VhidInput

IP = ipaddress.IPv4Address
TAKEOVER, PREFERRED, NOT_PREFERRED = (VhidInput.PEER_TAKEOVER, VhidInput.PEER_PREFERRED,
                                      VhidInput.PEER_NOT_PREFERRED)


# -- intervals ---------------------------------------------------------------------------------

def test_advert_interval() -> None:
    assert election.advert_interval(1, 0) == 1.0
    assert election.advert_interval(1, 50) == pytest.approx(1.1953125)
    assert election.advert_interval(0, 128) == 0.5
    assert election.advert_interval(255, 255) == pytest.approx(255.99609375)


def test_master_down_interval_ucarp_example() -> None:
    # CARP.md 3.2/8.8: advbase 1, ratio 2, skew 50 -> 2.195 s (the ratio does not multiply skew)
    assert election.master_down_interval(1, 2, 50) == pytest.approx(2.1953125)
    assert round(election.master_down_interval(1, 2, 50), 3) == 2.195
    assert election.master_down_interval(1, 3, 0) == 3.0
    assert election.master_down_interval(4, 3, 128) == 12.5
    assert election.master_down_interval(0, 3, 128) == 0.5  # advbase 0 trap: ratio multiplies 0


def test_interval_key_is_ucarp_sec_usec() -> None:
    assert election.interval_key(1, 50) == (1, 195312)
    assert election.interval_key(2, 255) == (2, 996093)
    assert election.skew_usec(1) == 3906
    assert election.skew_usec(0) == 0


def test_effective_advskew() -> None:
    assert election.effective_advskew(10, 0, False) == 10
    assert election.effective_advskew(10, 50, False) == 60
    assert election.effective_advskew(200, 100, False) == 254  # capped below the bow-out value
    assert election.effective_advskew(10, 0, True) == 240
    assert election.effective_advskew(250, 0, True) == 250  # max(), not replace
    assert election.effective_advskew(0, 10, True) == 240


# -- BACKUP column of the table ----------------------------------------------------------------

def _backup(peer: tuple[int, int], own: tuple[int, int], *, preempt: bool,
            deadratio: int = 3) -> tuple[VhidInput, str]:
    return election.classify_in_backup(peer_base=peer[0], peer_skew=peer[1], own_base=own[0],
                                     own_skew=own[1], deadratio=deadratio, preempt=preempt)


@pytest.mark.parametrize("preempt", [False, True])
@pytest.mark.parametrize(("peer", "own"), [((1, 0), (1, 100)), ((1, 99), (1, 100)),
                                           ((0, 255), (1, 0)), ((1, 100), (1, 100))])
def test_backup_faster_or_equal_master_restarts_timer(peer: tuple[int, int],
                                                      own: tuple[int, int],
                                                      preempt: bool) -> None:
    assert _backup(peer, own, preempt=preempt) == (PREFERRED, "peer_preferred")


def test_backup_slower_master_with_preempt_taken_over() -> None:
    assert _backup((1, 100), (1, 0), preempt=True) == (TAKEOVER, "preempted_slower_master")
    assert _backup((1, 1), (1, 0), preempt=True) == (TAKEOVER, "preempted_slower_master")


def test_backup_slower_master_without_preempt_tolerated() -> None:
    assert _backup((1, 100), (1, 0), preempt=False) == (PREFERRED, "slower_master_tolerated")
    # exactly at our master-down interval (3 s + 0): not strictly greater -> tolerated
    assert _backup((3, 0), (1, 0), preempt=False) == (PREFERRED, "slower_master_tolerated")


def test_backup_master_going_to_time_out_without_preempt() -> None:
    # CARP.md 8.7: peer advbase 4 vs our advbase 1, ratio 3
    assert _backup((4, 0), (1, 0), preempt=False) == (TAKEOVER, "master_going_to_time_out")
    # strictly above (advbase*ratio s, own-skew us): 3 s + 1/256 > 3 s + 0
    assert _backup((3, 1), (1, 0), preempt=False) == (TAKEOVER, "master_going_to_time_out")
    # the local skew is added once, not multiplied: (3, 50/256) vs own (1, 50)
    assert _backup((3, 50), (1, 50), preempt=False) == (PREFERRED, "slower_master_tolerated")
    assert _backup((3, 51), (1, 50), preempt=False) == (TAKEOVER, "master_going_to_time_out")
    # the ratio matters
    assert _backup((4, 0), (1, 0), preempt=False, deadratio=4) == (
        PREFERRED, "slower_master_tolerated")


@pytest.mark.parametrize("preempt", [False, True])
@pytest.mark.parametrize("own", [(1, 0), (255, 254), (100, 0)])
def test_backup_bow_out_always_taken_over(preempt: bool, own: tuple[int, int]) -> None:
    assert _backup((255, 255), own, preempt=preempt) == (TAKEOVER, "peer_bowed_out")


def test_backup_255_254_is_not_a_bow_out() -> None:
    assert _backup((255, 254), (255, 254), preempt=False) == (PREFERRED, "peer_preferred")


# -- MASTER column of the table ----------------------------------------------------------------

def _master(peer: tuple[int, int], own: tuple[int, int], peer_src: str = "10.0.0.2",
            own_src: str = "10.0.0.1") -> tuple[VhidInput, str]:
    return election.classify_in_master(peer_base=peer[0], peer_skew=peer[1], own_base=own[0],
                                     own_skew=own[1], peer_source=IP(peer_src),
                                     own_source=IP(own_src))


@pytest.mark.parametrize(("peer", "own"), [((1, 0), (1, 1)), ((0, 200), (1, 0)),
                                           ((1, 100), (2, 0))])
def test_master_faster_peer_preferred(peer: tuple[int, int], own: tuple[int, int]) -> None:
    # whatever the addresses say
    assert _master(peer, own, "10.0.0.200", "10.0.0.1") == (PREFERRED, "preferred_master_heard")
    assert _master(peer, own, "10.0.0.1", "10.0.0.200") == (PREFERRED, "preferred_master_heard")


@pytest.mark.parametrize(("peer", "own"), [((1, 1), (1, 0)), ((2, 0), (1, 255)),
                                           ((255, 255), (1, 0))])
def test_master_slower_peer_not_preferred(peer: tuple[int, int], own: tuple[int, int]) -> None:
    assert _master(peer, own, "10.0.0.1", "10.0.0.200") == (NOT_PREFERRED, "slower_master_heard")
    assert _master(peer, own, "10.0.0.200", "10.0.0.1") == (NOT_PREFERRED, "slower_master_heard")


def test_master_equal_skews_that_round_to_the_same_usec_are_equal() -> None:
    # compared on floor(skew*10^6/256) like ucarp; distinct skews never collide, so equal
    # means equal advbase and advskew
    assert len({election.skew_usec(s) for s in range(256)}) == 256
    assert _master((1, 7), (1, 7), "10.0.0.2", "10.0.0.1")[0] is NOT_PREFERRED


def test_tie_break_x86_examples_from_experiments() -> None:
    # ucarp 127.0.0.2 vs 127.1.0.1, both MASTER: 127.1.0.1 won
    assert _master((1, 0), (1, 0), peer_src="127.1.0.1", own_src="127.0.0.2") == (
        PREFERRED, "equal_master_tie_break_lost")
    assert _master((1, 0), (1, 0), peer_src="127.0.0.2", own_src="127.1.0.1") == (
        NOT_PREFERRED, "equal_master_tie_break_won")
    # 127.0.0.1 as MASTER: an equal ad from 126.0.0.2 loses, from 127.0.0.0 wins
    assert _master((1, 0), (1, 0), peer_src="126.0.0.2", own_src="127.0.0.1") == (
        NOT_PREFERRED, "equal_master_tie_break_won")
    assert _master((1, 0), (1, 0), peer_src="127.0.0.0", own_src="127.0.0.1") == (
        PREFERRED, "equal_master_tie_break_lost")


def test_tie_break_is_not_numeric_order() -> None:
    # carpd 10.0.0.2 vs ucarp 10.0.1.1: numerically 10.0.0.2 < 10.0.1.1, but on x86 ucarp
    # 10.0.1.1 (reversed 1.1.0.10) < 10.0.0.2 (reversed 2.0.0.10): 10.0.0.2 must yield
    carpd, ucarp = IP("10.0.0.2"), IP("10.0.1.1")
    assert election.tie_break_peer_wins(ucarp, carpd)
    assert not election.tie_break_peer_wins(carpd, ucarp)


_addr = st.integers(0, 2**32 - 1).map(IP)


@given(_addr, _addr, st.integers(0, 255), st.integers(0, 254))
def test_exactly_one_of_two_equal_masters_yields(a: IP, b: IP, base: int, skew: int) -> None:
    assume(a != b)
    a_view = _master((base, skew), (base, skew), str(b), str(a))[0]
    b_view = _master((base, skew), (base, skew), str(a), str(b))[0]
    assert {a_view, b_view} == {PREFERRED, NOT_PREFERRED}


@given(_addr)
def test_equal_address_never_wins_tie_break(a: IP) -> None:
    assert not election.tie_break_peer_wins(a, a)


@given(st.integers(0, 255), st.integers(0, 254), st.integers(0, 255), st.integers(0, 254))
def test_two_masters_never_both_stay(base_a: int, skew_a: int, base_b: int,
                                     skew_b: int) -> None:
    """For distinct intervals, exactly one of two masters steps down."""
    assume((base_a, skew_a) != (base_b, skew_b))
    a_view = _master((base_b, skew_b), (base_a, skew_a))[0]
    b_view = _master((base_a, skew_a), (base_b, skew_b), "10.0.0.1", "10.0.0.2")[0]
    assert {a_view, b_view} == {PREFERRED, NOT_PREFERRED}


# -- send-error suppression --------------------------------------------------------------------

def test_suppressed_node_loses_to_normal_peer() -> None:
    own_skew = election.effective_advskew(0, 0, send_suppressed=True)
    assert own_skew == election.SEND_ERROR_SKEW == 240
    assert _master((1, 100), (1, own_skew))[0] is PREFERRED
    assert _backup((1, 100), (1, own_skew), preempt=True)[0] is PREFERRED
    assert _master((1, 100), (1, election.effective_advskew(0, 0, False)))[0] is NOT_PREFERRED
