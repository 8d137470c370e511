"""`carpd convert keepalived`: the keepalived.conf reader, the mapping to carpd.toml, the
findings on stderr and the exit codes. The output is loaded with carpd's own loader
(carpd.config.loader) for every realistic sample in keepalived_samples/ (the same samples
pass the real `keepalived -t` in tests/integration/test_keepalived_samples.py).
"""

from __future__ import annotations

import os
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest

from carpd.app.cli import main as carpd_main
from carpd.app.convert import Result, carpd_name, convert, main
from carpd.app.keepalived.checks import FILE_TEST, QUORUM_TEST
from carpd.app.keepalived.conf import ConfError, parse_config, quoted_words
from carpd.app.keepalived.keywords import Finding, Severity
from carpd.app.keepalived.lines import Where, expand_braces
from carpd.app.keepalived.toml import Table, render
from carpd.config.loader import Config, load_config
from carpd.core.params import VipParams

SAMPLES = Path(__file__).parent / "keepalived_samples"
LOADABLE = ["pair_a.conf", "pair_b.conf", "unicast.conf", "sync_group.conf", "tracking.conf",
            "includes.conf"]
NT, DIFF, NOTE = Severity.NOT_TRANSLATED, Severity.DIFFERS, Severity.NOTE
V3 = "global_defs {\n    vrrp_version 3\n}\n"


def convert_text(tmp_path: Path, text: str, **options: bool) -> Result:
    path = tmp_path / "keepalived.conf"
    path.write_text(text)
    return convert(parse_config(str(path), "lb-a"), str(path), self_check=False, **options)


def convert_sample(name: str, config_id: str = "lb-a") -> Result:
    path = str(SAMPLES / name)
    return convert(parse_config(path, config_id), path, self_check=False)


def load(tmp_path: Path, result: Result) -> Config:
    out = tmp_path / "carpd.toml"
    out.write_text(result.text)
    return load_config(out, environ={})


def vip(config: Config, name: str) -> VipParams:
    return next(v for v in config.vips if v.name == name)


def found(result: Result, keyword: str) -> Finding:
    matches = [f for f in result.findings if f.keyword == keyword]
    assert matches, f"no finding for {keyword!r} in {[str(f) for f in result.findings]}"
    return matches[0]


def instance(body: str, name: str = "VI_1", head: str = V3) -> str:
    return (f"{head}vrrp_instance {name} {{\n    interface eth0\n    virtual_router_id 51\n"
            f"{body}}}\n")


def executable(path: Path) -> str:
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


# -- the reader --------------------------------------------------------------------------------

def test_comments_quotes_and_escaped_comment_characters(tmp_path: Path) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text('! a comment\nkey "a # b ! c" tail # comment\nx\\#y z!w\n  # indented\n')
    statements = parse_config(str(conf), None).statements
    assert [s.words for s in statements] == [("key", "a # b ! c", "tail"), ("x#y", "z")]
    assert [s.where.line for s in statements] == [2, 3]


def test_blocks_on_one_line_on_the_next_line_and_nested(tmp_path: Path) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text("a { b 1 }\nc\n{\n  d {\n    e\n  }\n}\n")
    a, c = parse_config(str(conf), None).statements
    assert a.words == ("a",) and a.block is not None and a.block[0].words == ("b", "1")
    assert c.block is not None and c.block[0].keyword == "d"
    inner = c.block[0].block
    assert inner is not None and inner[0].words == ("e",) and inner[0].where.line == 5


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("a {\n  b\n", 1, "no closing '}'"),
    ("a\n}\n", 2, "'}' with no block open"),
    ("{\n", 1, "'{' with no keyword before it"),
    ('a {\n script "x y\n}\n', 2, "unmatched quote"),
])
def test_broken_structure_is_located(tmp_path: Path, text: str, line: int, reason: str) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(text)
    with pytest.raises(ConfError) as err:
        parse_config(str(conf), None)
    assert err.value.where == Where(str(conf), line)
    assert reason in err.value.reason


def test_quoted_words_are_keepalived_script_quoting() -> None:
    here = Where("k", 1)
    assert quoted_words("""script "/bin/sh -c 'pidof x'" user""", here) == (
        "script", "/bin/sh -c 'pidof x'", "user")
    assert quoted_words("""/bin/sh -c 'pidof x'""", here) == ("/bin/sh", "-c", "pidof x")
    assert quoted_words(r'a\tb "c\"d" \x41\102', here) == ("a\tb", 'c"d', "AB")
    with pytest.raises(ConfError, match="missing terminating"):
        quoted_words("'open", here)


def test_includes_resolve_against_the_including_file(tmp_path: Path) -> None:
    (tmp_path / "sub" / "more").mkdir(parents=True)
    (tmp_path / "main.conf").write_text("one\ninclude sub/*.conf\nlast\n")
    (tmp_path / "sub" / "a.conf").write_text("two\ninclude more/{x,y}.conf\n")
    (tmp_path / "sub" / "more" / "x.conf").write_text("three\n")
    (tmp_path / "sub" / "more" / "y.conf").write_text("four\n")
    parsed = parse_config(str(tmp_path / "main.conf"), None)
    assert [s.keyword for s in parsed.statements] == ["one", "two", "three", "four", "last"]
    assert parsed.statements[2].where == Where(str(tmp_path / "sub" / "more" / "x.conf"), 1)


def test_an_include_loop_and_a_missing_file_are_errors(tmp_path: Path) -> None:
    (tmp_path / "loop.conf").write_text("include loop.conf\n")
    with pytest.raises(ConfError, match="nested deeper"):
        parse_config(str(tmp_path / "loop.conf"), None)
    with pytest.raises(ConfError, match="cannot read"):
        parse_config(str(tmp_path / "absent.conf"), None)


def test_an_include_matching_nothing_is_a_notice(tmp_path: Path) -> None:
    (tmp_path / "k.conf").write_text("include conf.d/*.conf\n")
    parsed = parse_config(str(tmp_path / "k.conf"), None)
    assert parsed.statements == ()
    assert "matches no file" in parsed.notices[0][1]


def test_conditional_lines_and_parameters(tmp_path: Path) -> None:
    (tmp_path / "k.conf").write_text(
        "@lb-a prio 150\n@lb-b prio 100\n@^lb-a other 1\n$V=10.0.0.1\n"
        "addr ${V}/24 $V\n$BLOCK= \\\n  one 1 \\\n  two 2\n$BLOCK\nundefined $NOPE\n")
    words = [s.words for s in parse_config(str(tmp_path / "k.conf"), "lb-a").statements]
    assert words == [("prio", "150"), ("addr", "10.0.0.1/24", "10.0.0.1"), ("one", "1"),
                     ("two", "2"), ("undefined", "$NOPE")]


def test_brace_expansion() -> None:
    assert expand_braces("a{b,c{d,e}}f") == ["abf", "acdf", "acef"]
    assert expand_braces("plain") == ["plain"]


# -- the mapping -------------------------------------------------------------------------------

def test_the_pair_sample_maps_election_keys_and_checks(tmp_path: Path) -> None:
    result = convert_sample("pair_a.conf")
    config = load(tmp_path, result)
    web4, web6 = vip(config, "web4"), vip(config, "web6")
    assert (web4.protocol, web4.vhid, web4.priority, web4.advert_interval_cs) == (
        "vrrp3", 51, 150, 100)
    assert [str(a) for a in web4.addresses] == ["192.0.2.10/24"]
    assert [str(a) for a in web6.addresses] == ["2001:db8:0:1::10/64"] and web6.vhid == 51
    check = web4.checks[0]
    assert (check.type, check.command, check.weight, check.fatal) == (
        "exec", ("/usr/bin/pgrep", "-x", "haproxy"), 60, False)
    assert (check.interval, check.timeout, check.rise, check.fall) == (1.0, 1.0, 2, 2)
    notify = found(result, "notify")
    assert notify.severity is NT and notify.where.line == 29
    assert result.exit_code == 1


def test_the_other_server_differs_only_in_priority() -> None:
    a, b = convert_sample("pair_a.conf"), convert_sample("pair_b.conf")
    diff = [(x, y) for x, y in zip(a.text.splitlines(), b.text.splitlines(), strict=True)
            if x != y]
    assert [y for _, y in diff if not y.startswith("#")] == ["priority = 100", "priority = 100"]


@pytest.mark.parametrize("name", LOADABLE)
def test_every_sample_loads_with_carpds_loader(tmp_path: Path, name: str) -> None:
    result = convert_sample(name)
    config = load(tmp_path, result)
    assert config.vips, result.text
    for params in config.vips:
        assert params.protocol == "vrrp3"
        assert len(params.families) == 1, params.name
    tomllib.loads(result.text)  # valid TOML on its own


def test_unicast_keys_follow_keepalived_checks(tmp_path: Path) -> None:
    config = load(tmp_path, convert_sample("unicast.conf"))
    db, db6 = vip(config, "db"), vip(config, "db6")
    assert (str(db.source), [str(p) for p in db.peers], db.preempt) == (
        "192.0.2.1", ["192.0.2.2"], False)
    assert (db.accept_source, db.accept_ttl) == ("any", 1)  # keepalived checked neither
    assert (db.advert_interval_cs, db6.advert_interval_cs) == (50, 50)
    assert (str(db6.source6), db6.accept_source, db6.accept_ttl, db6.peer_ttl) == (
        "2001:db8::1", "peers", 254, 255)


def test_sync_group_sample(tmp_path: Path) -> None:
    result = convert_sample("sync_group.conf")
    config = load(tmp_path, result)
    assert {v.name: v.sync_group for v in config.vips} == {
        "outside": "gateways", "outside-v6": "gateways", "inside": "gateways"}
    inside = vip(config, "inside")
    assert [(c.name, c.fatal) for c in inside.checks] == [("link-eth2", True),
                                                         ("chk_uplink", True)]
    outside = vip(config, "outside")
    assert outside.master_units == ("carpd-master@outside.target", "conntrackd-primary.service")
    assert outside.preempt_delay == 30.0
    assert found(result, "vrrp_instance outside").severity is DIFF  # the IPv6 split


def test_tracking_sample_weights_and_probes(tmp_path: Path) -> None:
    result = convert_sample("tracking.conf")
    api = vip(load(tmp_path, result), "api")
    assert api.priority == 150  # 100 + 20 (eth1) + 30 (chk_api), lowered while they fail
    checks = {c.name: c for c in api.checks}
    assert (checks["link-eth1"].type, checks["link-eth1"].weight) == ("interface", 20)
    assert checks["chk_api"].weight == 30 and checks["nginx"].weight == 40
    assert checks["failover_flag"].fatal
    assert "chk_maintenance" not in checks
    assert found(result, "track_script chk_maintenance").severity is NT  # reverse
    assert found(result, "vrrp_strict").severity is DIFF


def test_vrrp2_instances_are_not_translated_unless_asked(tmp_path: Path) -> None:
    result = convert_sample("legacy_v2.conf")
    assert result.vips == 0 and result.exit_code == 1
    refusal = found(result, "vrrp_instance VI_1")
    assert refusal.severity is NT and refusal.where.line == 12 and "VRRPv3" in refusal.reason
    assert found(result, "authentication").where.line == 18
    path = str(SAMPLES / "legacy_v2.conf")
    as_v3 = convert(parse_config(path, None), path, vrrp2_as_vrrp3=True, self_check=False)
    vi = vip(load(tmp_path, as_v3), "vi_1")
    assert [str(a) for a in vi.addresses] == ["192.0.2.16/32", "192.0.2.17/32"]
    assert found(as_v3, "authentication").severity is NT
    assert found(as_v3, "vrrp_instance VI_1").severity is DIFF


def test_an_instance_with_both_families_becomes_two_vips(tmp_path: Path) -> None:
    result = convert_text(tmp_path, instance(
        "    priority 120\n    virtual_ipaddress {\n        10.0.0.1/24\n    }\n"
        "    virtual_ipaddress_excluded {\n        10.0.0.2/24\n        fd00::1/64\n"
        "        fd00::2/128\n    }\n"))
    config = load(tmp_path, result)
    v4, v6 = vip(config, "vi_1"), vip(config, "vi_1-v6")
    assert [str(a) for a in v4.addresses] == ["10.0.0.1/24", "10.0.0.2/24"]
    assert [str(a) for a in v6.addresses] == ["fd00::1/64", "fd00::2/128"]
    assert (v4.vhid, v6.vhid, v4.priority, v6.priority) == (51, 51, 120, 120)
    assert v4.sync_group == v6.sync_group == "vi_1"
    assert not v6.deprecate_ipv6_vip  # only one of the two is a /128
    assert found(result, "10.0.0.2/24").severity is DIFF  # now in the adverts
    assert found(result, "preferred_lft").severity is DIFF


def test_addresses_keepalived_ignores_or_carpd_refuses_are_reported(tmp_path: Path) -> None:
    result = convert_text(tmp_path, instance(
        "    virtual_ipaddress {\n        fe80::1/64\n        fd00::1/128\n"
        "        10.0.0.1/24\n        fd00::9/64 dev eth1\n        fd00::8/64 label x scope link\n"
        "    }\n"))
    v6 = vip(load(tmp_path, result), "vi_1")
    assert [str(a) for a in v6.addresses] == ["fd00::1/128", "fd00::8/64"]
    assert found(result, "fe80::1/64").severity is NT
    assert "ignores" in found(result, "10.0.0.1/24").reason
    assert found(result, "fd00::9/64 dev eth1").severity is NT
    assert found(result, "fd00::8/64 label").severity is NOTE
    assert found(result, "fd00::8/64 scope").severity is NT


def test_weights_zero_negative_positive_and_the_cap(tmp_path: Path) -> None:
    scripts = "".join(f"vrrp_script {n} {{\n    script /bin/true\n    weight {w}\n}}\n"
                      for n, w in (("zero", 0), ("minus", -10), ("plus", 100)))
    result = convert_text(tmp_path, V3 + scripts + instance(
        "    priority 200\n    virtual_ipaddress {\n        10.0.0.1/24\n    }\n"
        "    track_script {\n        zero\n        minus\n        plus\n"
        "        minus weight 5\n    }\n", head=""))
    config = load(tmp_path, result)
    vi = vip(config, "vi_1")
    assert [(c.name, c.fatal, c.weight) for c in vi.checks] == [
        ("zero", True, 0), ("minus", False, 10), ("plus", False, 100), ("minus-2", False, 5)]
    assert vi.priority == 254
    assert found(result, "vrrp_instance VI_1").severity is DIFF  # 300 capped at 254


def test_a_sync_group_drops_weighted_scripts_and_zeroes_interfaces(tmp_path: Path) -> None:
    text = (V3 + "vrrp_script s {\n    script /bin/true\n    weight -20\n}\n"
            "vrrp_sync_group G1 {\n    group {\n        VI_1\n    }\n}\n"
            + instance("    virtual_ipaddress {\n        10.0.0.1/24\n    }\n"
                       "    track_script {\n        s\n    }\n"
                       "    track_interface {\n        eth1 weight -30\n    }\n", head=""))
    result = convert_text(tmp_path, text)
    vi = vip(load(tmp_path, result), "vi_1")
    assert [(c.name, c.fatal) for c in vi.checks] == [("link-eth1", True)]
    assert vi.sync_group == "g1"
    assert found(result, "track_script s").severity is NOTE
    assert result.exit_code == 0


def test_priority_255_is_the_owner(tmp_path: Path) -> None:
    result = convert_text(tmp_path, instance(
        "    state MASTER\n    priority 255\n    virtual_ipaddress {\n        10.0.0.1/24\n"
        "    }\n"))
    vi = vip(load(tmp_path, result), "vi_1")
    assert (vi.priority, vi.owner) == (255, True)
    assert "takes over at once" in found(result, "state MASTER").reason


def test_notify_scripts_become_up_and_down_scripts(tmp_path: Path) -> None:
    up, down = executable(tmp_path / "up.sh"), executable(tmp_path / "down.sh")
    result = convert_text(tmp_path, instance(
        f"    virtual_ipaddress {{\n        10.0.0.1/24\n    }}\n    notify_master {up}\n"
        f"    notify_backup {down}\n    notify_fault {down}\n"
        f'    notify_stop "{down} stop"\n'))
    vi = vip(load(tmp_path, result), "vi_1")
    assert (vi.upscript, vi.downscript) == (up, down)
    assert found(result, "notify_fault").severity is NOTE
    assert found(result, "notify_stop").severity is NT


def test_systemctl_hooks_become_master_units(tmp_path: Path) -> None:
    result = convert_text(tmp_path, instance(
        "    virtual_ipaddress {\n        10.0.0.1/24\n    }\n"
        '    notify_master "/bin/systemctl --no-block start web.service db.service"\n'
        '    notify_master_rx_lower_pri /bin/true\n'))
    vi = vip(load(tmp_path, result), "vi_1")
    assert vi.master_units == ("carpd-master@vi_1.target", "web.service", "db.service")
    assert found(result, "notify_master").severity is DIFF  # nothing stopped them before
    assert found(result, "notify_master_rx_lower_pri").severity is NT


def test_a_systemctl_hook_without_unit_types_gets_them_as_systemctl_does(tmp_path: Path) -> None:
    """`systemctl start nginx` means nginx.service; carpd's unit keys take full names only."""
    result = convert_text(tmp_path, instance(
        "    virtual_ipaddress {\n        10.0.0.1/24\n    }\n"
        '    notify_master "systemctl start nginx getty@tty1 web.socket"\n'))
    vi = vip(load(tmp_path, result), "vi_1")
    assert vi.master_units == ("carpd-master@vi_1.target", "nginx.service",
                               "getty@tty1.service", "web.socket")


def test_a_hook_with_arguments_or_another_user_is_not_translated(tmp_path: Path) -> None:
    result = convert_text(tmp_path, instance(
        "    virtual_ipaddress {\n        10.0.0.1/24\n    }\n"
        '    notify_master "/usr/local/bin/vip up"\n'
        "    notify_backup /usr/local/bin/down nobody\n"))
    assert "bare absolute path" in found(result, "notify_master").reason
    assert "own user" in found(result, "notify_backup").reason
    assert "upscript" not in result.text and "downscript" not in result.text


def test_script_users_wrap_the_command(tmp_path: Path) -> None:
    head = ("global_defs {\n    vrrp_version 3\n    script_user keepalived_script\n}\n"
            'vrrp_script a {\n    script "/usr/bin/check --x"\n}\n'
            "vrrp_script b {\n    script /usr/bin/check\n    user www-data www\n"
            "    timeout 9\n    interval 3\n}\n")
    result = convert_text(tmp_path, instance(
        "    virtual_ipaddress {\n        10.0.0.1/24\n    }\n"
        "    track_script {\n        a\n        b\n    }\n", head=head))
    checks = vip(load(tmp_path, result), "vi_1").checks
    assert checks[0].command == ("runuser", "-u", "keepalived_script", "--", "/usr/bin/check",
                                 "--x")
    assert checks[1].command == ("runuser", "-u", "www-data", "-g", "www", "--",
                                 "/usr/bin/check")
    assert (checks[1].interval, checks[1].timeout) == (3.0, 3.0)
    assert found(result, "timeout").severity is DIFF  # 9 s cut to the interval


def test_unknown_and_unsupported_keywords_are_named_with_their_line(tmp_path: Path) -> None:
    result = convert_text(tmp_path, instance(
        "    virtual_ipaddress {\n        10.0.0.1/24\n    }\n    frobnicate 1\n"
        "    use_vmac\n") + "virtual_server 10.0.0.1 80 {\n}\n")
    path = str(tmp_path / "keepalived.conf")
    lines = [str(f) for f in result.findings]
    assert any(line.startswith(f"{path}:10: frobnicate: not translated:") for line in lines)
    assert found(result, "use_vmac").where.line == 11
    assert found(result, "virtual_server").severity is NT


def test_the_generated_shell_checks_work(tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    def file_check() -> int:
        return subprocess.run(["sh", "-c", FILE_TEST, "sh", str(flag)], check=False).returncode
    assert file_check() != 0  # missing
    flag.write_text("0\n")
    assert file_check() == 0
    flag.write_text("3\n")
    assert file_check() != 0
    comm = Path("/proc/self/comm").read_text().strip()  # this process runs pgrep's parent
    def quorum(low: int) -> int:
        script = f"Q={low} M=2147483647; {QUORUM_TEST}"
        return subprocess.run(["sh", "-c", script, "sh", "-x", comm], check=False).returncode
    assert quorum(1) == 0 and quorum(100000) != 0


def test_names_for_carpd() -> None:
    assert carpd_name("VI_1") == "vi_1"
    assert carpd_name("Web.Front end") == "web-front-end"
    assert carpd_name("_x" * 40) == ("x_" * 16)


def test_toml_strings_round_trip() -> None:
    odd = 'quote " back \\ tab \t nl \n bell \x07 é'
    table = Table("vip.x")
    table.set("s", odd, "comment")
    table.set("f", 0.1)
    table.set("l", ["a", odd])
    assert tomllib.loads(render(["head"], [table]))["vip"]["x"] == {"s": odd, "f": 0.1,
                                                                    "l": ["a", odd]}


# -- the command -------------------------------------------------------------------------------

def test_exit_codes_and_streams(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["keepalived", str(SAMPLES / "unicast.conf")]) == 0
    out, err = capsys.readouterr()
    assert tomllib.loads(out)["vip"]["db"]["vrid"] == 60
    assert "all translated" in err
    assert main(["keepalived", str(SAMPLES / "pair_a.conf")]) == 1
    out, err = capsys.readouterr()
    assert set(tomllib.loads(out)["vip"]) == {"web4", "web6"}  # printed all the same
    assert "pair_a.conf:29: notify: not translated" in err
    broken = tmp_path / "broken.conf"
    broken.write_text("vrrp_instance X {\n")
    assert carpd_main(["convert", "keepalived", str(broken)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert err == f"carpd convert: error: {broken}:1: the block opened here has no closing '}}'\n"


def test_the_self_check_reports_what_carpd_would_refuse(capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(instance("    virtual_ipaddress {\n        10.0.0.1/24\n    }\n"
                             "    notify_master /nonexistent/up.sh\n"))
    assert main(["keepalived", str(conf)]) == 1
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if "<output>" in x)
    assert "vip.vi_1.upscript: not translated: carpd's loader refuses the output" in line
    assert os.path.exists(conf)


def test_the_worked_example_in_the_docs_is_the_converters_output() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "migrating-from-keepalived.md").read_text()
    shown = doc.split("prints:\n\n```toml\n", 1)[1].split("```", 1)[0]
    result = convert_sample("pair_a.conf")
    assert result.text.replace(str(SAMPLES / "pair_a.conf"),
                               "/etc/keepalived/keepalived.conf") == shown
    stderr = doc.split("and on stderr", 1)[1].split("```\n", 1)[1].split("```", 1)[0]
    listed = [line.removeprefix("carpd convert: ") for line in stderr.splitlines()[:-1]]
    assert listed == [str(f).replace(str(SAMPLES / "pair_a.conf"),
                                     "/etc/keepalived/keepalived.conf")
                      for f in result.findings]


def test_odd_characters_in_names_and_paths_stay_valid_toml(tmp_path: Path) -> None:
    result = convert_text(tmp_path, instance(
        "    virtual_ipaddress {\n        10.0.0.1/24\n    }\n", name="We\x07b\x7f\u00e9"))
    document = tomllib.loads(result.text)
    assert list(document["vip"]) == ["we-b--"]
    assert "# vrrp_instance We?b?\u00e9 (" in result.text


def test_a_file_without_instances_is_not_a_success(tmp_path: Path) -> None:
    result = convert_text(tmp_path, "! only a comment\ninclude conf.d/*.conf\n")
    assert result.vips == 0 and result.exit_code == 1
    assert "no vrrp_instance" in found(result, "vrrp_instance").reason
    assert "matches no file" in found(result, "include").reason


@pytest.mark.parametrize(("config_id", "priority"), [("lb-a", 150), ("lb-b", 100)])
def test_one_shared_file_converts_per_server(tmp_path: Path, config_id: str,
                                            priority: int) -> None:
    result = convert_sample("includes.conf", config_id)
    config = load(tmp_path, result)
    assert {(v.name, v.priority) for v in config.vips} == {("app", priority),
                                                           ("mail", priority)}
    assert [str(a) for a in vip(config, "app").addresses] == ["192.0.2.80/24"]
    assert vip(config, "mail").checks == ()
    assert found(result, "include").severity is NOTE  # the skipped conditional lines
