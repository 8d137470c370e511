"""One transition as `carpctl history` and the takeover notes show it: `TransitionRecord`.

Owns: the frozen record of one StateChanged at the instant it happened (`record_of`), with
what an operator asks after an incident: the time (ISO 8601 with its zone), the VIP, the
states, the reason, the master before and after (SELF for this node), for a change away from
a peer master when that master's last advert was heard, our rank afterwards in the protocol's
words, the demotions in force and `behind`: the check or operator action that moved us (a
fault's check, or the named demotions in words); and its JSON form (`transition_json`).
Invariants: `master_before`/`master_after` are an address, SELF or None (not known); a
takeover (`took_over`) is a change to MASTER from BACKUP because a known peer master went
silent (a master-down timer ran out).
Must not: read a clock (the caller passes the instant and the wall-clock conversion) or keep
records (carpd/ops/history.py keeps the bounded ring).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from carpd.core.actions import StateChanged, VhidState
from carpd.core.machine import HOLD_DOWN, SYNC_GROUP
from carpd.core.policy.demotions import OPERATOR
from carpd.core.policy.maintenance import MAINTENANCE
from carpd.core.states import Reason

SELF = "self"  # master_before/master_after: this node
MASTER_WENT_SILENT = frozenset({Reason.MASTER_DOWN_TIMER.value,
                                Reason.MASTER_DOWN_TIMER_INET6.value})
_DEMOTION_WORDS = {OPERATOR: "operator demotion", MAINTENANCE: "maintenance mode",
                   HOLD_DOWN: "boot hold-down", SYNC_GROUP: "sync group member down"}


@dataclass(frozen=True, slots=True, kw_only=True)
class TransitionRecord:
    at: float  # monotonic
    time: str  # ISO 8601, with its zone
    vip: str
    vhid: int
    interface: str
    old: VhidState
    new: VhidState
    reason: str
    peer: str | None
    master_before: str | None
    master_after: str | None
    last_heard: str | None  # when master_before (a peer) was last heard, ISO 8601
    last_heard_before_s: float | None  # ... how long before this transition
    rank: str
    demotions: tuple[tuple[str, int], ...]
    behind: str  # the check or operator action that moved us ("" when none did)

    @property
    def took_over(self) -> bool:
        return (self.old is VhidState.BACKUP and self.new is VhidState.MASTER
                and self.reason in MASTER_WENT_SILENT
                and self.master_before not in (None, SELF))


def record_of(a: StateChanged, at: float, wall_iso: Callable[[float], str]) -> TransitionRecord:
    """The record of `a`, which happened at the monotonic instant `at`."""
    heard_at = a.last_master_heard_at
    return TransitionRecord(
        at=at, time=wall_iso(at), vip=a.name, vhid=a.vhid, interface=a.interface,
        old=a.old, new=a.new, reason=a.reason_code,
        peer=None if a.peer is None else str(a.peer),
        master_before=_before(a), master_after=_after(a),
        last_heard=None if heard_at is None else wall_iso(heard_at),
        last_heard_before_s=None if heard_at is None else round(at - heard_at, 3),
        rank=a.rank, demotions=a.demotions, behind=behind(a))


def _before(a: StateChanged) -> str | None:
    if a.old is VhidState.MASTER:
        return SELF
    return None if a.last_master is None else str(a.last_master)


def _after(a: StateChanged) -> str | None:
    if a.new is VhidState.MASTER:
        return SELF
    if a.peer is not None:
        return str(a.peer)
    if a.new is VhidState.FAULT and a.old is not VhidState.MASTER and a.last_master:
        return str(a.last_master)  # a backup that faulted: the master did not change
    return None


def behind(a: StateChanged) -> str:
    """The check or operator action behind the change, in words ("" when none)."""
    said = []
    if a.cause is not None and a.cause.startswith("check:"):
        said.append(f"fatal check {a.cause.removeprefix('check:')} failing")
    said += [demotion_words(name, amount) for name, amount in a.demotions]
    return "; ".join(said)


def demotion_words(name: str, amount: int) -> str:
    """"check nginx failing (+100)", "operator demotion (+254)"."""
    if name.startswith("check:"):
        return f"check {name.removeprefix('check:')} failing (+{amount})"
    return f"{_DEMOTION_WORDS.get(name, name)} (+{amount})"


def transition_json(r: TransitionRecord) -> dict[str, Any]:
    return {"time": r.time, "vip": r.vip, "vhid": r.vhid, "interface": r.interface,
            "from": r.old.value, "to": r.new.value, "reason": r.reason, "peer": r.peer,
            "master_before": r.master_before, "master_after": r.master_after,
            "master_last_heard": r.last_heard,
            "master_last_heard_before_s": r.last_heard_before_s, "rank": r.rank,
            "demotions": dict(r.demotions), "behind": r.behind}
