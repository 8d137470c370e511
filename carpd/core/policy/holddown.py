"""The boot hold-down: what each VIP waits for before it may compete for master at full rank.

Owns: `HoldDowns`, one pending hold per VIP that `begin` started (at boot, and for a VIP a
reload adds or re-creates). A held VIP carries `SetHoldDown(active=True)` (the demotion
"hold_down" = 240 and no preempting, see core/machine.py) until all of these are there:
- carrier on its interface (`LinkChanged`; the VIP's link state when the hold began);
- its source addresses on that interface, one per family it advertises in (`AddressesRead`,
  the driver's answer to the `ReadAddresses` action this tracker emits at `begin` and after
  `AddressesChanged`); each counts once seen;
- every `require_units` unit active (`RequiredUnitObserved`; an inactive report waits again);
- a first result of every check it had when the hold began, or that a reload added
  (`check_reported`, fed by the node for each `CheckResult` of a known check).
Then it emits `SetHoldDown(active=False)` and `HoldDownReleased(name, held_interval)` once
and forgets the VIP: a unit stopping later is a check's business, not the hold-down's.
Bounded: a hold that still waits `MAX_HOLD_DOWN` seconds after it began is released anyway
(`timer`), its `HoldDownReleased.unmet` naming what never came (the system bus unreachable,
say, so no unit is ever reported active): a node whose peer is master would otherwise never
take part at full rank; its checks still demote it as usual once they report.
Invariants: a VIP is held here iff its machine got SetHoldDown(active=True) from this tracker
and no release yet; `waiting_for` lists what is missing in a fixed order (carrier, address,
units in configuration order, checks by name), and is empty only for VIPs not held.
Must not: read the clock (time is `now`), run checks or read addresses itself.
Source: OpenBSD's `carpdemote 128` during /etc/rc (CARP.md 6.1), per VIP, in FreeBSD's
arithmetic (240).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from carpd.core.actions import Action, HoldDownReleased, ReadAddresses
from carpd.core.events import SetHoldDown
from carpd.core.params import VipParams

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_HOLD_DOWN = 120.0  # seconds: the longest a boot hold-down waits before giving up
Outcome = tuple[list[SetHoldDown], list[Action]]


@dataclass(frozen=True, slots=True, kw_only=True)
class HoldDownStatistics:
    name: str
    since_at: float
    waiting_for: tuple[str, ...]


@dataclass(slots=True, kw_only=True)
class _Hold:
    since_at: float
    interface: str
    missing: set[IPAddress]  # source addresses not seen on the interface yet
    carrier: bool
    units: dict[str, bool] = field(default_factory=dict)  # unit -> active
    checks: set[str] = field(default_factory=set)  # no result yet

    def waiting_for(self) -> tuple[str, ...]:
        waits = [] if self.carrier else [f"carrier on {self.interface}"]
        waits += [f"the source address {a} on {self.interface}"
                  for a in sorted(self.missing, key=lambda a: (a.version, a.packed))]
        waits += [f"{unit} active" for unit, active in self.units.items() if not active]
        waits += [f"a first result of check {check}" for check in sorted(self.checks)]
        return tuple(waits)


class HoldDowns:
    """The pending boot hold-downs of a node. See the module docstring."""

    def __init__(self) -> None:
        self._holds: dict[str, _Hold] = {}

    def begin(self, vips: Iterable[tuple[VipParams, bool]], now: float) -> Outcome:
        """Hold each (params, link_up) VIP down; one ReadAddresses per interface."""
        events: list[SetHoldDown] = []
        reads: dict[str, ReadAddresses] = {}
        for p, link_up in vips:
            self._holds[p.name] = _Hold(
                since_at=now, interface=p.interface, carrier=link_up,
                missing={a for a in (p.source, p.source6) if a is not None},
                units=dict.fromkeys(p.require_units, False), checks={c.name for c in p.checks})
            events.append(SetHoldDown(name=p.name, active=True))
            reads.setdefault(p.interface, ReadAddresses(interface=p.interface))
        return events, list(reads.values())

    def link_changed(self, interface: str, up: bool, now: float) -> Outcome:
        held = self._on(interface)
        for hold in held.values():
            hold.carrier = up
        return self._release_ready(held, now)

    def addresses_changed(self, interface: str) -> list[Action]:
        """Ask for the addresses again if a VIP on `interface` still waits for its source."""
        if any(hold.missing for hold in self._on(interface).values()):
            return [ReadAddresses(interface=interface)]
        return []

    def addresses_read(self, interface: str, addresses: frozenset[IPAddress],
                       now: float) -> Outcome:
        held = self._on(interface)
        for hold in held.values():
            hold.missing -= addresses
        return self._release_ready(held, now)

    def unit_observed(self, name: str, unit: str, active: bool, now: float) -> Outcome:
        hold = self._holds.get(name)
        if hold is None or unit not in hold.units:
            return [], []
        hold.units[unit] = active
        return self._release_ready({name: hold}, now)

    def check_reported(self, name: str, check: str, now: float) -> Outcome:
        hold = self._holds.get(name)
        if hold is None or check not in hold.checks:
            return [], []
        hold.checks.discard(check)
        return self._release_ready({name: hold}, now)

    def retune(self, old: VipParams, new: VipParams, now: float) -> Outcome:
        """A reload changed the VIP's requirements: units no longer required stop counting,
        new ones are waited for; a check still waited for stays so, a new one is waited for,
        a kept one that has reported does not count again."""
        hold = self._holds.get(new.name)
        if hold is None:
            return [], []
        known = {c.name for c in old.checks}
        hold.units = {u: hold.units.get(u, False) for u in new.require_units}
        hold.checks = {c.name for c in new.checks if c.name in hold.checks or c.name not in known}
        return self._release_ready({new.name: hold}, now)

    def forget(self, name: str) -> None:
        self._holds.pop(name, None)

    def timer(self, now: float) -> Outcome:
        """Release, with what they still wait for, the holds older than MAX_HOLD_DOWN."""
        events: list[SetHoldDown] = []
        actions: list[Action] = []
        for name, hold in list(self._holds.items()):
            if now - hold.since_at >= MAX_HOLD_DOWN:
                del self._holds[name]
                events.append(SetHoldDown(name=name, active=False))
                actions.append(HoldDownReleased(name=name, held_interval=now - hold.since_at,
                                                unmet=hold.waiting_for()))
        return events, actions

    def next_deadline(self) -> float | None:
        return min((h.since_at + MAX_HOLD_DOWN for h in self._holds.values()), default=None)

    def waiting_for(self, name: str) -> tuple[str, ...]:
        hold = self._holds.get(name)
        return () if hold is None else hold.waiting_for()

    def statistics(self) -> tuple[HoldDownStatistics, ...]:
        return tuple(HoldDownStatistics(name=name, since_at=h.since_at,
                                        waiting_for=h.waiting_for())
                     for name, h in self._holds.items())

    def _on(self, interface: str) -> dict[str, _Hold]:
        return {name: h for name, h in self._holds.items() if h.interface == interface}

    def _release_ready(self, held: dict[str, _Hold], now: float) -> Outcome:
        """Release those of `held` that wait for nothing any more, in hold order."""
        events: list[SetHoldDown] = []
        actions: list[Action] = []
        for name, hold in held.items():
            if hold.waiting_for():
                continue
            del self._holds[name]
            events.append(SetHoldDown(name=name, active=False))
            actions.append(HoldDownReleased(name=name, held_interval=now - hold.since_at))
        return events, actions
