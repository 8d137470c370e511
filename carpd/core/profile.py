"""The seam between the per-VHID machine and an election protocol (CARP now, VRRPv3 next).

Owns: the `ElectionProfile` protocol, `Standing` (what the machine knows of its own rank:
the sum of its named demotions and whether sends are suppressed), `PeerAdvert` (a decoded,
authenticated advert as the machine passes it back to its profile) and `ElectionProtocol`.
How it works: the machine keeps states, timers, demotions and the one transition table; for
everything that differs between protocols it asks its profile: decoding and authenticating a
received advert, encoding its own (replay counter and HMAC included), the advert and
master-down intervals, which input a peer's advert is in BACKUP and in MASTER (with the
tie-break), the bow-out advert, and how a demotion changes what is advertised (CARP raises
advskew, VRRP lowers the priority). The profile also has the words for status and logs, so
nothing outside it names advbase, advskew, priority, the HMAC or the counter.
Must not: keep machine state (states, timers), read the clock or touch sockets.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Protocol

from carpd.core.addresses import Address
from carpd.core.clock import Duration
from carpd.core.events import PacketReceived, PeerAdvert
from carpd.core.params import VipParams
from carpd.core.states import Reason, VhidInput


class ElectionProtocol(enum.Enum):
    CARP = "carp"
    VRRP3 = "vrrp3"


MAX_DEMOTION = 254  # the largest single demotion (operator, maintenance): below a bow-out
HOLD_DOWN_DEMOTION = 240  # the boot hold-down, and what a member that cannot serve lends its
# sync group (FreeBSD's 240): in any protocol, enough to lose to every undemoted peer


@dataclass(frozen=True, slots=True)
class Standing:
    demotion: int  # the sum of the named demotions (check:web, operator, hold_down, ...)
    send_suppressed: bool  # three failed sends in a row, until three succeed


@dataclass(frozen=True, slots=True, kw_only=True)
class ElectionStatistics:
    """The profile's figures for status: status keys with values, in rendering order.
    `own` is our rank (CARP: advbase, advskew, effective_advskew), `master` the master's
    (CARP: master_advbase, master_advskew; ours while we are master, else the last peer
    heard, None before any)."""

    protocol: ElectionProtocol
    own: tuple[tuple[str, int], ...]
    master: tuple[tuple[str, int | None], ...]
    received_forms: tuple[tuple[str, int], ...] = ()  # VRRP: accepted adverts per checksum form


class ElectionProfile(Protocol):
    protocol: ElectionProtocol
    traffic_class: int  # the IPv4 TOS / IPv6 traffic class of our adverts

    def retune(self, params: VipParams) -> None:
        """Take new tunable settings (a reload)."""

    def decode(self, packet: PacketReceived) -> PeerAdvert:
        """Check and authenticate a datagram already routed to this VIP; raises
        drops.Rejected (bad checksum, bad HMAC...)."""

    def heard(self, advert: PeerAdvert) -> None:
        """A valid advert was accepted: follow its replay counter, remember its rank."""

    per_destination: bool  # the payload depends on each destination (VRRPv3's checksum)
    farewell_on_step_down: bool  # a MASTER that yields sends one last advert (CARP)

    def encode(self, standing: Standing, *, source: Address, destination: Address,
               bow_out: bool = False) -> bytes:
        """Our next advert's payload from `source` to `destination` (a bow-out tells peers
        to take over: CARP at once, VRRP after Skew_Time)."""

    def follow(self, advert: PeerAdvert | None) -> None:
        """The machine now follows `advert`'s sender as its master (VRRP adopts its
        Master_Adver_Interval), or none (None: entering BACKUP from INIT or FAULT)."""

    def starts_as_master(self, standing: Standing) -> bool:
        """Start goes straight to MASTER (the VRRP address owner, priority 255)."""

    def resign_wait(self, standing: Standing) -> Duration:
        """How long a BACKUP waits after its master resigned (VRRP: Skew_Time)."""

    def advert_interval(self, standing: Standing) -> Duration: ...

    def master_down_interval(self, standing: Standing) -> Duration:
        """From the master's last advert to our takeover (VRRP: from the master's learned
        interval)."""

    def resume_window(self, standing: Standing, since_advert: Duration) -> Duration | None:
        """A restarted node whose last advert as MASTER was `since_advert` ago: how long it
        may hold the VIP silently, listening for another master, before its first advert.
        The longest advert interval any master can have (so a slower master that took over
        is heard), but never past the shortest master-down interval a peer with our settings
        can have. None when that leaves less than our own advert interval: too late to
        resume (start as BACKUP)."""

    def classify_in_backup(self, advert: PeerAdvert, standing: Standing, *,
                           preempt: bool) -> tuple[VhidInput, Reason]: ...

    def classify_in_master(self, advert: PeerAdvert, standing: Standing,
                           own_source: Address) -> tuple[VhidInput, Reason]: ...

    def bowed_out(self, advert: PeerAdvert) -> bool:
        """The advert is a bow-out (CARP 255/255, VRRP priority 0): its sender is leaving."""

    def yield_interval(self, advert: PeerAdvert) -> Duration:
        """How long a master that this advert says is worse than us takes to hear us and
        yield (its own advert interval): after that, still hearing it is a dual master."""

    def advertised(self, standing: Standing) -> Hashable:
        """What our adverts say about our rank: when it changes, a MASTER advertises at once."""

    def describe_peer(self, advert: PeerAdvert) -> str:
        """The advert's rank in the protocol's words ("advbase 1 advskew 100")."""

    def describe_own(self, standing: Standing) -> str:
        """Our rank in the protocol's words ("advskew 0")."""

    def statistics(self, standing: Standing, *, master_is_self: bool) -> ElectionStatistics:
        ...
