"""carpd.config.values: the typed results of the plain-value validators (their messages are
asserted, located, by the bad-file tables of test_loader.py and test_checks.py)."""

from __future__ import annotations

import ipaddress
import re

import pytest

from carpd.config import values
from carpd.config.values import BadValueError


def test_address_is_the_one_tuple_that_addresses_gives() -> None:
    assert values.address("10.0.0.1") == (ipaddress.IPv4Interface("10.0.0.1/32"),)
    assert values.addresses(["10.0.0.1/24", "10.0.0.2"]) == (
        ipaddress.IPv4Interface("10.0.0.1/24"), ipaddress.IPv4Interface("10.0.0.2/32"))
    assert values.address("10.0.0.0/31") == (ipaddress.IPv4Interface("10.0.0.0/31"),)


def test_source_auto_is_none_and_numbers_become_floats() -> None:
    assert values.source("auto") is None
    assert values.source("10.0.0.1") == ipaddress.IPv4Address("10.0.0.1")
    assert values.announce_interval(2) == 2.0 and isinstance(values.announce_interval(2), float)
    assert values.multicast_group("239.1.1.1") == ipaddress.IPv4Address("239.1.1.1")


@pytest.mark.parametrize("name", ["eth0", "br-lan.10", "a23456789012345"])
def test_interface_names_accepted(name: str) -> None:
    assert values.interface_name(name) == name


@pytest.mark.parametrize("name", [".", "..", "a/b", "eth0:1", "e th0", "a23456789012345x"])
def test_interface_names_refused(name: str) -> None:
    with pytest.raises(BadValueError, match="is not a valid interface name"):
        values.interface_name(name)


def test_unit_names_keep_the_template_and_expand_name_fills_it() -> None:
    assert values.unit_names(["a@{name}.target", "b-{name}.service"]) == (
        "a@{name}.target", "b-{name}.service")
    assert values.expand_name("a@{name}.target", "web") == "a@web.target"
    assert values.expand_name("{{x}}-{name}", "db") == "{x}-db"
    with pytest.raises(BadValueError, match="unknown placeholder"):
        values.expand_name("{vip}", "web")


@pytest.mark.parametrize(("value", "reason"), [
    ("nginx", "'nginx' is not a systemd unit name: it needs its type, e.g. \"nginx.service\""),
    ("nginx.conf", "'nginx.conf' is not a systemd unit name: .conf is not a unit type "
     "(service, socket, target, ...)"),
    ("my web.service", "'my web.service' is not a systemd unit name: at most 255 letters, "
     "digits and : - _ . @ \\ before the type"),
    ("getty@.service", "'getty@.service' is a template, which cannot run: name an instance, "
     "e.g. \"getty@web.service\""),
])
def test_one_unit_name_rule_for_every_unit_key(value: str, reason: str) -> None:
    """A check's `unit`, `master_units` and `require_units` reject the same names with the
    same sentence (a template is judged once {name} is expanded)."""
    with pytest.raises(BadValueError) as single:
        values.unit_name(value)
    assert single.value.reason == reason
    with pytest.raises(BadValueError) as listed:
        values.unit_names([value])
    assert listed.value.reason == reason
    with pytest.raises(BadValueError, match=re.escape("'{{x}}.service' is not")):
        values.unit_names(["{{x}}.service"])  # braces survive expansion: never a unit name
    assert values.unit_name("getty@tty1.service") == "getty@tty1.service"


def test_names_of_vips_and_sync_groups() -> None:
    assert values.vip_name("web-1") == "web-1"
    assert values.sync_group("dc_2") == "dc_2"
    for bad in ("Web", "-web", "w" * 33, ""):
        with pytest.raises(BadValueError, match="invalid VIP name"):
            values.vip_name(bad)


def test_any_string_takes_the_empty_one() -> None:
    assert values.any_string("") == ""
    with pytest.raises(BadValueError) as info:
        values.any_string(1)
    assert info.value.reason == "must be a string, not an integer"
