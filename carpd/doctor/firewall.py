"""Would this host's firewall let a CARP advert through? A small evaluator of rule sets.

Owns: the rule model (`Ruleset` of `Chain`s of `Rule`s, each rule a list of `Match`es and a
`Verdict`; the parsers that fill it are carpd.doctor.nftables, `nft -j list ruleset`, and
carpd.doctor.iptables, the text of `iptables-save` / `ip6tables-save`), and `evaluate`,
which walks every base chain a `Probe` (one advert: family, direction, interface, source,
destination, protocol 112, TTL 255) traverses and says whether it is dropped, surely or
perhaps. How: in each base chain of a hook the probe passes (prerouting and input for an
advert received, output and postrouting for one sent; netdev ingress too), rules are taken
in order; a rule whose matches all hold decides (accept ends that chain, drop or reject ends
the packet, jump and goto enter the user chain, return leaves it); a rule with a match that
cannot be decided here (a named set, a mark, a rate limit, an unknown expression) is passed
over and noted as a doubt. A chain that ends falls back to its policy. A drop anywhere drops
the packet; an accept only ends its own chain (every table's chain still sees it).
What a CARP advert looks like to conntrack: a new, untracked-direction flow (state "new"),
never "established" (the peer never replies to the group), so `ct state established
accept` does not let it in.
Must not: run anything or read files (carpd.doctor.host gathers the text).
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

CARP_PROTO = 112
PROTO_NAMES = {"vrrp": 112, "carp": 112, "112": 112, "tcp": 6, "udp": 17, "icmp": 1,
               "icmpv6": 58, "ipv6-icmp": 58, "igmp": 2, "esp": 50, "ah": 51, "sctp": 132,
               "gre": 47, "udplite": 136, "dccp": 33, "all": -1}
INBOUND_HOOKS = ("ingress", "prerouting", "input")
OUTBOUND_HOOKS = ("output", "postrouting", "egress")
MAX_JUMPS = 16


class Verdict(enum.Enum):
    ACCEPT = "accept"
    DROP = "drop"
    JUMP = "jump"
    GOTO = "goto"
    RETURN = "return"
    NONE = "none"  # counter, log, mark...: the next rule follows


class Field(enum.Enum):
    PROTO = "protocol"
    SADDR = "saddr"
    DADDR = "daddr"
    IIF = "iifname"
    OIF = "oifname"
    CT_STATE = "ct state"
    PKTTYPE = "pkttype"
    TTL = "ttl"
    FAMILY = "family"  # an `ip ...`/`ip6 ...` header match: only that family has one
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Match:
    field: Field
    values: tuple[str, ...] = ()
    negate: bool = False
    text: str = ""


@dataclass(frozen=True, slots=True)
class Rule:
    matches: tuple[Match, ...]
    verdict: Verdict
    target: str | None = None  # jump/goto
    text: str = ""  # how an operator finds it: "table inet filter chain input handle 4: ..."
    delete: str | None = None  # the command that removes it, when there is one


@dataclass(slots=True)
class Chain:
    family: str  # ip, ip6, inet, netdev, bridge, arp
    table: str
    name: str
    hook: str | None = None
    priority: int = 0
    policy: Verdict = Verdict.ACCEPT
    device: str | None = None
    rules: list[Rule] = field(default_factory=list)


@dataclass(slots=True)
class Ruleset:
    source: str  # "nftables" or "iptables-save"
    chains: dict[tuple[str, str, str], Chain] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # what could not be read

    def add(self, chain: Chain) -> Chain:
        return self.chains.setdefault((chain.family, chain.table, chain.name), chain)


@dataclass(frozen=True, slots=True)
class Probe:
    """One advert as the firewall sees it. `source` None: any peer (group mode, no master
    known yet)."""

    family: str  # "ip" or "ip6"
    inbound: bool
    interface: str
    source: str | None
    destination: str
    multicast: bool


@dataclass(frozen=True, slots=True)
class Verdicts:
    dropped: tuple[Rule, ...] = ()  # rules (or chain policies) that surely drop the probe
    doubts: tuple[str, ...] = ()  # what might drop it but could not be decided


# -- evaluation -------------------------------------------------------------------------------

def evaluate(ruleset: Ruleset, probe: Probe) -> Verdicts:
    walker = _Walker(ruleset, probe)
    dropped: list[Rule] = []
    for chain in _base_chains(ruleset, probe):
        outcome, rule = walker.walk(chain, 0)
        if outcome is Verdict.RETURN:
            outcome, rule = chain.policy, _policy_rule(chain)
        if outcome is not Verdict.DROP or rule is None:
            continue
        if chain.family == "netdev" and chain.device is None:  # nft -j may not name it
            walker.doubts.append(f"{rule.text} (its chain's device is not shown: it drops "
                                 "adverts if it is attached to this interface)")
        else:
            dropped.append(rule)
    return Verdicts(dropped=tuple(dropped), doubts=tuple(dict.fromkeys(walker.doubts)))


def _policy_rule(chain: Chain) -> Rule:
    where = where_of(chain)
    return Rule((), chain.policy, text=f"{where}: policy {chain.policy.value} (no rule above "
                                       "accepts protocol 112)")


def where_of(chain: Chain) -> str:
    if chain.family in ("iptables", "ip6tables"):
        return f"{chain.family} -t {chain.table} chain {chain.name}"
    return f"table {chain.family} {chain.table} chain {chain.name}"


def _base_chains(ruleset: Ruleset, probe: Probe) -> list[Chain]:
    hooks = INBOUND_HOOKS if probe.inbound else OUTBOUND_HOOKS
    families = {"ip": ("ip", "inet", "netdev", "iptables"),
                "ip6": ("ip6", "inet", "netdev", "ip6tables")}[probe.family]
    chains = [c for c in ruleset.chains.values()
              if c.hook in hooks and c.family in families
              and (c.device is None or c.device == probe.interface)]
    return sorted(chains, key=lambda c: (hooks.index(c.hook or ""), c.priority))


@dataclass(slots=True)
class _Walker:
    ruleset: Ruleset
    probe: Probe
    doubts: list[str] = field(default_factory=list)

    def walk(self, chain: Chain, depth: int) -> tuple[Verdict, Rule | None]:
        """ACCEPT or DROP (with the deciding rule), or RETURN: the chain ended without one."""
        for rule in chain.rules:
            holds = _holds(rule, self.probe)
            if holds is False:
                continue
            if holds is None:
                if rule.verdict in (Verdict.DROP, Verdict.JUMP, Verdict.GOTO):
                    self.doubts.append(f"{rule.text} (could not decide: "
                                       f"{_undecided(rule, self.probe)})")
                continue
            match rule.verdict:
                case Verdict.ACCEPT | Verdict.DROP:
                    return rule.verdict, rule
                case Verdict.RETURN:
                    return Verdict.RETURN, None
                case Verdict.JUMP | Verdict.GOTO:
                    outcome = self._enter(chain, rule, depth)
                    if outcome[0] is not Verdict.RETURN or rule.verdict is Verdict.GOTO:
                        return outcome
        return Verdict.RETURN, None

    def _enter(self, chain: Chain, rule: Rule, depth: int) -> tuple[Verdict, Rule | None]:
        target = self.ruleset.chains.get((chain.family, chain.table, rule.target or ""))
        if target is None or depth >= MAX_JUMPS:
            self.doubts.append(f"{rule.text} (could not follow it to chain {rule.target})")
            return Verdict.RETURN, None
        return self.walk(target, depth + 1)


def _holds(rule: Rule, probe: Probe) -> bool | None:
    """All matches hold (True), one fails (False), or one cannot be decided (None)."""
    results = [_match(m, probe) for m in rule.matches]
    if False in results:
        return False
    return None if None in results else True


def _undecided(rule: Rule, probe: Probe) -> str:
    return ", ".join(m.text or m.field.value for m in rule.matches if _match(m, probe) is None)


def _match(m: Match, probe: Probe) -> bool | None:
    result = _positive(m, probe)
    return None if result is None else result != m.negate


def _positive(m: Match, probe: Probe) -> bool | None:
    match m.field:
        case Field.PROTO:
            numbers = {PROTO_NAMES.get(v.lower(), _int(v)) for v in m.values}
            return None if None in numbers else (CARP_PROTO in numbers or -1 in numbers)
        case Field.FAMILY:
            return probe.family in m.values
        case Field.SADDR:
            return None if probe.source is None else _in_any(probe.source, m.values)
        case Field.DADDR:
            return _in_any(probe.destination, m.values)
        case Field.IIF:
            return _iface_in(probe.interface, m.values) if probe.inbound else False
        case Field.OIF:
            return _iface_in(probe.interface, m.values) if not probe.inbound else False
        case Field.CT_STATE:
            return "new" in {v.lower() for v in m.values}
        case Field.PKTTYPE:
            kind = "multicast" if probe.multicast else "host"
            return kind in {v.lower() for v in m.values}
        case Field.TTL:
            numbers = {_int(v) for v in m.values}
            return None if None in numbers else 255 in numbers
    return None


def _int(text: str) -> int | None:
    try:
        return int(text, 0)
    except ValueError:
        return None


def _in_any(address: str, values: Iterable[str]) -> bool | None:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    for value in values:
        hit = _in_one(ip, value)
        if hit is None:
            return None
        if hit:
            return True
    return False


def _in_one(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, value: str) -> bool | None:
    try:
        if "-" in value and "/" not in value:
            low, high = (ipaddress.ip_address(v.strip()) for v in value.split("-", 1))
            return ip.version == low.version and low <= ip <= high  # type: ignore[operator]
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None
    return ip.version == net.version and ip in net


def _iface_in(name: str, patterns: Iterable[str]) -> bool:
    for pattern in patterns:
        stem = pattern.rstrip("*+")
        if name == pattern or (pattern[-1:] in ("*", "+") and name.startswith(stem)):
            return True
    return False
