"""The soak's schedule and checker on synthetic data (no lab): the checker must flag what is
beyond its bounds and nothing within them."""

from __future__ import annotations

from bench.soak_checker import AddrPolls, Bounds, Probes, allowances, judge, minus, union
from bench.soak_faults import KINDS, SINGLE_HOST, Fault, schedule

X, Y = "02:00:00:00:90:01", "02:00:00:00:90:02"
VIP = "172.16.90.31"
NAMES = {X: "a", Y: "b"}


def probes(who_at: object, until: float = 60.0, period: float = 0.02) -> Probes:
    p = Probes(vips=[VIP], period=period)
    p.answers = {VIP: []}
    t = 0.0
    while t < until:
        p.round_t.append(t)
        p.answers[VIP].append(set(who_at(t)))  # type: ignore[operator]
        t = round(t + period, 6)
    return p


def fault(kind: str, start: float, end: float, n: int = 0) -> Fault:
    f = Fault(n, kind, "a", start, end - start)
    f.t_start, f.t_end = start, end
    return f


def steady(_t: float) -> set[str]:
    return {X}


def test_interval_helpers() -> None:
    assert union([(0, 2), (1, 3), (5, 6)]) == [(0, 3), (5, 6)]
    assert minus((0, 10), [(1, 2), (3, 4), (9, 12)]) == [(0, 1), (2, 3), (4, 9)]
    assert minus((1, 2), [(0, 3)]) == []


def test_quiet_run_has_no_violation() -> None:
    v = judge([VIP], probes(steady), AddrPolls(), [], Bounds(), 0.0, 60.0, NAMES)
    assert v["violations"] == []
    assert v["per_vip"][VIP]["outage_s"] == 0


def test_outage_without_a_fault_is_a_violation_with_a_timeline() -> None:
    p = probes(lambda t: set() if 30 <= t < 31 else {X})
    v = judge([VIP], p, AddrPolls(), [], Bounds(), 0.0, 60.0, NAMES)
    (bad,) = v["violations"]
    assert bad["kind"] == "no holder" and abs(bad["over_s"] - 1.0) < 0.03
    assert any("answered by nobody" in line for line in bad["timeline"])


def test_takeover_within_the_bound_is_allowed_and_beyond_is_not() -> None:
    bd = Bounds()
    ok = probes(lambda t: set() if 30 <= t < 33.5 else ({Y} if t >= 33.5 else {X}))
    v = judge([VIP], ok, AddrPolls(), [fault("cable", 30, 40)], bd, 0.0, 60.0, NAMES)
    assert v["violations"] == []
    assert abs(v["per_fault"][0]["longest_outage_s"] - 3.5) < 0.03
    late = probes(lambda t: set() if 30 <= t < 30 + bd.takeover + 1 else {Y})
    v = judge([VIP], late, AddrPolls(), [fault("cable", 30, 32)], bd, 0.0, 60.0, NAMES)
    assert [x["kind"] for x in v["violations"]] == ["no holder"]


def test_graceful_edges_allow_no_outage() -> None:
    p = probes(lambda t: set() if 30 <= t < 31.5 else {X})
    v = judge([VIP], p, AddrPolls(), [fault("reload", 30, 40)], Bounds(), 0.0, 60.0, NAMES)
    (bad,) = v["violations"]
    assert abs(bad["over_s"] - 1.0) < 0.03  # 1.5 s of outage, 0.5 s allowed


def test_lost_probes_are_not_outages() -> None:
    p = probes(lambda t: set() if int(t * 50) % 7 == 0 else {X})  # every 7th round lost
    assert judge([VIP], p, AddrPolls(), [], Bounds(), 0.0, 60.0, NAMES)["violations"] == []


def test_two_holders_allowed_while_a_fault_lasts_and_one_advert_after() -> None:
    bd = Bounds()
    settle = bd.adv + bd.margin
    p = probes(lambda t: {X, Y} if 34 <= t < 40 + settle - 0.1 else {X})
    v = judge([VIP], p, AddrPolls(), [fault("port", 30, 40)], bd, 0.0, 60.0, NAMES)
    assert v["violations"] == []
    p = probes(lambda t: {X, Y} if 34 <= t < 40 + settle + 1 else {X})
    v = judge([VIP], p, AddrPolls(), [fault("port", 30, 40)], bd, 0.0, 60.0, NAMES)
    assert [x["kind"] for x in v["violations"]] == ["two holders (client)"]


def test_two_holders_by_address_outside_any_fault() -> None:
    polls = AddrPolls([(t / 5, {"a": frozenset({VIP}),
                                "b": frozenset({VIP} if 100 <= t < 110 else ())})
                       for t in range(300)])
    v = judge([VIP], probes(steady), polls, [], Bounds(), 0.0, 60.0, NAMES)
    assert [x["kind"] for x in v["violations"]] == ["two holders (addresses)"]
    assert v["violations"][0]["who"] == ["a", "b"]


def test_restart_gets_startup_time_on_top() -> None:
    bd = Bounds()
    gap_ok, dual_ok = allowances([fault("sigkill", 10, 12)], bd)
    assert gap_ok == [(10, 12 + bd.startup + bd.takeover)]
    assert dual_ok == [(10, 12 + bd.startup + bd.adv + bd.margin)]


def test_schedule_is_seeded_bounded_and_overlaps_single_hosts() -> None:
    hosts = ["a", "b", "c"]
    one = schedule(5, 600, hosts)
    assert [f.to_json() for f in one] == [f.to_json() for f in schedule(5, 600, hosts)]
    assert {f.kind for f in one} == set(KINDS)
    assert all(f.end + 6.0 <= 600 for f in one)
    by_n = {f.n: f for f in one}
    for f in one:
        if f.overlaps is not None:
            first = by_n[f.overlaps]
            assert f.kind in SINGLE_HOST and first.kind in SINGLE_HOST
            assert f.host != first.host and first.start < f.start < first.end
