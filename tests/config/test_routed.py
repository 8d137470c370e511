"""Routed VIPs in carpd.toml (carpd.config.routed): placement, routed_interface and their rules,
and where `carpd --cleanup` looks for a routed VIP's addresses."""

from __future__ import annotations

from pathlib import Path

import pytest

from carpd.app.cleanup import targets
from carpd.config.loader import ConfigError
from carpd.core.params import Placement
from tests.config.test_loader import load, workdir  # noqa: F401 (fixture)

ROUTED = """\
[defaults]
interface = "eth0"
password_file = "{dir}/carp.key"

[vip.web]
vhid = 1
address = "192.0.2.10/32"
placement = "routed"
peers = ["10.0.2.2"]
accept_ttl = 254
"""


def test_a_routed_vip_defaults_to_the_carpvip0_dummy(workdir: Path) -> None:  # noqa: F811
    (web,) = load(workdir, ROUTED).vips
    assert web.placement is Placement.ROUTED
    assert (web.routed_interface, web.address_interface, web.label) == (
        "carpvip0", "carpvip0", "carpvip0:web")
    (lo,) = load(workdir, ROUTED + 'routed_interface = "lo"\n').vips
    assert (lo.address_interface, lo.label, lo.interface) == ("lo", "lo:web", "eth0")


def test_a_bare_address_is_a_host_route(workdir: Path) -> None:  # noqa: F811
    (web,) = load(workdir, ROUTED.replace("192.0.2.10/32", "192.0.2.10")).vips
    assert str(web.addresses[0]) == "192.0.2.10/32"


@pytest.mark.parametrize(("change", "expected"), [
    (("192.0.2.10/32", "192.0.2.10/24"), "carpd.toml:7: vip.web.address: 192.0.2.10/24 is not a "
     "host route: a routed VIP's addresses are /32 (write 192.0.2.10/32 or just 192.0.2.10)"),
    (('placement = "routed"', 'placement = "bgp"'), "carpd.toml:8: vip.web.placement: 'bgp' is "
     "not one of: link, routed"),
    (('placement = "routed"', 'placement = "routed"\nrouted_interface = "eth0"'),
     "carpd.toml:9: vip.web.routed_interface: eth0 is the VIP's interface"),
    (('placement = "routed"', 'routed_interface = "lo"'), "carpd.toml:8: "
     'vip.web.routed_interface: routed_interface applies to placement = "routed" only'),
])
def test_routed_mistakes_name_line_and_key(workdir: Path,  # noqa: F811
                                           change: tuple[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(workdir, ROUTED.replace(*change))
    assert str(info.value).startswith(expected)


def test_ipv6_routed_vips_are_128s(workdir: Path) -> None:  # noqa: F811
    text = ROUTED.replace('"192.0.2.10/32"', '"2001:db8:9::10/64"').replace(
        'peers = ["10.0.2.2"]', 'peers = ["2001:db8:2::2"]')
    with pytest.raises(ConfigError, match="is not a host route: a routed VIP's addresses are "
                       "/128"):
        load(workdir, text)


def test_cleanup_looks_on_the_routed_interface_with_or_without_the_password(
        tmp_path: Path) -> None:
    text = ROUTED.replace("{dir}", str(tmp_path)) + 'routed_interface = "lo"\n'
    path = tmp_path / "carpd.toml"
    path.write_text(text)
    (raw,) = targets(str(path))  # no key file: read from the raw TOML
    assert (raw.interface, raw.label) == ("lo", "lo:web")
    (tmp_path / "carp.key").write_text("secret\n")
    (tmp_path / "carp.key").chmod(0o600)
    (valid,) = targets(str(path))
    assert (valid.interface, valid.label) == ("lo", "lo:web")
    path.write_text(text.replace('routed_interface = "lo"\n', ""))
    (default,) = targets(str(path))
    assert default.interface == "carpvip0"


def test_a_bgp_check_and_its_defaults(workdir: Path) -> None:  # noqa: F811
    text = ROUTED + ('\n[[vip.web.check]]\ntype = "bgp"\nengine = "bird"\nneighbor = "uplink"\n'
                     'control = "/run/bird/bird.ctl"\nfatal = true\n')
    (web,) = load(workdir, text).vips
    (check,) = web.checks
    assert (check.name, check.engine, check.neighbor, check.control, check.fatal) == (
        "bgp-bird-uplink", "bird", "uplink", "/run/bird/bird.ctl", True)
    assert (check.interval, check.timeout) == (2.0, 2.0)
    assert check.target() == "bird session uplink"


@pytest.mark.parametrize(("lines", "expected"), [
    ('engine = "gobgp"\n', "carpd.toml:15: vip.web.check[1].engine: 'gobgp' is not a BGP engine "
     "carpd can ask: one of frr, bird"),
    ("", "carpd.toml:12: vip.web.check[1].engine: a bgp check needs `engine`"),
    ('engine = "frr"\ncontrol = "-x"\n', "carpd.toml:16: vip.web.check[1].control: '-x' is "
     "neither a vtysh pathspace name nor a socket path"),
])
def test_bgp_check_mistakes(workdir: Path, lines: str, expected: str) -> None:  # noqa: F811
    text = ROUTED + '\n[[vip.web.check]]\ntype = "bgp"\nweight = 50\n' + lines
    with pytest.raises(ConfigError) as info:
        load(workdir, text)
    assert str(info.value) == expected
