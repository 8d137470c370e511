"""A reload planned but not applied: the steps a reload and its dry run share, and the dry run.

Owns: `plan_for(vips, running, addresses)`, the planning half of a reload (the new VIPs'
'auto' sources resolved as carpd.driver.startup resolves them for a reload, then
carpd.driver.reload's plan), which `Daemon.reload` runs before applying and `carpctl reload
--dry-run` runs alone; and `preview(plan, states)`, the dry run's reply: per VIP its verdict
with the settings that differ (for a re-created one, those that force it) and its state here,
the VIPs that would bow out as MASTER (removed or re-created while MASTER here: their peers
take over), and the same as text.
Invariant: planning only reads (the interfaces' addresses); nothing is added, removed, sent
or started, so a dry run leaves every VIP as it was.
Must not: apply anything, read the clock or the file (the caller loads it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from carpd.core.actions import VhidState
from carpd.core.params import VipParams
from carpd.driver.ports import AddressPort
from carpd.driver.reload import ReloadPlan, Verdict, VipVerdict, plan_reload
from carpd.driver.startup import resolve_for_reload


async def plan_for(vips: tuple[VipParams, ...], running: tuple[VipParams, ...],
                   addresses: AddressPort) -> ReloadPlan:
    """What a reload to `vips` does; StartupError (or OSError) when the host refuses it."""
    resolved = await resolve_for_reload(vips, running, addresses)
    return plan_reload(running, resolved)


def preview(plan: ReloadPlan, states: Mapping[str, VhidState]) -> dict[str, Any]:
    """The dry run's reply (JSON-ready): `vips`, `bow_out`, `noop` and `lines`."""
    verdicts = plan.verdicts()
    bow_out = [v.name for v in verdicts if _bows_out(v, states)]
    width = max((len(v.name) for v in verdicts), default=0)
    lines = [_line(v, states.get(v.name), width) for v in verdicts]
    if plan.is_noop:
        lines.append("nothing would change")
    elif bow_out:
        lines.append(f"would bow out as MASTER: {', '.join(bow_out)} (a peer takes over)")
    else:
        lines.append("no VIP that is MASTER here would bow out")
    return {"vips": [_entry(v, states.get(v.name), v.name in bow_out) for v in verdicts],
            "bow_out": bow_out, "noop": plan.is_noop, "lines": lines}


def _bows_out(v: VipVerdict, states: Mapping[str, VhidState]) -> bool:
    return v.verdict in (Verdict.REMOVED, Verdict.RECREATED) and \
        states.get(v.name) is VhidState.MASTER


def _entry(v: VipVerdict, state: VhidState | None, bows_out: bool) -> dict[str, Any]:
    return {"name": v.name, "verdict": v.verdict.value, "changes": list(v.changes),
            "forcing": list(v.forcing), "state": None if state is None else state.value,
            "bows_out": bows_out}


def _line(v: VipVerdict, state: VhidState | None, width: int) -> str:
    head = f"{v.name.ljust(width)}  {v.verdict.value}"
    match v.verdict:
        case Verdict.RETUNED:
            text = f"{head}: {', '.join(v.changes)}"
        case Verdict.RECREATED:
            text = f"{head} ({', '.join(v.forcing)} cannot change in place): " \
                   f"{', '.join(v.changes)}"
        case Verdict.ADDED:
            addresses = " ".join(map(str, v.vip.addresses))
            text = f"{head}: vhid {v.vip.vhid} on {v.vip.interface}, {addresses}, starts in " \
                   "BACKUP"
        case _:
            text = head
    if state is not None and v.verdict is not Verdict.ADDED:
        text += f" [{state.value} here{_consequence(v, state)}]"
    return text


def _consequence(v: VipVerdict, state: VhidState) -> str:
    if state is not VhidState.MASTER:
        return ""
    if v.verdict is Verdict.REMOVED:
        return ": bows out and releases its addresses"
    if v.verdict is Verdict.RECREATED:
        return ": bows out, then starts again in BACKUP"
    return ""
