"""Parsers of what the doctor reads on the host: /proc files, `ip -j` JSON, process command
lines and keepalived configurations. Pure: text in, values out.

Owns: `parse_igmp` (/proc/net/igmp: the IPv4 groups joined per interface; the kernel prints
each group as the hexadecimal of the address in host byte order, so a little-endian machine
shows 224.0.0.18 as 120000E0), `parse_igmp6` (/proc/net/igmp6: one line per interface and
group, the group as 32 hex digits in network order), `parse_ip_addr` (`ip -j addr show`:
links with their flags and addresses), `parse_route_dev` (`ip -j route get`: the device a
destination is routed through), `ucarp_addresses`/`keepalived_addresses` (which VIPs another
VRRP/CARP daemon on this host serves, from its argv or its configuration text).
Must not: read files or run anything (carpd.doctor.host does); raise on odd input (lines
it cannot read are skipped).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Link:
    name: str
    flags: frozenset[str]  # UP, LOWER_UP (carrier), MULTICAST, ...
    operstate: str
    addresses: tuple[tuple[str, int], ...]  # (address, prefix length)


def parse_igmp(text: str, byteorder: str) -> dict[str, set[str]]:
    """{interface: {group}} from /proc/net/igmp."""
    joined: dict[str, set[str]] = {}
    iface: str | None = None
    for line in text.splitlines()[1:]:
        if not line.strip():
            continue
        if not line[0].isspace():  # "4\teth0      :     1      V3"
            parts = line.split()
            iface = parts[1].rstrip(":") if len(parts) > 1 else None
            if iface is not None:
                joined.setdefault(iface, set())
            continue
        word = line.split()[0]
        if iface is None or not re.fullmatch(r"[0-9A-Fa-f]{8}", word):
            continue
        raw = int(word, 16).to_bytes(4, "big")
        packed = raw[::-1] if byteorder == "little" else raw
        joined[iface].add(str(ipaddress.IPv4Address(packed)))
    return joined


def parse_igmp6(text: str) -> dict[str, set[str]]:
    """{interface: {group}} from /proc/net/igmp6."""
    joined: dict[str, set[str]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3 or not re.fullmatch(r"[0-9a-fA-F]{32}", parts[2]):
            continue
        group = ipaddress.IPv6Address(bytes.fromhex(parts[2]))
        joined.setdefault(parts[1], set()).add(str(group))
    return joined


def parse_ip_addr(text: str) -> list[Link]:
    """`ip -j addr show`; [] for anything that is not its JSON."""
    try:
        data = json.loads(text or "[]")
    except ValueError:
        return []
    links = []
    for item in data if isinstance(data, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("ifname"), str):
            continue
        addrs = tuple((str(a["local"]), int(a.get("prefixlen", 0)))
                      for a in item.get("addr_info", [])
                      if isinstance(a, dict) and "local" in a)
        links.append(Link(name=item["ifname"], flags=frozenset(item.get("flags", [])),
                          operstate=str(item.get("operstate", "UNKNOWN")), addresses=addrs))
    return links


def parse_route_dev(text: str) -> str | None:
    """The device of `ip -j route get ADDRESS`'s first route, None if there is none."""
    try:
        data = json.loads(text or "[]")
    except ValueError:
        return None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        dev = data[0].get("dev")
        return dev if isinstance(dev, str) else None
    return None


def ucarp_addresses(argv: Sequence[str]) -> set[str]:
    """The virtual addresses of a ucarp command line (-a X, --addr X, --addr=X, -aX)."""
    found: set[str] = set()
    args = list(argv[1:])
    for i, arg in enumerate(args):
        if arg in ("-a", "--addr") and i + 1 < len(args):
            found.add(args[i + 1])
        elif arg.startswith("--addr="):
            found.add(arg.split("=", 1)[1])
        elif arg.startswith("-a") and len(arg) > 2 and not arg.startswith("--"):
            found.add(arg[2:])
    return found


def keepalived_config_path(argv: Sequence[str]) -> str:
    """The configuration file a keepalived command line uses (-f/--use-file)."""
    args = list(argv[1:])
    for i, arg in enumerate(args):
        if arg in ("-f", "--use-file") and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--use-file="):
            return arg.split("=", 1)[1]
        if arg.startswith("-f") and len(arg) > 2:
            return arg[2:]
    return "/etc/keepalived/keepalived.conf"


_BLOCK = re.compile(r"virtual_ipaddress(?:_excluded)?\s*\{([^}]*)\}", re.S)


def keepalived_addresses(config: str) -> set[str]:
    """The addresses in the virtual_ipaddress blocks of a keepalived configuration (comments
    dropped, prefixes cut); `include` files are not followed."""
    text = re.sub(r"[#!][^\n]*", "", config)
    found: set[str] = set()
    for block in _BLOCK.findall(text):
        for line in block.splitlines():
            words = line.split()
            if words:
                found.add(words[0].split("/")[0])
    return found
