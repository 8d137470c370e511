"""What the nodes of one file would do together (carpd.config.nodecheck) and `carpd --check
--node NAME` as an operator runs it: who is preferred per VIP, a tie, a check too light to
move its VIP, each warning once and located."""

from __future__ import annotations

from pathlib import Path

import pytest

from carpd.app.cli import main
from carpd.config.hostcheck import HostFindings
from carpd.config.loader import Config, load_config
from carpd.config.nodecheck import PREFERENCES, cluster_warnings, preferred_order
from carpd.core.profile import ElectionProtocol

HEAD = """\
[carpd]
nodes = ["web1", "web2"]

[defaults]
interface = "eth0"
password_file = "{dir}/carp.key"
"""
# web crossed to web1, mail to web2: nothing to warn about
CROSSED = HEAD + """
[vip.web]
vhid = 1
address = "172.16.90.31/24"
advskew = { web1 = 0, web2 = 100 }

[vip.mail]
vhid = 2
address = "172.16.90.32/24"
advskew = { web1 = 100, web2 = 0 }
"""
CHECK = """
[[vip.web.check]]
type = "tcp"
host = "127.0.0.1"
port = 80
weight = {weight}
"""


def configs(workdir: Path, text: str) -> dict[str, Config]:
    (workdir / "carpd.toml").write_text(text.replace("{dir}", str(workdir)))
    return {n: load_config("carpd.toml", node=n) for n in ("web1", "web2")}


def test_crossed_priorities_warn_nothing_and_order_the_nodes(workdir: Path) -> None:
    nodes = configs(workdir, CROSSED)
    assert cluster_warnings(nodes) == []
    assert [n for n, _ in preferred_order("web", nodes)] == ["web1", "web2"]
    assert [n for n, _ in preferred_order("mail", nodes)] == ["web2", "web1"]


def test_a_vip_every_node_claims_alike_is_a_tie(workdir: Path) -> None:
    text = CROSSED + '\n[vip.dns]\nvhid = 3\naddress = "172.16.90.33/24"\n'
    assert cluster_warnings(configs(workdir, text)) == [
        "carpd.toml:19: vip.dns: nodes web1, web2 would all claim it with advskew 0: none is "
        "preferred, so whichever comes up first stays MASTER; give each node its own value (a "
        "table of per-node values)"]
    # at the advskew when one is written (the same on both: still a tie)
    text = CROSSED.replace("advskew = { web1 = 100, web2 = 0 }", "advskew = 7")
    assert cluster_warnings(configs(workdir, text)) == [
        "carpd.toml:16: vip.mail.advskew: nodes web1, web2 would all claim it with advskew 7: "
        "none is preferred, so whichever comes up first stays MASTER; give each node its own "
        "value (a table of per-node values)"]


def test_a_different_advbase_is_a_preference_not_a_tie(workdir: Path) -> None:
    text = CROSSED.replace("advskew = { web1 = 100, web2 = 0 }",
                           "advskew = 0\nadvbase = { web1 = 1, web2 = 2 }")
    nodes = configs(workdir, text)
    assert cluster_warnings(nodes) == []
    assert [n for n, _ in preferred_order("mail", nodes)] == ["web1", "web2"]


@pytest.mark.parametrize(("weight", "warned"), [(50, True), (100, True), (101, False)])
def test_a_check_must_outweigh_the_other_nodes_skew(workdir: Path, weight: int,
                                                    warned: bool) -> None:
    warnings = cluster_warnings(configs(workdir, CROSSED + CHECK.format(weight=weight)))
    if not warned:
        assert warnings == []
        return
    where = "level with" if weight == 100 else "ahead of"
    assert warnings == [
        f"carpd.toml:18: vip.web.check: check tcp-80 (weight {weight}) on web1: while it "
        f"fails web1 advertises advskew {weight}, still {where} web2 (advskew 100), so the "
        "VIP stays on web1; use weight = 101 or more (or fatal = true)"]


def test_a_check_cannot_move_a_vip_to_a_node_that_does_not_preempt(workdir: Path) -> None:
    text = CROSSED.replace("advskew = { web1 = 0, web2 = 100 }",
                           "advskew = { web1 = 0, web2 = 100 }\n"
                           "preempt = { web1 = true, web2 = false }") + CHECK.format(weight=200)
    assert cluster_warnings(configs(workdir, text)) == [
        "carpd.toml:19: vip.web.check: check tcp-80 (weight 200) on web1: while it fails web1 "
        "advertises advskew 200, still ahead, as no other node preempts (web2: preempt = false),"
        " so the VIP stays on web1; let another node preempt"]


def test_only_fatal_moves_a_vip_past_the_slowest_skew(workdir: Path) -> None:
    text = CROSSED.replace("web2 = 100 }", "web2 = 254 }") + CHECK.format(weight=254)
    assert cluster_warnings(configs(workdir, text))[0].endswith(
        "still level with web2 (advskew 254), so the VIP stays on web1; only fatal = true "
        "moves it")
    fatal = CHECK.format(weight=1).replace("weight = 1", "fatal = true")
    assert cluster_warnings(configs(workdir, text.split("\n[[")[0] + fatal)) == []


def test_every_protocol_has_a_preference() -> None:
    assert set(PREFERENCES) == set(ElectionProtocol)


def test_check_node_prints_what_the_node_runs_and_the_warnings(
        workdir: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("carpd.app.clustercheck.socket.gethostname", lambda: "ci-runner")
    (workdir / "carpd.toml").write_text(
        (CROSSED + CHECK.format(weight=50)).replace("{dir}", str(workdir)))
    assert main(["--check", "--config", "carpd.toml", "--node", "web2"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[:3] == [
        "node web2 (nodes: web1, web2)",
        "web: preferred in this order: web1 (advskew 0), web2 (advskew 100)",
        "mail: preferred in this order: web2 (advskew 0), web1 (advskew 100)"]
    assert out.splitlines()[3].startswith("web: vhid 1 on eth0, 172.16.90.31/24 (IPv4, "
                                          "multicast), advbase 1 advskew 100 ")
    assert err.splitlines() == [
        "carpd: note: checked as node web2, which is not this host: the file is not checked "
        "against this host's interfaces and addresses",
        "carpd: warning: carpd.toml:18: vip.web.check: check tcp-80 (weight 50) on web1: while "
        "it fails web1 advertises advskew 50, still ahead of web2 (advskew 100), so the VIP "
        "stays on web1; use weight = 101 or more (or fatal = true)"]


def test_check_fails_on_another_nodes_mistake(workdir: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "carpd.toml").write_text(CROSSED.replace(
        "vhid = 1\n", "vhid = 1\nadvbase = 0\n").replace("web1 = 0, web2 = 100",
                                                         "web1 = 10, web2 = 0").replace(
        "{dir}", str(workdir)))
    assert main(["--check", "--config", "carpd.toml", "--node", "web1"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "carpd: error: carpd.toml:10: vip.web.advbase: advbase 0 requires advskew > 0 (as ucarp)"
        " (as node web2)")


def test_carpd_node_names_this_host_so_its_interfaces_are_checked(
        workdir: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """$CARPD_NODE (the unit's Environment=) is what this host is; --node may be another's."""
    checked: list[str | None] = []
    monkeypatch.setattr("carpd.app.cli._host_findings",
                        lambda config: checked.append(config.node) or HostFindings())
    monkeypatch.setattr("carpd.app.clustercheck.socket.gethostname", lambda: "lb-b")
    monkeypatch.setenv("CARPD_NODE", "web2")
    (workdir / "carpd.toml").write_text(CROSSED.replace("{dir}", str(workdir)))
    assert main(["--check", "--config", "carpd.toml"]) == 0
    assert main(["--check", "--config", "carpd.toml", "--node", "web1"]) == 0
    assert checked == ["web2"]
    out = capsys.readouterr()
    assert out.out.count("node web2 (nodes: web1, web2)") == 1
    assert "checked as node web1, which is not this host" in out.err


VRRP = HEAD + """
[vip.api]
protocol = "vrrp3"
vrid = 51
address = "172.16.90.51/24"
priority = { web1 = 150, web2 = 100 }

[[vip.api.check]]
type = "tcp"
host = "127.0.0.1"
port = 80
weight = 50
"""


def test_vrrp_prefers_the_higher_priority_and_a_demotion_lowers_it(workdir: Path) -> None:
    nodes = configs(workdir, VRRP)
    assert [n for n, _ in preferred_order("api", nodes)] == ["web1", "web2"]
    assert cluster_warnings(nodes) == [
        "carpd.toml:14: vip.api.check: check tcp-80 (weight 50) on web1: while it fails web1 "
        "advertises priority 100, still level with web2 (priority 100), so the VIP stays on "
        "web1; use weight = 51 or more (or fatal = true)"]
    tie = configs(workdir, VRRP.replace("priority = { web1 = 150, web2 = 100 }",
                                        "priority = 120").replace("weight = 50", "fatal = true"))
    assert cluster_warnings(tie) == [
        "carpd.toml:12: vip.api.priority: nodes web1, web2 would all claim it with priority "
        "120: none is preferred, so whichever comes up first stays MASTER; give each node its "
        "own value (a table of per-node values)"]
