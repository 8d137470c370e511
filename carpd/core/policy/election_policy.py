"""The node's election policy beside the protocol: boot hold-down, operator demotions and
maintenance, behind one small surface for core/node.py.

Owns: `ElectionPolicy`, which routes the policy events (core/events.py `PolicyEvent`) and the
protocol events the policy also watches (carrier, check results, retunes, the timer) to the
three trackers (holddown.py, demotions.py, maintenance.py) and hands back an `Outcome`: the
machine events to apply (SetDemotion, SetHoldDown; the node fans them out) and the actions
to report after them (ReadAddresses, HoldDownReleased, DemotionExpired, MaintenanceChanged).
Its deadline (the earliest operator-demotion expiry) is part of the node's next deadline.
Invariants: the trackers only change through these methods; a machine the node creates gets
`demotions_for(name)` before it starts, so maintenance and an operator demotion survive a
reload that re-creates a VIP.
Must not: read the clock, touch machines (the node applies the events), or persist anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from carpd.core.actions import Action
from carpd.core.events import (
    AddressesChanged,
    AddressesRead,
    OperatorDemote,
    OperatorPromote,
    PolicyEvent,
    RequiredUnitObserved,
    SetDemotion,
    SetHoldDown,
    SetMaintenance,
)
from carpd.core.params import VipParams
from carpd.core.policy.demotions import OperatorDemotion, OperatorDemotions
from carpd.core.policy.holddown import HoldDowns, HoldDownStatistics
from carpd.core.policy.maintenance import Maintenance, MaintenanceStatistics

Outcome = tuple[Sequence[SetDemotion | SetHoldDown], list[Action]]


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyStatistics:
    maintenance: MaintenanceStatistics = field(default_factory=MaintenanceStatistics)
    operator_demotions: tuple[OperatorDemotion, ...] = ()  # by VIP name
    hold_downs: tuple[HoldDownStatistics, ...] = ()  # the VIPs still held down


class ElectionPolicy:
    """See the module docstring. One per Node."""

    def __init__(self) -> None:
        self._holds = HoldDowns()
        self._demotions = OperatorDemotions()
        self._maintenance = Maintenance()

    def handle(self, event: PolicyEvent, now: float) -> Outcome:
        """Every PolicyEvent but BeginHoldDown (that needs the machines: `begin_hold_down`)."""
        match event:
            case OperatorDemote(name=name, amount=amount, until_at=until_at):
                return self._demotions.demote(name, amount, until_at, now)
            case OperatorPromote(name=name):
                return self._demotions.promote(name), []
            case SetMaintenance(on=on, since_at=since_at):
                return self._maintenance.set(on, since_at, now)
            case RequiredUnitObserved(name=name, unit=unit, active=active):
                return self._holds.unit_observed(name, unit, active, now)
            case AddressesChanged(interface=interface):
                return [], self._holds.addresses_changed(interface)
            case AddressesRead(interface=interface, addresses=addresses):
                return self._holds.addresses_read(interface, addresses, now)
        raise TypeError(f"not a policy event for handle(): {event!r}")

    def begin_hold_down(self, vips: Iterable[tuple[VipParams, bool]], now: float) -> Outcome:
        """Hold each (params, link_up) VIP down (BeginHoldDown)."""
        return self._holds.begin(vips, now)

    # -- protocol events the policy watches too ---------------------------------------------

    def link_changed(self, interface: str, up: bool, now: float) -> Outcome:
        """Before the machines see it: carrier may end a hold-down, and a VIP that leaves
        INIT must compute its master-down interval without the hold-down's 240."""
        return self._holds.link_changed(interface, up, now)

    def check_reported(self, name: str, check: str, now: float) -> Outcome:
        return self._holds.check_reported(name, check, now)

    def retuned(self, old: VipParams, new: VipParams, now: float) -> Outcome:
        return self._holds.retune(old, new, now)

    def timer(self, now: float) -> Outcome:
        events, reports = self._demotions.expire(now)
        held_events, held_reports = self._holds.timer(now)
        return [*events, *held_events], [*reports, *held_reports]

    def next_deadline(self) -> float | None:
        due = (self._demotions.next_deadline(), self._holds.next_deadline())
        return min((d for d in due if d is not None), default=None)

    @property
    def maintenance(self) -> bool:
        return self._maintenance.on

    # -- machines come and go -----------------------------------------------------------------

    def demotions_for(self, name: str) -> list[SetDemotion]:
        """The node-wide and operator demotions a new machine for `name` carries."""
        return self._maintenance.demotion_for(name) + self._demotions.demotion_for(name)

    def forget(self, name: str) -> None:
        """The VIP is gone: its hold-down with it (its operator demotion stays, by name)."""
        self._holds.forget(name)

    # -- snapshots ----------------------------------------------------------------------------

    def statistics(self) -> PolicyStatistics:
        return PolicyStatistics(maintenance=self._maintenance.statistics(),
                                operator_demotions=self._demotions.statistics(),
                                hold_downs=self._holds.statistics())
