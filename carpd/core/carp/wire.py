"""CARP advertisement and IPv4 header encode/decode, and the Internet checksum.

Owns: the 36-byte CARP header (CARP.md 1.3), its checksum (RFC 1071 over the 36 bytes with the
checksum field zero, computed after counter and HMAC are written, CARP.md 1.4), and the 20-byte
IPv4 header that carries it (CARP.md 1.2) for the simulator, the L2-broadcast sender and the
receive path of a raw socket.
Invariants: `decode_*` never raises anything but `WireError`; encode/decode round-trip exactly.
Must not: know about HMAC keys (auth.py) or election rules (timing.py).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

CARP_VERSION = 2
CARP_TYPE_ADVERTISEMENT = 1
CARP_AUTHLEN = 7  # 32-bit words of counter (2) + SHA1 digest (5)
CARP_HEADER_LEN = 36
IPV4_HEADER_LEN = 20
IPPROTO_CARP = 112
CARP_TTL = 255
CARP_TOS = 0x10
DIGEST_LEN = 20
BOW_OUT = 255  # advbase == advskew == 255: "I am leaving, take over now"

_CARP = struct.Struct("!BBBBBBHQ20s")
_IPV4 = struct.Struct("!BBHHHBBH4s4s")


class WireError(ValueError):
    """Bytes that are not a well-formed CARP advertisement or IPv4 header."""

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


@dataclass(frozen=True, slots=True, kw_only=True)
class Ipv4Header:
    ihl: int
    tos: int
    total_length: int
    ident: int
    ttl: int
    protocol: int
    source: ipaddress.IPv4Address
    destination: ipaddress.IPv4Address

    @property
    def header_length(self) -> int:
        return self.ihl * 4


def internet_checksum(data: bytes) -> int:
    """RFC 1071 one's-complement checksum of `data` (padded to even length)."""
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


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


def encode_ipv4_header(
    *, source: ipaddress.IPv4Address, destination: ipaddress.IPv4Address, payload_length: int,
    ident: int = 0, ttl: int = CARP_TTL, tos: int = CARP_TOS, protocol: int = IPPROTO_CARP,
) -> bytes:
    """A 20-byte header with DF set and a correct header checksum."""
    fields = (0x45, tos, IPV4_HEADER_LEN + payload_length, ident & 0xFFFF, 0x4000, ttl,
              protocol)
    raw = _IPV4.pack(*fields, 0, source.packed, destination.packed)
    return _IPV4.pack(*fields, internet_checksum(raw), source.packed, destination.packed)


def decode_ipv4_header(data: bytes) -> Ipv4Header:
    if len(data) < IPV4_HEADER_LEN:
        raise WireError("short", f"IPv4 header needs {IPV4_HEADER_LEN} bytes, got {len(data)}")
    vihl, tos, total, ident, _frag, ttl, proto, _csum, src, dst = _IPV4.unpack_from(data)
    if vihl >> 4 != 4 or (vihl & 0x0F) < 5:
        raise WireError("malformed", f"not an IPv4 header (first byte 0x{vihl:02x})")
    if len(data) < (vihl & 0x0F) * 4:
        raise WireError("short", "IPv4 options truncated")
    return Ipv4Header(
        ihl=vihl & 0x0F, tos=tos, total_length=total, ident=ident, ttl=ttl, protocol=proto,
        source=ipaddress.IPv4Address(src), destination=ipaddress.IPv4Address(dst),
    )
