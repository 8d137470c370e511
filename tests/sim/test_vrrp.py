"""VRRPv3 on the simulator (RFC 5798 6.4): hosts running real nodes with VRRP VIPs, exact to the
microsecond. A (.101, priority 200), B (.102, 150), C (.103, 100); api = VRID 1, advert
interval 1 s unless a test says otherwise; web = CARP vhid 1 on the same segment in the mixed
test. Master_Down_Interval = 3 x the master's interval + (256 - priority)/256 x it, from the
master's last advert that a backup followed (LATENCY after it was sent)."""

from __future__ import annotations

import pytest

from tests.sim.sim import BACKUP, LATENCY, MASTER, Simulation, vip

IPS = {"A": "172.16.90.101", "B": "172.16.90.102", "C": "172.16.90.103"}
PRIORITY = {"A": 200, "B": 150, "C": 100}
API = "172.16.90.51/24"


def down(priority: int, interval_cs: int = 100) -> float:
    return (3 * interval_cs * 10_000 + (256 - priority) * interval_cs * 10_000 // 256) / 1e6


def vrrp_sim(*, preempt: bool = True, intervals: dict[str, int] | None = None,
             hosts: str = "ABC") -> Simulation:
    sim = Simulation(seed=3)
    for h in hosts:
        sim.add_host(h, [vip("api", 1, API, source=IPS[h], protocol="vrrp3",
                             priority=PRIORITY[h], preempt=preempt,
                             advert_interval_cs=(intervals or {}).get(h, 100))])
    return sim


def test_the_highest_priority_wins_after_its_own_master_down_interval() -> None:
    sim = vrrp_sim()
    sim.run_until(10.0)
    assert sim.masters("api") == ["A"]
    assert sim.became("A", "api", MASTER) == [pytest.approx(down(200), abs=1e-6)]
    assert sim.became("B", "api", MASTER) == [] and sim.became("C", "api", MASTER) == []


def test_a_crash_is_taken_over_by_the_next_priority_after_its_interval() -> None:
    sim = vrrp_sim()
    sim.run_until(10.0)
    last = sim.last_sent("A", "api", 10.0)
    sim.kill("A")
    sim.run_until(20.0)
    assert sim.masters("api") == ["B"]
    (t,) = sim.became("B", "api", MASTER, after=10.0)
    assert t == pytest.approx(last + LATENCY + down(150), abs=1e-6)


def test_a_graceful_stop_is_taken_over_after_skew_time_only() -> None:
    sim = vrrp_sim()
    sim.run_until(10.0)
    sim.shutdown("A", "api")  # priority 0
    sim.run_until(20.0)
    (t,) = sim.became("B", "api", MASTER, after=10.0)
    assert t == pytest.approx(10.0 + LATENCY + (256 - 150) / 256, abs=1e-6)
    assert sim.became("C", "api", MASTER, after=10.0) == []  # B's first advert came sooner


def test_a_returning_better_router_preempts_after_its_master_down_interval() -> None:
    sim = vrrp_sim()
    sim.run_until(10.0)
    sim.kill("A")
    sim.run_until(20.0)
    sim.restart("A")
    sim.run_until(30.0)
    assert sim.masters("api") == ["A"]
    (t,) = sim.became("A", "api", MASTER, after=20.0)
    assert t == pytest.approx(20.0 + down(200), abs=1e-6)  # B's adverts were discarded
    (stepped,) = sim.became("B", "api", BACKUP, after=20.0)
    assert stepped == pytest.approx(t + LATENCY, abs=1e-6)


def test_without_preempt_a_returning_better_router_stays_backup() -> None:
    sim = vrrp_sim(preempt=False)
    sim.run_until(10.0)
    sim.kill("A")
    sim.run_until(20.0)
    sim.restart("A")
    sim.run_until(40.0)
    assert sim.masters("api") == ["B"]


def test_backups_adopt_a_fast_masters_interval() -> None:
    sim = vrrp_sim(intervals={"A": 10})
    sim.run_until(10.0)
    assert sim.masters("api") == ["A"]
    last = sim.last_sent("A", "api", 10.0)
    sim.kill("A")
    sim.run_until(12.0)
    (t,) = sim.became("B", "api", MASTER, after=10.0)
    assert t == pytest.approx(last + LATENCY + down(150, 10), abs=1e-6)  # 0.34 s, not 3.41


def test_a_demoted_master_is_preempted_once_its_priority_falls_below_a_backup() -> None:
    sim = vrrp_sim(hosts="AB")
    sim.run_until(10.0)
    sim.demote("A", 100, "api")  # 200 -> 100 < B's 150
    sim.run_until(20.0)
    assert sim.masters("api") == ["B"]
    (t,) = sim.became("B", "api", MASTER, after=10.0)
    assert 10.0 < t <= 10.0 + down(150) + LATENCY


def test_carp_and_vrrp_with_the_same_id_elect_independently_on_one_segment() -> None:
    sim = Simulation(seed=5)
    for h, skew in (("A", 100), ("B", 0)):
        sim.add_host(h, [
            vip("web", 1, "172.16.90.31/24", source=IPS[h], advskew=skew),
            vip("api", 1, API, source=IPS[h], protocol="vrrp3", priority=PRIORITY[h]),
        ])
    sim.run_until(15.0)
    assert sim.masters("web") == ["B"] and sim.masters("api") == ["A"]
    assert all(not h.drops for h in sim.hosts.values())
