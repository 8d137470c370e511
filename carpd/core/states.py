"""The closed sets of the per-VHID machine: its states, its inputs and the reasons it gives.

Owns: `VhidState`, `VhidInput` (what an event means to the machine, after classification),
`Reason` (why a machine is in its state: the stable words of journald's CARP_REASON, of
`carpctl status` and of explain) and `reason_code`, which renders a reason with its cause
("fault" + "check:db" -> "fault_check:db").
Invariant: the string values never change once released: operators' alerts match on them.
Must not: hold logic.
"""

from __future__ import annotations

import enum


class VhidState(enum.Enum):
    INIT = "INIT"
    BACKUP = "BACKUP"
    MASTER = "MASTER"
    FAULT = "FAULT"  # a fatal check fails: released, silent, deaf until it passes


class VhidInput(enum.Enum):
    START = "start"
    ADVERT_DUE = "advert_due"
    MASTER_DOWN_DUE = "master_down_due"
    PEER_PREFERRED = "peer_preferred"
    PEER_NOT_PREFERRED = "peer_not_preferred"
    PEER_TAKEOVER = "peer_takeover"
    LINK_DOWN = "link_down"
    LINK_UP = "link_up"
    DEMOTION_CHANGED = "demotion_changed"
    SEND_FAILED = "send_failed"
    SEND_OK = "send_ok"
    ADDRESS_FAILED = "address_failed"
    SHUTDOWN = "shutdown"
    FAULTED = "faulted"  # a fault began (or Start/link-up while one is set)
    FAULT_CLEARED = "fault_cleared"  # the last fault ended
    RETUNED = "retuned"  # a reload changed tunable settings in place (VhidMachine.retune)
    RESUME = "resume"  # a restart finds this VIP was MASTER a moment ago (Resume, fresh)
    RESUME_CONTESTED = "resume_contested"  # another master heard before our first advert
    RESUME_CONFIRMED = "resume_confirmed"  # the first advert after resuming is due
    START_AS_OWNER = "start_as_owner"  # Start for a VRRP address owner (priority 255)
    PEER_RESIGNED = "peer_resigned"  # a VRRP master advertised priority 0
    PEER_DISCARDED = "peer_discarded"  # a VRRP advert a preempting BACKUP ignores


class Reason(enum.StrEnum):
    """Why the machine took its last step. The election reasons are the profile's words for
    what an advert meant (a CARP profile and a VRRP one share the vocabulary)."""

    CONFIGURED = "configured"
    START = "start"
    SHUTDOWN = "shutdown"
    LINK_UP = "link_up"
    LINK_DOWN = "link_down"
    MASTER_DOWN_TIMER = "master_down_timer"  # IPv4's timer (or the only one)
    MASTER_DOWN_TIMER_INET6 = "master_down_timer_inet6"  # IPv6's master-down timer expired
    PEER_BOWED_OUT = "peer_bowed_out"
    PEER_PREFERRED = "peer_preferred"
    PREEMPTED_SLOWER_MASTER = "preempted_slower_master"
    MASTER_GOING_TO_TIME_OUT = "master_going_to_time_out"
    SLOWER_MASTER_TOLERATED = "slower_master_tolerated"
    PREFERRED_MASTER_HEARD = "preferred_master_heard"
    SLOWER_MASTER_HEARD = "slower_master_heard"
    EQUAL_MASTER_TIE_BREAK_LOST = "equal_master_tie_break_lost"
    EQUAL_MASTER_TIE_BREAK_WON = "equal_master_tie_break_won"
    DEMOTION = "demotion"  # with the demotion's source as cause
    FAULT = "fault"  # with the first fault's source as cause
    FAULT_CLEARED = "fault_cleared"
    RETUNED = "retuned"
    RESUMED = "resumed"  # INIT -> MASTER at start: MASTER a moment before the restart
    MASTER_HEARD_WHILE_RESUMING = "master_heard_while_resuming"  # yielded before advertising
    ADDRESS_OWNER = "address_owner"  # VRRP priority 255: MASTER at start
    LOWER_PRIORITY_DISCARDED = "lower_priority_discarded"  # VRRP: a preempting backup's view


def reason_code(reason: Reason, cause: str | None = None) -> str:
    """The reason as operators read it: "peer_bowed_out", "fault_check:db"."""
    return reason.value if cause is None else f"{reason.value}_{cause}"
