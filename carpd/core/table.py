"""THE transition table of a VHID: (state, input) -> (effect, next state), total over both enums.

Owns: `TRANSITIONS`. Every pair is listed, so nothing is handled by accident. Three kinds of
rows: a real transition or effect; `_ignore`, for input that is legitimate but changes
nothing in that state (an advert heard in INIT, a second Start); and `_impossible`, for pairs
the classifiers never produce (a timer the state does not arm, FAULT_CLEARED outside FAULT),
which raise: reaching one is a programming error, never network input.
Protocol sources: CARP.md 3.1-3.7 (ucarp git HEAD), 6.1 (OpenBSD bow-out, INIT on link loss).
Resume (carpd's own, no CARP source): INIT + RESUME -> MASTER silently for one advert
interval; RESUME_CONTESTED (any other master heard in it) -> BACKUP, RESUME_CONFIRMED (its end,
the first advert due) stays MASTER, announcing. See core/effects.py `_resume`.
VRRPv3 (RFC 5798 6.4): START_AS_OWNER (priority 255) is MASTER at once; PEER_RESIGNED (priority
0) makes a BACKUP wait Skew_Time and a MASTER advertise; PEER_DISCARDED is a lower-priority
advert a preempting BACKUP ignores. CARP's classifiers never produce these three.
Must not: hold logic; effects live in effects.py, classification in machine.py.
"""

from __future__ import annotations

from collections.abc import Callable

from carpd.core.actions import Action
from carpd.core.clock import Instant
from carpd.core.effects import Ctx, VhidEffects
from carpd.core.states import VhidInput, VhidState

Effect = Callable[[VhidEffects, Instant, Ctx], list[Action]]

_I, _B, _M, _F = VhidState.INIT, VhidState.BACKUP, VhidState.MASTER, VhidState.FAULT
V = VhidInput
E = VhidEffects

TRANSITIONS: dict[tuple[VhidState, VhidInput], tuple[Effect, VhidState]] = {
    (_I, V.START): (E._enter_backup, _B),
    (_I, V.LINK_UP): (E._enter_backup, _B),
    (_I, V.LINK_DOWN): (E._ignore, _I),
    (_I, V.ADVERT_DUE): (E._impossible, _I),  # INIT arms no timer
    (_I, V.MASTER_DOWN_DUE): (E._impossible, _I),
    (_I, V.PEER_PREFERRED): (E._ignore, _I),
    (_I, V.PEER_NOT_PREFERRED): (E._ignore, _I),
    (_I, V.PEER_TAKEOVER): (E._ignore, _I),
    (_I, V.DEMOTION_CHANGED): (E._ignore, _I),
    (_I, V.SEND_FAILED): (E._count_send_failure, _I),
    (_I, V.SEND_OK): (E._count_send, _I),
    (_I, V.ADDRESS_FAILED): (E._count_address_failure, _I),
    (_I, V.SHUTDOWN): (E._ignore, _I),
    (_I, V.FAULTED): (E._enter_fault, _F),  # Start/link-up while a fault is set
    (_I, V.FAULT_CLEARED): (E._impossible, _I),  # INIT only keeps the fault set
    (_I, V.RETUNED): (E._retune_idle, _I),
    (_I, V.RESUME): (E._resume, _M),  # a restart while our adverts still hold the peers
    (_I, V.RESUME_CONTESTED): (E._impossible, _I),  # only a resuming MASTER
    (_I, V.RESUME_CONFIRMED): (E._impossible, _I),
    (_I, V.START_AS_OWNER): (E._become_master, _M),  # VRRP priority 255 (RFC 5798 6.4.1)
    (_I, V.PEER_RESIGNED): (E._ignore, _I),
    (_I, V.PEER_DISCARDED): (E._ignore, _I),

    (_B, V.START): (E._ignore, _B),
    (_B, V.LINK_UP): (E._ignore, _B),
    (_B, V.LINK_DOWN): (E._go_init, _I),
    (_B, V.ADVERT_DUE): (E._impossible, _B),  # BACKUP arms the master-down timer only
    (_B, V.MASTER_DOWN_DUE): (E._become_master, _M),
    (_B, V.PEER_PREFERRED): (E._follow_master, _B),
    (_B, V.PEER_NOT_PREFERRED): (E._follow_master, _B),
    (_B, V.PEER_TAKEOVER): (E._become_master, _M),
    (_B, V.DEMOTION_CHANGED): (E._ignore, _B),
    (_B, V.SEND_FAILED): (E._count_send_failure, _B),
    (_B, V.SEND_OK): (E._count_send, _B),
    (_B, V.ADDRESS_FAILED): (E._count_address_failure, _B),
    (_B, V.SHUTDOWN): (E._go_init, _I),
    (_B, V.FAULTED): (E._enter_fault, _F),
    (_B, V.FAULT_CLEARED): (E._impossible, _B),  # BACKUP has no fault
    (_B, V.RETUNED): (E._retune_backup, _B),
    (_B, V.RESUME): (E._impossible, _B),  # RESUME is classified in INIT only
    (_B, V.RESUME_CONTESTED): (E._impossible, _B),
    (_B, V.RESUME_CONFIRMED): (E._impossible, _B),
    (_B, V.START_AS_OWNER): (E._ignore, _B),
    (_B, V.PEER_RESIGNED): (E._await_resigned, _B),  # VRRP: Master_Down := Skew_Time
    (_B, V.PEER_DISCARDED): (E._ignore, _B),  # VRRP: preempt, lower priority (6.4.2)

    (_M, V.START): (E._ignore, _M),
    (_M, V.LINK_UP): (E._ignore, _M),
    (_M, V.LINK_DOWN): (E._go_init, _I),
    (_M, V.ADVERT_DUE): (E._advertise_on_schedule, _M),
    (_M, V.MASTER_DOWN_DUE): (E._impossible, _M),  # MASTER arms the advert timer only
    (_M, V.PEER_PREFERRED): (E._step_down, _B),
    (_M, V.PEER_NOT_PREFERRED): (E._reassert, _M),
    (_M, V.PEER_TAKEOVER): (E._ignore, _M),
    (_M, V.DEMOTION_CHANGED): (E._advertise, _M),
    (_M, V.SEND_FAILED): (E._count_send_failure, _M),
    (_M, V.SEND_OK): (E._count_send, _M),
    (_M, V.ADDRESS_FAILED): (E._count_address_failure, _M),
    (_M, V.SHUTDOWN): (E._bow_out, _I),
    (_M, V.FAULTED): (E._bow_out, _F),  # the shutdown bow-out: the peer takes over at once
    (_M, V.FAULT_CLEARED): (E._impossible, _M),  # MASTER has no fault
    (_M, V.RETUNED): (E._retune_master, _M),
    (_M, V.RESUME): (E._impossible, _M),
    (_M, V.RESUME_CONTESTED): (E._yield_resumed, _B),  # any master before our first advert
    (_M, V.RESUME_CONFIRMED): (E._confirm_resume, _M),  # the window passed: announce, advert
    (_M, V.START_AS_OWNER): (E._ignore, _M),
    (_M, V.PEER_RESIGNED): (E._advertise, _M),  # VRRP: advertise at once (6.4.3)
    (_M, V.PEER_DISCARDED): (E._impossible, _M),  # a MASTER's classifier never discards

    (_F, V.START): (E._ignore, _F),
    (_F, V.LINK_UP): (E._ignore, _F),
    (_F, V.LINK_DOWN): (E._go_init, _I),
    (_F, V.ADVERT_DUE): (E._impossible, _F),  # FAULT arms no timer
    (_F, V.MASTER_DOWN_DUE): (E._impossible, _F),
    (_F, V.PEER_PREFERRED): (E._note_master, _F),
    (_F, V.PEER_NOT_PREFERRED): (E._note_master, _F),
    (_F, V.PEER_TAKEOVER): (E._note_master, _F),  # a master we would beat, or its bow-out
    (_F, V.DEMOTION_CHANGED): (E._ignore, _F),
    (_F, V.SEND_FAILED): (E._count_send_failure, _F),
    (_F, V.SEND_OK): (E._count_send, _F),
    (_F, V.ADDRESS_FAILED): (E._count_address_failure, _F),
    (_F, V.SHUTDOWN): (E._go_init, _I),
    (_F, V.FAULTED): (E._ignore, _F),
    (_F, V.FAULT_CLEARED): (E._enter_backup, _B),
    (_F, V.RETUNED): (E._retune_idle, _F),  # no timers; a cleared last fault follows
    (_F, V.RESUME): (E._impossible, _F),
    (_F, V.RESUME_CONTESTED): (E._impossible, _F),
    (_F, V.RESUME_CONFIRMED): (E._impossible, _F),
    (_F, V.START_AS_OWNER): (E._ignore, _F),
    (_F, V.PEER_RESIGNED): (E._note_master, _F),
    (_F, V.PEER_DISCARDED): (E._note_master, _F),
}
