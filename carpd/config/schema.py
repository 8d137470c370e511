"""The keys of carpd.toml: one declarative table per kind of table, and what follows from it.

Owns: `VIP_KEYS`, every key of `[defaults]` and `[vip.NAME]` in the order the file reference
(docs/configuration.md, "Per-VIP keys") and the "unknown key; known: ..." message list them;
`CARPD_KEYS`, the keys of `[carpd]`; `TOP_TABLES`; and the defaults. Each key is a `KeySpec`:
its validator (from values.py, secrets.py or checks.py), the field of the object it fills
(`VipParams` for a VIP key, `Config` for a `[carpd]` key), the default that applies when the
key is absent (`REQUIRED`: one key of its field must be set, here or in [defaults]) and how
the checked value becomes the field's value (`Fill`). Keys that fill the same field form an
exclusive group (`address`/`addresses`, and the three password keys): a table sets at most
one of them, and setting one in a VIP replaces the whole group inherited from [defaults].
Which keys a CARP or a VRRPv3 VIP takes is protocols.py's (`vhid`/`vrid` fill the same
field; VRRPv3's advert_interval is stored in centiseconds). Ranges follow ucarp: vhid
1..255, advbase 0..255 (0 only with advskew > 0, a rule between keys that the loader
checks), advskew 0..254 (255 with advbase 255 is CARP's bow-out sentinel), deadratio >= 1;
the password's 19-byte limit is secrets.py's. The IPv6 and unicast keys (source6, peers,
peer_ttl, accept_*, na_*, deprecate_ipv6_vip) follow the design's recommended carpd keys;
na_count/na_interval mirror garp_count/garp_interval. The rules between them (a peer's
family needs a VIP of that family, ...) are rules.py's.
Invariants: the loader fills the required fields first, in table order (interface, vhid,
addresses, password: the order missing keys are reported in), then the others; every
`VipParams` field but `name` is filled by exactly one group; a key's default is the
`VipParams` default, except `master_units`, whose default names `carpd-master@{name}.target`
(tests/config/test_schema.py checks all of these).
Must not: read files or the environment, or know line numbers (the loader applies the table).

Adding a VIP key: write its validator (values.py for a plain value), add one `KeySpec` entry
here at the place it should take in the "known:" list and in the docs table, add the field
to `VipParams` with the same default, and document it in docs/configuration.md. The loader
then checks, inherits and fills it with no further change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum, auto
from functools import partial
from types import MappingProxyType
from typing import Any

from carpd.config.checks import parse_checks
from carpd.config.nodes import node_names
from carpd.config.protocols import (
    advert_interval,
    preempt_delay,
    priority,
    protocol,
    vrrp_checksum,
)
from carpd.config.routed import placement
from carpd.config.secrets import credential_name, inline_password
from carpd.config.values import (
    absolute_path,
    accept_source,
    address,
    addresses,
    announce_interval,
    any_string,
    boolean,
    expand_name,
    integer,
    interface_name,
    multicast_group,
    na_router,
    peers,
    script,
    source,
    source6,
    sync_group,
    unit_names,
    without_scope,
)
from carpd.core.carp.wire import CARP_GROUP
from carpd.core.params import DEFAULT_ROUTED_INTERFACE, Placement

DEFAULT_CONTROL_SOCKET = "/run/carpd/control.sock"
DEFAULT_STATE_DIRECTORY = "/var/lib/carpd"
DEFAULT_MASTER_UNITS = ("carpd-master@{name}.target",)
TOP_TABLES = ("carpd", "defaults", "vip")


class Absent(Enum):
    """What applies when no key of a field is set and there is no default value."""

    REQUIRED = "required"


REQUIRED = Absent.REQUIRED


class Fill(Enum):
    """How a key's checked value (or its default) becomes the value of its field."""

    AS_IS = auto()
    EXPAND_NAME = auto()  # unit name templates: each {name} -> the VIP's name
    READ_PASSWORD = auto()  # the value names the password: secrets.read_password reads it
    DROP_SCOPE = auto()  # addresses: "fe80::12%eth0" -> fe80::12 (the loader checked the scope)


@dataclass(frozen=True, slots=True)
class KeySpec:
    """One key: raw TOML value -> checked value (`validate` raises BadValueError or, for
    `check`, BadCheckError), the field it fills, its default and how it fills the field."""

    validate: Callable[[object], object]
    field: str
    default: object = REQUIRED
    fill: Fill = Fill.AS_IS


def _int(low: int, high: int | None, what: str = "") -> Callable[[object], int]:
    return partial(integer, low=low, high=high, what=what)


VIP_KEYS: Mapping[str, KeySpec] = MappingProxyType({
    "interface": KeySpec(interface_name, "interface"),
    "protocol": KeySpec(protocol, "protocol", "carp"),
    "vhid": KeySpec(_int(1, 255), "vhid"),
    "vrid": KeySpec(_int(1, 255), "vhid"),
    "address": KeySpec(address, "addresses"),
    "addresses": KeySpec(addresses, "addresses"),
    "advbase": KeySpec(_int(0, 255, "an integer 1..255 (0 only with advskew > 0)"), "advbase", 1),
    "advskew": KeySpec(_int(0, 254), "advskew", 0),
    "deadratio": KeySpec(_int(1, None), "deadratio", 3),
    "preempt": KeySpec(boolean, "preempt", True),
    "priority": KeySpec(priority, "priority", 100),
    "owner": KeySpec(boolean, "owner", False),
    "advert_interval": KeySpec(advert_interval, "advert_interval_cs", 100),
    "preempt_delay": KeySpec(preempt_delay, "preempt_delay", 0.0),
    "accept_mode": KeySpec(boolean, "accept_mode", True),
    "vrrp_checksum": KeySpec(vrrp_checksum, "vrrp_checksum", "rfc5798"),
    "password_file": KeySpec(absolute_path, "password", fill=Fill.READ_PASSWORD),
    "password_credential": KeySpec(credential_name, "password", fill=Fill.READ_PASSWORD),
    "password": KeySpec(inline_password, "password", fill=Fill.READ_PASSWORD),
    "source": KeySpec(source, "source", None),  # "auto" is None too
    "source6": KeySpec(source6, "source6", None, Fill.DROP_SCOPE),
    "multicast_group": KeySpec(multicast_group, "multicast_group", CARP_GROUP),
    "l2_broadcast": KeySpec(boolean, "l2_broadcast", False),
    "peers": KeySpec(peers, "peers", (), Fill.DROP_SCOPE),
    "peer_ttl": KeySpec(_int(1, 255), "peer_ttl", 255),
    "accept_ttl": KeySpec(_int(1, 255), "accept_ttl", 255),
    "accept_source": KeySpec(accept_source, "accept_source", "peers"),
    "accept_multicast": KeySpec(boolean, "accept_multicast", False),
    "garp_count": KeySpec(_int(0, 100), "garp_count", 3),
    "garp_interval": KeySpec(announce_interval, "garp_interval", 1.0),
    "garp_refresh_interval": KeySpec(_int(0, 86400, "seconds 0..86400 (0: off)"),
                                     "garp_refresh_interval", 0),
    "na_count": KeySpec(_int(0, 100), "na_count", 3),
    "na_interval": KeySpec(announce_interval, "na_interval", 1.0),
    "na_router": KeySpec(na_router, "na_router", None),  # "auto" is None too
    "deprecate_ipv6_vip": KeySpec(boolean, "deprecate_ipv6_vip", False),
    "master_units": KeySpec(unit_names, "master_units", DEFAULT_MASTER_UNITS,
                            Fill.EXPAND_NAME),
    "upscript": KeySpec(script, "upscript", None),
    "downscript": KeySpec(script, "downscript", None),
    "xparam": KeySpec(any_string, "xparam", None),
    "sync_group": KeySpec(sync_group, "sync_group", None),
    "require_units": KeySpec(unit_names, "require_units", (), Fill.EXPAND_NAME),
    "check": KeySpec(parse_checks, "checks", ()),
    # routed VIPs (docs/routed.md): the addresses as host routes for a BGP engine
    "placement": KeySpec(placement, "placement", Placement.LINK),
    "routed_interface": KeySpec(interface_name, "routed_interface", DEFAULT_ROUTED_INTERFACE),
})

CARPD_KEYS: Mapping[str, KeySpec] = MappingProxyType({
    "control_socket": KeySpec(absolute_path, "control_socket", DEFAULT_CONTROL_SOCKET),
    "state_directory": KeySpec(absolute_path, "state_directory", DEFAULT_STATE_DIRECTORY),
    "metrics_textfile": KeySpec(absolute_path, "metrics_textfile", None),
    "nodes": KeySpec(node_names, "nodes", ()),  # per-node values: carpd.config.nodes
})


def field_groups(keys: Mapping[str, KeySpec]) -> tuple[tuple[str, ...], ...]:
    """The keys of each field, fields in the table order of their first key:
    (("interface",), ("vhid",), ("address", "addresses"), ...)."""
    by_field: dict[str, list[str]] = {}
    for key, spec in keys.items():
        by_field.setdefault(spec.field, []).append(key)
    return tuple(tuple(group) for group in by_field.values())


def exclusive_groups(keys: Mapping[str, KeySpec]) -> tuple[tuple[str, ...], ...]:
    """The groups of more than one key: a table may set one key of each."""
    return tuple(group for group in field_groups(keys) if len(group) > 1)


VIP_FIELD_GROUPS = field_groups(VIP_KEYS)
VIP_REQUIRED = tuple(g for g in VIP_FIELD_GROUPS if VIP_KEYS[g[0]].default is REQUIRED)
VIP_OPTIONAL = tuple(g for g in VIP_FIELD_GROUPS if VIP_KEYS[g[0]].default is not REQUIRED)
VIP_EXCLUSIVE = exclusive_groups(VIP_KEYS)


def filled(spec: KeySpec, value: Any, vip_name: str) -> Any:
    """`value` (checked, or the default) as its field takes it, for the VIP `vip_name`; not
    for READ_PASSWORD keys, whose value the loader hands to secrets.read_password."""
    if spec.fill is Fill.EXPAND_NAME:
        return tuple(expand_name(unit, vip_name) for unit in value)
    if spec.fill is Fill.DROP_SCOPE:
        if isinstance(value, tuple):
            return tuple(without_scope(ip) for ip in value)
        return None if value is None else without_scope(value)
    return value
