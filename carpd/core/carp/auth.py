"""The CARP HMAC-SHA1: what is hashed, with which key, and how it is verified.

Owns: the HMAC message rules of CARP.md section 2. ucarp hashes 0x02 0x01, the vhid, exactly one
IPv4 address and the 8 counter bytes; the BSDs hash every address of the VHID (IPv4 sorted
numerically, then IPv6 sorted bytewise). For one IPv4 address both rules give the same
15-byte message, so carpd sends the BSD form (which *is* ucarp's for a single VIP) and accepts
either when a VHID has several addresses.
The key is the raw password (at most 19 bytes, CARP.md 2.1); standard HMAC with the raw bytes
equals ucarp's zero-padded 20-byte key.
Must not: know passwords' origin (config.py) or log anything.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import struct
from collections.abc import Iterable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_PASSWORD_BYTES = 19  # ucarp: strlen + NUL must fit a 20-byte key (CARP.md 2.1)


def bsd_address_bytes(addresses: Iterable[Address]) -> bytes:
    """IPv4 sorted by numeric value, then IPv6 sorted bytewise (link-local scope irrelevant)."""
    v4 = sorted(a for a in addresses if a.version == 4)
    v6 = sorted((a for a in addresses if a.version == 6), key=lambda a: a.packed)
    return b"".join(a.packed for a in v4) + b"".join(a.packed for a in v6)


def hmac_message(vhid: int, address_bytes: bytes, counter: int) -> bytes:
    return bytes((2, 1, vhid)) + address_bytes + struct.pack("!Q", counter)


def compute_digest(password: bytes, vhid: int, addresses: Iterable[Address], counter: int) -> bytes:
    """The digest carpd sends: BSD rule (identical to ucarp's for one IPv4 address)."""
    msg = hmac_message(vhid, bsd_address_bytes(addresses), counter)
    return hmac.new(password, msg, hashlib.sha1).digest()


def ucarp_digest(password: bytes, vhid: int, address: ipaddress.IPv4Address, counter: int) -> bytes:
    """ucarp's rule: exactly one IPv4 address."""
    msg = hmac_message(vhid, address.packed, counter)
    return hmac.new(password, msg, hashlib.sha1).digest()


def verify_digest(
    password: bytes, vhid: int, addresses: tuple[Address, ...], counter: int, digest: bytes,
) -> bool:
    """Accept the BSD form, or ucarp's form for the first IPv4 address of the VHID."""
    if hmac.compare_digest(compute_digest(password, vhid, addresses, counter), digest):
        return True
    first_v4 = next((a for a in addresses if isinstance(a, ipaddress.IPv4Address)), None)
    if first_v4 is None or len(addresses) == 1:
        return False
    return hmac.compare_digest(ucarp_digest(password, vhid, first_v4, counter), digest)
