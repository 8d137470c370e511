"""carpd.config.schema: the one table of keys agrees with VipParams, Config, the password kinds
and the reference in docs/configuration.md, and the loader fills every field from it."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from pathlib import Path

import pytest

from carpd.config.loader import Config
from carpd.config.protocols import VRRP_KEYS
from carpd.config.schema import (
    CARPD_KEYS,
    DEFAULT_MASTER_UNITS,
    REQUIRED,
    VIP_EXCLUSIVE,
    VIP_FIELD_GROUPS,
    VIP_KEYS,
    VIP_OPTIONAL,
    VIP_REQUIRED,
    Fill,
    KeySpec,
    exclusive_groups,
    field_groups,
    filled,
)
from carpd.config.secrets import PasswordKind
from carpd.config.values import BadValueError
from carpd.core.params import Placement, VipParams
from tests.config.test_loader import BASE, MAIL, base, load, workdir  # noqa: F401 (fixture)

REPO = Path(__file__).resolve().parents[2]
VIP_FIELDS = {f.name: f for f in dataclasses.fields(VipParams)}
# master_units: VipParams leaves it empty for the code that builds VipParams directly; a
# config file that does not set it gets the carpd-master@NAME.target of docs/configuration.md.
CONFIG_ONLY_DEFAULTS = {"master_units": DEFAULT_MASTER_UNITS}


def has_default(f: dataclasses.Field[object]) -> bool:
    return (f.default is not dataclasses.MISSING
            or f.default_factory is not dataclasses.MISSING)


def default_of(f: dataclasses.Field[object]) -> object:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


# -- the table agrees with VipParams ----------------------------------------------------------

def test_every_vip_key_fills_a_vipparams_field() -> None:
    assert {key: spec.field for key, spec in VIP_KEYS.items()
            if spec.field not in VIP_FIELDS} == {}


def test_every_vipparams_field_but_name_is_filled_by_one_group() -> None:
    fields = [VIP_KEYS[group[0]].field for group in VIP_FIELD_GROUPS]
    assert len(fields) == len(set(fields))
    assert set(fields) == set(VIP_FIELDS) - {"name"}


def test_required_keys_are_the_fields_without_a_vipparams_default() -> None:
    required = {VIP_KEYS[group[0]].field for group in VIP_REQUIRED}
    # the password is required of CARP VIPs only: VipParams defaults it (empty) for VRRP
    assert required == {name for name, f in VIP_FIELDS.items()
                        if not has_default(f)} - {"name"} | {"password"}
    assert required == {"interface", "vhid", "addresses", "password"}


@pytest.mark.parametrize("group", VIP_OPTIONAL, ids=lambda g: g[0])
def test_schema_defaults_equal_vipparams_defaults(group: tuple[str, ...]) -> None:
    spec = VIP_KEYS[group[0]]
    expected = CONFIG_ONLY_DEFAULTS.get(spec.field, default_of(VIP_FIELDS[spec.field]))
    assert spec.default == expected
    assert type(spec.default) is type(expected)


def test_the_config_only_default_differs_from_vipparams_on_purpose() -> None:
    assert VIP_KEYS["master_units"].default != default_of(VIP_FIELDS["master_units"])
    assert filled(VIP_KEYS["master_units"], DEFAULT_MASTER_UNITS, "web") == (
        "carpd-master@web.target",)
    assert VIP_KEYS["master_units"].validate(list(DEFAULT_MASTER_UNITS)) == DEFAULT_MASTER_UNITS


def test_exclusive_groups_are_the_keys_that_share_a_field() -> None:
    assert VIP_EXCLUSIVE == (("vhid", "vrid"), ("address", "addresses"),
                             ("password_file", "password_credential", "password"))
    assert exclusive_groups(CARPD_KEYS) == ()


@pytest.mark.parametrize("group", VIP_EXCLUSIVE, ids=lambda g: g[0])
def test_keys_of_one_group_agree_on_default_and_fill(group: tuple[str, ...]) -> None:
    specs = [VIP_KEYS[key] for key in group]
    assert {spec.default for spec in specs} == {REQUIRED}
    assert len({spec.fill for spec in specs}) == 1


def test_password_keys_are_the_password_kinds_and_required() -> None:
    keys = tuple(key for key, spec in VIP_KEYS.items() if spec.fill is Fill.READ_PASSWORD)
    assert keys == tuple(kind.value for kind in PasswordKind)
    assert {VIP_KEYS[key].field for key in keys} == {"password"}
    assert keys in VIP_REQUIRED  # a default would have no password to read


def test_expanded_keys_are_unit_lists() -> None:
    expanded = {key for key, spec in VIP_KEYS.items() if spec.fill is Fill.EXPAND_NAME}
    assert expanded == {"master_units", "require_units"}
    assert filled(VIP_KEYS["require_units"], ("a@{name}.service", "{{x}}.target"), "db") == (
        "a@db.service", "{x}.target")
    assert filled(VIP_KEYS["advskew"], 7, "db") == 7


def test_field_groups_keep_table_order() -> None:
    keys = {"b": KeySpec(str, "y"), "a": KeySpec(str, "x"), "c": KeySpec(str, "y")}
    assert field_groups(keys) == (("b", "c"), ("a",))
    assert exclusive_groups(keys) == (("b", "c"),)


def test_validators_are_the_schema_ones() -> None:
    with pytest.raises(BadValueError) as info:
        VIP_KEYS["vhid"].validate(0)
    assert info.value.reason == "0 is out of range: must be an integer 1..255"
    assert VIP_KEYS["address"].validate("10.0.0.1/24") == VIP_KEYS["addresses"].validate(
        ["10.0.0.1/24"])


# -- the [carpd] table agrees with Config ------------------------------------------------------

def test_carpd_keys_fill_config_fields_with_config_defaults() -> None:
    config_fields = {f.name: f for f in dataclasses.fields(Config)}
    for key, spec in CARPD_KEYS.items():
        assert spec.field == key
        assert spec.default == default_of(config_fields[spec.field]), key
        assert spec.fill is Fill.AS_IS


# -- the reference in docs/configuration.md ----------------------------------------------------

def documented_keys(section: str) -> list[str]:
    """The first column of the table under the heading `section`."""
    text = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([a-z_0-9]+)` \|", body, flags=re.MULTILINE)


def test_docs_list_every_vip_key_in_schema_order() -> None:
    assert documented_keys("Per-VIP keys") == list(VIP_KEYS)


def test_docs_list_every_carpd_key_in_schema_order() -> None:
    assert documented_keys("`[carpd]`") == list(CARPD_KEYS)


# -- the loader fills every optional field from the table --------------------------------------

# One valid value per optional key (TOML) and what web's field then holds, in `normal` form.
SAMPLES: dict[str, tuple[str, object]] = {
    "advbase": ("2", 2), "advskew": ("10", 10), "deadratio": ("5", 5),
    "preempt": ("false", False), "source": ('"172.16.90.101"', "172.16.90.101"),
    "source6": ('"fe80::1%eth0"', "fe80::1"),  # the scope is checked, then dropped
    "multicast_group": ('"239.1.2.3"', "239.1.2.3"), "l2_broadcast": ("true", True),
    "peers": ('["172.16.90.102"]', ("172.16.90.102",)), "peer_ttl": ("64", 64),
    "accept_ttl": ("64", 64), "accept_source": ('"any"', "any"),
    "accept_multicast": ("true", True),
    "garp_count": ("0", 0), "garp_interval": ("2", 2.0), "garp_refresh_interval": ("60", 60),
    "na_count": ("1", 1), "na_interval": ("0.5", 0.5), "na_router": ("false", False),
    "deprecate_ipv6_vip": ("true", True),
    "master_units": ('["m-{name}.service"]', ("m-web.service",)),
    "upscript": ('"{dir}/up.sh"', "{dir}/up.sh"), "downscript": ('"{dir}/up.sh"', "{dir}/up.sh"),
    "xparam": ('""', ""), "sync_group": ('"dc"', "dc"),
    "require_units": ('["r@{name}.target"]', ("r@web.target",)),
    "check": ('[{type = "interface", interface = "eth1", fatal = true}]', ("link-eth1",)),
    "placement": ('"routed"', Placement.ROUTED),
    "routed_interface": ('"lo"', "lo"),
}


# What a sample needs beside it to be valid (accept_ttl below 255 only applies to peers).
COMPANIONS = {"accept_ttl": 'peers = ["172.16.90.102"]\n',
              "routed_interface": 'placement = "routed"\n'}
ROUTED_KEYS = ("placement", "routed_interface")  # a routed VIP's address is a host route


def normal(value: object, directory: Path) -> object:
    """Addresses as text, checks by name, paths relative to "{dir}"."""
    if isinstance(value, tuple):
        return tuple(normal(getattr(item, "name", item), directory) for item in value)
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        assert getattr(value, "scope_id", None) is None
        return str(value)
    if isinstance(value, str):
        return value.replace(str(directory), "{dir}")
    return value


def test_samples_cover_every_optional_key() -> None:
    # the VRRPv3 keys have their own samples (tests/config/test_vrrp.py)
    assert set(SAMPLES) == {key for group in VIP_OPTIONAL for key in group} - VRRP_KEYS \
        - {"protocol"}


@pytest.mark.parametrize("key", SAMPLES)
def test_an_optional_key_is_inherited_set_or_defaulted(workdir: Path,  # noqa: F811
                                                       key: str) -> None:
    toml, expected = SAMPLES[key]
    lines = f"{key} = {toml}\n{COMPANIONS.get(key, '')}"
    spec = VIP_KEYS[key]
    host = (lambda text: text.replace("31/24", "31/32")) if key in ROUTED_KEYS else str
    (inherited,) = load(workdir, host(base(extra_defaults=lines))).vips
    assert normal(getattr(inherited, spec.field), workdir) == expected
    own, mail = load(workdir, host(base(lines, tail=MAIL))).vips
    assert normal(getattr(own, spec.field), workdir) == expected
    assert getattr(mail, spec.field) == filled(spec, spec.default, "mail")
    assert getattr(mail, spec.field) != getattr(own, spec.field)


def test_required_keys_come_from_defaults_or_the_vip(workdir: Path) -> None:  # noqa: F811
    text = base(extra_defaults='vhid = 9\naddresses = ["10.9.9.9/24"]\n').replace(
        "vhid = 1\n", "")
    (web,) = load(workdir, text).vips
    assert (web.interface, web.vhid, str(web.addresses[0])) == ("eth0", 9, "172.16.90.31/24")
