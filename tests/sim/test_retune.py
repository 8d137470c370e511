"""Retune in place (a reload) on the simulator: the seed topology of test_scenarios.py, with
the invariants checked after every step. A harmless retune moves nothing; a retune that
makes the master the worse candidate hands over in one round trip (a handover, not a flap:
one transition per host, never through INIT); and back."""

from __future__ import annotations

import dataclasses

from carpd.core.events import Retune
from tests.sim.sim import BACKUP, INIT, LATENCY, MASTER, Simulation
from tests.sim.test_scenarios import settled_seed


def retune(sim: Simulation, host: str, name: str, **changes: object) -> None:
    params = dataclasses.replace(sim.hosts[host].node.machine(name).params,  # type: ignore[union-attr]
                                 **changes)
    sim.health(host, Retune(params=params))  # marks the settle clock like any fault


def test_harmless_retune_moves_nothing() -> None:
    sim = settled_seed()
    before = len(sim.transitions)
    retune(sim, "A", "web", advskew=50, garp_count=7, deadratio=4)
    retune(sim, "B", "web", advskew=120)
    sim.settle()
    assert len(sim.transitions) == before
    assert sim.masters("web") == ["A"] and sim.masters("mail") == ["B"]
    sends = [s.at for s in sim.sent if s.host == "A" and s.name == "web" and s.at >= 20.5]
    assert sends[:3] == [20.5, 21.5 + 50 / 256, 22.5 + 100 / 256]  # at once, then 1 + 50/256


def test_master_retuned_above_the_backup_hands_over_and_back() -> None:
    sim = settled_seed()
    retune(sim, "A", "web", advskew=200)  # at 20.5: advertised at once
    sim.run_until(21.0)
    assert sim.became("B", "web", MASTER, after=20.5) == [20.5 + LATENCY]
    assert sim.became("A", "web", BACKUP, after=20.5) == [20.5 + 2 * LATENCY]
    assert [t.reason for t in sim.transitions if t.at > 20.5] == [
        "preempted_slower_master", "preferred_master_heard"]
    retune(sim, "A", "web", advskew=0)  # A is BACKUP: preempts B's next (slower) advert
    sim.settle()
    heard = sim.next_sent("B", "web", 21.0) + LATENCY
    assert sim.became("A", "web", MASTER, after=21.0) == [heard]
    assert sim.masters("web") == ["A"] and sim.masters("mail") == ["B"]
    assert not [t for t in sim.transitions if INIT in (t.old, t.new) and t.at > 20.5]
    assert not [t for t in sim.transitions if t.name == "mail" and t.at > 20.5]
