"""Failover scenarios on the simulator, with exact instants where the protocol fixes them.

Latency is 1/128 s and skews are n/256 s, so every instant below is an exact float. The seed
topology: A (172.16.90.101) and B (.102); web = vhid 1 (.31, advskew A 0 / B 100), mail =
vhid 2 (.32, advskew A 100 / B 0). A master's adverts leave every advbase + advskew/256; a
backup takes over one master-down interval (advbase * deadratio + advskew/256) after the last
advert it heard. The simulator checks its invariants after every step of every test.
"""

from __future__ import annotations

import ipaddress
import math

import pytest

from tests.carp_words import effective_advskew
from tests.sim.sim import (
    BACKUP,
    LATENCY,
    MASTER,
    Simulation,
    master_down,
    vip,
)

A_IP, B_IP, C_IP = "172.16.90.101", "172.16.90.102", "172.16.90.103"
WEB_IP, MAIL_IP = "172.16.90.31/24", "172.16.90.32/24"


def seed_sim(*, preempt: bool = True, b_password: bytes = b"s3cret", web_skews=(0, 100),
             seed: int = 0) -> Simulation:
    sim = Simulation(seed=seed)
    sim.add_host("A", [
        vip("web", 1, WEB_IP, source=A_IP, advskew=web_skews[0], preempt=preempt),
        vip("mail", 2, MAIL_IP, source=A_IP, advskew=100, preempt=preempt),
    ])
    sim.add_host("B", [
        vip("web", 1, WEB_IP, source=B_IP, advskew=web_skews[1], preempt=preempt,
            password=b_password),
        vip("mail", 2, MAIL_IP, source=B_IP, advskew=0, preempt=preempt,
            password=b_password),
    ])
    return sim


def settled_seed(**kwargs) -> Simulation:
    sim = seed_sim(**kwargs)
    sim.run_until(20.5)
    assert sim.masters("web") == ["A"] and sim.masters("mail") == ["B"]
    return sim


def takeover_at(sim: Simulation, old: str, name: str, killed_at: float, skew: int) -> float:
    """The instant a backup with `skew` times out: last advert heard + master-down interval."""
    return sim.last_sent(old, name, killed_at) + LATENCY + master_down(skew)


# 1 -----------------------------------------------------------------------------------------
def test_seed_topology_settles_crossed() -> None:
    sim = seed_sim()
    sim.run_until(3.0)
    # Both start BACKUP at 0; the advskew-0 machine of each VIP times out first, at exactly 3 s.
    assert sim.became("A", "web", MASTER) == [3.0]
    assert sim.became("B", "mail", MASTER) == [3.0]
    sim.settle()
    assert sim.masters("web") == ["A"] and sim.holders("web") == ["A"]
    assert sim.masters("mail") == ["B"] and sim.holders("mail") == ["B"]
    assert sim.became("B", "web", MASTER) == [] and sim.became("A", "mail", MASTER) == []
    assert sim.last_announcer("web").host == "A"
    assert sim.last_announcer("web").address == ipaddress.IPv4Address("172.16.90.31")
    assert sim.last_announcer("mail").host == "B"
    # the master advertises every advbase + advskew/256 = 1 s
    web_sends = [s.at for s in sim.sent if s.host == "A" and s.name == "web"]
    assert web_sends[:4] == [3.0, 4.0, 5.0, 6.0]


# 2 -----------------------------------------------------------------------------------------
def test_kill_master_backup_takes_over_at_master_down_interval() -> None:
    sim = settled_seed()
    sim.kill("A")
    expected = sim.last_sent("A", "web", 20.5) + LATENCY + 3 + 100 / 256
    assert expected == 20.0 + LATENCY + 3.390625
    sim.run_until(expected - 2 ** -20)
    assert sim.masters("web") == []
    sim.run_until(expected)
    assert sim.became("B", "web", MASTER) == [expected]
    assert sim.transitions[-1].reason == "master_down_timer"
    assert sim.holders("web") == ["B"]
    assert sim.last_announcer("web").host == "B"
    sim.settle()
    assert sim.masters("web") == ["B"] and sim.masters("mail") == ["B"]


# 3 -----------------------------------------------------------------------------------------
def test_link_down_then_up() -> None:
    sim = settled_seed()
    sim.link("A", up=False)
    assert sim.state("A", "web").name == "INIT" and sim.holders("web") == []
    expected = takeover_at(sim, "A", "web", 20.5, 100)
    sim.run_until(30.25)
    assert sim.became("B", "web", MASTER) == [expected]
    assert sim.holders("web") == ["B"] and sim.holders("mail") == ["B"]

    sim.link("A", up=True)
    assert sim.state("A", "web") is BACKUP and sim.state("A", "mail") is BACKUP
    sim.settle()
    # A preempts web on the first (slower) advert of B it hears; B steps down on A's reply.
    heard = sim.next_sent("B", "web", 30.25) + LATENCY
    assert sim.became("A", "web", MASTER, after=30.25) == [heard]
    assert sim.became("B", "web", BACKUP, after=30.25) == [heard + LATENCY]
    assert sim.masters("web") == ["A"] and sim.masters("mail") == ["B"]
    assert sim.became("B", "mail", BACKUP) == []
    assert sim.last_announcer("web").host == "A"


# 4 -----------------------------------------------------------------------------------------
def test_partition_and_heal() -> None:
    sim = settled_seed()
    sim.partition(["A"], ["B"])
    web_takeover = takeover_at(sim, "A", "web", 20.5, 100)
    mail_takeover = takeover_at(sim, "B", "mail", 20.5, 100)
    sim.run_until(30.25)
    assert sim.became("B", "web", MASTER) == [web_takeover]
    assert sim.became("A", "mail", MASTER) == [mail_takeover]
    assert sim.masters("web") == ["A", "B"] and sim.masters("mail") == ["A", "B"]

    sim.heal()
    sim.run_until(30.25 + 1.0 + LATENCY)  # one advert interval of the preferred master
    assert sim.masters("web") == ["A"] and sim.masters("mail") == ["B"]
    # The loser's farewell advert makes the winner re-announce: ARP caches follow the winner.
    assert sim.last_announcer("web").host == "A" and sim.last_announcer("web").at > 30.25
    assert sim.last_announcer("mail").host == "B" and sim.last_announcer("mail").at > 30.25
    sim.settle()
    assert sim.masters("web") == ["A"] and sim.masters("mail") == ["B"]


def test_heal_when_the_winner_speaks_first_loser_says_farewell() -> None:
    """Heal just after B's web advert: A's next advert reaches B first and B steps down. Its
    farewell advert makes A re-announce, so ARP caches that learned B during the split follow A.
    """
    sim = settled_seed()
    sim.partition(["A"], ["B"])
    sim.run_until(30.0)
    b_sends = (sim.last_sent("B", "web", 30.0) + k * (1 + 100 / 256) for k in range(1, 20))
    b_send = next(t for t in b_sends if math.ceil(t) - t > 2 * LATENCY + 2 ** -10)
    sim.run_until(b_send + LATENCY + 2 ** -10)  # B's advert was lost to the partition
    heal_at = sim.now
    sim.heal()
    a_send = float(math.ceil(b_send))
    sim.settle()
    assert sim.next_sent("A", "web", heal_at) == a_send < sim.next_sent("B", "web", b_send)
    assert sim.became("B", "web", BACKUP, after=heal_at) == [a_send + LATENCY]
    announce = sim.last_announcer("web")
    assert (announce.host, announce.at) == ("A", a_send + 2 * LATENCY)


# 5 -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("preempt", [False, True])
def test_returning_preferred_host(preempt: bool) -> None:
    sim = settled_seed(preempt=preempt)
    sim.kill("A")
    sim.run_until(25.25)
    assert sim.masters("web") == ["B"]
    sim.restart("A")
    sim.settle()
    if preempt:
        heard = sim.next_sent("B", "web", 25.25) + LATENCY
        assert sim.became("A", "web", MASTER, after=25.25) == [heard]
        assert sim.transitions[-2].reason == "preempted_slower_master"
        assert sim.masters("web") == ["A"]
    else:
        assert sim.became("A", "web", MASTER, after=25.25) == []
        assert sim.state("A", "web") is BACKUP and sim.masters("web") == ["B"]
    assert sim.masters("mail") == ["B"]


# 6 -----------------------------------------------------------------------------------------
def test_bow_out_on_shutdown() -> None:
    sim = settled_seed()
    sim.shutdown("A")
    assert [s for s in sim.sent if s.bow_out] and sim.sent[-1].host == "A"
    assert sim.sent[-1].bow_out and sim.sent[-1].at == 20.5
    assert sim.holders("web") == []
    sim.run_until(20.5 + LATENCY)
    assert sim.became("B", "web", MASTER) == [20.5 + LATENCY]
    assert sim.transitions[-1].reason == "peer_bowed_out"
    sim.settle()
    assert sim.masters("web") == ["B"] and sim.masters("mail") == ["B"]
    sim.start("A")
    sim.settle()
    assert sim.masters("web") == ["A"] and sim.masters("mail") == ["B"]


# 7 -----------------------------------------------------------------------------------------
def test_wrong_password_never_elects_across() -> None:
    sim = seed_sim(b_password=b"wrong")
    sim.run_until(60.0)
    assert sim.masters("web") == ["A", "B"] and sim.masters("mail") == ["A", "B"]
    for host, peer in (("A", "B"), ("B", "A")):
        assert sim.became(host, "web", BACKUP) == []
        drops = sim.hosts[host].node.statistics().vip_drops
        for name in ("web", "mail"):  # every advert of the peer was dropped, as bad_hmac
            heard = [s for s in sim.sent if s.host == peer and s.name == name
                     and s.at + LATENCY <= 60.0]
            assert drops[name] == {"bad_hmac": len(heard)} and len(heard) > 30


# 8 -----------------------------------------------------------------------------------------
HOSTS3 = {"A": A_IP, "B": B_IP, "C": C_IP}


def skew_of(i: int, vhid: int) -> int:
    return ((vhid + 17 * i) % 25) * 10  # distinct per VHID, at least 10 apart


def test_three_hosts_fifty_vhids() -> None:
    sim = Simulation(seed=8)
    for i, (host, ip) in enumerate(HOSTS3.items()):
        sim.add_host(host, [vip(f"v{v}", v, f"10.0.{v}.1/24", source=ip,
                                advskew=skew_of(i, v)) for v in range(1, 51)])
    expected = {v: min(HOSTS3, key=lambda h: skew_of(list(HOSTS3).index(h), v))
                for v in range(1, 51)}
    sim.run_until(3.0 + 250 / 256)
    for v in range(1, 51):  # the first timeout wins and is never challenged
        skew = min(skew_of(i, v) for i in range(3))
        assert sim.became(expected[v], f"v{v}", MASTER) == [master_down(skew)]
    sim.settle()
    for v in range(1, 51):
        assert sim.masters(f"v{v}") == [expected[v]] == sim.holders(f"v{v}")

    victim = "A"
    kill_at = sim.now
    sim.kill(victim)
    sim.settle()
    survivors = ["B", "C"]
    for v in range(1, 51):
        name = f"v{v}"
        new = min(survivors, key=lambda h: skew_of(list(HOSTS3).index(h), v))
        assert sim.masters(name) == [new]
        if expected[v] == victim:
            skew = skew_of(list(HOSTS3).index(new), v)
            assert sim.became(new, name, MASTER) == [takeover_at(sim, victim, name, kill_at,
                                                                 skew)]
        else:
            assert sim.became(expected[v], name, BACKUP) == []


# 9 -----------------------------------------------------------------------------------------
def test_demotion_fast_handover_and_back() -> None:
    sim = settled_seed()
    sim.demote("A", 150, "web")
    assert effective_advskew(sim.hosts["A"].node.machine("web")) == 150
    assert sim.sent[-1].host == "A" and sim.sent[-1].rank == 150  # advertised at once
    sim.run_until(20.5 + 2 * LATENCY)
    assert sim.became("B", "web", MASTER) == [20.5 + LATENCY]
    assert sim.became("A", "web", BACKUP) == [20.5 + 2 * LATENCY]
    sim.run_until(30.25)
    assert sim.masters("web") == ["B"]

    sim.demote("A", 0, "web")
    sim.settle()
    heard = sim.next_sent("B", "web", 30.25) + LATENCY
    assert sim.became("A", "web", MASTER, after=30.25) == [heard]
    assert sim.masters("web") == ["A"] and sim.masters("mail") == ["B"]


# 10 ----------------------------------------------------------------------------------------
def test_loss_then_recovery() -> None:
    sim = settled_seed(seed=10)
    sim.set_loss(0.2)
    sim.run_until(200.0)  # invariants 1-3 are checked after every step meanwhile
    assert sim.lost > 50
    sim.set_loss(0.0)
    sim.settle()
    assert sim.masters("web") == ["A"] and sim.masters("mail") == ["B"]


# 11 ----------------------------------------------------------------------------------------
def test_equal_advskew_tie_break() -> None:
    sim = seed_sim(web_skews=(0, 0))
    sim.run_until(3.0 + LATENCY)
    # both time out at 3.0; A's address read little-endian is lower, so A wins the tie.
    assert sim.became("A", "web", MASTER) == [3.0] == sim.became("B", "web", MASTER)
    assert sim.became("B", "web", BACKUP) == [3.0 + LATENCY]
    assert sim.transitions[-1].reason == "equal_master_tie_break_lost"
    sim.settle()
    assert sim.masters("web") == ["A"]
    for step in range(3):  # churn, and check that every settle ends with one master
        sim.kill("A")
        sim.settle()
        assert sim.masters("web") == ["B"]
        sim.restart("A")
        if step % 2:
            sim.partition(["A"], ["B"])  # A returns unable to hear B: both masters for a while
        sim.run_for(5.0)
        sim.heal()
        sim.settle()
        assert len(sim.masters("web")) == 1


# the checker itself --------------------------------------------------------------------------
def test_invariant_failure_is_readable() -> None:
    sim = settled_seed()
    sim.hosts["B"].held["web"] = ()
    with pytest.raises(AssertionError) as err:
        sim.run_for(0.5)
    text = str(err.value)
    assert "B/web: state BACKUP but addresses held" in text
    assert "fault schedule" in text and "recent events" in text


def test_settled_check_catches_two_masters() -> None:
    sim = seed_sim(b_password=b"wrong")
    sim.hosts["B"].vips = tuple(  # lie to the checker: pretend B shares A's password
        p if p.name != "web" else sim.hosts["A"].vip("web") for p in sim.hosts["B"].vips)
    with pytest.raises(AssertionError, match="has masters \\['A', 'B'\\]"):
        sim.settle()


# 12 ----------------------------------------------------------------------------------------
def test_send_errors_suppress_the_master() -> None:
    """Three failed sends raise the effective advskew to 240 (ucarp/BSD send-error rule)."""
    sim = settled_seed()
    sim.break_tx("A")
    takeover = takeover_at(sim, "A", "web", 20.5, 100)  # nothing from A reaches B any more
    a_web = sim.hosts["A"].node.machine("web")
    sim.run_until(22.5)
    assert a_web.statistics().send_errors == 2 and effective_advskew(a_web) == 0
    sim.run_until(23.0)  # the third consecutive failure
    assert a_web.statistics().send_errors == 3 and effective_advskew(a_web) == 240
    sim.run_until(takeover + LATENCY)
    assert a_web.statistics().send_errors == 4  # + the farewell advert of the step-down
    assert sim.became("B", "web", MASTER) == [takeover]
    # A still receives: B's advert (skew 100 < 240) makes A step down one latency later.
    assert sim.became("A", "web", BACKUP) == [takeover + LATENCY]
    assert sim.transitions[-1].reason == "preferred_master_heard"

    sim.break_tx("A", broken=False)
    sim.settle()
    # Only successful sends clear the suppression and a BACKUP sends nothing, so A stays
    # BACKUP after the repair, exactly as ucarp and the BSDs behave.
    assert effective_advskew(a_web) == 240 and sim.masters("web") == ["B"]
    sim.kill("B")
    killed_at = sim.now
    sim.run_for(5.0)
    assert sim.became("A", "web", MASTER, after=killed_at) == [
        takeover_at(sim, "B", "web", killed_at, 240)]
    sim.run_for(3.0)  # three good sends later the suppression is gone
    assert effective_advskew(a_web) == 0 and not a_web.statistics().send_suppressed


# 13 ----------------------------------------------------------------------------------------
def test_two_segments_same_vhid_are_independent() -> None:
    """vhid 1 on two segments: demultiplexed by (interface, vhid); a link fault stays local."""
    sim = Simulation(seed=13)
    segs = {"eth0": "lan", "eth1": "dmz"}
    sim.add_host("A", [vip("front", 1, "172.16.90.31", source=A_IP, advskew=0),
                       vip("back", 1, "10.9.0.31", source="10.9.0.101", advskew=100,
                           interface="eth1")], segments=segs)
    sim.add_host("B", [vip("front", 1, "172.16.90.31", source=B_IP, advskew=100),
                       vip("back", 1, "10.9.0.31", source="10.9.0.102", advskew=0,
                           interface="eth1")], segments=segs)
    sim.add_host("C", [vip("other", 3, "172.16.90.33", source=C_IP)])  # lan only
    sim.settle()
    assert sim.masters("front") == ["A"] and sim.masters("back") == ["B"]
    assert sim.masters("other") == ["C"]
    drops = sim.hosts["C"].node.statistics().interface_drops["eth0"]
    assert set(drops) == {"unknown_vhid"}  # quiet drops, counted per interface
    assert not any(d.log for _, d in sim.hosts["C"].drops)

    t = sim.now
    sim.link("B", up=False, interface="eth1")
    sim.settle()
    assert sim.masters("back") == ["A"] and sim.became("A", "back", MASTER) == [
        takeover_at(sim, "B", "back", t, 100)]
    assert sim.masters("front") == ["A"] and sim.state("B", "front") is BACKUP


# -- restart with resume ------------------------------------------------------------------

def _pair(preempt: bool = True) -> Simulation:
    sim = Simulation()
    sim.add_host("A", [vip("web", 1, "172.16.90.31", source="172.16.90.101", preempt=preempt)])
    sim.add_host("B", [vip("web", 1, "172.16.90.31", source="172.16.90.102", advskew=100,
                           preempt=preempt)])
    sim.run_until(10.0)
    assert sim.masters("web") == ["A"]
    return sim


def test_a_quick_restart_resumes_and_the_backup_never_takes_over() -> None:
    sim = _pair()
    sim.run_until(10.5)
    sim.kill("A")
    assert sim.holders("web") == []
    sim.run_until(11.0)
    sim.restart("A", resume=True)
    assert sim.masters("web") == ["A"] and sim.holders("web") == ["A"]
    assert sim.became("B", "web", MASTER) == []
    sim.settle()
    assert sim.masters("web") == ["A"] and sim.became("B", "web", MASTER) == []
    first = sim.next_sent("A", "web", 11.0)
    # silent for the slowest advert interval (1 + 254/256 s), inside B's 3 + 100/256 s
    assert first == 11.0 + 1 + 254 / 256


def test_a_late_restart_goes_through_backup_as_before() -> None:
    sim = _pair()
    sim.run_until(10.5)
    sim.kill("A")
    sim.run_until(12.5)  # 2.5 s after A's last advert (at 10.0): past the resume interval
    sim.restart("A", resume=True)
    assert sim.state("A", "web") is BACKUP
    sim.settle()
    assert sim.masters("web") == ["A"]  # preempt: A takes it back as BACKUP would


def test_resume_yields_to_a_peer_that_took_over_and_never_preempts_it() -> None:
    """The peer took over (A bowed out) and A's record still says MASTER (a lost write):
    A resumes, hears B (slower) in its window and yields; B, preempt off, keeps the VIP
    and never steps down."""
    sim = _pair(preempt=False)
    sim.shutdown("A")
    sim.run_until(10.25)
    assert sim.masters("web") == ["B"]
    sim.start("A")
    sim.run_until(20.0)
    assert sim.masters("web") == ["B"]
    a = sim.hosts["A"]
    sim.kill("A")
    a.record = {"web": sim.now - 0.1}  # a stale MASTER entry (a record write lost)
    sim.restart("A", resume=True)
    assert sim.masters("web") == ["A", "B"]  # the moment before B's next advert
    sim.run_for(1.5)  # B's advert interval: 1 + 100/256 s
    assert sim.masters("web") == ["B"]
    assert sim.transitions[-1].reason == "master_heard_while_resuming"
    assert sim.became("B", "web", BACKUP, after=10.25) == []
    sim.settle()
    assert sim.masters("web") == ["B"]
