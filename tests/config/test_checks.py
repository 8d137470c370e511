"""Health keys in carpd.toml: [[vip.NAME.check]], sync_group, require_units, metrics_textfile."""

from __future__ import annotations

from pathlib import Path

import pytest

from carpd.config.loader import ConfigError
from carpd.core.params import CheckParams
from tests.config.test_loader import BASE, base, load, workdir  # noqa: F401 (fixture)

P = "carpd.toml"
# BASE is 7 lines; checks start on line 8.
GOOD = BASE + '''sync_group = "dc"
require_units = ["nginx.service", "carpd-ready@{name}.target"]

[[vip.web.check]]
type = "unit"
unit = "nginx.service"
fatal = true

[[vip.web.check]]
type = "exec"
command = ["/usr/local/bin/check-web", "--quiet"]
weight = 50
interval = 5
timeout = 2.5
rise = 3
fall = 1

[[vip.web.check]]
type = "tcp"
host = "127.0.0.1"
port = 80
weight = 100

[[vip.web.check]]
type = "http"
name = "front"
url = "http://127.0.0.1:8080/health"
expect_status = 204
weight = 20

[[vip.web.check]]
type = "interface"
interface = "eth1"
weight = 240
'''


def test_full_check_table(workdir: Path) -> None:  # noqa: F811
    text = "[carpd]\nmetrics_textfile = \"/var/lib/node_exporter/carpd.prom\"\n\n" + GOOD
    config = load(workdir, text)
    assert config.metrics_textfile == "/var/lib/node_exporter/carpd.prom"
    (web,) = config.vips
    assert web.sync_group == "dc"
    assert web.require_units == ("nginx.service", "carpd-ready@web.target")
    assert web.checks == (
        CheckParams(name="nginx", type="unit", fatal=True, unit="nginx.service", rise=1,
                    fall=1),
        CheckParams(name="check-web", type="exec", weight=50, interval=5.0, timeout=2.5,
                    rise=3, fall=1, command=("/usr/local/bin/check-web", "--quiet")),
        CheckParams(name="tcp-80", type="tcp", weight=100, host="127.0.0.1", port=80),
        CheckParams(name="front", type="http", weight=20,
                    url="http://127.0.0.1:8080/health", expect_status=204),
        CheckParams(name="link-eth1", type="interface", weight=240, interface="eth1"),
    )
    assert web.checks[0].interval == 2.0 and web.checks[0].timeout == 1.0
    assert (web.checks[2].rise, web.checks[2].fall) == (2, 2)


def test_defaults_are_inherited_and_short_interval_caps_the_timeout(workdir: Path  # noqa: F811
                                                                    ) -> None:
    text = base(extra_defaults='sync_group = "box"\n',
                extra_web='\n[[vip.web.check]]\ntype = "tcp"\nhost = "::1"\nport = 25\n'
                          'weight = 1\ninterval = 0.5\n')
    (web,) = load(workdir, text).vips
    assert web.sync_group == "box"
    assert web.checks[0].timeout == 0.5
    assert load(workdir, BASE).vips[0].checks == ()


CHECK = '\n[[vip.web.check]]\n'  # line 9 is its header, 10.. its keys
BAD = [
    ("no-type", CHECK + "weight = 1\n", f"{P}:9: vip.web.check[1].type: required: one of "
     "unit, exec, tcp, http, interface, bgp"),
    ("bad-type", CHECK + 'type = "script"\nweight = 1\n', f"{P}:10: vip.web.check[1].type: "
     "unknown check type 'script': one of unit, exec, tcp, http, interface, bgp"),
    ("typo-type", CHECK + 'type = "htp"\nweight = 1\n', f"{P}:10: vip.web.check[1].type: "
     "unknown check type 'htp': one of unit, exec, tcp, http, interface, bgp; did you mean "
     "'http'?"),
    ("no-weight", CHECK + 'type = "tcp"\nhost = "h"\nport = 1\n', f"{P}:9: "
     "vip.web.check[1].weight: set `weight = 1..254` (added to advskew while failing) or "
     "`fatal = true` (the VIP goes FAULT while failing)"),
    ("both", CHECK + 'type = "tcp"\nhost = "h"\nport = 1\nweight = 3\nfatal = true\n',
     f"{P}:14: vip.web.check[1].fatal: a check is either fatal or has a weight, not both"),
    ("weight-range", CHECK + 'type = "tcp"\nhost = "h"\nport = 1\nweight = 255\n',
     f"{P}:13: vip.web.check[1].weight: 255 is out of range: must be an integer 1..254"),
    ("missing-port", CHECK + 'type = "tcp"\nhost = "h"\nweight = 3\n',
     f"{P}:9: vip.web.check[1].port: a tcp check needs `port`"),
    ("key-of-other-type", CHECK + 'type = "tcp"\nhost = "h"\nport = 1\nurl = "x"\nweight = 1\n',
     f"{P}:13: vip.web.check[1].url: `url` belongs to a http check; this one is type 'tcp'"),
    ("typo-key", CHECK + 'type = "tcp"\nhost = "h"\nport = 1\nweigth = 1\n',
     f"{P}:13: vip.web.check[1].weigth: unknown key; did you mean 'weight'?"),
    ("command-string", CHECK + 'type = "exec"\ncommand = "/bin/check --x"\nfatal = true\n',
     f"{P}:11: vip.web.check[1].command: must be an array of strings (argv, no shell), not a "
     'string; e.g. ["/usr/local/bin/check-web", "--quiet"]'),
    ("bad-unit", CHECK + 'type = "unit"\nunit = "nginx"\nfatal = true\n',
     f"{P}:11: vip.web.check[1].unit: 'nginx' is not a systemd unit name: it needs its type, "
     'e.g. "nginx.service"'),
    ("bad-require-unit", 'require_units = ["nginx"]\n', f"{P}:8: vip.web.require_units: "
     "'nginx' is not a systemd unit name: it needs its type, e.g. \"nginx.service\""),
    ("bad-master-unit", 'master_units = ["vip-{name}"]\n', f"{P}:8: vip.web.master_units: "
     "'vip-{name}' is not a systemd unit name: it needs its type, "
     'e.g. "vip-{name}.service"'),
    ("bad-url", CHECK + 'type = "http"\nurl = "ftp://x/"\nweight = 1\n',
     f"{P}:11: vip.web.check[1].url: 'ftp://x/' is not an http:// or https:// URL with a host"),
    ("timeout-gt-interval", CHECK + 'type = "interface"\ninterface = "eth1"\nweight = 1\n'
     "interval = 1\ntimeout = 3\n",
     f"{P}:14: vip.web.check[1].timeout: 3 s is longer than the interval (1 s)"),
    ("rise-zero", CHECK + 'type = "interface"\ninterface = "eth1"\nweight = 1\nrise = 0\n',
     f"{P}:13: vip.web.check[1].rise: 0 is out of range: must be an integer 1..100"),
    ("second-check-line", CHECK + 'type = "interface"\ninterface = "eth1"\nweight = 1\n'
     + CHECK + 'type = "tcp"\nhost = "h"\nport = 70000\nweight = 1\n',
     f"{P}:17: vip.web.check[2].port: 70000 is out of range: must be an integer 1..65535"),
    ("same-name", CHECK + 'type = "tcp"\nhost = "a"\nport = 80\nweight = 1\n'
     + CHECK + 'type = "tcp"\nhost = "b"\nport = 80\nweight = 1\n',
     f"{P}:15: vip.web.check[2].name: two checks are named 'tcp-80'; give one a different "
     "`name`"),
    ("not-array", 'check = 1\n', f"{P}:8: vip.web.check: must be an array of tables: write "
     "each check as [[vip.NAME.check]]"),
    ("bad-group", 'sync_group = "Web Group"\n', f"{P}:8: vip.web.sync_group: invalid sync "
     "group name 'Web Group': use 1-32 of a-z, 0-9, '_' and '-'"),
    ("bad-require", 'require_units = "nginx.service"\n', f"{P}:8: vip.web.require_units: must "
     "be an array of unit names, not a string"),
]


@pytest.mark.parametrize(("text", "expected"), [pytest.param(t, e, id=i) for i, t, e in BAD])
def test_bad_check(workdir: Path, text: str, expected: str) -> None:  # noqa: F811
    with pytest.raises(ConfigError) as info:
        load(workdir, BASE + text)
    assert str(info.value) == expected


def test_bad_metrics_textfile(workdir: Path) -> None:  # noqa: F811
    with pytest.raises(ConfigError) as info:
        load(workdir, '[carpd]\nmetrics_textfile = "carpd.prom"\n' + BASE)
    assert str(info.value) == (f"{P}:2: carpd.metrics_textfile: 'carpd.prom' is not an "
                               "absolute path")
