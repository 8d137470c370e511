"""The transition record of `carpctl history`: masters before and after, the takeover rule,
and what was behind a change in words."""

from __future__ import annotations

import ipaddress
from typing import Any

from carpd.core.actions import StateChanged, VhidState
from carpd.core.states import Reason
from carpd.status.transitions import SELF, record_of, transition_json

LOST = ipaddress.IPv4Address("172.16.90.102")
INIT, BACKUP, MASTER, FAULT = VhidState.INIT, VhidState.BACKUP, VhidState.MASTER, VhidState.FAULT


def change(old: VhidState, new: VhidState, reason: Reason, **kw: Any) -> StateChanged:
    return StateChanged(name="web", vhid=1, interface="eth0", old=old, new=new, reason=reason,
                        **kw)


def iso(at: float) -> str:
    return f"@{at:g}"


def test_a_silent_master_taken_over_is_a_takeover_with_its_gap() -> None:
    r = record_of(change(BACKUP, MASTER, Reason.MASTER_DOWN_TIMER, last_master=LOST,
                         last_master_heard_at=10.0, rank="advskew 100"), 13.39, iso)
    assert (r.master_before, r.master_after, r.last_heard, r.last_heard_before_s) == (
        str(LOST), SELF, "@10", 3.39)
    assert r.took_over
    assert transition_json(r)["master_last_heard_before_s"] == 3.39


def test_a_bow_out_or_an_unknown_master_is_no_takeover() -> None:
    bowed = record_of(change(BACKUP, MASTER, Reason.PEER_BOWED_OUT, last_master=LOST,
                             last_master_heard_at=10.0), 10.5, iso)
    assert bowed.master_before == str(LOST) and not bowed.took_over
    nobody = record_of(change(BACKUP, MASTER, Reason.MASTER_DOWN_TIMER), 3.0, iso)
    assert (nobody.master_before, nobody.took_over) == (None, False)


def test_masters_after_a_step_down_a_fault_and_link_loss() -> None:
    down = record_of(change(MASTER, BACKUP, Reason.PREFERRED_MASTER_HEARD, peer=LOST), 1.0, iso)
    assert (down.master_before, down.master_after) == (SELF, str(LOST))
    faulted = record_of(change(BACKUP, FAULT, Reason.FAULT, cause="check:db", last_master=LOST,
                               last_master_heard_at=0.5), 1.0, iso)
    assert (faulted.master_before, faulted.master_after) == (str(LOST), str(LOST))
    assert faulted.behind == "fatal check db failing"
    gone = record_of(change(MASTER, INIT, Reason.LINK_DOWN), 1.0, iso)
    assert (gone.master_before, gone.master_after) == (SELF, None)


def test_behind_names_each_demotion_in_words() -> None:
    r = record_of(change(MASTER, BACKUP, Reason.PREFERRED_MASTER_HEARD, peer=LOST,
                         demotions=(("check:nginx", 100), ("hold_down", 240),
                                    ("maintenance", 254), ("operator", 20),
                                    ("sync_group", 240))), 1.0, iso)
    assert r.behind == ("check nginx failing (+100); boot hold-down (+240); maintenance mode "
                        "(+254); operator demotion (+20); sync group member down (+240)")
