"""The CARP election profile: what one VHID speaks when its protocol is CARP (ucarp/BSD).

Owns: `CarpProfile`, the ElectionProfile of core/profile.py for CARP, and `CarpAdvert`, a
decoded and authenticated CARP advert. It keeps the replay counter (initial value injected;
+1 per advert sent; a valid received advert's counter is adopted, as ucarp and FreeBSD do)
and the last peer interval heard, and it maps the machine's Standing to CARP: the effective
advskew is advskew + demotions (at most 254), at least 240 while sends are suppressed.
Checks on receive, after the node has routed the datagram here: checksum over the 36 bytes,
then the HMAC (BSD rule, or ucarp's for the first IPv4 address: auth.py).
Rules: CARP.md 1-3 (wire, HMAC, timing and classifiers in election.py), 6.1 (bow-out
255/255), 6.2 (demotion raises advskew).
Must not: keep machine state, read the clock, or touch sockets.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from carpd.core.addresses import Address
from carpd.core.carp import auth, election, wire
from carpd.core.clock import Duration
from carpd.core.drops import DropReason, Rejected
from carpd.core.events import PacketReceived, PeerAdvert
from carpd.core.params import VipParams
from carpd.core.profile import ElectionProtocol, ElectionStatistics, Standing
from carpd.core.states import Reason, VhidInput

COUNTER_MASK = 0xFFFF_FFFF_FFFF_FFFF


@dataclass(frozen=True, slots=True, kw_only=True)
class CarpAdvert:
    source: Address
    advbase: int
    advskew: int
    counter: int
    demote: int = 0  # OpenBSD's demote byte: carried, ignored (as ucarp does)


class CarpProfile:
    """ElectionProfile for CARP. See the module docstring."""

    protocol = ElectionProtocol.CARP
    traffic_class = wire.CARP_TOS
    per_destination = False  # the HMAC and checksum do not cover the IP addresses
    farewell_on_step_down = True  # ucarp sends one last advert before it yields

    def __init__(self, params: VipParams, *, initial_counter: int) -> None:
        self._p = params
        self._counter = initial_counter & COUNTER_MASK
        self._peer: tuple[int, int] | None = None

    def retune(self, params: VipParams) -> None:
        self._p = params

    # -- receive ------------------------------------------------------------------------

    def decode(self, packet: PacketReceived) -> CarpAdvert:
        p, payload = self._p, packet.payload
        try:
            h = wire.decode_carp_header(payload)
        except wire.WireError as exc:
            raise Rejected(DropReason(exc.reason), exc.detail, source=packet.source,
                           name=p.name) from None
        if not wire.carp_checksum_ok(payload):
            raise Rejected(DropReason.BAD_CHECKSUM, "CARP checksum does not sum to zero",
                           h.vhid, packet.source, p.name)
        if not auth.verify_digest(p.password.reveal(), p.vhid, p.hosts, h.counter, h.digest):
            raise Rejected(DropReason.BAD_HMAC, "HMAC mismatch: check vhid, password and "
                           "addresses", h.vhid, packet.source, p.name)
        return CarpAdvert(source=packet.source, advbase=h.advbase, advskew=h.advskew,
                          counter=h.counter, demote=h.demote)

    def heard(self, advert: PeerAdvert) -> None:
        ad = _carp(advert)
        self._counter = ad.counter
        self._peer = (ad.advbase, ad.advskew)

    # -- send ---------------------------------------------------------------------------

    def encode(self, standing: Standing, *, source: Address, destination: Address,
               bow_out: bool = False) -> bytes:
        p = self._p
        base, skew = ((wire.BOW_OUT, wire.BOW_OUT) if bow_out
                      else (p.advbase, self.effective_advskew(standing)))
        self._counter = (self._counter + 1) & COUNTER_MASK
        digest = auth.compute_digest(p.password.reveal(), p.vhid, p.hosts, self._counter)
        return wire.encode_carp_header(wire.CarpHeader(
            vhid=p.vhid, advskew=skew, advbase=base, counter=self._counter, digest=digest))

    # -- election -----------------------------------------------------------------------

    def follow(self, advert: PeerAdvert | None) -> None:
        """CARP's timers are local: whom we follow changes none of them."""

    def starts_as_master(self, standing: Standing) -> bool:
        return False

    def resign_wait(self, standing: Standing) -> Duration:
        """A CARP bow-out is taken over at once (classified as PEER_TAKEOVER)."""
        return 0.0

    def effective_advskew(self, standing: Standing) -> int:
        return election.effective_advskew(self._p.advskew, standing.demotion,
                                          standing.send_suppressed)

    def advert_interval(self, standing: Standing) -> Duration:
        return election.advert_interval(self._p.advbase, self.effective_advskew(standing))

    def master_down_interval(self, standing: Standing) -> Duration:
        p = self._p
        return election.master_down_interval(p.advbase, p.deadratio,
                                             self.effective_advskew(standing))

    def resume_window(self, standing: Standing, since_advert: Duration) -> Duration | None:
        """Until advbase x deadratio after our last advert (a backup with advskew 0 waits
        that long), at most advbase + 254/256 (the slowest master): with advskew 0 a restart
        resumes within advbase x (deadratio - 1). Assumes the peers share advbase and
        deadratio, as a CARP cluster must for its timing to work at all."""
        p = self._p
        quiet = election.master_down_interval(p.advbase, p.deadratio, 0) - since_advert
        if quiet <= self.advert_interval(standing):
            return None
        return min(election.advert_interval(p.advbase, election.MAX_ADVSKEW), quiet)

    def classify_in_backup(self, advert: PeerAdvert, standing: Standing, *,
                           preempt: bool) -> tuple[VhidInput, Reason]:
        ad, p = _carp(advert), self._p
        return election.classify_in_backup(
            peer_base=ad.advbase, peer_skew=ad.advskew, own_base=p.advbase,
            own_skew=self.effective_advskew(standing), deadratio=p.deadratio, preempt=preempt)

    def classify_in_master(self, advert: PeerAdvert, standing: Standing,
                           own_source: Address) -> tuple[VhidInput, Reason]:
        ad = _carp(advert)
        return election.classify_in_master(
            peer_base=ad.advbase, peer_skew=ad.advskew, own_base=self._p.advbase,
            own_skew=self.effective_advskew(standing), peer_source=ad.source,
            own_source=own_source)

    def bowed_out(self, advert: PeerAdvert) -> bool:
        ad = _carp(advert)
        return (ad.advbase, ad.advskew) == (wire.BOW_OUT, wire.BOW_OUT)

    def yield_interval(self, advert: PeerAdvert) -> Duration:
        ad = _carp(advert)
        return election.advert_interval(ad.advbase, ad.advskew)

    def advertised(self, standing: Standing) -> Hashable:
        return (self._p.advbase, self.effective_advskew(standing))

    # -- words and figures --------------------------------------------------------------

    def describe_peer(self, advert: PeerAdvert) -> str:
        ad = _carp(advert)
        return f"advbase {ad.advbase} advskew {ad.advskew}"

    def describe_own(self, standing: Standing) -> str:
        return f"advskew {self.effective_advskew(standing)}"

    def statistics(self, standing: Standing, *, master_is_self: bool) -> ElectionStatistics:
        p, effective = self._p, self.effective_advskew(standing)
        master = (p.advbase, effective) if master_is_self else self._peer
        return ElectionStatistics(
            protocol=self.protocol,
            own=(("advbase", p.advbase), ("advskew", p.advskew),
                 ("effective_advskew", effective)),
            master=(("master_advbase", master[0] if master else None),
                    ("master_advskew", master[1] if master else None)))


def _carp(advert: PeerAdvert) -> CarpAdvert:
    if not isinstance(advert, CarpAdvert):
        raise TypeError(f"not a CARP advert: {advert!r}")
    return advert
