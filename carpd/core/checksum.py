"""The Internet checksum (RFC 1071), shared by the CARP and VRRP codecs and the IPv4 adapter.

Owns: `internet_checksum(data)`: the one's-complement sum of 16-bit words, odd lengths padded.
Must not: know what it sums (pseudo-headers are the caller's).
"""

from __future__ import annotations

import struct


def internet_checksum(data: bytes) -> int:
    """RFC 1071 one's-complement checksum of `data` (padded to even length)."""
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
