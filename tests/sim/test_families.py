"""Dual-stack and unicast VIPs on the simulator, with exact instants (latency 1/128 s).

A and B share web: 172.16.90.31 + 2001:db8:90::31, advskew A 0 / B 100. Each family's
adverts travel on their own, so the simulator shows what the per-family timers do.
"""

from __future__ import annotations

import ipaddress

from tests.sim.sim import LATENCY, MASTER, Simulation, master_down, vip

A_IP, B_IP, C_IP = "172.16.90.101", "172.16.90.102", "172.16.90.103"


def dual(*, b_peers: tuple[str, ...] = (), a_peers: tuple[str, ...] = ()) -> Simulation:
    sim = Simulation(seed=3)
    sim.add_host("A", [vip("web", 1, "172.16.90.31/24", source=A_IP, advskew=0,
                           address6="2001:db8:90::31", source6="fe80::a", peers=a_peers)])
    sim.add_host("B", [vip("web", 1, "172.16.90.31/24", source=B_IP, advskew=100,
                           address6="2001:db8:90::31", source6="fe80::b", peers=b_peers)])
    return sim


def test_dual_stack_master_sends_both_families_and_the_backup_takes_over_once() -> None:
    sim = dual()
    sim.run_until(20.5)
    assert sim.masters("web") == ["A"]
    per_second = [s.at for s in sim.sent if s.host == "A" and 10 <= s.at < 12]
    assert per_second == [10.0, 10.0, 11.0, 11.0]  # one advert per family per interval
    sim.kill("A")
    expected = sim.last_sent("A", "web", 20.5) + LATENCY + master_down(100)
    sim.run_until(expected + 5)
    assert sim.became("B", "web", MASTER) == [expected]  # both timers expire together
    assert sim.transitions[-1].reason == "master_down_timer"
    announced = {a.address for a in sim.announcements if a.host == "B"}
    assert announced == {ipaddress.ip_address("172.16.90.31"),
                         ipaddress.ip_address("2001:db8:90::31")}


def test_graceful_stop_bows_out_in_both_families() -> None:
    sim = dual()
    sim.run_until(20.5)
    sim.shutdown("A")
    bows = [s for s in sim.sent if s.host == "A" and s.bow_out]
    assert len(bows) == 2
    sim.run_until(20.5 + 2 * LATENCY)
    assert sim.became("B", "web", MASTER) == [20.5 + LATENCY]


def test_unicast_pair_elects_and_fails_over_with_adverts_only_to_the_peer() -> None:
    sim = Simulation(seed=4)
    sim.add_host("A", [vip("web", 1, "172.16.90.31/24", source=A_IP, advskew=0,
                           peers=(B_IP,))])
    sim.add_host("B", [vip("web", 1, "172.16.90.31/24", source=B_IP, advskew=100,
                           peers=(A_IP,))])
    sim.run_until(20.5)
    assert sim.masters("web") == ["A"]
    assert not sim.hosts["B"].drops  # every unicast advert from A passed B's path checks
    sim.kill("A")
    expected = sim.last_sent("A", "web", 20.5) + LATENCY + master_down(100)
    sim.run_until(30.0)
    assert sim.became("B", "web", MASTER) == [expected]
    sim.restart("A")
    sim.settle()
    assert sim.masters("web") == ["A"]  # preempts back over unicast
