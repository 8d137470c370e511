"""Per-node values (carpd.config.nodes through the loader): one file, each node's VIPs, the
node chosen by --node or the host name, and one located message per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from carpd.config.loader import Config, ConfigError, load_config
from carpd.config.nodes import SHARED_KEYS, node_names, select_node
from carpd.config.schema import VIP_KEYS
from carpd.config.values import BadValueError

# Lines: 1 [carpd], 2 nodes, 4 [defaults], 5 interface, 6 password_file, 7 preempt,
# 9 [vip.web], 10 vhid, 11 address, 12 advskew, 14 [vip.mail], 15 vhid, 16 address,
# 18 [vip.mail.advskew], 19 web1, 20 web2.
FILE = """\
[carpd]
nodes = ["web1", "web2"]

[defaults]
interface = "eth0"
password_file = "{dir}/carp.key"
preempt = { web1 = true, web2 = false }

[vip.web]
vhid = 1
address = "172.16.90.31/24"
advskew = { web1 = 0, web2 = 100 }

[vip.mail]
vhid = 2
address = "172.16.90.32/24"

[vip.mail.advskew]
web1 = 100
web2 = 0
"""


def load(workdir: Path, text: str, **kwargs: str | None) -> Config:
    (workdir / "carpd.toml").write_text(text.replace("{dir}", str(workdir)))
    return load_config("carpd.toml", **kwargs)  # type: ignore[arg-type]


def error(workdir: Path, text: str, **kwargs: str | None) -> str:
    with pytest.raises(ConfigError) as err:
        load(workdir, text, **kwargs)
    return str(err.value)


def skews(config: Config) -> dict[str, tuple[int, bool]]:
    return {v.name: (v.advskew, v.preempt) for v in config.vips}


def test_each_node_gets_its_values_inline_table_form_and_from_defaults(workdir: Path) -> None:
    web1 = load(workdir, FILE, node="web1")
    web2 = load(workdir, FILE, node="web2")
    assert (web1.node, web1.nodes) == ("web1", ("web1", "web2"))
    assert skews(web1) == {"web": (0, True), "mail": (100, True)}
    assert skews(web2) == {"web": (100, False), "mail": (0, False)}
    # the rest is one file's: identical on both nodes
    assert [v.vhid for v in web1.vips] == [v.vhid for v in web2.vips] == [1, 2]
    assert web1.vips[0].password == web2.vips[0].password
    # where each node's value is written (hostcheck and --check locate with it)
    assert web2.locate("web", "advskew", "x") == "carpd.toml:12: vip.web.advskew.web2: x"
    assert web2.locate("mail", "advskew", "x") == "carpd.toml:20: vip.mail.advskew.web2: x"
    assert web1.locate("web", "preempt", "x") == \
        "carpd.toml:7: defaults.preempt.web1: x (inherited by vip.web)"


@pytest.mark.parametrize(("hostname", "node"), [("web2", "web2"), ("web1.example.com", "web1")])
def test_the_host_name_picks_the_node(workdir: Path, hostname: str, node: str) -> None:
    assert load(workdir, FILE, hostname=hostname).node == node


def test_node_flag_beats_the_host_name(workdir: Path) -> None:
    assert load(workdir, FILE, node="web2", hostname="web1").node == "web2"


def test_a_file_without_nodes_has_no_node_whatever_the_host(workdir: Path) -> None:
    plain = FILE.replace('nodes = ["web1", "web2"]\n', "").replace(
        "{ web1 = true, web2 = false }", "true").replace(
        "{ web1 = 0, web2 = 100 }", "0").replace("[vip.mail.advskew]\nweb1 = 100\nweb2 = 0\n", "")
    config = load(workdir, plain, hostname="web1")
    assert (config.node, config.nodes) == (None, ())
    assert skews(config) == {"web": (0, True), "mail": (0, True)}


@pytest.mark.parametrize(("edit", "kwargs", "message"), [
    # the node
    ((), {"hostname": "ws7.example.com"}, "carpd.toml:2: carpd.nodes: this host is 'ws7', which "
     "is none of the nodes (web1, web2): start carpd with --node NAME"),
    ((), {"node": "web3"}, "carpd.toml:2: carpd.nodes: --node web3: not a node of [carpd] nodes "
     "(web1, web2); did you mean 'web2'?"),
    (('nodes = ["web1", "web2"]', 'nodes = ["web1", "web1"]'), {"node": "web1"},
     "carpd.toml:2: carpd.nodes: node 'web1' is listed twice"),
    (('nodes = ["web1", "web2"]', 'nodes = ["web1", "web2.lan"]'), {"node": "web1"},
     "carpd.toml:2: carpd.nodes: invalid node name 'web2.lan': a short host name (a letter or "
     "digit, then letters, digits, '_' or '-'; at most 63)"),
    (('nodes = ["web1", "web2"]', "nodes = []"), {"node": "web1"},
     "carpd.toml:2: carpd.nodes: must be a non-empty array of node names, not an array"),
    # the tables
    (("web1 = 0, web2 = 100", "web1 = 0, wbe2 = 100"), {"node": "web1"},
     "carpd.toml:12: vip.web.advskew.wbe2: not a node of [carpd] nodes (web1, web2); did you "
     "mean 'web2'?"),
    (("web1 = 100\nweb2 = 0\n", "web1 = 100\n"), {"node": "web1"},
     "carpd.toml:18: vip.mail.advskew: no value for node web2 (every node of [carpd] nodes "
     "needs one)"),
    (("web1 = 0, web2 = 100", "web1 = 0, web2 = 300"), {"node": "web1"},
     "carpd.toml:12: vip.web.advskew.web2: 300 is out of range: must be an integer 0..254"),
    (("web1 = 100\nweb2 = 0\n", "web1 = 100\nweb2 = \"0\"\n"), {"node": "web1"},
     "carpd.toml:20: vip.mail.advskew.web2: must be an integer 0..254, not a string (remove "
     "the quotes)"),
    (("vhid = 1", "vhid = { web1 = 1, web2 = 2 }"), {"node": "web1"},
     "carpd.toml:10: vip.web.vhid: vhid is the same on every node: it cannot have per-node "
     "values (a table here means one value per node)"),
    (('password_file = "{dir}/carp.key"', 'password = { web1 = "a", web2 = "b" }'),
     {"node": "web1"}, "carpd.toml:6: defaults.password: password is the same on every node: "
     "it cannot have per-node values (a table here means one value per node)"),
    # a rule between keys, for this node's value only, located at it
    (("vhid = 1\n", "vhid = 1\nadvbase = 0\n"), {"node": "web1"},
     "carpd.toml:11: vip.web.advbase: advbase 0 requires advskew > 0 (as ucarp)"),
])
def test_mistakes_are_located(workdir: Path, edit: tuple[str, ...], kwargs: dict[str, str],
                              message: str) -> None:
    text = FILE.replace(*edit) if edit else FILE
    assert error(workdir, text, **kwargs) == message


def test_another_nodes_rule_breach_fails_only_that_node(workdir: Path) -> None:
    text = FILE.replace("vhid = 1\n", "vhid = 1\nadvbase = 0\n").replace(
        "web1 = 0, web2 = 100", "web1 = 10, web2 = 0")
    assert skews(load(workdir, text, node="web1"))["web"] == (10, True)
    assert error(workdir, text, node="web2") == (
        "carpd.toml:11: vip.web.advbase: advbase 0 requires advskew > 0 (as ucarp)")


def test_per_node_tables_need_declared_nodes(workdir: Path) -> None:
    text = FILE.replace('nodes = ["web1", "web2"]\n', "")
    assert error(workdir, text, hostname="web1") == (
        "carpd.toml:6: defaults.preempt: a table of per-node values needs [carpd] nodes = "
        "[...] naming the nodes (no per-VIP key takes a table)")
    assert error(workdir, text, node="web1") == (
        "carpd.toml: --node web1: this file names no nodes (add [carpd] nodes = [...] to give "
        "keys per-node values)")


def test_shared_keys_are_vip_keys() -> None:
    assert set(VIP_KEYS) >= SHARED_KEYS


def test_node_names_and_selection_on_their_own() -> None:
    assert node_names(["a", "b-2", "C_3"]) == ("a", "b-2", "C_3")
    with pytest.raises(BadValueError, match="invalid node name ''"):
        node_names([""])
    assert select_node((), None, "anything") is None
    assert select_node(("web1", "web2"), None, "WEB2.example.com") == "web2"  # as DNS: any case


def test_a_single_check_table_is_judged_as_a_check_not_as_per_node_values(workdir: Path) -> None:
    text = FILE + '\n[vip.web.check]\ntype = "tcp"\n'
    message = error(workdir, text, node="web1")
    assert message.startswith("carpd.toml:22: vip.web.check: ") and "node" not in message
