"""What the nodes of one per-node file would do together: who is preferred, and two warnings.

Owns: `Preference` (how one protocol orders nodes: a rank with a demotion, lower sorts first,
and its words), `PREFERENCES` (one entry per protocol), `preferred_order` (a VIP's nodes,
most preferred first) and `cluster_warnings`, which `carpd --check` prints for a file with
`[carpd] nodes`, from the file loaded once for every node:
- a VIP that two or more nodes would all claim with the same best rank: none is preferred, so
  whichever comes up first stays MASTER (a tie is never broken by preemption);
- a weighted check on a VIP's preferred node whose weight, added while the check fails,
  still leaves that node ahead of every other node that preempts: the VIP does not move
  (say the smallest weight that would, or that only `fatal = true` can).
How the protocol plugs in: the rank is the protocol's own rule (CARP: the advert interval
advbase + advskew/256 with the demotion added to advskew and capped at 254, compared exactly
as the CARP profile compares it; lower wins); VRRPv3's is the effective priority (priority
minus the demotion, at least 1, as its profile advertises it), higher wins, so its rank is
the negated priority. Nothing else here names advskew or a priority. The address tie-break
is not modelled: equal ranks are a tie, as an operator should read them. A VIP whose
protocol has no entry is not compared.
Must not: load files (the caller hands over the loaded configurations) or read the host.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from carpd.config.loader import Config, ConfigError
from carpd.core.carp.election import MAX_ADVSKEW, effective_advskew, interval_key
from carpd.core.params import CheckParams, VipParams
from carpd.core.profile import MAX_DEMOTION, ElectionProtocol
from carpd.core.profiles import protocol_of
from carpd.core.vrrp3.election import effective_priority as vrrp3_effective_priority

Rank = tuple[int, ...]  # lower sorts first: the more preferred node


@dataclass(frozen=True, slots=True)
class Preference:
    """One protocol's order of nodes: `rank(vip, demotion)`, its `words` for messages and
    the `key` an operator sets to order the nodes."""

    rank: Callable[[VipParams, int], Rank]
    words: Callable[[VipParams, int], str]
    key: str


def _carp_rank(vip: VipParams, demotion: int) -> Rank:
    return interval_key(vip.advbase, effective_advskew(vip.advskew, demotion, False))


def _carp_words(vip: VipParams, demotion: int) -> str:
    skew = min(MAX_ADVSKEW, vip.advskew + demotion)
    return f"advskew {skew}" if vip.advbase == 1 else f"advbase {vip.advbase} advskew {skew}"


def _vrrp3_rank(vip: VipParams, demotion: int) -> Rank:
    return (-vrrp3_effective_priority(vip.priority, demotion, False),)


def _vrrp3_words(vip: VipParams, demotion: int) -> str:
    return f"priority {vrrp3_effective_priority(vip.priority, demotion, False)}"


PREFERENCES: Mapping[ElectionProtocol, Preference] = {
    ElectionProtocol.CARP: Preference(_carp_rank, _carp_words, "advskew"),
    ElectionProtocol.VRRP3: Preference(_vrrp3_rank, _vrrp3_words, "priority"),
}


def preference_of(vip: VipParams) -> Preference | None:
    """The VIP's protocol's rule; None for a protocol that has none yet (not compared)."""
    return PREFERENCES.get(protocol_of(vip))


def preferred_order(name: str, configs: Mapping[str, Config]) -> list[tuple[str, VipParams]]:
    """VIP `name` on each node that has it, the most preferred first (ties in node order);
    empty when its protocol has no rule here, or the nodes disagree on its protocol."""
    found = [(node, vip) for node, c in configs.items() for vip in c.vips if vip.name == name]
    prefs = {preference_of(vip) for _, vip in found}
    if len(prefs) != 1 or None in prefs:
        return []
    pref = prefs.pop()
    assert pref is not None
    return sorted(found, key=lambda nv: pref.rank(nv[1], 0))


def _pref(order: list[tuple[str, VipParams]]) -> Preference:
    """The rule of a non-empty `preferred_order` (which has one)."""
    pref = preference_of(order[0][1])
    assert pref is not None
    return pref


def cluster_warnings(configs: Mapping[str, Config]) -> list[str]:
    """The warnings of the module docstring, located, VIPs in file order."""
    first = next(iter(configs.values()))
    warnings: list[str] = []
    for name in (v.name for v in first.vips):
        order = preferred_order(name, configs)
        if len(order) < 2:
            continue
        tie = _tie(order)
        if tie:
            key = _pref(order).key
            warnings.append(_locate(configs[order[0][0]], name, key, tie))
            continue
        warnings += [_locate(configs[order[0][0]], name, "check", text)
                     for text in _weak_checks(order)]
    return warnings


def _tie(order: list[tuple[str, VipParams]]) -> str | None:
    best, pref = order[0][1], _pref(order)
    tied = [node for node, vip in order if pref.rank(vip, 0) == pref.rank(best, 0)]
    if len(tied) < 2:
        return None
    return (f"nodes {', '.join(tied)} would all claim it with {pref.words(best, 0)}: none is "
            f"preferred, so whichever comes up first stays MASTER; give each node its own "
            f"value (a table of per-node values)")


def _weak_checks(order: list[tuple[str, VipParams]]) -> list[str]:
    node, vip = order[0]
    pref = _pref(order)
    rivals = [(n, v) for n, v in order[1:] if v.preempt]
    out: list[str] = []
    for check in (c for c in vip.checks if not c.fatal):
        demoted = pref.rank(vip, check.weight)
        if any(pref.rank(v, 0) < demoted for _, v in rivals):
            continue
        out.append(f"check {check.name} (weight {check.weight}) on {node}: while it fails "
                   f"{node} advertises {pref.words(vip, check.weight)}, still "
                   f"{_ahead(rivals, order, demoted)}, so the VIP stays on {node}; "
                   f"{_remedy(pref, vip, check, rivals)}")
    return out


def _ahead(rivals: list[tuple[str, VipParams]], order: list[tuple[str, VipParams]],
           demoted: Rank) -> str:
    if not rivals:
        others = ", ".join(n for n, _ in order[1:])
        return f"ahead, as no other node preempts ({others}: preempt = false)"
    pref = _pref(order)
    return ", ".join(f"{'level with' if pref.rank(v, 0) == demoted else 'ahead of'}"
                     f" {n} ({pref.words(v, 0)})" for n, v in rivals)


def _remedy(pref: Preference, vip: VipParams, check: CheckParams,
            rivals: list[tuple[str, VipParams]]) -> str:
    """The smallest weight that moves the VIP, found with the protocol's own rank."""
    for weight in range(check.weight + 1, MAX_DEMOTION + 1):
        if any(pref.rank(v, 0) < pref.rank(vip, weight) for _, v in rivals):
            return f"use weight = {weight} or more (or fatal = true)"
    return "only fatal = true moves it" if rivals else "let another node preempt"


def _locate(config: Config, vip: str, key: str, text: str) -> str:
    """At the VIP's `key` where it is written, else at the VIP (the first line of its own
    keys), as the loader locates its messages."""
    if (vip, key) in config.keys:
        return config.locate(vip, key, text)
    own = [at.line for (name, _), at in config.keys.items()
           if name == vip and at.key.startswith(f"vip.{vip}.") and at.line is not None]
    return str(ConfigError(config.path, min(own, default=None), f"vip.{vip}", text))
