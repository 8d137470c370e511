"""The health check tracker: first result, rise/fall, effects, flapping, statistics."""

from __future__ import annotations

from carpd.core.actions import Anomaly, CheckObserved
from carpd.core.events import SetDemotion, SetFault
from carpd.core.params import CheckParams
from carpd.core.policy.checks import FLAP_CHANGES, FLAP_WINDOW, CheckState, CheckTracker

TCP = CheckParams(name="nginx", type="tcp", weight=100, host="127.0.0.1", port=80, rise=2,
                  fall=3)
FATAL = CheckParams(name="db", type="exec", fatal=True, command=("/bin/check-db", "-q"))


def feed(t: CheckTracker, results: str, start: float = 0.0) -> list[str]:
    """Feed 'P'/'F' results one second apart; the state after each."""
    states = []
    for i, r in enumerate(results):
        t.observe(r == "P", "ok" if r == "P" else "refused", start + i)
        states.append(t.state.value[0].upper())
    return states


def test_first_result_decides_at_once() -> None:
    t = CheckTracker("web", TCP)
    assert t.state is CheckState.UNKNOWN
    events, actions = t.observe(False, "connection refused", 5.0)
    assert t.state is CheckState.FAILING
    assert events == [SetDemotion(name="web", source="check:nginx", amount=100)]
    assert actions == [CheckObserved(name="web", check="nginx", ok=False, state="failing",
                                     changed=True, detail="connection refused")]


def test_first_pass_clears_nothing_harmfully() -> None:
    t = CheckTracker("web", TCP)
    events, _ = t.observe(True, "connected", 0.0)
    assert events == [SetDemotion(name="web", source="check:nginx", amount=0)]


def test_fall_then_rise_counts_consecutive_results() -> None:
    t = CheckTracker("web", TCP)  # rise 2, fall 3
    assert feed(t, "PFFPFFF") == list("PPPPPPF")
    assert feed(t, "PFPP", 10) == list("FFFP")


def test_events_only_on_state_change_and_observations_always() -> None:
    t = CheckTracker("web", TCP)
    t.observe(True, "ok", 0.0)
    events, actions = t.observe(False, "refused", 1.0)
    assert events == []
    assert actions == [CheckObserved(name="web", check="nginx", ok=False, state="passing",
                                     changed=False, detail="refused")]
    t.observe(False, "refused", 2.0)
    events, actions = t.observe(False, "timed out after 1 s", 3.0)
    assert events == [SetDemotion(name="web", source="check:nginx", amount=100)]
    assert actions[0] == CheckObserved(name="web", check="nginx", ok=False, state="failing",
                                       changed=True, detail="timed out after 1 s")


def test_fatal_check_is_a_fault() -> None:
    t = CheckTracker("web", FATAL)  # defaults: rise 2, fall 2
    events, _ = t.observe(False, "/bin/check-db: No such file or directory", 0.0)
    assert events == [SetFault(name="web", source="check:db", failing=True)]
    t.observe(True, "exit status 0", 1.0)
    events, _ = t.observe(True, "exit status 0", 2.0)
    assert events == [SetFault(name="web", source="check:db", failing=False)]


def test_flapping_reported_once_per_episode_and_rearmed() -> None:
    fast = CheckParams(name="x", type="tcp", weight=10, host="h", port=1, rise=1, fall=1)
    t = CheckTracker("web", fast)
    anomalies: list[tuple[float, Anomaly]] = []
    now = 0.0
    for i in range(2 * FLAP_CHANGES + 1):  # a state change on every result
        now = float(i)
        _, actions = t.observe(i % 2 == 1, "r", now)
        anomalies += [(now, a) for a in actions if isinstance(a, Anomaly)]
    # the first result sets the state (not a change); FLAP_CHANGES changes later: reported
    assert [at for at, _ in anomalies] == [float(FLAP_CHANGES)]
    _, a = anomalies[0]
    assert (a.kind, a.name, a.peer, a.log) == ("check_flapping", "web", None, True)
    assert f"changed state {FLAP_CHANGES} times within 60 s" in a.detail
    assert t.statistics().flapping
    # quiet for a window: the next change re-arms, a new burst is reported again
    later = now + FLAP_WINDOW + 1
    _, actions = t.observe(True, "r", later)  # failing -> passing: one change in the window
    assert not any(isinstance(x, Anomaly) for x in actions) and not t.statistics().flapping
    reported = []
    for i in range(1, FLAP_CHANGES):
        _, actions = t.observe(i % 2 == 0, "r", later + i)
        reported += [x for x in actions if isinstance(x, Anomaly)]
    assert len(reported) == 1


def test_statistics() -> None:
    t = CheckTracker("web", TCP)
    feed(t, "PFFF")
    s = t.statistics()
    assert (s.vip, s.name, s.type, s.target, s.fatal, s.weight) == (
        "web", "nginx", "tcp", "127.0.0.1:80", False, 100)
    assert (s.state, s.detail, s.since_at, s.results, s.failures, s.changes) == (
        CheckState.FAILING, "refused", 3.0, 4, 3, 1)


def test_targets_by_type() -> None:
    assert CheckParams(name="u", type="unit", fatal=True, unit="nginx.service").target() == (
        "nginx.service")
    assert FATAL.target() == "/bin/check-db -q"
    assert CheckParams(name="h", type="http", weight=5, url="http://127.0.0.1/",
                       expect_status=204).target() == "http://127.0.0.1/ (expect 204)"
    assert CheckParams(name="i", type="interface", weight=5, interface="eth1").target() == "eth1"


def test_an_error_result_changes_neither_the_verdict_nor_the_streak() -> None:
    """carpd could not make the check (EMFILE, ENOMEM, EAGAIN): that is no news about the
    service, so a passing check is not demoted and a fall streak is not broken."""
    t = CheckTracker("web", TCP)
    assert feed(t, "PFF") == ["P", "P", "P"]  # 2 of fall 3
    events, actions = t.observe(None, "carpd could not run the check: Too many open files", 3)
    assert events == [] and t.state is CheckState.PASSING
    assert actions == [CheckObserved(name="web", check="nginx", ok=None, state=t.state,
                                     changed=False, detail="carpd could not run the check: "
                                     "Too many open files")]
    assert feed(t, "F", start=4) == ["F"]  # the third failure still completes the streak
    s = t.statistics()
    assert (s.results, s.failures, s.errors) == (5, 3, 1)
    fresh = CheckTracker("web", FATAL)
    assert fresh.observe(None, "no descriptors", 0.0)[0] == []
    assert fresh.state is CheckState.UNKNOWN
