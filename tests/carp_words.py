"""CARP's figures of a machine or its statistics, for tests: the machine itself knows no
advskew (its CARP profile does), so tests read them where status reads them."""

from __future__ import annotations

from carpd.core.carp.profile import CarpProfile
from carpd.core.machine import VhidMachine
from carpd.core.stats import VhidStatistics


def effective_advskew(x: VhidMachine | VhidStatistics) -> int:
    if isinstance(x, VhidMachine):
        assert isinstance(x.profile, CarpProfile)
        return x.profile.effective_advskew(x.standing)
    return dict(x.election.own)["effective_advskew"]

def stat(s: VhidStatistics, key: str) -> int | None:
    """A CARP status figure: advbase, advskew, effective_advskew, master_advbase/advskew."""
    return dict((*s.election.own, *s.election.master))[key]
