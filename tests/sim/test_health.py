"""Health on the simulator: demotion arithmetic, sync groups, FAULT, hold-down, check results.

Seed topology as in test_scenarios.py: A (.101) and B (.102); web = vhid 1 (A 0 / B 100),
mail = vhid 2 (A 100 / B 0), preempt on. Latency 1/128 s, so instants are exact floats. The
simulator checks its invariants (one master per eligible group once settled; a FAULT machine
is not eligible) after every step.
"""

from __future__ import annotations

import dataclasses

import pytest

from carpd.core.actions import Anomaly, VhidState
from carpd.core.events import CheckResult, SetFault, SetHoldDown
from carpd.core.params import CheckParams
from tests.sim.sim import BACKUP, LATENCY, MASTER, Simulation, vip
from tests.sim.test_scenarios import A_IP, B_IP, WEB_IP, settled_seed

FAULT = VhidState.FAULT
MAIL_IP = "172.16.90.32/24"
T = 30.25  # an instant between adverts of the settled seed


def group_sim(*, a_mail_skew: int = 0) -> Simulation:
    """A is preferred for web and mail, both in sync group "dc"; B backs both up at 100."""
    nginx = CheckParams(name="nginx", type="tcp", weight=150, host="127.0.0.1", port=80,
                        rise=1, fall=1)
    db = CheckParams(name="db", type="exec", fatal=True, command=("/bin/db-ok",), rise=1,
                     fall=1)

    def grouped(p, *checks: CheckParams):  # type: ignore[no-untyped-def]
        return dataclasses.replace(p, sync_group="dc", checks=checks)

    sim = Simulation()
    sim.add_host("A", [grouped(vip("web", 1, WEB_IP, source=A_IP), nginx, db),
                       grouped(vip("mail", 2, MAIL_IP, source=A_IP, advskew=a_mail_skew))])
    sim.add_host("B", [grouped(vip("web", 1, WEB_IP, source=B_IP, advskew=100)),
                       grouped(vip("mail", 2, MAIL_IP, source=B_IP, advskew=100))])
    sim.run_until(20.5)
    assert sim.masters("web") == ["A"] and sim.masters("mail") == ["A"]
    return sim


# -- demotion arithmetic ---------------------------------------------------------------------

@pytest.mark.parametrize(("amount", "moves"), [(99, False), (100, False), (101, True),
                                               (254, True), (400, True)])
def test_demotion_moves_web_only_past_the_peers_skew(amount: int, moves: bool) -> None:
    """A's effective skew = 0 + amount (capped at 254) against B's 100: equal keeps A by the
    address tie-break; above it B preempts one latency after A's immediate advert."""
    sim = settled_seed()
    sim.run_until(T)
    sim.demote("A", amount, "web", source="operator")
    assert sim.next_sent("A", "web", T - 0.001) == T  # the new skew goes out at once
    assert sim.sent[-1].rank == min(254, amount)
    sim.settle()
    if not moves:
        assert sim.masters("web") == ["A"] and sim.became("B", "web", MASTER) == []
        return
    assert sim.became("B", "web", MASTER) == [T + LATENCY]
    assert sim.became("A", "web", BACKUP, after=T) == [T + 2 * LATENCY]
    assert sim.masters("mail") == ["B"]  # untouched


def test_named_demotions_add_up_and_clearing_one_brings_web_back() -> None:
    sim = settled_seed()
    sim.run_until(T)
    sim.demote("A", 60, "web", source="check:nginx")
    sim.demote("A", 60, "web", source="maintenance")  # 120 > 100: B preempts
    sim.settle()
    assert sim.masters("web") == ["B"]
    back = sim.now
    sim.demote("A", 0, "web", source="maintenance")  # 60 < 100: A preempts on B's next advert
    sim.settle()
    assert sim.masters("web") == ["A"]
    b_next = sim.next_sent("B", "web", back)
    assert sim.became("A", "web", MASTER, after=back) == [b_next + LATENCY]


# -- sync groups -------------------------------------------------------------------------------

def test_demoting_one_member_moves_the_whole_group() -> None:
    sim = group_sim()
    sim.run_until(T)
    sim.health("A", CheckResult(name="web", check="nginx", ok=False, detail="refused"))
    sim.settle()
    assert sim.masters("web") == ["B"] and sim.masters("mail") == ["B"]
    assert sim.became("B", "web", MASTER) == [T + LATENCY]
    assert sim.became("B", "mail", MASTER) == [T + LATENCY]
    demotions = {s.name: dict(s.demotions)
                 for s in sim.hosts["A"].node.statistics().vips}  # type: ignore[union-attr]
    assert demotions == {"web": {"check:nginx": 150}, "mail": {"sync_group": 150}}
    healed = sim.now
    sim.health("A", CheckResult(name="web", check="nginx", ok=True, detail="ok"))
    sim.settle()
    assert sim.masters("web") == ["A"] and sim.masters("mail") == ["A"]
    assert sim.became("A", "mail", MASTER, after=healed) == [
        sim.next_sent("B", "mail", healed) + LATENCY]


def test_a_small_demotion_of_one_member_does_not_move_the_group() -> None:
    sim = group_sim()
    sim.run_until(T)
    sim.demote("A", 50, "mail", source="operator")
    sim.settle()
    assert sim.masters("web") == ["A"] and sim.masters("mail") == ["A"]


# -- FAULT -------------------------------------------------------------------------------------

def test_fault_bows_out_peer_takes_over_within_one_latency_then_preempt_back() -> None:
    sim = group_sim()
    sim.run_until(T)
    sim.health("A", CheckResult(name="web", check="db", ok=False, detail="exit status 1"))
    assert sim.state("A", "web") is FAULT
    assert [s.bow_out for s in sim.sent if s.at == T and s.host == "A"] == [True, False]
    sim.run_until(T + LATENCY)
    assert sim.state("B", "web") is MASTER  # the bow-out: no master-down wait
    assert sim.state("B", "mail") is MASTER  # mail follows: A lent it 240 and advertised it
    assert sim.holders("web") == ["B"]
    sim.settle()
    assert sim.state("A", "web") is FAULT and sim.holders("web") == ["B"]
    cleared = sim.now
    sim.health("A", CheckResult(name="web", check="db", ok=True, detail="exit status 0"))
    assert sim.state("A", "web") is BACKUP
    sim.settle()
    assert sim.masters("web") == ["A"] and sim.masters("mail") == ["A"]
    assert sim.became("A", "web", MASTER, after=cleared) == [
        sim.next_sent("B", "web", cleared) + LATENCY]


def test_faulted_host_stays_out_even_when_alone() -> None:
    sim = group_sim()
    sim.kill("B")
    sim.health("A", SetFault(name="web", source="operator", failing=True))
    sim.run_for(30)
    assert sim.state("A", "web") is FAULT and sim.holders("web") == []
    assert sim.masters("mail") == ["A"]  # alone: a demoted member still serves


# -- hold-down and anomalies -----------------------------------------------------------------

def test_hold_down_at_boot_does_not_preempt_until_released() -> None:
    sim = settled_seed()
    sim.kill("A")
    sim.run_for(10)
    assert sim.masters("web") == ["B"]
    sim.restart("A")
    sim.health("A", SetHoldDown(name=None, active=True))
    sim.run_for(20)
    assert sim.masters("web") == ["B"] and sim.state("A", "web") is BACKUP
    released = sim.now
    sim.health("A", SetHoldDown(name=None, active=False))
    sim.settle()
    assert sim.became("A", "web", MASTER, after=released) == [
        sim.next_sent("B", "web", released) + LATENCY]


def test_partition_heal_reports_one_dual_master_per_vip_on_the_winner() -> None:
    sim = settled_seed()
    sim.partition(["A"], ["B"])
    sim.run_until(30.0)
    healed = sim.now
    sim.heal()
    sim.settle()
    reports = [(h.name, a) for h in sim.hosts.values() for t, a in h.other_actions
               if isinstance(a, Anomaly) and t > healed]
    # each VIP's winner (A for web, B for mail) heard the other side's master once
    assert [(h, a.kind, a.name, str(a.peer)) for h, a in reports] == [
        ("A", "dual_master", "web", B_IP), ("B", "dual_master", "mail", A_IP)]
    assert sim.masters("web") == ["A"]
