"""Which election profile a VIP runs: the one registry of protocol profiles.

Owns: `make_profile(params, initial_counter)` and `protocol_of(params)`. Every VIP speaks
CARP today; a VRRPv3 profile is added here (and nowhere else in the machine or the node).
Must not: hold protocol logic.
"""

from __future__ import annotations

from carpd.core.carp.profile import CarpProfile
from carpd.core.params import VipParams
from carpd.core.profile import ElectionProfile, ElectionProtocol


def make_profile(params: VipParams, *, initial_counter: int) -> ElectionProfile:
    return CarpProfile(params, initial_counter=initial_counter)


def protocol_of(params: VipParams) -> ElectionProtocol:
    return ElectionProtocol.CARP
