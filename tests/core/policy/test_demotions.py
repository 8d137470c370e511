"""Operator demotions: amounts, replacement, exact expiry at until_at, per-name survival."""

from __future__ import annotations

import pytest

from carpd.core.actions import DemotionExpired
from carpd.core.events import SetDemotion
from carpd.core.policy.demotions import MAX_DEMOTION, OPERATOR, OperatorDemotion, OperatorDemotions


def demote(name: str, amount: int) -> SetDemotion:
    return SetDemotion(name=name, source=OPERATOR, amount=amount)


def test_demote_promote_and_replace() -> None:
    d = OperatorDemotions()
    assert d.demote("web", 20, None, 1.0) == ([demote("web", 20)], [])
    assert d.demote("web", 30, 50.0, 2.0) == ([demote("web", 30)], [])  # replaced
    assert d.statistics() == (OperatorDemotion(name="web", amount=30, until_at=50.0),)
    assert d.next_deadline() == 50.0
    assert d.promote("web") == [demote("web", 0)]
    assert d.promote("web") == []  # nothing to clear
    assert d.next_deadline() is None and d.statistics() == ()


@pytest.mark.parametrize("amount", [0, -1, MAX_DEMOTION + 1, True])
def test_amount_out_of_range_is_a_bug(amount: int) -> None:
    with pytest.raises(ValueError, match=r"operator demotion must be 1\.\.254"):
        OperatorDemotions().demote("web", amount, None, 0.0)


def test_expiry_happens_at_exactly_until_at_not_before() -> None:
    d = OperatorDemotions()
    d.demote("web", 254, 33.5, 3.5)
    assert d.expire(33.499999) == ([], [])
    assert d.get("web") is not None
    assert d.expire(33.5) == ([demote("web", 0)], [DemotionExpired(name="web")])
    assert d.get("web") is None and d.next_deadline() is None
    assert d.expire(40.0) == ([], [])


def test_several_expire_earliest_first_and_the_deadline_follows() -> None:
    d = OperatorDemotions()
    d.demote("mail", 10, 20.0, 0.0)
    d.demote("web", 10, 10.0, 0.0)
    d.demote("gw", 10, None, 0.0)
    d.demote("db", 10, 10.0, 0.0)
    assert d.next_deadline() == 10.0
    events, actions = d.expire(25.0)
    assert actions == [DemotionExpired(name=n) for n in ("db", "web", "mail")]
    assert events == [demote(n, 0) for n in ("db", "web", "mail")]
    assert d.next_deadline() is None and [x.name for x in d.statistics()] == ["gw"]


def test_an_already_due_demotion_expires_at_once_and_ends_an_earlier_one() -> None:
    d = OperatorDemotions()
    assert d.demote("web", 50, 10.0, 10.0) == ([], [DemotionExpired(name="web")])
    d.demote("web", 50, None, 11.0)
    assert d.demote("web", 60, 5.0, 12.0) == ([demote("web", 0)],
                                              [DemotionExpired(name="web")])
    assert d.statistics() == ()


def test_demotion_for_a_recreated_vip_by_name() -> None:
    d = OperatorDemotions()
    d.demote("web", 7, None, 0.0)
    assert d.demotion_for("web") == [demote("web", 7)]
    assert d.demotion_for("mail") == []
