"""`nft -j list ruleset` to carpd.doctor.firewall's rule model.

Owns: `parse_nft_json`. Each base chain (hook, priority, policy; a netdev chain's device
when the JSON names it: nftables 1.0.6 does not) and each rule: the matches the evaluator
understands (ip/ip6 protocol, nexthdr, saddr, daddr, ttl, hoplimit; meta l4proto, iifname,
oifname, pkttype, nfproto; ct state) with their values (single, sets, prefixes, ranges), a
header match of another protocol (tcp dport ...) as one that never holds for an advert,
and everything else (named sets, marks, limits, xt) as undecidable, with its text. The rule's
text names table, chain and handle, and `delete` is the nft command that removes it.
Must not: raise on odd input (a shape it does not know becomes an undecidable match).
"""

from __future__ import annotations

import json
from typing import Any

from carpd.doctor.firewall import Chain, Field, Match, Rule, Ruleset, Verdict, where_of


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
    where = f"{where_of(chain)} handle {r.get('handle')}"
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
