"""carpd.doctor.firewall on captured rule sets: `nft -j list ruleset` of the ruleset in
samples/nft-mixed.nft (loaded in a namespace by nftables 1.0.6) and an iptables-save text."""

from __future__ import annotations

from pathlib import Path

import pytest

from carpd.doctor.firewall import Probe, Verdict, evaluate
from carpd.doctor.iptables import parse_iptables_save
from carpd.doctor.nftables import parse_nft_json

SAMPLES = Path(__file__).parent / "samples"
NFT = parse_nft_json((SAMPLES / "nft-mixed.json").read_text())
IPT = parse_iptables_save((SAMPLES / "iptables-save.txt").read_text(), "iptables")


def probe(iface: str = "eth0", *, family: str = "ip", inbound: bool = True,
          source: str | None = None, dest: str = "224.0.0.18") -> Probe:
    return Probe(family, inbound, iface, source, dest, dest.startswith(("224.", "ff02")))


def handles(rules: object) -> list[str]:
    return [r.text.split(":")[0] for r in rules]  # type: ignore[attr-defined]


def test_nft_chains_rules_and_policies_are_read() -> None:
    inp = NFT.chains[("inet", "filter", "input")]
    assert (inp.hook, inp.policy, len(inp.rules)) == ("input", Verdict.DROP, 7)
    assert NFT.chains[("inet", "filter", "foo")].hook is None
    assert inp.rules[1].delete == "nft delete rule inet filter input handle 4"
    assert "ip protocol vrrp" in inp.rules[1].text


def test_nft_rule_dropping_protocol_112_on_the_interface_is_a_sure_drop() -> None:
    v = evaluate(NFT, probe("eth0"))
    assert handles(v.dropped) == ["table inet filter chain input handle 4"]
    # a named set and a netdev chain whose device nft -j does not show stay doubts
    assert any("@blk" in d for d in v.doubts)
    assert any("netdev t chain ing" in d for d in v.doubts)


def test_nft_accept_before_the_policy_and_jump_return() -> None:
    # on ens3 the daddr set accepts before `jump foo`; nothing drops surely
    assert evaluate(NFT, probe("ens3")).dropped == ()


def test_nft_range_match_with_a_known_source() -> None:
    v = evaluate(NFT, probe("ens3", source="10.0.0.5"))
    assert handles(v.dropped) == ["table ip raw chain pre handle 5"]
    assert evaluate(NFT, probe("ens3", source="10.0.0.20")).dropped == ()


def test_nft_ipv6_is_accepted_and_output_is_not_touched() -> None:
    assert evaluate(NFT, probe(family="ip6", dest="ff02::12")).dropped == ()
    assert evaluate(NFT, probe(inbound=False, source="10.0.0.2")).dropped == ()


def test_nft_policy_drop_with_only_established_accepted_drops_carp() -> None:
    text = """{"nftables": [
      {"chain": {"family": "ip", "table": "f", "name": "in", "type": "filter",
                 "hook": "input", "prio": 0, "policy": "drop"}},
      {"rule": {"family": "ip", "table": "f", "chain": "in", "handle": 2, "expr": [
        {"match": {"op": "in", "left": {"ct": {"key": "state"}},
                   "right": ["established", "related"]}}, {"accept": null}]}},
      {"rule": {"family": "ip", "table": "f", "chain": "in", "handle": 3, "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                   "right": 22}}, {"accept": null}]}},
      {"rule": {"family": "ip", "table": "f", "chain": "in", "handle": 4, "expr": [
        {"match": {"op": "!=", "left": {"payload": {"protocol": "udp", "field": "dport"}},
                   "right": 53}}, {"accept": null}]}}
    ]}"""
    v = evaluate(parse_nft_json(text), probe())
    assert [r.text for r in v.dropped] == [
        "table ip f chain in: policy drop (no rule above accepts protocol 112)"]
    assert v.doubts == ()


def test_nft_garbage_is_a_problem_not_an_exception() -> None:
    assert parse_nft_json("{nope").problems
    odd = parse_nft_json('{"nftables": [{"rule": {"family": "ip", "table": "t", '
                         '"chain": "c", "expr": [{"weird": 1, "two": 2}, {"drop": null}]}}]}')
    assert len(odd.chains[("ip", "t", "c")].rules) == 1


@pytest.mark.parametrize(("iface", "source", "dropped"), [
    ("eth0", "192.0.2.66", ["iptables -t raw chain PREROUTING",
                            "iptables -t filter chain INPUT"]),
    ("eth0", "192.0.2.7", ["iptables -t filter chain INPUT"]),  # the INPUT policy
    ("eth1", "192.0.2.7", []),  # -i eth1 -p 112 -j ACCEPT
    ("lo", "192.0.2.7", []),
])
def test_iptables_save_inbound(iface: str, source: str, dropped: list[str]) -> None:
    assert handles(evaluate(IPT, probe(iface, source=source)).dropped) == dropped


def test_iptables_save_delete_command_and_undecidable_output_rule() -> None:
    pre = IPT.chains[("iptables", "raw", "PREROUTING")]
    assert pre.rules[0].delete == "iptables -t raw -D PREROUTING -s 192.0.2.66/32 -p vrrp -j DROP"
    v = evaluate(IPT, probe(inbound=False, source="192.0.2.1"))
    assert v.dropped == ()
    assert len(v.doubts) == 1 and "--limit" in v.doubts[0]
    assert evaluate(IPT, probe("eth1", inbound=False, source="192.0.2.1")).doubts == ()


def test_iptables_ipv4_rules_do_not_apply_to_ipv6() -> None:
    assert evaluate(IPT, probe(family="ip6", dest="ff02::12")).dropped == ()
