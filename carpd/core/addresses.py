"""Addresses as every layer outside the protocol codecs sees them: IPv4 or IPv6, one family enum.

Owns: `Family`, the `Address` / `AddressWithPrefix` unions and `family_of`. Adapters, the
driver and the machine carry these types and never assume IPv4; a protocol profile decides
which families it speaks.
Must not: know a protocol.
"""

from __future__ import annotations

import enum
import ipaddress

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressWithPrefix = ipaddress.IPv4Interface | ipaddress.IPv6Interface


class Family(enum.IntEnum):
    """An address family, valued as the IP version ("IPv4" = 4)."""

    IPV4 = 4
    IPV6 = 6

    @property
    def label(self) -> str:
        return "IPv4" if self is Family.IPV4 else "IPv6"


def family_of(address: Address | AddressWithPrefix) -> Family:
    return Family(address.version)
