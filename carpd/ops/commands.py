"""The control commands: status, explain, history, metrics, demote, promote, maintenance.

Owns: `Commands.run(req, peer)`: argument checking (a bad request is a ProtocolError whose
text carpctl prints), refusing state-changing commands (WRITE_COMMANDS) to a `Peer` that may
not write (see carpd.io.control_server), turning operator commands into core events
(OperatorDemote, OperatorPromote, SetMaintenance), persisting the result (ops/flags.py) and
telling the operator (journal and watch, through `tell`), and the replies carpctl renders.
`status` carries each VIP's last transition and the problems of carpd/status/problems.py (what
`carpctl status --check` reports); `explain` adds who else claims the VIP and what a takeover
lost; `history` the ring of carpd/ops/history.py, for one VIP (`name`) or all.
`demote` defaults to the largest demotion (254) and may expire `for` N seconds: the deadline
is a monotonic instant in the core, which ends it on its own timer.
Every reply of demote, promote and maintenance carries `persisted`: False when the state
directory could not be written (read-only, full): the change applies in memory all the same,
but holds only until the next restart; carpctl says so and exits 4. `maintenance` writes its
flag on every request, so repeating the command after the directory is fixed persists it.
Must not: read the clock (the driver's `now` is asked), keep timers or a copy of the flags.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from carpd.control.humanize import duration_text
from carpd.control.protocol import WRITE_COMMANDS, Peer, ProtocolError, Request
from carpd.core.events import OperatorDemote, OperatorPromote, SetMaintenance
from carpd.core.policy.demotions import MAX_DEMOTION
from carpd.ops.flags import OperatorFlags
from carpd.ops.history import History
from carpd.ops.host import Driver
from carpd.ops.watch import WatchFilter
from carpd.status.document import iso_time
from carpd.status.explain import explain
from carpd.status.jsonform import to_json
from carpd.status.metrics import render
from carpd.status.problems import problems
from carpd.status.transitions import transition_json

MAX_DURATION = 10 * 365 * 86400  # seconds: longer is a typo, not a plan
# A timed demotion shorter than this only makes the VIP flap: it moves to the peer (at once,
# if the peer preempts) and straight back when it expires, for no maintenance window at all.
MIN_DURATION = 5.0


class Commands:
    def __init__(self, driver: Driver, flags: OperatorFlags, tell: Callable[[str], None],
                 history: History | None = None) -> None:
        self._driver, self._flags, self._tell = driver, flags, tell
        self._history = History(driver) if history is None else history

    def run(self, req: Request, peer: Peer | None) -> dict[str, Any]:
        """One request; `peer` is None for in-process callers (trusted)."""
        if req.cmd in WRITE_COMMANDS and peer is not None and not peer.may_write:
            raise ProtocolError(f"permission denied: uid {peer.uid} may read but not change "
                                "carpd (root or the control socket's group may)")
        if req.cmd in WRITE_COMMANDS and self._driver.statistics() is None:
            raise ProtocolError("carpd is still starting (no VIP runs yet); try again")
        match req.cmd:
            case "status":
                doc = self._driver.status()
                return to_json(doc, problems=problems(doc, self._driver.now()),
                               last=self._history.last())
            case "explain":
                return self._explain(self._name_arg(req))
            case "history":
                return self._history_reply(req)
            case "metrics":
                return {"text": render(self._driver.status())}
            case "demote":
                return self._demote(req)
            case "promote":
                return self._promote(req)
            case "maintenance":
                return self._maintenance(req)
        raise ProtocolError(f"unsupported command {req.cmd}")

    def _names(self) -> tuple[str, ...]:
        stats = self._driver.statistics()
        return () if stats is None else tuple(p.name for p in stats.params)

    def _name_arg(self, req: Request) -> str:
        name, names = req.args.get("name"), self._names()
        if not isinstance(name, str) or name not in names:
            raise ProtocolError(f"no VIP named {name!r} (known: {', '.join(names)})")
        return name

    def _targets(self, req: Request) -> list[str]:
        return list(self._names()) if req.args.get("all") is True else [self._name_arg(req)]

    def _explain(self, name: str) -> dict[str, Any]:
        doc = self._driver.status()
        vip = doc.vip(name)
        assert vip is not None  # _name_arg checked it
        ago = duration_text(self._driver.now() - vip.since_at)
        on = doc.maintenance is not None and doc.maintenance.on
        text = explain(vip, maintenance=on, ago=ago, now=self._driver.now(),
                       last=self._history.last().get(name))
        return {"name": name, "text": text}

    def watch_filter(self, req: Request) -> WatchFilter:
        """The `watch` request's narrowing: `name` (a running VIP) and `changes` (bool)."""
        name, changes = req.args.get("name"), req.args.get("changes", False)
        if not isinstance(changes, bool):
            raise ProtocolError(f"watch: changes must be true or false, not {changes!r}")
        return WatchFilter(name=None if name is None else self._name_arg(req), changes=changes)

    def _history_reply(self, req: Request) -> dict[str, Any]:
        """The ring, oldest first; `name` (optional) keeps one VIP's, which may be one a
        reload removed (its entries stay)."""
        name = req.args.get("name")
        if name is not None and not isinstance(name, str):
            raise ProtocolError(f"history: name must be a VIP name, not {name!r}")
        entries = self._history.entries(name)
        if name is not None and not entries and name not in self._names():
            raise ProtocolError(f"no VIP named {name!r} (known: {', '.join(self._names())})")
        return {"entries": [transition_json(r) for r in entries]}

    def _demote(self, req: Request) -> dict[str, Any]:
        names = self._targets(req)
        amount, duration = _amount(req.args.get("by", MAX_DEMOTION)), _duration(req.args)
        until_at = None if duration is None else self._driver.now() + duration
        for name in names:
            self._driver.post(OperatorDemote(name=name, amount=amount, until_at=until_at))
        persisted = self._flags.save_demotions()
        until = None if until_at is None else iso_time(self._driver.wall_of(until_at))
        self._tell(f"demoted {', '.join(names)} by {amount}"
                   f"{f' until {until}' if until else ''}")
        return {"demoted": names, "by": amount, "until": until, "persisted": persisted}

    def _promote(self, req: Request) -> dict[str, Any]:
        stats = self._driver.statistics()
        demoted = {d.name for d in stats.policy.operator_demotions} if stats else set()
        names = [n for n in self._targets(req) if n in demoted]
        for name in names:
            self._driver.post(OperatorPromote(name=name))
        persisted = self._flags.save_demotions()
        self._tell(f"promoted {', '.join(names) or 'nothing (no operator demotion)'}")
        return {"promoted": names, "persisted": persisted}

    def _maintenance(self, req: Request) -> dict[str, Any]:
        on = req.args.get("on")
        if not isinstance(on, bool):
            raise ProtocolError("maintenance needs on: true or false")
        changed = on != self._maintenance_since()[0]
        if changed:
            self._driver.post(SetMaintenance(on=on))
        persisted = self._flags.save_maintenance()
        if changed:
            self._tell(f"maintenance mode {'on' if on else 'off'}")
        now_on, since_at = self._maintenance_since()
        since = None if since_at is None else iso_time(self._driver.wall_of(since_at))
        return {"maintenance": now_on, "since": since, "persisted": persisted}

    def _maintenance_since(self) -> tuple[bool, float | None]:
        stats = self._driver.statistics()
        if stats is None:
            return False, None
        return stats.policy.maintenance.on, stats.policy.maintenance.since_at


def _amount(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DEMOTION:
        raise ProtocolError(f"demotion must be 1..{MAX_DEMOTION}, not {value!r}")
    return value


def _duration(args: dict[str, Any]) -> float | None:
    value = args.get("for")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or \
            not math.isfinite(value) or not 0 < value < MAX_DURATION:
        raise ProtocolError(f"duration must be a positive number of seconds, not {value!r}")
    if value < MIN_DURATION:
        raise ProtocolError(f"a demotion for {value:g} s would only make the VIP flap (to the "
                            f"peer and straight back): give at least {MIN_DURATION:g} s, or "
                            "no --for to demote until promoted")
    return float(value)
