"""A snapshot of this host's interface addresses, for `carpd --check` (config/hostcheck.py).

Owns: `host_addresses()`: interface name -> every address on it with its prefix, both
families, read once over netlink (pyroute2's synchronous IPRoute; nothing is changed). An
interface without addresses is listed with none, so "the host has it" is still known.
Must not: judge anything (hostcheck does), or be used by the daemon (it has its port).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from carpd.core.addresses import AddressWithPrefix


def host_addresses() -> dict[str, tuple[AddressWithPrefix, ...]]:
    """Raises OSError (or ImportError without pyroute2) when netlink cannot be read."""
    from pyroute2 import IPRoute

    ipr: Any = IPRoute()
    try:
        names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
        found: dict[str, list[AddressWithPrefix]] = {name: [] for name in names.values()}
        for msg in ipr.get_addr():
            name = names.get(msg["index"])
            address = msg.get_attr("IFA_ADDRESS") or msg.get_attr("IFA_LOCAL")
            if name is None or address is None:
                continue
            found[name].append(ipaddress.ip_interface(f"{address}/{msg['prefixlen']}"))
    finally:
        ipr.close()
    return {name: tuple(addrs) for name, addrs in found.items()}
