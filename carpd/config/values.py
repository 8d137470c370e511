"""Validators of single TOML values, shared by the VIP keys, `[carpd]` and the check tables.

Owns: `BadValueError` (a value is wrong; the caller adds file, line and key) and every
validator of one plain value: the generic types (`integer`, `boolean`, `nonempty_string`,
`any_string`, `absolute_path`), the network values (`interface_name`, `address`, `addresses`,
`source`, `source6`, `peers`, `multicast_group`, `accept_source`, `na_router`), systemd unit
names (`unit_name`, the one rule for every unit key) and lists with their `{name}`
placeholder (`unit_names`, `expand_name`), `script`,
`announce_interval` (GARP and NA spacing) and the names of VIPs and sync groups.
Addresses are IPv4 or IPv6: VIPs may mix them; `source` is IPv4 and `source6` IPv6. A VIP is
never link-local (the BSDs disagree on hashing those: FreeBSD includes them in the HMAC,
OpenBSD does not), and no VIP or peer is IPv4-mapped, multicast, loopback or unspecified.
A link-local peer or source6 may be written with its scope ("fe80::12%eth0"); the validator
keeps the scope so the loader can compare it with the VIP's interface, `without_scope`
drops it.
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

from carpd.core.addresses import Address, AddressWithPrefix
from carpd.core.params import IFNAMSIZ

_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a float", str: "a string",
               list: "an array", dict: "a table"}
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")  # VIP names and sync groups
MAX_GARP_INTERVAL_S = 60
ACCEPT_SOURCES = ("peers", "any")


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

IPv6_GROUP_NOTE = "IPv6 adverts always go to ff02::12"


def _ip(text: str, wanted: str = "an IPv4 or IPv6 address") -> Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise BadValueError(f"{text!r} is not {wanted}") from None


def _check_host(ip: Address, what: str) -> None:
    """Refuse what can never be a host's unicast address: `what` is "a VIP", "a peer", ..."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        raise BadValueError(f"{ip} is an IPv4-mapped IPv6 address and cannot be {what}; "
                            f"write {ip.ipv4_mapped}")
    bad = ("multicast" if ip.is_multicast else "loopback" if ip.is_loopback
           else "unspecified" if ip.is_unspecified
           else "reserved" if ip.version == 4 and ip.is_reserved else "")
    if bad:
        article = "an" if bad[0] in "aeiou" else "a"
        raise BadValueError(f"{ip} is {article} {bad} address and cannot be {what}")


def _no_scope(text: str, what: str) -> None:
    if "%" in text:
        raise BadValueError(f"{text!r}: {what} takes no scope (%INTERFACE); only a link-local "
                            "peer or source6 may name one")


def _vip_interface(value: object) -> AddressWithPrefix:
    text = nonempty_string(value)
    _no_scope(text, "a VIP")
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError:
        raise BadValueError(f"{text!r} is not an IPv4 or IPv6 address or ADDRESS/PREFIX") \
            from None
    _check_host(iface.ip, "a VIP")
    if iface.version == 6 and iface.ip.is_link_local:
        raise BadValueError(f"{iface.ip} is a link-local address and cannot be a VIP: the BSDs "
                            "disagree on hashing link-local VIPs (FreeBSD includes them in the "
                            "HMAC, OpenBSD leaves them out)")
    net = iface.network
    if iface.version == 4 and net.prefixlen <= 30 and iface.ip in (net.network_address,
                                                                   net.broadcast_address):
        kind = "network" if iface.ip == net.network_address else "broadcast"
        raise BadValueError(f"{iface.ip} is the {kind} address of {net} and cannot be a VIP")
    if iface.version == 6 and net.prefixlen <= 126 and iface.ip == net.network_address:
        raise BadValueError(f"{iface.ip} is the subnet-router anycast address of {net} and "
                            "cannot be a VIP")
    return iface


def address(value: object) -> tuple[AddressWithPrefix, ...]:
    """`address = "ADDRESS[/LEN]"`: one VIP address, as the 1-tuple `addresses` would give."""
    return (_vip_interface(value),)


def addresses(value: object) -> tuple[AddressWithPrefix, ...]:
    """VIP addresses, IPv4 and IPv6 in any mix (one VHID carries both families)."""
    if not isinstance(value, list):
        raise BadValueError(f"must be an array of addresses, not {type_name(value)}")
    if not value:
        raise BadValueError("must list at least one address")
    result: list[AddressWithPrefix] = []
    for item in value:
        iface = _vip_interface(item)
        if any(iface.ip == seen.ip for seen in result):
            raise BadValueError(f"{iface.ip} is listed twice")
        result.append(iface)
    return tuple(result)


def source(value: object) -> ipaddress.IPv4Address | None:
    """The IPv4 advert source; "auto" is None (the daemon resolves it at run time)."""
    text = nonempty_string(value)
    if text == "auto":
        return None
    ip = _ip(text, "an IPv4 address")
    if isinstance(ip, ipaddress.IPv6Address):
        raise BadValueError(f"{text!r} is an IPv6 address: source is the IPv4 advert source; "
                            "set source6 for IPv6")
    _check_host(ip, "an advert source")
    return ip


def source6(value: object) -> ipaddress.IPv6Address | None:
    """The IPv6 advert source; "auto" is None. A link-local one may name its scope
    ("fe80::1%eth0"), which the loader checks against the interface and `filled` drops."""
    text = nonempty_string(value)
    if text == "auto":
        return None
    ip = _ip(text, "an IPv6 address")
    if isinstance(ip, ipaddress.IPv4Address):
        raise BadValueError(f"{text!r} is an IPv4 address: source6 is the IPv6 advert source; "
                            "set source for IPv4")
    _check_host(ip, "an advert source")
    _scope_on_link_local_only(text, ip)
    return ip


def _scope_on_link_local_only(text: str, ip: Address
                              ) -> None:
    if "%" in text and not (isinstance(ip, ipaddress.IPv6Address) and ip.is_link_local):
        raise BadValueError(f"{text!r}: only a link-local address (fe80::/10) takes a scope")


def peer(value: object) -> Address:
    """One unicast peer; a link-local one keeps its scope (if written) for the loader."""
    text = nonempty_string(value)
    ip = _ip(text, "an IPv4 or IPv6 address (a peer is a plain address, no /PREFIX)")
    if ip.is_multicast:
        group = ("the group is multicast_group's job" if ip.version == 4
                 else f"{IPv6_GROUP_NOTE} when the VIP has no IPv6 peers")
        raise BadValueError(f"{ip} is a multicast address and cannot be a peer: peers are "
                            f"unicast; {group}")
    _check_host(ip, "a peer")
    _scope_on_link_local_only(text, ip)
    return ip


def peers(value: object) -> tuple[Address, ...]:
    """Unicast peers, IPv4 and IPv6 in any mix; [] (the default) is multicast mode."""
    if not isinstance(value, list):
        raise BadValueError(f"must be an array of addresses, not {type_name(value)}")
    result: list[Address] = []
    for item in value:
        ip = peer(item)
        if any(without_scope(ip) == without_scope(seen) for seen in result):
            raise BadValueError(f"{without_scope(ip)} is listed twice")
        result.append(ip)
    return tuple(result)


def without_scope(ip: Address
                  ) -> Address:
    """The address without its %scope (IPv6 addresses with a scope compare unequal)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id is not None:
        return ipaddress.IPv6Address(ip.packed)
    return ip


def multicast_group(value: object) -> ipaddress.IPv4Address:
    ip = _ip(nonempty_string(value), "an IPv4 multicast address")
    if isinstance(ip, ipaddress.IPv6Address):
        raise BadValueError(f"{ip}: multicast_group is the IPv4 group only; {IPv6_GROUP_NOTE} "
                            "(as on the BSDs), which needs no setting")
    if not ip.is_multicast:
        raise BadValueError(f"{ip} is not an IPv4 multicast address (224.0.0.0/4)")
    return ip


def accept_source(value: object) -> str:
    """Whose unicast adverts count: "peers" (the configured ones) or "any" (the BSDs' way)."""
    text = nonempty_string(value)
    if text not in ACCEPT_SOURCES:
        raise BadValueError(f"{text!r} is not one of: {', '.join(ACCEPT_SOURCES)}")
    return text


def na_router(value: object) -> bool | None:
    """The NA router (R) flag: true, false, or "auto" (None: follow the interface's
    net.ipv6.conf.IFACE.forwarding)."""
    if isinstance(value, bool):
        return value
    if value == "auto":
        return None
    shown = repr(value) if isinstance(value, str) else type_name(value)
    raise BadValueError(f'must be true, false or "auto", not {shown}')


def announce_interval(value: object) -> float:
    """Seconds between gratuitous ARPs or NAs: a number > 0 and <= 60, returned as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadValueError(f"must be a number of seconds (0 < s <= {MAX_GARP_INTERVAL_S}), "
                            f"not {type_name(value)}")
    if not 0 < value <= MAX_GARP_INTERVAL_S:
        raise BadValueError(f"{value} is out of range: must be > 0 and <= "
                            f"{MAX_GARP_INTERVAL_S} seconds")
    return float(value)



# -- units and scripts -------------------------------------------------------------------------

UNIT_TYPES = ("service", "socket", "target", "mount", "path", "timer", "scope", "swap", "device",
              "slice", "automount")
_UNIT_STEM_RE = re.compile(r"[A-Za-z0-9:_.@\\-]+")
MAX_UNIT_NAME = 255  # systemd's UNIT_NAME_MAX


def unit_name(value: object) -> str:
    """One systemd unit name with its type, e.g. "nginx.service" (D-Bus takes no shorthand):
    the one rule of every unit key (`master_units`, `require_units`, a check's `unit`)."""
    unit = nonempty_string(value)
    check_unit_name(unit, unit)
    return unit


def check_unit_name(unit: str, shown: str) -> None:
    """Raise BadValueError unless `unit` is a startable unit name; `shown` is what the
    operator wrote (a template before its {name} was expanded)."""
    stem, dot, kind = unit.rpartition(".")
    if not dot:
        raise BadValueError(f"{shown!r} is not a systemd unit name: it needs its type, "
                            f'e.g. "{shown}.service"')
    if kind not in UNIT_TYPES:
        raise BadValueError(f"{shown!r} is not a systemd unit name: .{kind} is not a unit "
                            f"type ({', '.join(UNIT_TYPES[:3])}, ...)")
    if len(unit) > MAX_UNIT_NAME or not _UNIT_STEM_RE.fullmatch(stem):
        raise BadValueError(f"{shown!r} is not a systemd unit name: at most {MAX_UNIT_NAME} "
                            "letters, digits and : - _ . @ \\ before the type")
    if stem.endswith("@"):
        raise BadValueError(f"{shown!r} is a template, which cannot run: name an instance, "
                            f'e.g. "{stem}web.{kind}"')


def unit_names(value: object) -> tuple[str, ...]:
    """Unit name templates; `{name}` (the VIP's name) is the only placeholder. Each must be
    a unit name (`check_unit_name`) once {name} is expanded."""
    if not isinstance(value, list):
        raise BadValueError(f"must be an array of unit names, not {type_name(value)}")
    units = tuple(nonempty_string(item) for item in value)
    for unit in units:
        check_unit_name(expand_name(unit, "x"), unit)  # raises on an unknown placeholder too
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
