"""Reload planning: what a new configuration does to the running VIPs, as a pure diff.

Owns: `plan_reload(running, new) -> ReloadPlan` (which VIPs are unchanged, added, removed,
retuned or changed, matched by name), its per-VIP `verdicts()` (what `carpctl reload
--dry-run` shows: the settings that differ and, for a re-created VIP, the ones that force it),
the human summary that goes into the journald record, the
`ReloadRefused` exception a configuration loader raises for a file that cannot be used, and
the MESSAGE_IDs of the two reload records (documented in packaging/carpd.catalog).
Rules (INTERFACE.md, OPERATORS.md row 3): a VIP is unchanged when its `VipParams` compare
equal, so every setting counts, the password included (compared through `Secret.__eq__`,
named but never shown). The caller resolves `source = "auto"` in the new parameters the same
way the running ones were resolved before calling, so "auto" on both sides compares equal.
A VIP whose differences are all in `carpd.core.params.TUNABLE_FIELDS` (advskew, checks,
master units, ...) is retuned: the driver gives its running machine the new settings
(VhidMachine.retune), so it keeps its state, timers and demotions and never flaps. One that
differs in anything else (vhid, interface, addresses, password, source, multicast group,
l2_broadcast: what peers authenticate and demultiplex on) is changed. The driver keeps
unchanged VIPs as they are (state, timers, counters), starts added ones in BACKUP, lets removed
ones bow out and release, retunes retuned ones, and re-creates changed ones (remove + add).
Must not: touch the network, the clock or the daemon; import anything but carpd.core.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from dataclasses import dataclass

from carpd.core.params import CheckParams, VipParams, untunable_changes

# journald MESSAGE_IDs (never change a released id: alerts match on them)
RELOADED = "724113a2bfa34ea6a27f631e5c01800a"
RELOAD_REFUSED = "6cfd6f44ba93413d8db5216ded628b14"

_SECRET_FIELDS = frozenset({"password"})


class ReloadRefused(Exception):  # noqa: N818 - a condition reported to the operator
    """The new configuration cannot be applied; the message says why (FILE:LINE: KEY: ...)."""


class Verdict(enum.Enum):
    """What a reload does to one VIP."""

    UNCHANGED = "unchanged"
    RETUNED = "retuned"  # kept, given its new tunable settings
    RECREATED = "re-created"  # bows out and is started anew (ReloadPlan.changed)
    ADDED = "added"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True, kw_only=True)
class VipVerdict:
    """One VIP's verdict; `changes` as `differences` writes them, `forcing` the settings of
    a re-created VIP that cannot change in place (why it is re-created)."""

    name: str
    verdict: Verdict
    changes: tuple[str, ...] = ()
    forcing: tuple[str, ...] = ()
    vip: VipParams  # the new settings, the running ones for a removed VIP


@dataclass(frozen=True, slots=True, kw_only=True)
class ReloadPlan:
    unchanged: tuple[VipParams, ...]
    added: tuple[VipParams, ...]
    removed: tuple[VipParams, ...]
    changed: tuple[tuple[VipParams, VipParams], ...]  # (running, new): re-created
    retuned: tuple[tuple[VipParams, VipParams], ...]  # (running, new): kept, retuned
    order: tuple[str, ...] = ()  # the new file's VIP names, in its order

    @property
    def retire(self) -> tuple[VipParams, ...]:
        """Running VIPs to bow out and release: removed ones, then the old side of changes."""
        return self.removed + tuple(old for old, _ in self.changed)

    @property
    def enlist(self) -> tuple[VipParams, ...]:
        """VIPs to create and start in BACKUP: added ones, then the new side of changes."""
        return self.added + tuple(new for _, new in self.changed)

    def verdicts(self) -> tuple[VipVerdict, ...]:
        """Every VIP once: the new file's in its order, then the removed ones."""
        out = {p.name: VipVerdict(name=p.name, verdict=Verdict.UNCHANGED, vip=p)
               for p in self.unchanged}
        out |= {p.name: VipVerdict(name=p.name, verdict=Verdict.ADDED, vip=p)
                for p in self.added}
        out |= {new.name: VipVerdict(name=new.name, verdict=Verdict.RETUNED, vip=new,
                                     changes=tuple(differences(old, new)))
                for old, new in self.retuned}
        out |= {new.name: VipVerdict(name=new.name, verdict=Verdict.RECREATED, vip=new,
                                     changes=tuple(differences(old, new)),
                                     forcing=tuple(untunable_changes(old, new)))
                for old, new in self.changed}
        ordered = [out[name] for name in self.order if name in out]
        ordered += [v for name, v in out.items() if name not in self.order]
        return (*ordered, *(VipVerdict(name=p.name, verdict=Verdict.REMOVED, vip=p)
                            for p in self.removed))

    @property
    def is_noop(self) -> bool:
        return not (self.added or self.removed or self.changed or self.retuned)

    def summary(self) -> str:
        """One line, e.g. `mail retuned (advskew 100 -> 50); web unchanged`."""
        parts = [f"{old.name} changed ({', '.join(differences(old, new))})"
                 for old, new in self.changed]
        parts += [f"{old.name} retuned ({', '.join(differences(old, new))})"
                  for old, new in self.retuned]
        parts += [f"{p.name} added (vhid {p.vhid} on {p.interface})" for p in self.added]
        parts += [f"{p.name} removed" for p in self.removed]
        if self.unchanged:
            parts.append(f"{vip_names(self.unchanged)} unchanged")
        return "; ".join(parts) if parts else "no VIP configured"


def plan_reload(running: Iterable[VipParams], new: Iterable[VipParams]) -> ReloadPlan:
    """Match by name; keep the new file's order for added/retuned/changed/unchanged."""
    old = {p.name: p for p in running}
    fresh = {p.name: p for p in new}
    pairs = [(old[n], p) for n, p in fresh.items() if n in old and old[n] != p]
    return ReloadPlan(
        unchanged=tuple(p for n, p in fresh.items() if n in old and old[n] == p),
        added=tuple(p for n, p in fresh.items() if n not in old),
        removed=tuple(p for n, p in old.items() if n not in fresh),
        changed=tuple((a, b) for a, b in pairs if untunable_changes(a, b)),
        retuned=tuple((a, b) for a, b in pairs if not untunable_changes(a, b)),
        order=tuple(fresh),
    )


def differences(old: VipParams, new: VipParams) -> list[str]:
    """The settings that differ, as `key OLD -> NEW` (a secret only by its name; checks one
    by one: `check NAME added`, `check NAME removed`, `check NAME key OLD -> NEW`)."""
    out: list[str] = []
    for f in dataclasses.fields(VipParams):
        a, b = getattr(old, f.name), getattr(new, f.name)
        if a == b:
            continue
        if f.name in _SECRET_FIELDS:
            out.append(f.name)
        elif f.name == "checks":
            out += _check_differences(a, b)
        else:
            out.append(f"{f.name} {_show(a)} -> {_show(b)}")
    return out


def _check_differences(old: tuple[CheckParams, ...], new: tuple[CheckParams, ...]) -> list[str]:
    before, after = {c.name: c for c in old}, {c.name: c for c in new}
    out: list[str] = []
    for name, check in after.items():
        if name not in before:
            out.append(f"check {name} added")
            continue
        out += [f"check {name} {f.name} {_show(getattr(before[name], f.name))} -> "
                f"{_show(getattr(check, f.name))}" for f in dataclasses.fields(CheckParams)
                if getattr(before[name], f.name) != getattr(check, f.name)]
    out += [f"check {name} removed" for name in before if name not in after]
    return out or ["checks reordered"]


def _show(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "none"
    return "none" if value is None else str(value)


def vip_names(vips: Iterable[VipParams]) -> str:
    """`web, mail` (for messages and journald fields)."""
    return ", ".join(p.name for p in vips)
