"""The VRRPv3 advertisement on the wire (RFC 5798 5.2): encoded, decoded, checksummed.

Owns: `Vrrp3Header` (VRID, priority, Max Adver Int in centiseconds, the addresses),
`encode_vrrp3`/`decode_vrrp3` and the three checksum forms (IPV6-UNICAST-VRRP3.md 3.3):
- IPv6: RFC 2460 8.1 pseudo-header (source, destination, upper-layer length, next header 112)
  followed by the message;
- IPv4 "rfc5798" (what keepalived 2.2.7 and FRR 8.4.4 send and require): the IPv4
  pseudo-header (source, destination, zero, 112, length) followed by the message;
- IPv4 "rfc9568" (Cisco, Arista, RFC 9568): the message alone, as in VRRPv2.
`checksum_form(...)` tells which form a received message verifies with, trying the real
destination first, then the group (keepalived up to 1.3.6 put the group there for unicast,
and FRR always does), then, if allowed, the message-only form.
Byte 0 is version 3 / type 1 (0x31); the 4 reserved bits before the interval are sent as zero
and ignored on receive (FRR 8.4.4 does not mask them, so they must be zero); the addresses
are all of the IP header's family.
Invariants: `decode_vrrp3` raises only `WireError`; encode/decode round-trip exactly.
Must not: know election rules (election.py) or VIP settings (profile.py).
"""

from __future__ import annotations

import enum
import ipaddress
import struct
from dataclasses import dataclass

from carpd.core.addresses import Address, Family
from carpd.core.checksum import internet_checksum

VRRP_VERSION = 3
VRRP_TYPE_ADVERTISEMENT = 1
VRRP_PROTOCOL = 112
VRRP_TOS = 0xC0  # what keepalived and FRR send (internetwork control)
HEADER_LEN = 8
MAX_INTERVAL_CS = 0x0FFF  # 40.95 s
PRIORITY_RESIGN = 0  # "the master stops participating": backups wait Skew_Time only
PRIORITY_OWNER = 255
GROUP4 = ipaddress.IPv4Address("224.0.0.18")
GROUP6 = ipaddress.IPv6Address("ff02::12")
_HEAD = struct.Struct("!BBBBHH")


class ChecksumForm(enum.Enum):
    """Which bytes the checksum covers (see the module docstring)."""

    PSEUDO_HEADER = "pseudo_header"  # RFC 5798 as keepalived/FRR read it; always for IPv6
    PSEUDO_HEADER_GROUP = "pseudo_header_group"  # unicast advert summed with the group
    MESSAGE_ONLY = "message_only"  # RFC 9568 IPv4 (Cisco, Arista)


class WireError(ValueError):
    """Bytes that are not a well-formed VRRPv3 advertisement."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Vrrp3Header:
    vrid: int
    priority: int
    interval_cs: int  # Max Adver Int, centiseconds, 1..4095
    addresses: tuple[Address, ...]


def group_of(family: Family) -> Address:
    return GROUP4 if family is Family.IPV4 else GROUP6


def _message(h: Vrrp3Header, checksum: int) -> bytes:
    head = _HEAD.pack((VRRP_VERSION << 4) | VRRP_TYPE_ADVERTISEMENT, h.vrid, h.priority,
                      len(h.addresses), h.interval_cs & MAX_INTERVAL_CS, checksum)
    return head + b"".join(a.packed for a in h.addresses)


def pseudo_header(source: Address, destination: Address, length: int) -> bytes:
    """The pseudo-header of the family of `source` (IPv4: RFC 768 layout; IPv6: RFC 2460)."""
    if source.version == 4:
        return source.packed + destination.packed + struct.pack("!BBH", 0, VRRP_PROTOCOL,
                                                                 length)
    return source.packed + destination.packed + struct.pack("!I3xB", length, VRRP_PROTOCOL)


def compute_checksum(message: bytes, source: Address, destination: Address,
                     form: ChecksumForm) -> int:
    """The checksum of `message` (its checksum field zero) in `form`; IPv6 always sums the
    pseudo-header. PSEUDO_HEADER_GROUP puts the family's group in place of `destination`."""
    if form is ChecksumForm.MESSAGE_ONLY and source.version == 4:
        return internet_checksum(message)
    if form is ChecksumForm.PSEUDO_HEADER_GROUP:
        destination = GROUP4 if source.version == 4 else GROUP6
    return internet_checksum(pseudo_header(source, destination, len(message)) + message)


def encode_vrrp3(h: Vrrp3Header, *, source: Address, destination: Address,
                 form: ChecksumForm = ChecksumForm.PSEUDO_HEADER) -> bytes:
    """The advert with its checksum in `form` (computed last, over the zeroed field)."""
    if not 1 <= h.interval_cs <= MAX_INTERVAL_CS:
        raise ValueError(f"advert interval {h.interval_cs} cs is outside 1..{MAX_INTERVAL_CS}")
    if not h.addresses or any(a.version != source.version for a in h.addresses):
        raise ValueError("a VRRPv3 advert carries at least one address, all of the source's "
                         "family")
    return _message(h, compute_checksum(_message(h, 0), source, destination, form))


def decode_vrrp3(data: bytes, family: Family) -> Vrrp3Header:
    """Parse a datagram's payload whose IP header was of `family`; checksum not checked."""
    if len(data) < HEADER_LEN:
        raise WireError("short", f"{len(data)} bytes, a VRRPv3 header has {HEADER_LEN}")
    first, vrid, priority, count, interval, _ = _HEAD.unpack_from(data)
    if first >> 4 != VRRP_VERSION:
        raise WireError("bad_version", f"version {first >> 4}")
    if first & 0x0F != VRRP_TYPE_ADVERTISEMENT:
        raise WireError("malformed", f"VRRPv3 type {first & 0x0F} (only 1, ADVERTISEMENT)")
    size = 4 if family is Family.IPV4 else 16
    if count == 0 or len(data) < HEADER_LEN + count * size:
        raise WireError("malformed", f"{len(data)} bytes for {count} {family.label} "
                        "addresses")
    interval &= MAX_INTERVAL_CS
    if interval == 0:
        raise WireError("malformed", "Max Adver Int 0")
    body = data[HEADER_LEN:HEADER_LEN + count * size]
    factory = ipaddress.IPv4Address if family is Family.IPV4 else ipaddress.IPv6Address
    addresses = tuple(factory(body[i:i + size]) for i in range(0, len(body), size))
    return Vrrp3Header(vrid=vrid, priority=priority, interval_cs=interval,
                       addresses=addresses)


def checksum_form(data: bytes, source: Address, destination: Address, *,
                  message_only: bool) -> ChecksumForm | None:
    """The form `data` (a whole VRRPv3 message) verifies with, or None. A correct checksum
    makes the sum over the covered bytes, checksum included, come out as zero."""
    length = HEADER_LEN + data[3] * (4 if source.version == 4 else 16) \
        if len(data) >= HEADER_LEN else len(data)
    message = data[:length]
    forms = [ChecksumForm.PSEUDO_HEADER, ChecksumForm.PSEUDO_HEADER_GROUP]
    if message_only and source.version == 4:
        forms.append(ChecksumForm.MESSAGE_ONLY)
    for form in forms:
        if compute_checksum(message, source, destination, form) == 0:
            return form
    return None
