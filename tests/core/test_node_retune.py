"""Retune in place at the node: check trackers matched by name (kept, redefined, new, gone),
sync groups recomputed, refusals that change nothing; and the tracker's own retune."""

from __future__ import annotations

import dataclasses

import pytest

from carpd.core.actions import CheckObserved, RemoveAddresses, SendAdvert, StateChanged, VhidState
from carpd.core.events import CheckResult, Retune, SetDemotion, SetFault
from carpd.core.params import CheckParams
from carpd.core.policy.checks import CheckState, CheckTracker
from tests.core.test_machine import reason_fields
from tests.core.test_node_health import (
    DB,
    GW,
    LONE,
    MAIL,
    NGINX,
    WEB,
    demotions,
    masters,
    node,
    skews,
)

TCP = CheckParams(name="nginx", type="tcp", weight=100, host="127.0.0.1", port=80, rise=2,
                  fall=2)


def failing(t: CheckTracker) -> CheckTracker:
    t.observe(False, "refused", 0.0)
    assert t.state is CheckState.FAILING
    return t


# -- the tracker -------------------------------------------------------------------------------

def test_tracker_keeps_verdict_and_history_new_rise_applies_next() -> None:
    t = failing(CheckTracker("web", TCP))
    assert t.retune(dataclasses.replace(TCP, rise=1, interval=9.0)) == []
    s = t.statistics()
    assert (s.state, s.results, s.failures, s.since_at) == (CheckState.FAILING, 1, 1, 0.0)
    events, _ = t.observe(True, "ok", 1.0)  # rise 1 now: one pass is enough
    assert events == [SetDemotion(name="web", source="check:nginx", amount=0)]


def test_tracker_new_weight_while_failing_is_reapplied() -> None:
    t = failing(CheckTracker("web", TCP))
    assert t.retune(dataclasses.replace(TCP, weight=30)) == [
        SetDemotion(name="web", source="check:nginx", amount=30)]


def test_tracker_kind_change_while_failing_sets_new_first_then_clears_old() -> None:
    t = failing(CheckTracker("web", TCP))
    fatal = dataclasses.replace(TCP, weight=0, fatal=True)
    assert t.retune(fatal) == [SetFault(name="web", source="check:nginx", failing=True),
                               SetDemotion(name="web", source="check:nginx", amount=0)]
    assert t.retune(TCP) == [SetDemotion(name="web", source="check:nginx", amount=100),
                             SetFault(name="web", source="check:nginx", failing=False)]


def test_tracker_passing_or_unknown_has_nothing_to_reapply() -> None:
    t = CheckTracker("web", TCP)
    assert t.retune(dataclasses.replace(TCP, weight=0, fatal=True)) == []
    t.observe(True, "ok", 0.0)
    assert t.retune(TCP) == []


def test_tracker_refuses_another_check() -> None:
    with pytest.raises(ValueError, match="cannot retune to another check"):
        CheckTracker("web", TCP).retune(dataclasses.replace(TCP, name="other"))


# -- the node ----------------------------------------------------------------------------------

def test_retune_is_the_retune_event() -> None:
    a, b = masters(node()), masters(node())
    new = dataclasses.replace(WEB, advskew=20)
    assert skews(a.retune(new, 5.0)) == skews(b.handle(Retune(params=new), 5.0)) == [
        ("web", 20)]


def test_kept_check_keeps_its_tracker_and_its_demotion() -> None:
    n = masters(node())
    n.handle(CheckResult(name="web", check="nginx", ok=False, detail="refused"), 5.0)
    tracker = n.tracker("web", "nginx")
    actions = n.retune(dataclasses.replace(WEB, checks=(dataclasses.replace(NGINX, port=8080),
                                                        DB)), 6.0)
    assert actions == []  # same weight, same verdict: nothing moves, the group included
    assert n.tracker("web", "nginx") is tracker and tracker is not None
    assert tracker.params.port == 8080 and tracker.state is CheckState.FAILING
    assert demotions(n)["web"] == {"check:nginx": 50}


def test_redefined_weight_of_a_failing_check_is_advertised_and_lent() -> None:
    n = masters(node())
    n.handle(CheckResult(name="web", check="nginx", ok=False, detail="refused"), 5.0)
    actions = n.retune(dataclasses.replace(WEB, checks=(dataclasses.replace(NGINX, weight=20),
                                                        DB)), 6.0)
    assert skews(actions) == [("web", 20), ("mail", 30), ("gw", 20)]


def test_failing_check_turned_fatal_bows_out() -> None:
    n = masters(node())
    n.handle(CheckResult(name="web", check="nginx", ok=False, detail="refused"), 5.0)
    fatal = dataclasses.replace(NGINX, weight=0, fatal=True)
    actions = n.retune(dataclasses.replace(WEB, checks=(fatal, DB)), 6.0)
    assert actions[0] == StateChanged(name="web", vhid=10, interface="eth0",
                                      old=VhidState.MASTER, new=VhidState.FAULT,
                                      **reason_fields("fault_check:nginx"))
    assert isinstance(actions[1], RemoveAddresses)  # release first, then bow out
    assert isinstance(actions[2], SendAdvert) and actions[2].bow_out
    assert demotions(n)["web"] == {}
    assert skews(actions) == [("mail", 250), ("gw", 240)]


def test_removed_check_is_forgotten_and_new_one_starts_unknown() -> None:
    n = masters(node())
    n.handle(CheckResult(name="web", check="nginx", ok=False, detail="refused"), 5.0)
    api = CheckParams(name="api", type="tcp", weight=10, host="127.0.0.1", port=81, rise=1,
                      fall=1)
    actions = n.retune(dataclasses.replace(WEB, checks=(api, DB)), 6.0)
    assert skews(actions) == [("web", 0), ("mail", 10), ("gw", 0)]
    assert n.tracker("web", "nginx") is None
    assert n.handle(CheckResult(name="web", check="nginx", ok=False), 6.5) == []  # late
    assert [(c.name, c.state) for c in n.statistics().checks if c.vip == "web"] == [
        ("api", CheckState.UNKNOWN), ("db", CheckState.UNKNOWN)]
    actions = n.handle(CheckResult(name="web", check="api", ok=False, detail="x"), 7.0)
    assert isinstance(actions[0], CheckObserved)
    assert demotions(n)["web"] == {"check:api": 10}


def test_removed_fatal_check_ends_the_fault() -> None:
    n = masters(node())
    n.handle(CheckResult(name="web", check="db", ok=False, detail="exit 1"), 5.0)
    actions = n.retune(dataclasses.replace(WEB, checks=(NGINX,)), 6.0)
    assert actions[0] == StateChanged(name="web", vhid=10, interface="eth0",
                                      old=VhidState.FAULT, new=VhidState.BACKUP,
                                      **reason_fields("fault_cleared"))
    assert skews(actions) == [("mail", 10), ("gw", 0)]  # the group lets go of the 240


def test_leaving_and_joining_sync_groups() -> None:
    n = masters(node())
    n.handle(SetDemotion(name="mail", source="operator", amount=100), 5.0)
    assert demotions(n)["web"] == {"sync_group": 100}
    actions = n.retune(dataclasses.replace(WEB, sync_group=None), 6.0)
    assert skews(actions) == [("web", 0)]
    assert demotions(n) == {"web": {}, "mail": {"operator": 100}, "gw": {"sync_group": 100},
                            "lone": {}}
    actions = n.retune(dataclasses.replace(LONE, sync_group="dc"), 7.0)
    assert skews(actions) == [("lone", 100)]
    assert demotions(n)["lone"] == {"sync_group": 100}


def test_refusals_change_nothing() -> None:
    n = masters(node())
    n.handle(CheckResult(name="web", check="nginx", ok=False, detail="refused"), 5.0)
    tracker = n.tracker("web", "nginx")
    with pytest.raises(ValueError, match="vip web: vhid cannot change in place"):
        n.retune(dataclasses.replace(WEB, vhid=99, checks=()), 6.0)
    with pytest.raises(ValueError, match="vip nope: not running"):
        n.retune(dataclasses.replace(GW, name="nope"), 6.0)
    assert n.tracker("web", "nginx") is tracker
    assert n.machine("web").params == WEB and demotions(n)["web"] == {"check:nginx": 50}
    assert n.machine("mail").params == MAIL
