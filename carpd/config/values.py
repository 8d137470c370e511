"""Validators of single TOML values, shared by the VIP keys, `[carpd]` and the check tables.

Owns: `BadValueError` (a value is wrong; the caller adds file, line and key) and every
validator of one plain value: the generic types (`integer`, `boolean`, `nonempty_string`,
`any_string`, `absolute_path`), the network values (`interface_name`, `address`, `addresses`,
`source`, `multicast_group`), systemd unit lists with their `{name}` placeholder
(`unit_names`, `expand_name`), `script`, `garp_interval` and the names of VIPs and sync groups.
Each validator takes the raw value tomllib produced and returns the typed value or raises
`BadValueError` with the exact sentence an operator reads, so the same mistake reads the same
in any table.
Invariants: a message names the type of a wrong value, and quotes the value only for keys
whose value is not secret (the password keys use `nonempty_string`, which never quotes it).
Must not: know keys, tables or locations (schema.py and loader.py do), read files other than
the `stat`/`access` of a script path, or touch the network.
"""

from __future__ import annotations

import ipaddress
import os
import re
import string

from carpd.core.params import IFNAMSIZ

_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a float", str: "a string",
               list: "an array", dict: "a table"}
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")  # VIP names and sync groups
MAX_GARP_INTERVAL_S = 60


class BadValueError(Exception):
    """A value is wrong; the caller adds the location."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def type_name(value: object) -> str:
    return _TYPE_NAMES.get(type(value), "a date/time")


# -- generic types -----------------------------------------------------------------------------

def integer(value: object, low: int, high: int | None, what: str = "") -> int:
    wanted = what or (f"an integer {low}..{high}" if high is not None else
                      f"an integer >= {low}")
    if isinstance(value, bool) or not isinstance(value, int):
        hint = " (remove the quotes)" if isinstance(value, str) and value.isdigit() else ""
        raise BadValueError(f"must be {wanted}, not {type_name(value)}{hint}")
    if value < low or (high is not None and value > high):
        raise BadValueError(f"{value} is out of range: must be {wanted}")
    return value


def boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise BadValueError(f"must be true or false, not {type_name(value)}")
    return value


def nonempty_string(value: object) -> str:
    if not isinstance(value, str):
        raise BadValueError(f"must be a string, not {type_name(value)}")
    if not value:
        raise BadValueError("must not be empty")
    return value


def any_string(value: object) -> str:
    """Any string, the empty one included."""
    if not isinstance(value, str):
        raise BadValueError(f"must be a string, not {type_name(value)}")
    return value


def absolute_path(value: object) -> str:
    path = nonempty_string(value)
    if not os.path.isabs(path):
        raise BadValueError(f"{path!r} is not an absolute path")
    return path


# -- names -------------------------------------------------------------------------------------

def vip_name(name: str) -> str:
    """The NAME of [vip.NAME] (a table name, so always a string)."""
    if not NAME_RE.fullmatch(name):
        raise BadValueError(f"invalid VIP name {name!r}: use 1-32 of a-z, 0-9, '_' and '-', "
                            "starting with a letter or digit")
    return name


def sync_group(value: object) -> str:
    name = nonempty_string(value)
    if not NAME_RE.fullmatch(name):
        raise BadValueError(f"invalid sync group name {name!r}: use 1-32 of a-z, 0-9, '_' "
                            "and '-'")
    return name


def interface_name(value: object) -> str:
    name = nonempty_string(value)
    if (len(name.encode()) >= IFNAMSIZ or name in (".", "..")
            or any(c in "/:" or c.isspace() for c in name)):
        raise BadValueError(f"{name!r} is not a valid interface name "
                            "(at most 15 bytes, no '/', ':' or spaces)")
    return name


# -- addresses ---------------------------------------------------------------------------------

def _check_host(ip: ipaddress.IPv4Address, what: str) -> None:
    bad = ("multicast" if ip.is_multicast else "loopback" if ip.is_loopback
           else "unspecified" if ip.is_unspecified else "reserved" if ip.is_reserved else "")
    if bad:
        raise BadValueError(f"{ip} is a {bad} address and cannot be {what}")


def _ipv4(text: str, what: str) -> ipaddress.IPv4Address:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        raise BadValueError(f"{text!r} is not an IPv4 address") from None
    if isinstance(ip, ipaddress.IPv6Address):
        raise BadValueError(f"{text!r}: IPv6 {what} is not supported yet")
    return ip


def _vip_interface(value: object) -> ipaddress.IPv4Interface:
    text = nonempty_string(value)
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError:
        raise BadValueError(f"{text!r} is not an IPv4 address or ADDRESS/PREFIX") from None
    if isinstance(iface, ipaddress.IPv6Interface):
        raise BadValueError(f"{text!r}: IPv6 VIPs are not supported yet")
    _check_host(iface.ip, "a VIP")
    net = iface.network
    if net.prefixlen <= 30 and iface.ip in (net.network_address, net.broadcast_address):
        kind = "network" if iface.ip == net.network_address else "broadcast"
        raise BadValueError(f"{iface.ip} is the {kind} address of {net} and cannot be a VIP")
    return iface


def address(value: object) -> tuple[ipaddress.IPv4Interface, ...]:
    """`address = "A.B.C.D[/LEN]"`: one VIP address, as the 1-tuple `addresses` would give."""
    return (_vip_interface(value),)


def addresses(value: object) -> tuple[ipaddress.IPv4Interface, ...]:
    if not isinstance(value, list):
        raise BadValueError(f"must be an array of addresses, not {type_name(value)}")
    if not value:
        raise BadValueError("must list at least one address")
    result: list[ipaddress.IPv4Interface] = []
    for item in value:
        iface = _vip_interface(item)
        if any(iface.ip == seen.ip for seen in result):
            raise BadValueError(f"{iface.ip} is listed twice")
        result.append(iface)
    return tuple(result)


def source(value: object) -> ipaddress.IPv4Address | None:
    """An advert source address; "auto" is None (the daemon resolves it at run time)."""
    text = nonempty_string(value)
    if text == "auto":
        return None
    ip = _ipv4(text, "source")
    _check_host(ip, "an advert source")
    return ip


def multicast_group(value: object) -> ipaddress.IPv4Address:
    ip = _ipv4(nonempty_string(value), "multicast")
    if not ip.is_multicast:
        raise BadValueError(f"{ip} is not an IPv4 multicast address (224.0.0.0/4)")
    return ip


def garp_interval(value: object) -> float:
    """Seconds between gratuitous ARPs: a number > 0 and <= 60, returned as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadValueError(f"must be a number of seconds (0 < s <= {MAX_GARP_INTERVAL_S}), "
                            f"not {type_name(value)}")
    if not 0 < value <= MAX_GARP_INTERVAL_S:
        raise BadValueError(f"{value} is out of range: must be > 0 and <= "
                            f"{MAX_GARP_INTERVAL_S} seconds")
    return float(value)


# -- units and scripts -------------------------------------------------------------------------

def unit_names(value: object) -> tuple[str, ...]:
    """Unit name templates; `{name}` (the VIP's name) is the only placeholder."""
    if not isinstance(value, list):
        raise BadValueError(f"must be an array of unit names, not {type_name(value)}")
    units = tuple(nonempty_string(item) for item in value)
    for unit in units:
        expand_name(unit, "x")  # raises on an unknown placeholder
        if "/" in unit or any(c.isspace() for c in unit):
            raise BadValueError(f"{unit!r} is not a unit name")
    return units


def expand_name(unit: str, name: str) -> str:
    """`unit` with each `{name}` replaced by `name` ("{{" and "}}" are literal braces)."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(unit) if f is not None]
    except ValueError as err:
        raise BadValueError(
            f"{unit!r}: {err} (write '{{{{' and '}}}}' for literal braces)") from None
    for placeholder in fields:
        if placeholder != "name":
            raise BadValueError(f"{unit!r}: unknown placeholder {{{placeholder}}}; "
                                "only {name} is expanded")
    return unit.format(name=name)


def script(value: object) -> str:
    """An absolute path to an existing executable regular file."""
    path = absolute_path(value)
    if not os.path.isfile(path):
        raise BadValueError(f"{path} does not exist or is not a regular file")
    if not os.access(path, os.X_OK):
        raise BadValueError(f"{path} is not executable")
    return path
