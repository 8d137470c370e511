"""The journal record of a transition: a takeover names the master it lost and when that was
last heard (message and fields); other transitions keep their short form."""

from __future__ import annotations

import ipaddress

from carpd.core.actions import StateChanged, VhidState
from carpd.core.states import Reason
from carpd.status import messages as msg

LOST = ipaddress.IPv4Address("172.16.90.102")


def iso(at: float) -> str:
    return f"@{at:g}"


def test_takeover_record_names_the_lost_master_and_when_it_was_heard() -> None:
    a = StateChanged(name="web", vhid=1, interface="eth0", old=VhidState.BACKUP,
                     new=VhidState.MASTER, reason=Reason.MASTER_DOWN_TIMER, last_master=LOST,
                     last_master_heard_at=100.0, rank="advskew 100")
    prio, text, fields = msg.state_changed(a, 103.5, iso)
    assert prio == msg.NOTICE
    assert text == ("vip web: BACKUP -> MASTER (master_down_timer); took over from master "
                    "172.16.90.102, last heard @100 (3.5 s before)")
    assert fields["CARP_LOST_MASTER"] == LOST
    assert fields["CARP_LOST_MASTER_HEARD"] == "@100"
    assert (fields["MESSAGE_ID"], fields["CARP_RANK"]) == (msg.STATE_CHANGED, "advskew 100")


def test_other_transitions_keep_their_short_form_without_lost_master_fields() -> None:
    a = StateChanged(name="web", vhid=1, interface="eth0", old=VhidState.INIT,
                     new=VhidState.BACKUP, reason=Reason.START)
    prio, text, fields = msg.state_changed(a, 1.0, iso)
    assert (prio, text) == (msg.INFO, "vip web: INIT -> BACKUP (start)")
    assert "CARP_LOST_MASTER" not in fields
    assert fields["CARP_RANK"] is None  # no rank given: the field is left out of the record


def test_a_master_that_bowed_out_is_no_silent_takeover() -> None:
    """Its bow-out was heard just now: the record does not say "last heard" of its adverts."""
    a = StateChanged(name="web", vhid=1, interface="eth0", old=VhidState.BACKUP,
                     new=VhidState.MASTER, reason=Reason.PEER_BOWED_OUT, last_master=LOST,
                     last_master_heard_at=100.0)
    _, text, fields = msg.state_changed(a, 100.4, iso)
    assert text == "vip web: BACKUP -> MASTER (peer_bowed_out)"
    assert "CARP_LOST_MASTER" not in fields
