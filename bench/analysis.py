"""Reading the prober's record file live, and turning probe rounds into failover figures.

A *round* is one ARP request + one ICMP echo sent at the same instant. The ARP replies that
arrive before the next round belong to that round (in the lab a reply takes well under a
millisecond); ICMP replies carry the round's sequence number. For each round we therefore know
the set of servers (MACs) that answered, which is exactly what a client on the segment can
tell: "nobody", "a", "b" or "both".
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Advert:
    t: float
    src: str
    version: int
    vhid: int
    b2: int
    b5: int
    mac: str = ""  # Ethernet source (which server sent it, in either family)
    dst: str = ""  # destination address: the group, or a unicast peer
    ttl: int = 0   # TTL / hop limit as sent


@dataclass
class ProbeLog:
    """Tails the prober's file; `poll()` parses whatever was appended since last time."""

    path: Path
    round_seq: list[int] = field(default_factory=list)
    round_t: list[float] = field(default_factory=list)
    arp: list[tuple[float, str]] = field(default_factory=list)
    icmp: list[tuple[float, str, int]] = field(default_factory=list)
    garp: list[tuple[float, str]] = field(default_factory=list)
    adverts: list[Advert] = field(default_factory=list)
    period: float = 0.005
    ended: bool = False
    _offset: int = 0
    _partial: str = ""

    def poll(self) -> None:
        try:
            with self.path.open("r") as f:
                f.seek(self._offset)
                chunk = f.read()
                self._offset = f.tell()
        except FileNotFoundError:
            return
        if not chunk:
            return
        text = self._partial + chunk
        lines = text.split("\n")
        self._partial = lines.pop()
        for line in lines:
            self._parse(line)

    def _parse(self, line: str) -> None:
        p = line.split()
        if not p:
            return
        kind = p[0]
        if kind == "S":
            self.round_seq.append(int(p[1]))
            self.round_t.append(float(p[2]))
        elif kind == "A":
            self.arp.append((float(p[1]), p[2]))
        elif kind == "I":
            self.icmp.append((float(p[1]), p[2], int(p[3])))
        elif kind == "G":
            self.garp.append((float(p[1]), p[2]))
        elif kind == "V":
            self.adverts.append(Advert(float(p[1]), p[2], int(p[3]), int(p[4]), int(p[5]),
                                       int(p[6]), *p[7:9], *(int(x) for x in p[9:10])))
        elif kind == "H":
            self.period = float(p[4])
        elif kind == "E":
            self.ended = True

    # -- live queries used while running trials -------------------------------------------

    def first_arp_from(self, mac: str, after: float) -> float | None:
        i = bisect.bisect_right(self.arp, (after, "~"))
        for t, m in self.arp[i:]:
            if m == mac:
                return t
        return None

    def last_advert_from(self, src: str, before: float) -> Advert | None:
        """The last advert before `before` whose source address or MAC is `src`."""
        for adv in reversed(self.adverts):
            if adv.t < before and src in (adv.src, adv.mac):
                return adv
        return None

    def answered_only_by(self, mac: str, since: float) -> bool:
        """True if every round sent in [since, latest complete round] was answered by `mac`
        and nobody else (used to decide that the segment is in steady state)."""
        views = self.views(since, self.round_t[-1] if self.round_t else since, kind="arp")
        return bool(views) and all(v == frozenset({mac}) for _, v in views)

    # -- per-round views -----------------------------------------------------------------

    def views(self, t0: float, t1: float, kind: str = "arp"
              ) -> list[tuple[float, frozenset[str]]]:
        """[(round send time, set of MACs that answered it)] for rounds sent in [t0, t1)."""
        lo = bisect.bisect_left(self.round_t, t0)
        hi = bisect.bisect_left(self.round_t, t1)
        if hi <= lo:
            return []
        sets: list[set[str]] = [set() for _ in range(hi - lo)]
        if kind == "arp":
            start = bisect.bisect_left(self.arp, (self.round_t[lo], ""))
            for t, mac in self.arp[start:]:
                r = bisect.bisect_right(self.round_t, t) - 1
                if r >= hi:
                    break
                if r >= lo:
                    sets[r - lo].add(mac)
        else:
            by_seq = {self.round_seq[i] & 0xFFFF: i for i in range(lo, hi)}
            start = bisect.bisect_left(self.icmp, (self.round_t[lo], "", 0))
            for t, mac, seq in self.icmp[start:]:
                if t > t1 + 1.0:
                    break
                r = by_seq.get(seq)
                if r is not None:
                    sets[r - lo].add(mac)
        return [(self.round_t[lo + i], frozenset(s)) for i, s in enumerate(sets)]


def longest_gap(views: Sequence[tuple[float, frozenset[str]]], end: float) -> float:
    """Longest run of unanswered rounds, from the first unanswered round's send time to the
    next answered round's send time (or `end`)."""
    best, start = 0.0, None
    for t, who in views:
        if not who:
            if start is None:
                start = t
        elif start is not None:
            best, start = max(best, t - start), None
    if start is not None:
        best = max(best, end - start)
    return best


def both_time(views: Sequence[tuple[float, frozenset[str]]], macs: Iterable[str],
              end: float) -> float:
    """Total time covered by rounds that every one of `macs` answered."""
    need = frozenset(macs)
    total = 0.0
    for i, (t, who) in enumerate(views):
        if need <= who:
            nxt = views[i + 1][0] if i + 1 < len(views) else end
            total += nxt - t
    return total


def handback_point(views: Sequence[tuple[float, frozenset[str]]], master: str, backup: str
                   ) -> float | None:
    """Send time of the first round answered by the master alone after the backup's last
    answer in `views` (the moment the client's view is back to normal), or None."""
    last_b = max((i for i, (_, who) in enumerate(views) if backup in who), default=-1)
    for t, who in views[last_b + 1:]:
        if who == frozenset({master}):
            return t
    return None


def summary(values: Sequence[float | None]) -> tuple[float, float, float] | None:
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return (min(vals), statistics.median(vals), max(vals))


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(q / 100 * len(s) + 0.5) - 1))
    return s[k]
