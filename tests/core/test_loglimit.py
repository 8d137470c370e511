"""The node's log limit under spoofed senders (issue 13, item 7): per key, per kind, bounded,
with an exact summary of what it held back. Fake clock only: `now` is an argument."""

from __future__ import annotations

import ipaddress

from carpd.core.actions import Anomaly, AnomalyKind, LogsSuppressed, PacketDropped
from carpd.core.drops import DropReason
from carpd.core.events import TimerFired
from carpd.core.loglimit import MAX_KEYS, PER_KIND_LINES, LogLimit
from carpd.core.node import Node
from tests.core.test_node import packet, receive
from tests.core.test_node_health import node

IP = ipaddress.IPv4Address
FOREIGN = AnomalyKind.FOREIGN_ADVERT


def spoofed(i: int) -> IP:
    return IP("10.200.0.0") + i


# -- LogLimit on its own ----------------------------------------------------------------------

def test_one_line_per_key_per_interval() -> None:
    limit = LogLimit(60.0)
    assert [limit.allow("k", FOREIGN, "a", t) for t in (0.0, 1.0, 59.9, 60.0)] == [
        True, False, False, True]


def test_per_kind_cap_across_keys_and_an_exact_summary_when_the_window_ends() -> None:
    limit = LogLimit(60.0, per_kind=3)
    allowed = [limit.allow(("k", i), FOREIGN, f"s{i % 5}", 1.0 + i / 100) for i in range(20)]
    assert allowed == [True] * 3 + [False] * 17
    assert limit.due(60.9) == []  # the window opened at 1.0: not over yet
    assert limit.next_deadline() == 61.0
    assert limit.due(61.0) == [LogsSuppressed(kind=FOREIGN, count=17, sources=5, interval=60.0)]
    assert limit.due(61.0) == [] and limit.next_deadline() is None
    assert limit.allow(("k", 99), FOREIGN, "s", 61.5)  # a new window


def test_kinds_are_limited_separately() -> None:
    limit = LogLimit(60.0, per_kind=1)
    assert limit.allow("a", FOREIGN, None, 0.0)
    assert limit.allow("b", DropReason.BAD_HMAC, None, 0.0)
    assert not limit.allow("c", FOREIGN, None, 0.0)


def test_table_is_bounded_oldest_evicted_and_expired_pruned() -> None:
    limit = LogLimit(60.0, max_keys=4, per_kind=100)
    for i in range(10):
        assert limit.allow(i, FOREIGN, i, float(i))
    assert limit.statistics()[0] == 4  # keys 6..9 remain
    assert not limit.allow(9, FOREIGN, 9, 10.0)
    assert limit.allow(0, FOREIGN, 0, 10.0)  # evicted, so it may log again
    limit.allow("late", FOREIGN, "x", 200.0)
    assert limit.statistics()[0] == 1  # every older entry had expired


def test_source_tally_is_capped_and_says_so() -> None:
    limit = LogLimit(60.0, per_kind=0, max_sources=100)
    for i in range(1000):
        limit.allow(i, FOREIGN, i, 0.0)
    assert limit.statistics()[1] == 100
    (summary,) = limit.due(60.0)
    assert (summary.count, summary.sources, summary.sources_at_least) == (1000, 100, True)
    assert summary.text.startswith("1000 more foreign adverts from at least 100 sources "
                                   "suppressed in the last 60 s")


def test_a_window_that_ended_unasked_keeps_its_summary() -> None:
    limit = LogLimit(60.0, per_kind=1)
    limit.allow("a", FOREIGN, "a", 0.0)
    limit.allow("b", FOREIGN, "b", 1.0)  # held back
    assert limit.allow("c", FOREIGN, "c", 70.0)  # a new window, without due() in between
    assert limit.next_deadline() == 60.0
    assert limit.due(70.0) == [LogsSuppressed(kind=FOREIGN, count=1, sources=1, interval=60.0)]


def test_summary_wording() -> None:
    one = LogsSuppressed(kind=DropReason.BAD_HMAC, count=1, sources=1, interval=60.0)
    assert one.text.startswith("1 more bad_hmac drop from 1 source suppressed in the last 60 s")


# -- the node under a spoofed flood -----------------------------------------------------------

def flood(n: Node, sources: int, start: float, rate: float) -> tuple[list[object], float]:
    """One bad-HMAC advert per spoofed source, `rate` per second; returns every action."""
    actions: list[object] = []
    now = start
    for i in range(sources):
        now = start + i / rate
        deadline = n.next_deadline()
        while deadline is not None and deadline <= now:
            actions += n.handle(TimerFired(), deadline)
            deadline = n.next_deadline()
        actions += receive(n, packet(password=b"other", src=spoofed(i)), now)
    return actions, now


def test_spoofed_sources_give_bounded_lines_a_bounded_table_and_exact_summaries() -> None:
    n = node()
    actions, end = flood(n, 6000, 1.0, 100.0)  # 60 s of 100 spoofed packets per second
    actions += n.handle(TimerFired(), 130.0)  # past the last window's end
    logged = [a for a in actions if isinstance(a, Anomaly) and a.log]
    summaries = [a for a in actions if isinstance(a, LogsSuppressed)]
    foreign = [a for a in actions if isinstance(a, Anomaly)]
    assert len(foreign) == 6000 and n.statistics().anomalies["web"][FOREIGN] == 6000
    assert n.statistics().interface_drops["eth0"]["bad_hmac"] == 6000
    assert len(logged) == PER_KIND_LINES  # all 6000 packets fall in one window
    assert [s.kind for s in summaries] == [FOREIGN]
    (summary,) = summaries
    assert summary.count == 6000 - len(logged) and summary.sources == 6000 - len(logged)
    assert not summary.sources_at_least
    assert n._log_limit.statistics()[0] <= MAX_KEYS
    drops = [a for a in actions if isinstance(a, PacketDropped) and a.log]
    assert len(drops) == 1  # one (eth0, bad_hmac) line per interval, as before
    assert end < 61.0


def test_ten_minutes_of_spoofing_log_lines_bounded_by_the_interval_count() -> None:
    n = node()
    actions, end = flood(n, 12_000, 1.0, 20.0)  # 600 s at 20 packets/s, all distinct
    actions += n.handle(TimerFired(), end + 60.0)
    lines = [a for a in actions if (isinstance(a, Anomaly | PacketDropped) and a.log)
             or isinstance(a, LogsSuppressed)]
    intervals = 11
    assert len(lines) <= intervals * (PER_KIND_LINES + 1 + 1)  # anomalies, summary, drop
    summaries = [a for a in actions if isinstance(a, LogsSuppressed)]
    logged = sum(1 for a in actions if isinstance(a, Anomaly) and a.log)
    assert sum(s.count for s in summaries) == 12_000 - logged  # exact: nothing lost
    assert sum(s.sources for s in summaries) == 12_000 - logged  # each source once
    assert n._log_limit.statistics()[0] <= MAX_KEYS


def test_summary_is_a_deadline_so_it_comes_when_the_flood_stops() -> None:
    n = node()
    flood(n, PER_KIND_LINES + 5, 1.0, 100.0)
    deadline = n.next_deadline()
    assert deadline is not None and deadline <= 61.0
    summaries: list[object] = []
    while deadline is not None and deadline <= 61.0:
        summaries += [a for a in n.handle(TimerFired(), deadline)
                      if isinstance(a, LogsSuppressed)]
        deadline = n.next_deadline()
    assert summaries == [LogsSuppressed(kind=FOREIGN, count=5, sources=5, interval=60.0)]
