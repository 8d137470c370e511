"""What an operator must act on now: the problems of `carpctl status --check` and the notes.

Owns: `ProblemKind`, `Problem` and `problems(doc, now)`, one problem per line, in this order:
maintenance on; then per VIP in configuration order: a dual master (another node advertises
as master while we are MASTER), foreign adverts (adverts on our VHID that fail our HMAC:
another cluster, a different password or address set), failing checks, and a VIP without
a master anywhere (not MASTER here and no master heard: BACKUP before its first advert, or
FAULT/INIT with nobody else serving); last, added by carpd/ops/configcmds.py (the status
document does not know the file), a refused reload while the file on disk still differs from
the running one. An anomaly is current while it was last seen at most
RECENT_S seconds (or 3 advert intervals, if longer) before `now`; older ones stay in the
status document (anomaly_peers) and explain, not here. Also the tiny formatters the texts
use: `clock` (an ISO instant as "2026-12-01 12:01:03 UTC", its zone written) and `ago`.
Must not: read a clock (`now` is the driver's monotonic instant) or decide anything the
document does not say.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from carpd.control.humanize import duration_text, local_time
from carpd.core.actions import AnomalyKind, CheckState, VhidState
from carpd.status.document import AnomalyPeerStatus, StatusDocument, VipStatus

RECENT_S = 10.0  # an anomaly last seen this recently is happening now


class ProblemKind(enum.StrEnum):
    MAINTENANCE = "maintenance"
    DUAL_MASTER = "dual_master"
    FOREIGN_ADVERT = "foreign_advert"
    CHECK_FAILING = "check_failing"
    NO_MASTER = "no_master"
    CONFIG_REFUSED = "config_refused"  # added by carpd/ops/configcmds.py: the file on disk


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    kind: ProblemKind
    vip: str | None  # None: the whole node (maintenance)
    text: str


def problems(doc: StatusDocument, now: float) -> tuple[Problem, ...]:
    found: list[Problem] = []
    if doc.maintenance is not None and doc.maintenance.on:
        since = f" since {clock(doc.maintenance.since)}" if doc.maintenance.since else ""
        found.append(Problem(kind=ProblemKind.MAINTENANCE, vip=None,
                             text=f"maintenance mode on{since}: every VIP demoted "
                                  "(carpctl maintenance off)"))
    for v in doc.vips:
        found += _vip_problems(v, now)
    return tuple(found)


def current(v: VipStatus, p: AnomalyPeerStatus, now: float) -> bool:
    """The anomaly is happening now (see the module docstring)."""
    return now - p.last_seen_at <= max(RECENT_S, 3.0 * _advert_interval(v))


def _advert_interval(v: VipStatus) -> float:
    """Our advert interval in seconds, from the profile's figures (CARP: advbase; VRRPv3:
    advert_interval_cs); 0 when neither is there."""
    if v.advbase is not None:
        return float(v.advbase)
    centiseconds = v.election.get("advert_interval_cs")
    return 0.0 if centiseconds is None else centiseconds / 100


def claim_text(p: AnomalyPeerStatus, now: float) -> str:
    """"172.16.90.102 (advbase 1 advskew 100) since 2026-... UTC, last heard 0 s ago, 12 times"."""
    rank = f" ({p.rank})" if p.rank else ""
    return f"{p.peer or 'an unknown sender'}{rank} {seen_text(p, now)}"


def seen_text(p: AnomalyPeerStatus, now: float) -> str:
    """"since 2026-12-01 12:01:03 UTC, last heard 0 s ago, 12 times"."""
    return (f"since {clock(p.first_seen)}, last heard {ago(now - p.last_seen_at)} ago, "
            f"{p.count} time{'s' if p.count != 1 else ''}")


def _vip_problems(v: VipStatus, now: float) -> list[Problem]:
    found = []
    for p in v.anomaly_peers:
        if not current(v, p, now):
            continue
        if p.kind is AnomalyKind.DUAL_MASTER and v.state is VhidState.MASTER:
            found.append(Problem(kind=ProblemKind.DUAL_MASTER, vip=v.name,
                                 text=f"{v.name}: dual master with {claim_text(p, now)}"))
        elif p.kind is AnomalyKind.FOREIGN_ADVERT:
            found.append(Problem(kind=ProblemKind.FOREIGN_ADVERT, vip=v.name, text=(
                f"{v.name}: foreign adverts on vhid {v.vhid} (bad HMAC: another cluster, "
                f"or a different password or address set) from {claim_text(p, now)}")))
    for c in v.checks:
        if c.state is CheckState.FAILING:
            effect = "fatal" if c.fatal else f"weight {c.weight}"
            found.append(Problem(kind=ProblemKind.CHECK_FAILING, vip=v.name, text=(
                f"{v.name}: check {c.name} failing ({effect}) since {clock(c.since)}: "
                f"{c.detail or 'no detail'}")))
    if v.state is not VhidState.MASTER and not v.master:
        found.append(Problem(kind=ProblemKind.NO_MASTER, vip=v.name, text=(
            f"{v.name}: no master anywhere: {v.state.value} ({v.reason}) here, and no "
            "master heard")))
    return found


def problem_json(p: Problem) -> dict[str, Any]:
    return {"kind": p.kind.value, "vip": p.vip, "text": p.text}


def clock(iso: str | None) -> str:
    """An ISO 8601 instant as people read it, with its zone ("2026-12-01 12:01:03 UTC"): the
    daemon writes UTC; carpctl shows its own instants in the viewer's zone."""
    return "an unknown time" if not iso else local_time(iso, UTC)


def ago(seconds: float) -> str:
    """A short duration, days included: "42s", "5m 6s", "3h 20m", "2d 4h" (humanize.py,
    the form carpctl writes too)."""
    return duration_text(seconds)
