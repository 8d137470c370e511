"""A snapshot of this host's interface addresses, for `carpd --check` (config/hostcheck.py).

Owns: `host_addresses()`: interface name -> every address on it with its prefix, both
families, each with carpd's mark and its IPv4 label (`InterfaceAddress`), so the check can
tell carpd's VIPs from the host's own addresses. Read once: one RTM_GETADDR dump
(carpd.io.ifaddr) and the interface names (if_nameindex); nothing is changed. An interface
without addresses is listed with none, so "the host has it" is still known.
Must not: judge anything (hostcheck does), or be used by the daemon (it has its port).
"""

from __future__ import annotations

import socket

from carpd.core.ownership import InterfaceAddress
from carpd.io.ifaddr import RtnlSocket


def host_addresses() -> dict[str, tuple[InterfaceAddress, ...]]:
    """Raises OSError when netlink cannot be read."""
    names = dict(socket.if_nameindex())
    found: dict[str, list[InterfaceAddress]] = {name: [] for name in names.values()}
    rtnl = RtnlSocket()
    try:
        states = rtnl.dump()
    finally:
        rtnl.close()
    for state in states:
        name = names.get(state.index)
        if name is not None:
            found[name].append(state.listed())
    return {name: tuple(addrs) for name, addrs in found.items()}
