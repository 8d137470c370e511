"""The facts behind each VIP's anomalies: who, with what rank, first and last seen, how often.

Owns: `AnomalyBook`, which the node feeds every Anomaly it counts (`record(anomaly, now)`),
and `AnomalyRecord`, its frozen snapshot per (VIP, kind, peer): the peer's address, its rank
in the protocol's words (the profile's `describe_peer`, carried on the Anomaly; empty when
the advert is not trusted, as a bad HMAC is not), the first and the last instant it was seen,
the count and the last detail. Status, explain and `carpctl status --check` read these.
Invariants: at most MAX_PEERS records per (VIP, kind): a new peer beyond that replaces the
one seen longest ago, so spoofed senders cannot grow the book (the node's counters still count
every anomaly); a VIP's records go with the VIP (`forget`).
Must not: read the clock (instants are the `now` the node is given) or decide anything.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from carpd.core.actions import Anomaly, AnomalyKind
from carpd.core.addresses import Address
from carpd.core.clock import Instant

MAX_PEERS = 8  # records kept per (VIP, kind)


@dataclass(frozen=True, slots=True, kw_only=True)
class AnomalyRecord:
    name: str
    kind: AnomalyKind
    peer: Address | None
    rank: str
    first_at: Instant
    last_at: Instant
    count: int
    detail: str


class AnomalyBook:
    def __init__(self) -> None:
        self._records: dict[tuple[str, AnomalyKind], dict[Address | None, AnomalyRecord]] = {}

    def record(self, a: Anomaly, now: Instant) -> None:
        peers = self._records.setdefault((a.name, a.kind), {})
        old = peers.get(a.peer)
        if old is not None:
            peers[a.peer] = dataclasses.replace(old, last_at=now, count=old.count + 1,
                                                rank=a.rank or old.rank, detail=a.detail)
            return
        if len(peers) >= MAX_PEERS:
            del peers[min(peers.values(), key=lambda r: r.last_at).peer]
        peers[a.peer] = AnomalyRecord(name=a.name, kind=a.kind, peer=a.peer, rank=a.rank,
                                      first_at=now, last_at=now, count=1, detail=a.detail)

    def forget(self, name: str) -> None:
        for key in [k for k in self._records if k[0] == name]:
            del self._records[key]

    def statistics(self) -> tuple[AnomalyRecord, ...]:
        """Every record, by VIP and kind as first seen, then by first sighting."""
        return tuple(r for peers in self._records.values()
                     for r in sorted(peers.values(), key=lambda r: r.first_at))
