"""Would this host's firewall let a CARP advert through? A small evaluator of rule sets.

Owns: the rule model (`Ruleset` of `Chain`s of `Rule`s, each rule a list of `Match`es and a
`Verdict`), the two parsers that fill it (`parse_nft_json`: `nft -j list ruleset`;
`parse_iptables_save`: the text of `iptables-save` / `ip6tables-save`), and `evaluate`,
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
Must not: run anything or read files (carpd.doctor.host gathers the text); raise on odd
input (unknown shapes become undecidable matches, with their text).
"""

from __future__ import annotations

import enum
import ipaddress
import json
import shlex
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

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
    where = _where(chain)
    return Rule((), chain.policy, text=f"{where}: policy {chain.policy.value} (no rule above "
                                       "accepts protocol 112)")


def _where(chain: Chain) -> str:
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


# -- nftables JSON ----------------------------------------------------------------------------

def parse_nft_json(text: str) -> Ruleset:
    ruleset = Ruleset(source="nftables")
    try:
        items = json.loads(text).get("nftables", [])
    except (ValueError, AttributeError) as exc:
        ruleset.problems.append(f"nft -j output is not JSON ({exc})")
        return ruleset
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("chain"), dict):
            ruleset.add(_nft_chain(item["chain"]))
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("rule"), dict):
            r = item["rule"]
            chain = ruleset.add(Chain(str(r.get("family")), str(r.get("table")),
                                      str(r.get("chain"))))
            chain.rules.append(_nft_rule(r, chain))
    return ruleset


def _nft_chain(c: dict[str, Any]) -> Chain:
    hook = c.get("hook")
    policy = Verdict.DROP if c.get("policy") == "drop" else Verdict.ACCEPT
    device = c.get("dev") if isinstance(c.get("dev"), str) else None
    return Chain(str(c.get("family")), str(c.get("table")), str(c.get("name")),
                 hook=hook if isinstance(hook, str) else None,
                 priority=c.get("prio", 0) if isinstance(c.get("prio"), int) else 0,
                 policy=policy, device=device)


def _nft_rule(r: dict[str, Any], chain: Chain) -> Rule:
    matches: list[Match] = []
    verdict, target, words = Verdict.NONE, None, []
    for expr in r.get("expr", []) if isinstance(r.get("expr"), list) else []:
        if not isinstance(expr, dict) or len(expr) != 1:
            matches.append(Match(Field.UNKNOWN, text=str(expr)))
            continue
        ((kind, body),) = expr.items()
        if kind == "match" and isinstance(body, dict):
            m = _nft_match(body)
            matches += m
            words.append(m[-1].text)
        elif kind in ("accept", "drop", "reject", "return", "queue"):
            verdict = {"accept": Verdict.ACCEPT, "return": Verdict.RETURN}.get(kind, Verdict.DROP)
            words.append(kind)
        elif kind in ("jump", "goto") and isinstance(body, dict):
            verdict, target = Verdict.JUMP if kind == "jump" else Verdict.GOTO, body.get("target")
            words.append(f"{kind} {target}")
        elif kind in ("limit", "quota", "xt", "fib", "socket", "osf", "meter"):
            matches.append(Match(Field.UNKNOWN, text=f"a {kind} expression"))
            words.append(kind)
    where = f"{_where(chain)} handle {r.get('handle')}"
    return Rule(tuple(matches), verdict, target=str(target) if target else None,
                text=f"{where}: {' '.join(w for w in words if w)}",
                delete=f"nft delete rule {chain.family} {chain.table} {chain.name} handle "
                       f"{r.get('handle')}")


def _nft_match(body: dict[str, Any]) -> list[Match]:
    op, left, right = body.get("op"), body.get("left"), body.get("right")
    negate = op == "!="
    text = f"{_nft_text(left)} {'!= ' if negate else ''}{_nft_text(right)}"
    header = _nft_header(left)
    if header in OTHER_PROTOCOLS:  # a CARP advert has no such header: never matches
        return [Match(Field.FAMILY, ("-",), False, text)]
    family = [Match(Field.FAMILY, (header,), False, text)] if header in ("ip", "ip6") else []
    values = _nft_values(right)
    key = _nft_key(left)
    if op not in ("==", "!=", "in") or values is None or key is None:
        return [*family, Match(Field.UNKNOWN, text=text)]
    return [*family, Match(key, values, negate, text)]


def _nft_header(left: object) -> str | None:
    if isinstance(left, dict) and isinstance(left.get("payload"), dict):
        return str(left["payload"].get("protocol"))
    return None


NFT_FIELDS = {
    ("ip", "protocol"): Field.PROTO, ("ip6", "nexthdr"): Field.PROTO,
    ("ip", "saddr"): Field.SADDR, ("ip6", "saddr"): Field.SADDR,
    ("ip", "daddr"): Field.DADDR, ("ip6", "daddr"): Field.DADDR,
    ("ip", "ttl"): Field.TTL, ("ip6", "hoplimit"): Field.TTL,
}
NFT_META = {"l4proto": Field.PROTO, "iifname": Field.IIF, "oifname": Field.OIF,
            "iif": Field.IIF, "oif": Field.OIF, "pkttype": Field.PKTTYPE,
            "nfproto": Field.FAMILY}
OTHER_PROTOCOLS = frozenset({"tcp", "udp", "udplite", "sctp", "dccp", "icmp", "icmpv6", "igmp",
                             "esp", "ah", "comp", "th", "arp"})


def _nft_key(left: object) -> Field | None:
    if not isinstance(left, dict):
        return None
    if isinstance(left.get("payload"), dict):
        p = left["payload"]
        return NFT_FIELDS.get((p.get("protocol"), p.get("field")))
    if isinstance(left.get("meta"), dict):
        return NFT_META.get(left["meta"].get("key"))
    if isinstance(left.get("ct"), dict) and left["ct"].get("key") == "state":
        return Field.CT_STATE
    return None


def _nft_values(right: object) -> tuple[str, ...] | None:
    if isinstance(right, str | int) and not str(right).startswith("@"):
        return (_nfproto(str(right)),)
    if isinstance(right, list):
        flat = [_nft_values(v) for v in right]
        return None if None in flat else tuple(v for f in flat if f for v in f)
    if isinstance(right, dict):
        if "set" in right:
            return _nft_values(right["set"])
        if isinstance(right.get("prefix"), dict):
            return (f"{right['prefix'].get('addr')}/{right['prefix'].get('len')}",)
        if isinstance(right.get("range"), list) and len(right["range"]) == 2:
            return (f"{right['range'][0]}-{right['range'][1]}",)
    return None


def _nfproto(value: str) -> str:
    return {"ipv4": "ip", "ipv6": "ip6"}.get(value, value)


def _nft_text(x: object) -> str:
    if isinstance(x, dict) and len(x) == 1:
        ((kind, body),) = x.items()
        if kind == "payload" and isinstance(body, dict):
            return f"{body.get('protocol')} {body.get('field')}"
        if kind in ("meta", "ct") and isinstance(body, dict):
            return f"{kind} {body.get('key')}"
        if kind == "prefix" and isinstance(body, dict):
            return f"{body.get('addr')}/{body.get('len')}"
        if kind == "set":
            return "{ " + ", ".join(_nft_text(v) for v in _as_list(body)) + " }"
        if kind == "range":
            return "-".join(_nft_text(v) for v in _as_list(body))
    if isinstance(x, list):
        return ",".join(_nft_text(v) for v in x)
    return str(x)


def _as_list(x: object) -> list[object]:
    return list(x) if isinstance(x, list) else [x]


# -- iptables-save --------------------------------------------------------------------------

IPT_HOOKS = {"PREROUTING": "prerouting", "INPUT": "input", "OUTPUT": "output",
             "POSTROUTING": "postrouting"}
IPT_PRIORITY = {"raw": -300, "mangle": -150, "nat": -100, "filter": 0, "security": 50}


def parse_iptables_save(text: str, family: str) -> Ruleset:
    """`family`: "iptables" (iptables-save) or "ip6tables" (ip6tables-save)."""
    ruleset = Ruleset(source=f"{family}-save")
    table = ""
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(":") and table:
            _ipt_chain(ruleset, family, table, line)
        elif line.startswith("-A ") and table:
            _ipt_rule(ruleset, family, table, line, number)
    return ruleset


def _ipt_chain(ruleset: Ruleset, family: str, table: str, line: str) -> None:
    parts = line[1:].split()
    name = parts[0] if parts else ""
    builtin = len(parts) > 1 and parts[1] != "-"
    ruleset.add(Chain(family, table, name,
                      hook=IPT_HOOKS.get(name) if builtin and table != "nat" else None,
                      priority=IPT_PRIORITY.get(table, 0),
                      policy=Verdict.DROP if builtin and parts[1] == "DROP" else Verdict.ACCEPT))


def _ipt_rule(ruleset: Ruleset, family: str, table: str, line: str, number: int) -> None:
    try:
        words = shlex.split(line)
    except ValueError:
        ruleset.problems.append(f"{ruleset.source} line {number}: cannot split {line!r}")
        return
    chain = ruleset.add(Chain(family, table, words[1]))
    matches, verdict, target = _ipt_words(iter(words[2:]))
    where = f"{family} -t {table} chain {chain.name}"
    chain.rules.append(Rule(tuple(matches), verdict, target=target,
                            text=f"{where}: {line}",
                            delete=f"{family} -t {table} {line.replace('-A ', '-D ', 1)}"))


IPT_SIMPLE = {"-p": Field.PROTO, "--protocol": Field.PROTO, "-s": Field.SADDR,
              "--source": Field.SADDR, "-d": Field.DADDR, "--destination": Field.DADDR,
              "-i": Field.IIF, "--in-interface": Field.IIF, "-o": Field.OIF,
              "--out-interface": Field.OIF, "--state": Field.CT_STATE,
              "--ctstate": Field.CT_STATE, "--pkt-type": Field.PKTTYPE}
IPT_HARMLESS = frozenset({"-m", "--match", "--comment"})
IPT_TERMINAL = {"ACCEPT": Verdict.ACCEPT, "DROP": Verdict.DROP, "REJECT": Verdict.DROP,
                "RETURN": Verdict.RETURN}
IPT_NO_VERDICT = frozenset({"LOG", "NFLOG", "MARK", "CONNMARK", "CT", "NOTRACK", "TRACE",
                            "TOS", "DSCP", "TTL", "HL", "TCPMSS", "CLASSIFY", "AUDIT"})


def _ipt_words(words: Iterator[str]) -> tuple[list[Match], Verdict, str | None]:
    matches: list[Match] = []
    verdict, target, negate = Verdict.NONE, None, False
    for word in words:
        if word == "!":
            negate = True
            continue
        value = next(words, "")
        if word in ("-j", "--jump", "-g", "--goto"):
            verdict, target = _ipt_target(word, value)
        elif word in IPT_SIMPLE:
            values = tuple(v for v in value.split(",") if v)
            matches.append(Match(IPT_SIMPLE[word], values, negate, f"{word} {value}"))
        elif word == "--comment" or (word in ("-m", "--match") and value in
                                     ("comment", "state", "conntrack", "pkttype")):
            pass
        elif word.startswith("-"):
            matches.append(Match(Field.UNKNOWN, text=f"{'! ' if negate else ''}{word} {value}"))
        negate = False
    return matches, verdict, target


def _ipt_target(word: str, value: str) -> tuple[Verdict, str | None]:
    if value in IPT_TERMINAL:
        return IPT_TERMINAL[value], None
    if value in IPT_NO_VERDICT:
        return Verdict.NONE, None
    return (Verdict.GOTO if word in ("-g", "--goto") else Verdict.JUMP), value
