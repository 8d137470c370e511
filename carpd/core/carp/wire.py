"""The CARP advertisement on the wire: the 36-byte header, encoded and decoded.

Owns: the 36-byte CARP header (CARP.md 1.3) and its checksum (RFC 1071 over the 36 bytes with
the checksum field zero, computed after counter and HMAC are written, CARP.md 1.4; the same
for IPv4 and IPv6, no pseudo-header). The IP header around it is the adapters' business
(carpd.io.ipv4): the core receives datagrams.
Invariants: `decode_*` never raises anything but `WireError`; encode/decode round-trip exactly.
Must not: know about HMAC keys (auth.py) or election rules (timing.py).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from carpd.core.checksum import internet_checksum

CARP_VERSION = 2
CARP_TYPE_ADVERTISEMENT = 1
CARP_AUTHLEN = 7  # 32-bit words of counter (2) + SHA1 digest (5)
CARP_HEADER_LEN = 36
CARP_TOS = 0x10  # ucarp's IPTOS_LOWDELAY
CARP_TTL = 255
CARP_GROUP = ipaddress.IPv4Address("224.0.0.18")
CARP_GROUP6 = ipaddress.IPv6Address("ff02::12")  # the IPv6 group (BSD, keepalived, FRR)
DIGEST_LEN = 20
BOW_OUT = 255  # advbase == advskew == 255: "I am leaving, take over now"

_CARP = struct.Struct("!BBBBBBHQ20s")


class WireError(ValueError):
    """Bytes that are not a well-formed CARP advertisement."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True, kw_only=True)
class CarpHeader:
    version: int = CARP_VERSION
    type: int = CARP_TYPE_ADVERTISEMENT
    vhid: int
    advskew: int
    authlen: int = CARP_AUTHLEN
    demote: int = 0
    advbase: int
    checksum: int = 0
    counter: int
    digest: bytes

    @property
    def is_bow_out(self) -> bool:
        return self.advbase == BOW_OUT and self.advskew == BOW_OUT


def encode_carp_header(header: CarpHeader) -> bytes:
    """36 bytes with a freshly computed checksum (the `checksum` field is ignored)."""
    raw = _pack_carp(header, 0)
    return _pack_carp(header, internet_checksum(raw))


def _pack_carp(h: CarpHeader, checksum: int) -> bytes:
    if len(h.digest) != DIGEST_LEN:
        raise ValueError(f"digest must be {DIGEST_LEN} bytes, got {len(h.digest)}")
    return _CARP.pack(
        (h.version << 4) | h.type, h.vhid, h.advskew, h.authlen, h.demote, h.advbase,
        checksum, h.counter, h.digest,
    )


def decode_carp_header(data: bytes) -> CarpHeader:
    """Parse the first 36 bytes; trailing bytes are ignored as ucarp does."""
    if len(data) < CARP_HEADER_LEN:
        raise WireError("short", f"CARP header needs {CARP_HEADER_LEN} bytes, got {len(data)}")
    vt, vhid, skew, authlen, demote, base, csum, counter, digest = _CARP.unpack_from(data)
    return CarpHeader(
        version=vt >> 4, type=vt & 0x0F, vhid=vhid, advskew=skew, authlen=authlen,
        demote=demote, advbase=base, checksum=csum, counter=counter, digest=digest,
    )


def carp_checksum_ok(data: bytes) -> bool:
    """True when the 36 CARP bytes sum to zero (checksum field included)."""
    return len(data) >= CARP_HEADER_LEN and internet_checksum(data[:CARP_HEADER_LEN]) == 0
