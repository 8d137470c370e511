"""`carpctl doctor` against live daemons in namespaces: silent on a healthy pair, and one FAIL
line with its fix per provoked fault.

The lab (`dd`, module): a and b run carpd with two VIPs, `web` (vhid 31, the group) and `api`
(vhid 32, unicast peers); d is a stranger. First both nodes are healthy: doctor exits 0 with
no FAIL on either. Then on b, inside its namespace only: an nftables rule drops protocol 112
leaving towards 224.0.0.18, strict rp_filter with a /32 route to a via a second interface
(a veth pair inside b, so the kernel drops a's adverts), the web VIP's address on that
interface, a ucarp
serving the web VIP on another vhid, and on d a ucarp on vhid 31 with another password
(another cluster on our VHID). Doctor on b then exits 5 with FAIL lines naming each, with
their fixes; its JSON says the same. The outputs are printed (pytest -s).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.carpd_host import Carpd, Vip, stop, vip_status, wait_for
from tests.integration.netns import Lab

A, B, D = "172.16.90.101", "172.16.90.102", "172.16.90.103"
WEB, API = "172.16.90.31", "172.16.90.32"
DROP_OUT = """
table inet ddfault {
  chain out {
    type filter hook output priority 0; policy accept;
    ip protocol vrrp ip daddr 224.0.0.18 counter drop comment "carp-out"
  }
}
"""


def _vips(host: str) -> list[Vip]:
    skew = 0 if host == "a" else 100
    other = B if host == "a" else A
    return [Vip("web", 31, f"{WEB}/24", advskew=skew),
            Vip("api", 32, f"{API}/24", advskew=skew, peers=(other,))]


@pytest.fixture(scope="module")
def dd_lab() -> Iterator[Lab]:
    with Lab("dd") as lab:
        lab.add_host("a", f"{A}/24", 0x01)
        lab.add_host("b", f"{B}/24", 0x02)
        lab.add_host("d", f"{D}/24", 0x03)
        if not lab.multicast_crosses("a", "b"):
            pytest.fail("protocol-112 multicast to 224.0.0.18 does not cross the lab bridge")
        yield lab


@pytest.fixture(scope="module")
def pair(dd_lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Carpd]]:
    work = tmp_path_factory.mktemp("dd")
    nodes = {h: Carpd(dd_lab, h, work, _vips(h), extra={"advbase": "1"}) for h in ("a", "b")}
    try:
        for node in nodes.values():
            node.start()
        for name in ("web", "api"):
            assert nodes["a"].wait_state(name, "MASTER", 10) is not None, nodes["a"].log_text()
            assert nodes["b"].wait_state(name, "BACKUP", 10) is not None, nodes["b"].log_text()
        yield nodes
    finally:
        for node in nodes.values():
            stop(node)


def doctor(lab: Lab, node: Carpd, *extra: str) -> tuple[int, str]:
    proc = lab.run(node.host, sys.executable, "-m", "carpd.carpctl", "--socket", node.socket,
                   "doctor", *extra, check=False, timeout=30)
    print(f"\n$ carpctl doctor {' '.join(extra)}  (on {node.host}, exit {proc.returncode})\n"
          f"{proc.stdout}{proc.stderr}")
    return proc.returncode, proc.stdout


def _fails(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("FAIL")]


def test_doctor_on_a_healthy_pair_finds_nothing_to_fix(dd_lab: Lab,
                                                       pair: dict[str, Carpd]) -> None:
    for node in pair.values():
        code, out = doctor(dd_lab, node)
        assert code == 0 and _fails(out) == [], out
        assert "OK   multicast     web: 224.0.0.18 joined on eth0" in out
        assert "OK   firewall      web: nftables: protocol 112 passes both ways on eth0" in out


def _ucarp(lab: Lab, host: str, source: str, vhid: int, password: str, work: Path) -> None:
    key = work / f"ucarp-{host}-{vhid}.key"
    key.write_text(password + "\n")
    key.chmod(0o600)
    lab.popen(host, ["/usr/sbin/ucarp", "-i", "eth0", "-s", source, "-v", str(vhid),
                     "-o", str(key), "-a", WEB, "-u", "/bin/true", "-d", "/bin/true",
                     "-b", "1", "-k", "200", "-z"], stdout=subprocess.DEVNULL,
              stderr=subprocess.DEVNULL)


def test_doctor_names_each_provoked_fault_with_its_fix(
        dd_lab: Lab, pair: dict[str, Carpd], tmp_path: Path) -> None:
    b = pair["b"]
    dd_lab.nft("b", DROP_OUT)
    for argv in (["link", "add", "dd0", "type", "veth", "peer", "name", "dd1"],
                 ["link", "set", "dd1", "up"], ["link", "set", "dd0", "up"],
                 ["addr", "add", f"{WEB}/32", "dev", "dd0"],
                 ["route", "add", f"{A}/32", "dev", "dd0"]):
        dd_lab.run("b", "ip", *argv)
    dd_lab.sysctl("b", "net.ipv4.conf.all.rp_filter", "1")
    _ucarp(dd_lab, "d", D, 31, "another-cluster", tmp_path)
    _ucarp(dd_lab, "b", B, 33, "b-local", tmp_path)
    foreign = wait_for(lambda: vip_status(b, "web").get("counters", {})  # type: ignore[union-attr]
                       .get("auth_failures", 0) > 0, 10)
    assert foreign is not None, b.log_text()
    code, out = doctor(dd_lab, b)
    fails = _fails(out)
    assert code == 5, out
    expected = [
        ("firewall      web: nftables drops our adverts to 224.0.0.18 on eth0: table inet "
         "ddfault chain out handle", "nft delete rule inet ddfault out handle"),
        (f"rp_filter     api: rp_filter 1 (all 1, eth0 0) is strict and the route back to "
         f"the peer leaves by another interface ({A} via dd0)", "rp_filter=2"),
        ("other_cluster web:", "give one cluster another vhid"),
        (f"duplicate_vip web: dd0 also holds {WEB}/32", f"ip addr del {WEB}/32 dev dd0"),
        ("duplicate_vip web: ucarp (pid", "stop ucarp"),
    ]
    for text, fix in expected:
        lines = [line for line in fails if text in line]
        assert lines, f"no FAIL line with {text!r}:\n{out}"
        assert fix in lines[0].split(" -> fix: ", 1)[1], lines[0]
    assert not [line for line in fails if " a: " in line]
    code, out = doctor(dd_lab, b, "--json")
    report = json.loads(out)
    assert code == 5 and report["failed"] is True
    checks = {f["check"] for f in report["findings"] if f["level"] == "FAIL"}
    assert {"firewall", "rp_filter", "other_cluster", "duplicate_vip"} <= checks
    healthy_code, _ = doctor(dd_lab, pair["a"])
    assert healthy_code == 5  # a hears d's foreign adverts too: the other cluster is real
