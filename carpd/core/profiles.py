"""Which election profile a VIP runs: the one registry of protocol profiles.

Owns: `make_profile(params, initial_counter)` and `protocol_of(params)`: `params.protocol`
("carp" or "vrrp3") picks CARP's profile (the counter seeds its replay counter) or
VRRPv3's. A new protocol is added here (and nowhere else in the machine or the node).
Must not: hold protocol logic.
"""

from __future__ import annotations

from carpd.core.carp.profile import CarpProfile
from carpd.core.params import VipParams
from carpd.core.profile import ElectionProfile, ElectionProtocol
from carpd.core.vrrp3.profile import Vrrp3Profile


def make_profile(params: VipParams, *, initial_counter: int) -> ElectionProfile:
    if protocol_of(params) is ElectionProtocol.VRRP3:
        return Vrrp3Profile(params)
    return CarpProfile(params, initial_counter=initial_counter)


def protocol_of(params: VipParams) -> ElectionProtocol:
    return ElectionProtocol(params.protocol)
