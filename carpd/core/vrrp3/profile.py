"""The VRRPv3 election profile: what one virtual router speaks when its protocol is "vrrp3".

Owns: `Vrrp3Profile`, the ElectionProfile of core/profile.py for RFC 5798, and `Vrrp3Advert`,
a decoded, checksum-verified advert. It keeps Master_Adver_Interval (learned from the master
we follow, our own interval when we follow none: `follow`), and the last peer heard (for
status), and it maps the machine's Standing to VRRP: the effective priority is the configured
one minus the demotions (at least 1), 1 while sends are suppressed.
Checks on receive, after the node has routed the datagram here (RFC 5798 7.1; the TTL and the
path are accept.py's): version 3, type 1, a complete message for its address count, a
non-zero interval, then the checksum, accepted in the forms `vrrp_checksum` allows
(wire.checksum_form: the real destination, the group, and message-only with "accept-both");
the form each advert used is counted. The address list is not compared (a MAY in the RFC;
FRR does not either), so a peer with one more VIP still interoperates.
Sending: the RFC 5798 form (IPv4 pseudo-header with the real destination, as keepalived
after 1.3.6) unless `vrrp_checksum = "rfc9568"`; the bow-out is priority 0; IPv6 adverts
carry the VIP's IPv6 addresses in configured order.
Timers (election.py, exact microseconds): our advert interval; master-down =
3 x Master_Adver_Interval + Skew_Time of our effective priority; after a priority-0 advert
a backup waits Skew_Time only.
Must not: keep machine state, read the clock, or touch sockets.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass

from carpd.core.addresses import Address
from carpd.core.clock import Duration
from carpd.core.drops import DropReason, Rejected
from carpd.core.events import PacketReceived, PeerAdvert
from carpd.core.params import VipParams
from carpd.core.profile import ElectionProtocol, ElectionStatistics, Standing
from carpd.core.states import Reason, VhidInput
from carpd.core.vrrp3 import election, wire

USEC = 1_000_000
CS = 100  # centiseconds per second


@dataclass(frozen=True, slots=True, kw_only=True)
class Vrrp3Advert:
    source: Address
    priority: int
    interval_cs: int
    addresses: tuple[Address, ...]
    form: wire.ChecksumForm


class Vrrp3Profile:
    """ElectionProfile for VRRPv3. See the module docstring."""

    protocol = ElectionProtocol.VRRP3
    traffic_class = wire.VRRP_TOS
    per_destination = True  # the pseudo-header holds the destination
    farewell_on_step_down = False  # RFC 5798 6.4.3: a master that yields just listens

    def __init__(self, params: VipParams) -> None:
        self._p = params
        self._learned_cs: int | None = None  # the followed master's interval; None: ours
        self._peer: tuple[int, int] | None = None  # (priority, interval) last heard
        self.checksum_forms: Counter[str] = Counter()

    def retune(self, params: VipParams) -> None:
        self._p = params

    # -- receive ------------------------------------------------------------------------

    def decode(self, packet: PacketReceived) -> Vrrp3Advert:
        p, payload = self._p, packet.payload
        try:
            h = wire.decode_vrrp3(payload, packet.family)
        except wire.WireError as exc:
            raise Rejected(DropReason(exc.reason), exc.detail, payload[1], packet.source,
                           p.name) from None
        form = wire.checksum_form(payload, packet.source, packet.destination,
                                  message_only=p.vrrp_checksum != "rfc5798")
        if form is None:
            raise Rejected(DropReason.BAD_CHECKSUM, _checksum_hint(p.vrrp_checksum),
                           h.vrid, packet.source, p.name)
        self.checksum_forms[form.value] += 1
        return Vrrp3Advert(source=packet.source, priority=h.priority,
                           interval_cs=h.interval_cs, addresses=h.addresses, form=form)

    def heard(self, advert: PeerAdvert) -> None:
        ad = _vrrp(advert)
        self._peer = (ad.priority, ad.interval_cs)

    def follow(self, advert: PeerAdvert | None) -> None:
        self._learned_cs = None if advert is None else _vrrp(advert).interval_cs

    @property
    def _master_interval_cs(self) -> int:
        """Master_Adver_Interval: the followed master's, or our own while we follow none."""
        return self._p.advert_interval_cs if self._learned_cs is None else self._learned_cs

    # -- send ---------------------------------------------------------------------------

    def encode(self, standing: Standing, *, source: Address, destination: Address,
               bow_out: bool = False) -> bytes:
        p = self._p
        priority = wire.PRIORITY_RESIGN if bow_out else self.effective_priority(standing)
        form = (wire.ChecksumForm.MESSAGE_ONLY if p.vrrp_checksum == "rfc9568"
                else wire.ChecksumForm.PSEUDO_HEADER)
        header = wire.Vrrp3Header(vrid=p.vhid, priority=priority,
                                  interval_cs=p.advert_interval_cs, addresses=p.hosts)
        return wire.encode_vrrp3(header, source=source, destination=destination, form=form)

    # -- election -----------------------------------------------------------------------

    def effective_priority(self, standing: Standing) -> int:
        return election.effective_priority(self._p.priority, standing.demotion,
                                           standing.send_suppressed)

    def advert_interval(self, standing: Standing) -> Duration:
        return self._p.advert_interval_cs / CS

    def master_down_interval(self, standing: Standing) -> Duration:
        return election.master_down_usec(self.effective_priority(standing),
                                         self._master_interval_cs) / USEC

    def resign_wait(self, standing: Standing) -> Duration:
        return election.skew_usec(self.effective_priority(standing),
                                  self._master_interval_cs) / USEC

    def starts_as_master(self, standing: Standing) -> bool:
        return self.effective_priority(standing) == wire.PRIORITY_OWNER

    def resume_window(self, standing: Standing, since_advert: Duration) -> Duration | None:
        """At most our own advert interval, and over before the quickest backup with our
        interval (priority 254) times us out: 3 intervals + its skew after our last advert."""
        own_cs = self._p.advert_interval_cs
        quiet = election.master_down_usec(election.MAX_BACKUP_PRIORITY, own_cs) / USEC \
            - since_advert
        own = own_cs / CS
        return None if quiet <= own else min(own, quiet)

    def classify_in_backup(self, advert: PeerAdvert, standing: Standing, *,
                           preempt: bool) -> tuple[VhidInput, Reason]:
        return election.classify_in_backup(peer_priority=_vrrp(advert).priority,
                                           own_priority=self.effective_priority(standing),
                                           preempt=preempt)

    def classify_in_master(self, advert: PeerAdvert, standing: Standing,
                           own_source: Address) -> tuple[VhidInput, Reason]:
        ad = _vrrp(advert)
        return election.classify_in_master(
            peer_priority=ad.priority, own_priority=self.effective_priority(standing),
            peer_source=ad.source, own_source=own_source)

    def bowed_out(self, advert: PeerAdvert) -> bool:
        return _vrrp(advert).priority == wire.PRIORITY_RESIGN

    def yield_interval(self, advert: PeerAdvert) -> Duration:
        return _vrrp(advert).interval_cs / CS

    def advertised(self, standing: Standing) -> Hashable:
        return (self.effective_priority(standing), self._p.advert_interval_cs)

    # -- words and figures --------------------------------------------------------------

    def describe_peer(self, advert: PeerAdvert) -> str:
        ad = _vrrp(advert)
        return f"priority {ad.priority} interval {ad.interval_cs * 10} ms"

    def describe_own(self, standing: Standing) -> str:
        return f"priority {self.effective_priority(standing)}"

    def statistics(self, standing: Standing, *, master_is_self: bool) -> ElectionStatistics:
        p, effective = self._p, self.effective_priority(standing)
        master = (effective, p.advert_interval_cs) if master_is_self else self._peer
        return ElectionStatistics(
            protocol=self.protocol,
            own=(("priority", p.priority), ("effective_priority", effective),
                 ("advert_interval_cs", p.advert_interval_cs),
                 ("master_down_interval_ms",
                  election.master_down_usec(effective, self._master_interval_cs) // 1000)),
            master=(("master_priority", master[0] if master else None),
                    ("master_adver_interval_cs", master[1] if master else None)),
            received_forms=tuple(sorted(self.checksum_forms.items())))


def _checksum_hint(mode: str) -> str:
    if mode == "rfc5798":
        return ("VRRPv3 checksum matches neither pseudo-header form (a Cisco/Arista peer "
                "sums the message only: set vrrp_checksum = \"accept-both\")")
    return "VRRPv3 checksum matches no form"


def _vrrp(advert: PeerAdvert) -> Vrrp3Advert:
    if not isinstance(advert, Vrrp3Advert):
        raise TypeError(f"not a VRRPv3 advert: {advert!r}")
    return advert
