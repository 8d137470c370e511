"""The soak's checker: judges the run from the outside only, per VIP.

Inputs, none of them from carpd itself:
- the client's probes (bench/soak_prober.py): per round and VIP, the set of MACs that
  answered the ARP request or the ICMP echo. A VIP has *no holder* while its rounds go
  unanswered (runs shorter than `min_gap` are ignored: with up to 30 % loss on the bridge a
  probe and its reply are lost now and then); it has *two holders* while two MACs answer;
- the interfaces' addresses, polled in every host namespace (`ip -j addr`): two holders
  when two namespaces carry the VIP in the same polling cycle (this also sees the holders a
  partition hides from the client);
- the fault stamps and the adverts the client saw (for the timelines).

Bounds, from the protocol with generous margins (never tight wall-clock thresholds):
- no holder: allowed for `MD + ADV + margin` after every edge that can silence a master
  (kill, freeze, cable, port, partition, interface deletion, start of loss), where MD is the
  worst master-down interval (3 x advbase + max advskew/256) and ADV the worst advert
  interval (advbase + max advskew/256); after a daemon restart also `startup` more (a
  starting daemon is BACKUP and may wait a master-down interval); after a graceful edge
  (thaw, cable plugged, port enabled, heal, re-created interface, reload, end of loss) only
  `graceful` seconds: a holder must exist throughout;
- two holders: allowed while a fault is active and for `ADV + margin` after it ended (plus
  `startup` after a restart); around a reload, `ADV + margin` after each edge.
Every stretch beyond its bound is a violation, reported with its timeline.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.soak_faults import Fault

Interval = tuple[float, float]


@dataclass
class Bounds:
    advbase: float = 1.0
    max_skew: int = 180
    deadratio: int = 3
    margin: float = 1.0
    graceful: float = 0.5
    startup: float = 3.0
    min_gap: float = 0.25
    min_dual: float = 0.05

    @property
    def md(self) -> float:
        return self.deadratio * self.advbase + self.max_skew / 256

    @property
    def adv(self) -> float:
        return self.advbase + self.max_skew / 256

    @property
    def takeover(self) -> float:
        return self.md + self.adv + self.margin


# -- reading the prober's file -----------------------------------------------------------


@dataclass
class Probes:
    vips: list[str]
    round_t: list[float] = field(default_factory=list)
    seq_index: dict[int, int] = field(default_factory=dict)  # seq & 0xffff -> latest round
    answers: dict[str, list[set[str]]] = field(default_factory=dict)
    adverts: list[tuple[float, str, int, int]] = field(default_factory=list)  # t src vhid skew
    period: float = 0.02

    @classmethod
    def read(cls, path: Path) -> Probes:
        p: Probes | None = None
        for line in path.read_text(errors="replace").splitlines():
            f = line.split()
            if not f:
                continue
            if f[0] == "H":
                p = cls(vips=f[4].split(","), period=float(f[3]))
                p.answers = {v: [] for v in p.vips}
                continue
            if p is None:
                continue
            try:
                p._line(f)
            except (IndexError, ValueError):
                continue  # a torn last line
        if p is None:
            raise ValueError(f"{path}: no header line")
        return p

    def _line(self, f: list[str]) -> None:
        kind = f[0]
        if kind == "S":
            self.seq_index[int(f[1]) & 0xFFFF] = len(self.round_t)
            self.round_t.append(float(f[2]))
            for v in self.vips:
                self.answers[v].append(set())
        elif kind == "A" and self.round_t:
            i = bisect.bisect_right(self.round_t, float(f[1])) - 1
            if i >= 0 and f[3] in self.answers:
                self.answers[f[3]][i].add(f[2])
        elif kind == "I":
            i = self.seq_index.get(int(f[4]))
            if i is not None and f[3] in self.answers:
                self.answers[f[3]][i].add(f[2])
        elif kind == "V":
            self.adverts.append((float(f[1]), f[2], int(f[3]), int(f[4])))

    def runs(self, vip: str) -> list[tuple[float, float, frozenset[str]]]:
        """(start, end, who) runs of rounds with the same answering set."""
        out: list[tuple[float, float, frozenset[str]]] = []
        ts, ans = self.round_t, self.answers[vip]
        for i, t in enumerate(ts):
            who = frozenset(ans[i])
            end = ts[i + 1] if i + 1 < len(ts) else t + self.period
            if out and out[-1][2] == who:
                out[-1] = (out[-1][0], end, who)
            else:
                out.append((t, end, who))
        return out

    def smooth_runs(self, vip: str, min_gap: float
                    ) -> list[tuple[float, float, frozenset[str]]]:
        """`runs`, with unanswered runs shorter than `min_gap` (lost probes) folded into
        the run before them."""
        out: list[tuple[float, float, frozenset[str]]] = []
        for a, b, seen in self.runs(vip):
            who = out[-1][2] if out and not seen and b - a < min_gap else seen
            if out and out[-1][2] == who:
                out[-1] = (out[-1][0], b, who)
            else:
                out.append((a, b, who))
        return out


# -- address polls -----------------------------------------------------------------------


@dataclass
class AddrPolls:
    """Polling cycles: (t, {host: set of VIPs on its eth0})."""

    cycles: list[tuple[float, dict[str, frozenset[str]]]] = field(default_factory=list)

    def runs(self, vip: str) -> list[tuple[float, float, frozenset[str]]]:
        out: list[tuple[float, float, frozenset[str]]] = []
        for i, (t, by_host) in enumerate(self.cycles):
            who = frozenset(h for h, s in by_host.items() if vip in s)
            end = self.cycles[i + 1][0] if i + 1 < len(self.cycles) else t
            if out and out[-1][2] == who:
                out[-1] = (out[-1][0], end, who)
            else:
                out.append((t, end, who))
        return out


# -- interval arithmetic -----------------------------------------------------------------


def union(intervals: Iterable[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def minus(iv: Interval, allowed: Sequence[Interval]) -> list[Interval]:
    """Parts of `iv` outside the (sorted, disjoint) `allowed` intervals."""
    a, b = iv
    out: list[Interval] = []
    cur = a
    for x, y in allowed:
        if y <= cur:
            continue
        if x >= b:
            break
        if x > cur:
            out.append((cur, min(x, b)))
        cur = max(cur, y)
        if cur >= b:
            break
    if cur < b:
        out.append((cur, b))
    return out


# -- allowances --------------------------------------------------------------------------


def allowances(faults: Sequence[Fault], bd: Bounds) -> tuple[list[Interval], list[Interval]]:
    """(windows where no holder is allowed, windows where two holders are allowed)."""
    gap: list[Interval] = []
    dual: list[Interval] = []
    settle = bd.adv + bd.margin
    for f in faults:
        if f.t_start is None:
            continue
        s = f.t_start
        e = f.t_end if f.t_end is not None else s
        if f.kind == "reload":
            gap += [(s, s + bd.graceful), (e, e + bd.graceful)]
            dual += [(s, s + settle), (e, e + settle)]
            continue
        gap.append((s, s + bd.takeover))
        if f.kind == "sigkill":
            gap.append((e, e + bd.startup + bd.takeover))
            dual.append((s, e + bd.startup + settle))
        else:
            gap.append((e, e + bd.graceful))
            dual.append((s, e + settle))
    return union(gap), union(dual)


# -- judging -----------------------------------------------------------------------------


@dataclass
class Violation:
    vip: str
    kind: str            # "no holder", "two holders (client)", "two holders (addresses)"
    start: float         # relative to the soak's start
    end: float
    over_s: float        # the part beyond every bound
    first_over: float
    who: list[str] = field(default_factory=list)
    timeline: list[str] = field(default_factory=list)


def judge(vips: Sequence[str], probes: Probes, addrs: AddrPolls,  # noqa: PLR0917
          faults: Sequence[Fault], bd: Bounds, t0: float, t_end: float,
          names: dict[str, str]) -> dict[str, Any]:
    """The per-VIP figures, per-fault outages and the violations, judged over [t0, t_end)
    (the soak's start, and the moment before the daemons are stopped). `names` maps MACs
    and addresses to host names; times in the result are seconds from `t0`."""
    gap_ok, dual_ok = allowances(faults, bd)
    per_vip: dict[str, dict[str, float]] = {}
    violations: list[Violation] = []
    gaps_by_vip: dict[str, list[Interval]] = {}
    duals_by_vip: dict[str, list[Interval]] = {}
    addr_duals: list[Interval] = []
    for vip in vips:
        stats = {"outage_s": 0.0, "outage_over_bound_s": 0.0, "dual_client_s": 0.0,
                 "dual_client_over_bound_s": 0.0, "dual_addr_s": 0.0,
                 "dual_addr_over_bound_s": 0.0, "longest_outage_s": 0.0}
        gaps, duals = [], []
        for a, b_run, who in probes.smooth_runs(vip, bd.min_gap):
            if a < t0 or a >= t_end:
                continue
            b = min(b_run, t_end)
            if not who and b - a >= bd.min_gap:
                gaps.append((a, b))
                stats["outage_s"] += b - a
                stats["longest_outage_s"] = max(stats["longest_outage_s"], b - a)
                _judge(violations, vip, "no holder", (a, b), gap_ok, stats,
                       "outage_over_bound_s", t0, [names.get(m, m) for m in who])
            elif len(who) >= 2 and b - a >= bd.min_dual:
                duals.append((a, b))
                stats["dual_client_s"] += b - a
                _judge(violations, vip, "two holders (client)", (a, b), dual_ok, stats,
                       "dual_client_over_bound_s", t0, sorted(names.get(m, m) for m in who))
        for a, b_run, who in addrs.runs(vip):
            if a < t0 or a >= t_end or len(who) < 2:
                continue
            b = min(b_run, t_end)
            stats["dual_addr_s"] += b - a
            addr_duals.append((a, b))
            _judge(violations, vip, "two holders (addresses)", (a, b), dual_ok, stats,
                   "dual_addr_over_bound_s", t0, sorted(who))
        gaps_by_vip[vip], duals_by_vip[vip] = gaps, duals
        per_vip[vip] = {k: round(v, 3) for k, v in stats.items()}
    for v in violations:
        v.timeline = timeline(v, probes, addrs, faults, t0, names, bd.min_gap)
    return {"per_vip": per_vip,
            "per_fault": per_fault(faults, gaps_by_vip, duals_by_vip, addr_duals, bd, t0),
            "violations": [asdict(v) for v in violations],
            "allow": {"no_holder": [(round(a - t0, 3), round(b - t0, 3)) for a, b in gap_ok],
                      "two_holders": [(round(a - t0, 3), round(b - t0, 3))
                                      for a, b in dual_ok]}}


def _judge(out: list[Violation], vip: str, kind: str, iv: Interval,  # noqa: PLR0917
           allowed: Sequence[Interval], stats: dict[str, float], key: str, t0: float,
           who: list[str]) -> None:
    beyond = [p for p in minus(iv, allowed) if p[1] - p[0] > 1e-6]
    over = sum(b - a for a, b in beyond)
    if not beyond:
        return
    stats[key] += over
    out.append(Violation(vip, kind, round(iv[0] - t0, 3), round(iv[1] - t0, 3),
                         round(over, 3), round(beyond[0][0] - t0, 3), who))


def per_fault(faults: Sequence[Fault], gaps: dict[str, list[Interval]],  # noqa: PLR0917
              duals: dict[str, list[Interval]], addr_duals: Sequence[Interval], bd: Bounds,
              t0: float) -> list[dict[str, Any]]:
    """For each fault: the outage the client saw (any VIP) from its start until its end
    plus a takeover bound (or the next fault that does not overlap it), and the time two
    holders answered."""
    out = []
    for f in faults:
        if f.t_start is None:
            continue
        s = f.t_start
        e = (f.t_end if f.t_end is not None else s) + bd.takeover
        e = min([e] + [g.t_start for g in faults if g.t_start is not None and g.t_start > s
                       and f.n not in (g.n, g.overlaps) and g.n != f.overlaps])
        worst, total, dual, after_undo = 0.0, 0.0, 0.0, 0.0
        hit = []
        undo = f.t_end if f.t_end is not None else s
        for vip, ivs in gaps.items():
            inside = [(max(a, s), min(b, e)) for a, b in ivs if b > s and a < e]
            after_undo = max([after_undo] + [b - max(a, undo) for a, b in inside if b > undo])
            if inside:
                hit.append(vip)
                longest = max(b - a for a, b in inside)
                worst = max(worst, longest)
                total += sum(b - a for a, b in inside)
        dual_after = 0.0  # two holders (client or addresses) last seen this long after undo
        for ivs in [*duals.values(), addr_duals]:
            dual_after = max([dual_after] + [min(b, e) - undo for a, b in ivs
                                              if a < e and min(b, e) > undo])
        for ivs in duals.values():
            dual += sum(min(b, e) - max(a, s) for a, b in ivs if b > s and a < e)
        out.append({"n": f.n, "kind": f.kind, "host": f.host, "params": f.params,
                    "start": round(s - t0, 3),
                    "duration": round((f.t_end or s) - s, 3), "overlaps": f.overlaps,
                    "longest_outage_s": round(worst, 3), "outage_vip_s": round(total, 3),
                    "vips_with_outage": hit, "dual_client_vip_s": round(dual, 3),
                    "outage_after_undo_s": round(after_undo, 3),
                    "dual_after_undo_s": round(dual_after, 3)})
    return out


def by_kind(per_fault_rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for kind in dict.fromkeys(r["kind"] for r in per_fault_rows):
        rows = [r for r in per_fault_rows if r["kind"] == kind]
        longest = [r["longest_outage_s"] for r in rows]
        out[kind] = {"count": len(rows),
                     "longest_outage_median_s": round(statistics.median(longest), 3),
                     "longest_outage_max_s": round(max(longest), 3),
                     "with_outage": sum(1 for x in longest if x > 0),
                     "outage_after_undo_max_s": round(max(r["outage_after_undo_s"]
                                                          for r in rows), 3),
                     "dual_client_vip_s_max": round(max(r["dual_client_vip_s"]
                                                        for r in rows), 3),
                     "dual_after_undo_max_s": round(max(r["dual_after_undo_s"]
                                                        for r in rows), 3)}
    return out


def timeline(v: Violation, probes: Probes, addrs: AddrPolls,  # noqa: PLR0917
             faults: Sequence[Fault], t0: float, names: dict[str, str], min_gap: float,
             before: float = 12.0, after: float = 4.0) -> list[str]:
    """The events around a violation: fault edges, what the client saw for this VIP, the
    addresses, the adverts of its VHID (one line per change of sender)."""
    lo, hi = t0 + v.start - before, t0 + v.end + after
    rows: list[tuple[float, str]] = []
    for f in faults:
        for t, edge in ((f.t_start, "start"), (f.t_end, "end")):
            if t is not None and lo <= t <= hi:
                what = f.host or f.params
                rows.append((t, f"fault #{f.n} {f.kind} {edge} ({what})"))
    for a, _b, who in probes.smooth_runs(v.vip, min_gap):
        if lo <= a <= hi:
            rows.append((a, "client: answered by "
                         + (",".join(sorted(names.get(m, m) for m in who)) or "nobody")))
    for a, _b, who in addrs.runs(v.vip):
        if lo <= a <= hi:
            rows.append((a, "addresses: on " + (",".join(sorted(who)) or "no host")))
    vhid = probes.vips.index(v.vip) + 1 if v.vip in probes.vips else -1
    last_src = None
    for t, src, vh, skew in probes.adverts:
        if vh != vhid or not lo <= t <= hi:
            continue
        key = (names.get(src, src), skew)
        if key != last_src:
            rows.append((t, f"adverts for vhid {vhid} from {key[0]} (advskew {skew})"))
            last_src = key
    rows.sort()
    return [f"{t - t0:9.3f}  {text}" for t, text in rows]
