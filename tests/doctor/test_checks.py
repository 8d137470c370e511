"""carpd.doctor.checks: the findings for a status document and a host snapshot (no host
read: Facts are built here from the parsers' outputs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from carpd.doctor.checks import Facts, Level, OtherDaemon, diagnose
from carpd.doctor.iptables import parse_iptables_save
from carpd.doctor.nftables import parse_nft_json
from carpd.doctor.parsers import Link, parse_igmp

SAMPLES = Path(__file__).parent / "samples"
UP = frozenset({"UP", "LOWER_UP", "MULTICAST", "BROADCAST"})


def vip(**over: Any) -> dict[str, Any]:
    base = {"name": "web", "vhid": 1, "interface": "eth0", "addresses": ["10.0.0.50/24"],
            "state": "BACKUP", "master": "10.0.0.1", "source": "10.0.0.2", "source6": None,
            "peers": [], "counters": {"auth_failures": 0}, "anomalies": {}, "faults": []}
    return base | over


def healthy(**over: Any) -> Facts:
    facts = Facts(
        links=[Link("lo", frozenset({"UP", "LOWER_UP"}), "UNKNOWN", (("127.0.0.1", 8),)),
               Link("eth0", UP, "UP", (("10.0.0.2", 24),))],
        igmp={"eth0": {"224.0.0.18", "224.0.0.1"}}, igmp6={},
        sysctls={f"net.ipv4.conf.{s}.{k}": "0" for s in ("all", "eth0")
                 for k in ("rp_filter", "arp_ignore", "arp_announce")},
        rulesets=[parse_nft_json('{"nftables": []}')], routes={"10.0.0.1": "eth0"})
    for key, value in over.items():
        setattr(facts, key, value)
    return facts


def by_check(findings: list[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for f in findings:
        out.setdefault(f.check, []).append(f)
    return out


def levels(findings: list[Any]) -> dict[str, str]:
    return {c: max(f.level for f in fs).name for c, fs in by_check(findings).items()}


def test_a_healthy_host_is_all_ok() -> None:
    found = diagnose({"vips": [vip()]}, healthy())
    assert levels(found) == dict.fromkeys((
        "interface", "firewall", "multicast", "rp_filter", "arp", "other_cluster",
        "duplicate_vip"), "OK")
    assert all(f.fix == "" for f in found)


def test_every_fault_is_a_fail_with_its_fix() -> None:
    links = [Link("eth0", UP - {"LOWER_UP"}, "DOWN", (("10.0.0.2", 24),)),
             Link("dummy0", frozenset({"UP"}), "UNKNOWN", (("10.0.0.50", 32),))]
    nft = ('{"nftables": [{"chain": {"family": "inet", "table": "f", "name": "in", '
           '"type": "filter", "hook": "input", "prio": 0, "policy": "accept"}}, '
           '{"rule": {"family": "inet", "table": "f", "chain": "in", "handle": 7, "expr": '
           '[{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "vrrp"}},'
           ' {"drop": null}]}}]}')
    facts = healthy(links=links, igmp={"eth0": {"224.0.0.1"}},
                    rulesets=[parse_nft_json(nft)], routes={"10.0.0.1": "dummy0"},
                    daemons=[OtherDaemon(42, "ucarp", frozenset({"10.0.0.50"}))])
    facts.sysctls["net.ipv4.conf.all.rp_filter"] = "1"
    status = vip(counters={"auth_failures": 3}, anomalies={"foreign_advert": 3})
    found = by_check(diagnose({"vips": [status]}, facts))
    assert {c: [f.level.name for f in fs] for c, fs in found.items()} == {
        "interface": ["FAIL"], "firewall": ["FAIL"], "multicast": ["FAIL"],
        "rp_filter": ["FAIL"], "arp": ["WARN"], "other_cluster": ["FAIL"],
        "duplicate_vip": ["FAIL", "FAIL"]}
    assert "no carrier" in found["interface"][0].text
    assert found["firewall"][0].fix.startswith("nft delete rule inet f in handle 7")
    assert "10.0.0.1 via dummy0" in found["rp_filter"][0].text
    assert "rp_filter=2" in found["rp_filter"][0].fix
    assert "3 adverts for vhid 1" in found["other_cluster"][0].text
    dup = [f.text for f in found["duplicate_vip"]]
    assert dup == ["dummy0 also holds 10.0.0.50/32", "ucarp (pid 42) also serves 10.0.0.50"]
    assert found["duplicate_vip"][0].fix == "ip addr del 10.0.0.50/32 dev dummy0"
    line = found["firewall"][0].line()
    assert line.startswith("FAIL firewall      web: nftables drops adverts to 224.0.0.18")
    assert " -> fix: nft delete rule" in line


def test_strict_rp_filter_without_a_known_peer_is_a_warning() -> None:
    facts = healthy()
    facts.sysctls["net.ipv4.conf.eth0.rp_filter"] = "1"
    rp = by_check(diagnose({"vips": [vip(master="10.0.0.2", state="MASTER")]},
                           facts))["rp_filter"]
    assert [f.level for f in rp] == [Level.WARN]
    ok = by_check(diagnose({"vips": [vip()]}, facts))["rp_filter"]
    assert [f.level for f in ok] == [Level.OK] and "routed via eth0" in ok[0].text


def test_arp_flux_and_arp_ignore_8() -> None:
    links = [*(healthy().links or []), Link("eth1", UP, "UP", (("10.0.0.3", 24),))]
    assert levels(diagnose({"vips": [vip()]}, healthy(links=links)))["arp"] == "WARN"
    facts = healthy()
    facts.sysctls["net.ipv4.conf.eth0.arp_ignore"] = "8"
    assert levels(diagnose({"vips": [vip()]}, facts))["arp"] == "FAIL"


def test_unicast_peers_need_no_group_and_are_probed_each() -> None:
    ipt = parse_iptables_save("*filter\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                              "-A INPUT -s 10.0.9.9/32 -j DROP\nCOMMIT\n", "iptables")
    status = vip(peers=["10.0.9.9"], master=None)
    found = by_check(diagnose({"vips": [status]}, healthy(rulesets=[ipt], igmp={})))
    assert "multicast" not in found
    assert [f.level.name for f in found["firewall"]] == ["FAIL"]
    assert "adverts from 10.0.9.9" in found["firewall"][0].text
    assert found["firewall"][0].fix.startswith("iptables -t filter -D INPUT -s 10.0.9.9/32")


def test_dual_master_and_foreign_copy_fault() -> None:
    status = vip(anomalies={"dual_master": 2}, faults=["foreign_address"])
    found = by_check(diagnose({"vips": [status]}, healthy()))
    assert "2 dual-master reports" in found["other_cluster"][0].text
    assert "carpd did not add" in found["duplicate_vip"][0].text


def test_unreachable_daemon_and_what_could_not_be_read() -> None:
    facts = Facts(links=None, problems={"firewall": ["nft: Operation not permitted"]},
                  igmp=parse_igmp((SAMPLES / "proc-net-igmp").read_text(), "little"))
    found = diagnose(None, facts, unreachable="no such file")
    assert [(f.check, f.level.name) for f in found] == [("daemon", "FAIL"), ("firewall", "WARN")]
    assert "could not check: nft: Operation not permitted" in found[1].text
    assert diagnose({"vips": []}, Facts())[0].text == "carpd runs no VIP"


def test_doctor_in_another_namespace_than_carpd_says_so_and_skips_the_host_checks() -> None:
    elsewhere = healthy(links=[Link("eth0", UP, "UP", (("192.168.1.5", 24),))])
    found = diagnose({"vips": [vip()]}, elsewhere)
    assert [(f.check, f.level) for f in found] == [("namespace", Level.FAIL)]
    assert "10.0.0.2 on eth0" in found[0].text and "ip netns exec" in found[0].fix
