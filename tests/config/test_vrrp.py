"""carpd.config for VRRPv3 VIPs: the keys of INTERFACE.md ("Keys for the next protocols"), their
defaults, inheritance per protocol from one [defaults], and every refusal with its exact,
located message (CARP keys on a VRRP VIP and the other way round, mixed families, 255 without
owner, accept_mode = false, advert_interval off the centisecond grid)."""

from __future__ import annotations

from pathlib import Path

import pytest

from carpd.config.loader import ConfigError
from tests.config.test_loader import load

P = "carpd.toml"
# Lines: 1 [defaults], 2 interface, 3 password_file, 4 advskew, 5 blank, 6 [vip.web], 7 vhid,
# 8 address, 9 blank, 10 [vip.api], 11 protocol, 12 vrid, 13 address, 14.. extra lines
MIXED = """\
[defaults]
interface = "eth0"
password_file = "{dir}/carp.key"
advskew = 20

[vip.web]
vhid = 1
address = "172.16.90.31/24"

[vip.api]
protocol = "vrrp3"
vrid = 51
address = "172.16.90.51/24"
"""


def mixed(extra_api: str = "", *, defaults: str = "") -> str:
    return MIXED.replace("advskew = 20\n", "advskew = 20\n" + defaults) + extra_api


def test_a_vrrp_vip_beside_a_carp_vip_with_the_vrrp_defaults(workdir: Path) -> None:
    web, api = load(workdir, mixed()).vips
    assert (web.protocol, web.advskew) == ("carp", 20)
    assert (api.protocol, api.vhid, api.priority, api.advert_interval_cs, api.preempt) == (
        "vrrp3", 51, 100, 100, True)
    assert (api.preempt_delay, api.accept_mode, api.vrrp_checksum, api.owner) == (
        0.0, True, "rfc5798", False)
    assert api.password.reveal() == b""  # [defaults]' password is CARP's: not inherited
    assert api.advskew == 0  # nor its advskew
    assert api.master_units == ("carpd-master@api.target",)


@pytest.mark.parametrize(("key", "toml", "field", "value"), [
    ("priority", "200", "priority", 200),
    ("advert_interval", "0.1", "advert_interval_cs", 10),
    ("advert_interval", "0.01", "advert_interval_cs", 1),
    ("advert_interval", "40.95", "advert_interval_cs", 4095),
    ("advert_interval", "3", "advert_interval_cs", 300),
    ("preempt_delay", "30", "preempt_delay", 30.0),
    ("vrrp_checksum", '"rfc9568"', "vrrp_checksum", "rfc9568"),
    ("vrrp_checksum", '"accept-both"', "vrrp_checksum", "accept-both"),
    ("accept_mode", "true", "accept_mode", True),
    ("preempt", "false", "preempt", False),
])
def test_vrrp_keys_set_in_the_vip_or_inherited(workdir: Path, key: str, toml: str,
                                               field: str, value: object) -> None:
    (_, api) = load(workdir, mixed(f"{key} = {toml}\n")).vips
    assert getattr(api, field) == value
    (_, api) = load(workdir, mixed(defaults=f"{key} = {toml}\n")).vips
    assert getattr(api, field) == value


def test_vrrp_keys_in_defaults_do_not_reach_carp_vips(workdir: Path) -> None:
    web, _ = load(workdir, mixed(defaults="priority = 200\nadvert_interval = 0.1\n")).vips
    assert (web.priority, web.advert_interval_cs) == (100, 100)


def test_protocol_in_defaults_makes_every_vip_vrrp(workdir: Path) -> None:
    text = ('[defaults]\ninterface = "eth0"\nprotocol = "vrrp3"\npriority = 120\n\n'
            '[vip.a]\nvrid = 1\naddress = "10.0.0.1/24"\n\n'
            '[vip.b]\nvrid = 1\naddress = "fd00::1/64"\n')
    a, b = load(workdir, text).vips
    assert (a.protocol, b.protocol, a.priority, b.priority) == ("vrrp3", "vrrp3", 120, 120)


def test_owner_with_priority_255(workdir: Path) -> None:
    (_, api) = load(workdir, mixed("priority = 255\nowner = true\n")).vips
    assert (api.priority, api.owner) == (255, True)


BAD = [
    ("password-on-vrrp", mixed('password = "x"\n'),
     f"{P}:14: vip.api.password: VRRPv3 has no authentication (RFC 5798 removed it); "
     "remove the password key from this VIP"),
    ("advskew-on-vrrp", mixed("advskew = 5\n"),
     f"{P}:14: vip.api.advskew: a CARP key; this VIP speaks VRRPv3, which has no "
     "authentication and counts priority (higher wins) and advert_interval instead"),
    ("vhid-on-vrrp", mixed("").replace("vrid = 51", "vhid = 51"),
     f"{P}:12: vip.api.vhid: a VRRPv3 VIP names its id `vrid`"),
    ("priority-on-carp", MIXED.replace('address = "172.16.90.31/24"\n',
                                       'address = "172.16.90.31/24"\npriority = 5\n'),
     f"{P}:9: vip.web.priority: a VRRPv3 key; this VIP speaks CARP (set protocol = "
     "\"vrrp3\" to use it)"),
    ("vrid-missing", mixed("").replace("vrid = 51\n", ""),
     f"{P}:10: vip.api.vrid: vrid is required (here or in [defaults])"),
    ("mixed-families", mixed("").replace('address = "172.16.90.51/24"',
                                         'addresses = ["172.16.90.51/24", "fd00::51/64"]'),
     f"{P}:13: vip.api.addresses: vip.api mixes IPv4 and IPv6 addresses; in VRRPv3 each "
     "family is its own virtual router (RFC 5798): put the IPv6 addresses in another [vip] "
     "with the same vrid, and the same sync_group to keep the two together"),
    ("255-without-owner", mixed("priority = 255\n"),
     f"{P}:14: vip.api.priority: priority 255 is the address owner's: set owner = true as "
     "well, or use 1..254"),
    ("owner-without-255", mixed("owner = true\n"),
     f"{P}:14: vip.api.owner: owner = true advertises priority 255, but priority is 100: "
     "set priority = 255 or remove owner"),
    ("priority-0", mixed("priority = 0\n"),
     f"{P}:14: vip.api.priority: 0 is out of range: must be an integer 1..254 (255 only "
     "with owner = true)"),
    ("interval-grid", mixed("advert_interval = 0.015\n"),
     f"{P}:14: vip.api.advert_interval: 0.015 is not a whole number of centiseconds: must "
     "be a number of seconds 0.01..40.95 in steps of 0.01 (centiseconds on the wire)"),
    ("interval-range", mixed("advert_interval = 41\n"),
     f"{P}:14: vip.api.advert_interval: 41 is out of range: must be a number of seconds "
     "0.01..40.95 in steps of 0.01 (centiseconds on the wire)"),
    ("checksum-mode", mixed('vrrp_checksum = "cisco"\n'),
     f"{P}:14: vip.api.vrrp_checksum: 'cisco' is not one of: rfc5798, rfc9568, accept-both "
     "(rfc5798 is what keepalived and FRR accept)"),
    ("accept-mode-false", mixed("accept_mode = false\n"),
     f"{P}:14: vip.api.accept_mode: accept_mode = false is not supported: carpd puts VIPs on "
     "the interface as ordinary addresses (as keepalived without vrrp_strict and FRR do), so "
     "a master accepts their traffic; filter it in your firewall if you need a non-accepting "
     "master"),
    ("protocol-name", mixed("").replace('"vrrp3"', '"vrrp2"'),
     f"{P}:11: vip.api.protocol: 'vrrp2' is not one of: carp, vrrp3"),
    ("same-vrid-same-family", mixed("") + '\n[vip.api2]\nprotocol = "vrrp3"\nvrid = 51\n'
     'address = "172.16.90.52/24"\n',
     f"{P}:17: vip.api2.vrid: 51 is already used by vip.api on eth0"),
]


@pytest.mark.parametrize(("text", "expected"), [(t, e) for _, t, e in BAD],
                         ids=[name for name, _, _ in BAD])
def test_bad_vrrp_file(workdir: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(workdir, text)
    assert str(info.value) == expected


def test_same_vrid_in_the_other_family_and_carp_vhid_with_that_number(workdir: Path) -> None:
    text = mixed("").replace("vhid = 1", "vhid = 51") + (
        '\n[vip.api6]\nprotocol = "vrrp3"\nvrid = 51\naddress = "fd00::51/64"\n')
    names = [v.name for v in load(workdir, text).vips]
    assert names == ["web", "api", "api6"]
