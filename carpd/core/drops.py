"""Why a received datagram was not accepted: the closed set of drop reasons.

Owns: `DropReason` (the strings are the keys of the drop counters in `carpctl status`, the
metrics' reason label and journald's CARP_DROP_REASON: they never change once released),
`QUIET_DROPS` (reasons that are normal on a shared segment and never logged), and `Rejected`,
the exception a validation step raises (the node turns it into a counted PacketDropped).
Must not: decide anything; the node (order of checks) and the profiles (checksum, HMAC) do.
"""

from __future__ import annotations

import enum

from carpd.core.addresses import Address


class DropReason(enum.StrEnum):
    SHORT = "short"
    MALFORMED = "malformed"
    OWN_PACKET = "own_packet"
    BAD_TTL = "bad_ttl"
    VRRP = "vrrp"
    BAD_VERSION = "bad_version"
    UNKNOWN_VHID = "unknown_vhid"
    WRONG_DESTINATION = "wrong_destination"
    MULTICAST_IN_UNICAST_MODE = "multicast_in_unicast_mode"
    UNICAST_IN_MULTICAST_MODE = "unicast_in_multicast_mode"
    UNKNOWN_PEER = "unknown_peer"
    BAD_CHECKSUM = "bad_checksum"
    BAD_HMAC = "bad_hmac"


QUIET_DROPS = frozenset({DropReason.OWN_PACKET, DropReason.VRRP, DropReason.UNKNOWN_VHID})


class Rejected(Exception):  # noqa: N818 - a verdict on a packet, never escapes Node.handle
    """A datagram fails one validation step. `vhid`, `source` and `name` are filled in as far
    as the step knew them (name: the VIP whose check failed)."""

    def __init__(self, reason: DropReason, detail: str, vhid: int | None = None,
                 source: Address | None = None, name: str | None = None) -> None:
        super().__init__(reason.value)
        self.reason, self.detail, self.vhid, self.source, self.name = (
            reason, detail, vhid, source, name)
