"""The operator side of the driver: health checks, boot hold-down, operator commands, watch.

Owns, for `carpd.driver.daemon.Daemon` (which calls in at a few points and otherwise knows
nothing of
this):
- health: starting/stopping each VIP's checks on the HealthPort and posting their raw results
  as `CheckResult` events (the core's tracker decides what they mean);
- boot hold-down: every VIP starts with `SetHoldDown(active=True)` right after `Start` (so a
  lone node still takes over after exactly one master-down interval) until its interface has
  carrier and its source address, every `require_units` unit is active and every check has
  reported once; then `SetHoldDown(active=False)`, logged with how long it took. Only at boot
  (and for VIPs a reload adds or re-creates): a unit stopping later is a check's business;
- reload retunes (`vip_retuned`): only the checks and unit watchers whose definition changed
  are stopped/started; the machine kept its demotions (operator, maintenance, hold-down), so
  nothing is re-posted, and a VIP still held down waits for the new requirements instead;
- operator commands: `demote` (the demotion "operator", default 254, optionally expiring
  `for` N seconds through loop.call_later), `promote`, `maintenance on|off` (the demotion
  "maintenance" = 254 on every VIP). Both are persisted in the state directory (files
  "maintenance" and "demotions", written atomically through the FlagStore port) and applied
  again at start, before `Start`, so a restarted node comes up demoted. Expiry instants are
  stored as wall-clock times, so a restart does not extend them. State-changing commands are
  refused to a `Peer` that may not write (see carpd.io.control_server);
- `explain`, `metrics`, the extra status fields, and `watch`: an ordered stream of
  transitions, check results, anomalies and operator actions to each subscriber's bounded
  queue; a subscriber whose queue overflows is dropped (its stream ends), never waited for.
Must not: contain protocol rules (core), import carpd.io, or block the loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from carpd.control.protocol import WRITE_COMMANDS, Peer, ProtocolError, Request
from carpd.core.actions import Action, Anomaly, CheckObserved, StateChanged
from carpd.core.events import CheckResult, SetDemotion, SetHoldDown
from carpd.core.params import CheckParams, VipParams
from carpd.status import messages as msg
from carpd.status.explain import explain
from carpd.status.metrics import render

if TYPE_CHECKING:
    from carpd.core.node import NodeStatistics
    from carpd.driver.daemon import Daemon

MAINTENANCE = "maintenance"
OPERATOR = "operator"
DEMOTIONS_FILE = "demotions"
MAX_DEMOTION = 254
WATCH_QUEUE = 1024
REQUIRE = "require:"


@dataclasses.dataclass
class _HoldDown:
    since: float
    interface: str
    carrier: bool = False
    address: bool = False
    units: dict[str, bool] = dataclasses.field(default_factory=dict)
    checks: set[str] = dataclasses.field(default_factory=set)  # not reported yet

    def waiting_for(self) -> list[str]:
        waits = [] if self.carrier else [f"carrier on {self.interface}"]
        waits += [] if self.address else [f"the source address on {self.interface}"]
        waits += [f"{u} active" for u, ok in self.units.items() if not ok]
        waits += [f"a first result of check {c}" for c in sorted(self.checks)]
        return waits


class Operations:
    """See the module docstring. One per Daemon."""

    def __init__(self, daemon: Daemon) -> None:
        self._d = daemon
        self.maintenance_since: float | None = None  # wall clock, None when off
        self._operator: dict[str, tuple[int, float | None]] = {}  # vip -> (amount, until)
        self._expiry: dict[str, asyncio.TimerHandle] = {}
        self._holds: dict[str, _HoldDown] = {}
        self._checks: dict[str, tuple[str, ...]] = {}  # vip -> started check ids
        self._watchers: set[asyncio.Queue[dict[str, Any] | None]] = set()

    @property
    def maintenance(self) -> bool:
        return self.maintenance_since is not None

    # -- lifecycle ---------------------------------------------------------------------------

    def before_start(self) -> None:
        """Apply persisted flags before Start, so the first adverts already carry them."""
        flags = self._d.ports.flags
        doc = flags.load(MAINTENANCE) or {}
        if doc.get("on") is True:
            since = doc.get("since")
            self.maintenance_since = since if isinstance(since, int | float) else self._wall()
            self._d.post(SetDemotion(name=None, source=MAINTENANCE, amount=MAX_DEMOTION))
            self._log(msg.NOTICE, "maintenance mode is on (persisted): every VIP is demoted to "
                      f"{MAX_DEMOTION}", MESSAGE_ID=msg.OPERATOR_ACTION)
        names = set(self._d.vip_names())
        for name, entry in sorted((flags.load(DEMOTIONS_FILE) or {}).items()):
            if name in names and isinstance(entry, dict):
                self._restore_demotion(name, entry)

    def _restore_demotion(self, name: str, entry: dict[str, Any]) -> None:
        amount, until = entry.get("amount"), entry.get("until")
        if not isinstance(amount, int) or not 1 <= amount <= MAX_DEMOTION:
            return
        if isinstance(until, int | float) and until <= self._wall():
            return
        self._set_operator(name, amount, until if isinstance(until, int | float) else None)

    def after_start(self, params: tuple[VipParams, ...]) -> None:
        for p in params:
            self.vip_added(p)

    def vip_added(self, p: VipParams) -> None:
        """Hold it down, start its checks and unit watchers (Start was posted already)."""
        loop = asyncio.get_running_loop()
        machine = self._d.machine(p.name)
        hold = _HoldDown(since=loop.time(), interface=p.interface, carrier=machine.link_up,
                         units=dict.fromkeys(p.require_units, False),
                         checks={c.name for c in p.checks})
        self._holds[p.name] = hold
        self._d.post(SetHoldDown(name=p.name, active=True))
        if self.maintenance:  # a VIP a reload (re)created carries the node's flags too
            self._d.post(SetDemotion(name=p.name, source=MAINTENANCE, amount=MAX_DEMOTION))
        if p.name in self._operator:
            self._d.post(SetDemotion(name=p.name, source=OPERATOR,
                                     amount=self._operator[p.name][0]))
        specs = _watches(p)
        for check_id, spec in specs.items():
            self._d.ports.health.start(check_id, spec, self.check_result)
        self._checks[p.name] = tuple(specs)
        self._d.spawn(self._check_address(p))

    def vip_retuned(self, old: VipParams, new: VipParams) -> None:
        """The core retuned the VIP in place (Daemon._retune posted it first): stop the
        watchers that are gone or redefined, start the new and redefined ones (a redefined
        check keeps its verdict in the core's tracker), and update a pending hold-down."""
        before, after = _watches(old), _watches(new)
        for check_id, spec in before.items():
            if after.get(check_id) != spec:
                self._d.ports.health.stop(check_id)
        for check_id, spec in after.items():
            if before.get(check_id) != spec:
                self._d.ports.health.start(check_id, spec, self.check_result)
        self._checks[new.name] = tuple(after)
        hold = self._holds.get(new.name)
        if hold is not None:
            known = {c.name for c in old.checks}
            hold.units = {u: hold.units.get(u, False) for u in new.require_units}
            hold.checks = {c.name for c in new.checks
                           if c.name in hold.checks or c.name not in known}
            self._evaluate(new.name)

    def vip_removed(self, name: str) -> None:
        """Stop its checks. Its operator demotion stays (a reload that re-creates the VIP
        gets it back in vip_added; for a VIP gone for good it expires or is promoted)."""
        for check_id in self._checks.pop(name, ()):
            self._d.ports.health.stop(check_id)
        self._holds.pop(name, None)

    async def close(self) -> None:
        for handle in self._expiry.values():
            handle.cancel()
        await self._d.ports.health.close()
        for queue in list(self._watchers):
            self._end(queue)

    # -- inputs --------------------------------------------------------------------------------

    def check_result(self, check_id: str, ok: bool, detail: str) -> None:
        name, _, check = check_id.partition("/")
        if check_id not in self._checks.get(name, ()):
            return  # stopped meanwhile (the VIP is gone, or a reload removed the check)
        hold = self._holds.get(name)
        if check.startswith(REQUIRE):
            if hold is not None:
                hold.units[check.removeprefix(REQUIRE)] = ok
                self._evaluate(name)
            return
        self._d.post(CheckResult(name=name, check=check, ok=ok, detail=detail))
        if hold is not None:
            hold.checks.discard(check)
            self._evaluate(name)

    def link_changed(self, interface: str, up: bool) -> None:
        for name, hold in list(self._holds.items()):
            if hold.interface == interface:
                hold.carrier = up
                self._evaluate(name)

    def addresses_changed(self, interface: str) -> None:
        for name, hold in list(self._holds.items()):
            if hold.interface == interface and not hold.address:
                self._d.spawn(self._check_address(self._d.machine(name).params))

    async def _check_address(self, p: VipParams) -> None:
        try:
            present = {a.ip for a in await self._d.ports.addresses.addresses(p.interface)}
        except OSError:
            return
        hold = self._holds.get(p.name)
        if hold is not None and p.source in present:
            hold.address = True
            self._evaluate(p.name)

    def _evaluate(self, name: str) -> None:
        hold = self._holds.get(name)
        if hold is None or hold.waiting_for():
            return
        del self._holds[name]
        self._d.post(SetHoldDown(name=name, active=False))
        took = asyncio.get_running_loop().time() - hold.since
        self._log(msg.INFO, f"vip {name}: boot hold-down released after {took:.2f} s (carrier, "
                  "address, required units and first check results are there)",
                  MESSAGE_ID=msg.DAEMON_LIFECYCLE, CARP_NAME=name)

    # -- actions out (after the daemon's own handling) ----------------------------------------

    def on_action(self, action: Action) -> None:
        match action:
            case StateChanged():
                self.publish({"type": "transition", "vip": action.name, "from": action.old.value,
                              "to": action.new.value, "reason": action.reason_code,
                              "peer": str(action.peer) if action.peer else None})
            case CheckObserved():
                self._check_observed(action)
            case Anomaly():
                self._anomaly(action)

    def _check_observed(self, a: CheckObserved) -> None:
        self.publish({"type": "check", "vip": a.name, "check": a.check, "ok": a.ok,
                      "state": a.state, "changed": a.changed, "detail": a.detail})
        if a.changed:
            prio = msg.WARNING if a.state == "failing" else msg.NOTICE
            self._log(prio, f"vip {a.name}: check {a.check} is {a.state}: {a.detail}",
                      MESSAGE_ID=msg.CHECK_CHANGED, CARP_NAME=a.name, CARP_CHECK=a.check,
                      CARP_CHECK_STATE=a.state)

    def _anomaly(self, a: Anomaly) -> None:
        self.publish({"type": "anomaly", "kind": a.kind, "vip": a.name,
                      "peer": str(a.peer) if a.peer else None, "detail": a.detail})
        if a.log:
            self._log(msg.WARNING, f"vip {a.name}: {a.kind.replace('_', ' ')}: {a.detail}",
                      MESSAGE_ID=msg.ANOMALY, CARP_NAME=a.name, CARP_ANOMALY=a.kind,
                      CARP_PEER=a.peer)

    # -- watch ---------------------------------------------------------------------------------

    def subscribe(self, req: Request, peer: Peer) -> asyncio.Queue[dict[str, Any] | None]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(WATCH_QUEUE)
        self._watchers.add(queue)
        return queue

    def publish(self, event: dict[str, Any]) -> None:
        if not self._watchers:
            return
        event = {"time": self._iso(self._wall()), **event}
        for queue in list(self._watchers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self._end(queue)
                self._log(msg.WARNING, "a carpctl watch client read too slowly and was "
                          "disconnected", MESSAGE_ID=msg.OPERATOR_ACTION)

    def _end(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        self._watchers.discard(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)

    # -- commands ------------------------------------------------------------------------------

    async def control(self, req: Request, peer: Peer | None) -> dict[str, Any]:
        if req.cmd in WRITE_COMMANDS and peer is not None and not peer.may_write:
            raise ProtocolError(f"permission denied: uid {peer.uid} may read but not change "
                                "carpd (root or the control socket's group may)")
        match req.cmd:
            case "explain":
                return self._explain(self._name_arg(req, required=True))
            case "metrics":
                return {"text": render(self._d.status_document())}
            case "demote":
                return self._demote(req)
            case "promote":
                return self._promote(req)
            case "maintenance":
                return self._maintenance(req)
        raise ProtocolError(f"unsupported command {req.cmd}")

    def _name_arg(self, req: Request, *, required: bool = False) -> str | None:
        name = req.args.get("name")
        if name is None and not required:
            return None
        if not isinstance(name, str) or name not in self._d.vip_names():
            known = ", ".join(self._d.vip_names())
            raise ProtocolError(f"no VIP named {name!r} (known: {known})")
        return name

    def _explain(self, name: str | None) -> dict[str, Any]:
        doc = self._d.status_document()
        vip = next(v for v in doc["vips"] if v["name"] == name)
        since = datetime.fromisoformat(vip["since"]).timestamp()
        ago = _ago(self._wall() - since)
        return {"name": name, "text": explain(vip, maintenance=self.maintenance, ago=ago)}

    def _demote(self, req: Request) -> dict[str, Any]:
        names = self._targets(req)
        amount, duration = req.args.get("by", MAX_DEMOTION), req.args.get("for")
        if isinstance(amount, bool) or not isinstance(amount, int) or not \
                1 <= amount <= MAX_DEMOTION:
            raise ProtocolError(f"demotion must be 1..{MAX_DEMOTION}, not {amount!r}")
        if duration is not None and (isinstance(duration, bool) or not isinstance(
                duration, int | float) or not 0 < duration < 10 * 365 * 86400
                or not math.isfinite(duration)):
            raise ProtocolError(f"duration must be a positive number of seconds, not "
                                f"{duration!r}")
        until = None if duration is None else self._wall() + duration
        for name in names:
            self._set_operator(name, amount, until)
        self._save_demotions()
        when = f" until {self._iso(until)}" if until is not None else ""
        self._operator_log(f"demoted {', '.join(names)} by {amount}{when}")
        return {"demoted": names, "by": amount, "until": self._iso(until) if until else None}

    def _promote(self, req: Request) -> dict[str, Any]:
        names = [n for n in self._targets(req) if n in self._operator]
        for name in names:
            self._clear_operator(name)
        self._save_demotions()
        self._operator_log(f"promoted {', '.join(names) or 'nothing (no operator demotion)'}")
        return {"promoted": names}

    def _targets(self, req: Request) -> list[str]:
        if req.args.get("all") is True:
            return list(self._d.vip_names())
        name = self._name_arg(req, required=True)
        assert name is not None
        return [name]

    def _maintenance(self, req: Request) -> dict[str, Any]:
        on = req.args.get("on")
        if not isinstance(on, bool):
            raise ProtocolError("maintenance needs on: true or false")
        if on != self.maintenance:
            self.maintenance_since = self._wall() if on else None
            self._persist(MAINTENANCE, {"on": on, "since": self.maintenance_since})
            self._d.post(SetDemotion(name=None, source=MAINTENANCE,
                                     amount=MAX_DEMOTION if on else 0))
            self._operator_log(f"maintenance mode {'on' if on else 'off'}")
            self._d.ports.notifier.notify(STATUS=self._d.status_line())
        return {"maintenance": self.maintenance,
                "since": self._iso(self.maintenance_since) if self.maintenance_since else None}

    def _set_operator(self, name: str, amount: int, until: float | None) -> None:
        if handle := self._expiry.pop(name, None):
            handle.cancel()
        self._operator[name] = (amount, until)
        self._d.post(SetDemotion(name=name, source=OPERATOR, amount=amount))
        if until is not None:
            delay = max(0.0, until - self._wall())
            self._expiry[name] = asyncio.get_running_loop().call_later(delay, self._expire, name)

    def _clear_operator(self, name: str) -> None:
        if handle := self._expiry.pop(name, None):
            handle.cancel()
        self._operator.pop(name, None)
        self._d.post(SetDemotion(name=name, source=OPERATOR, amount=0))

    def _expire(self, name: str) -> None:
        self._expiry.pop(name, None)
        self._clear_operator(name)
        self._save_demotions()
        self._operator_log(f"operator demotion of {name} expired")

    def _save_demotions(self) -> None:
        self._persist(DEMOTIONS_FILE, {name: {"amount": amount, "until": until}
                                       for name, (amount, until) in sorted(self._operator.items())})

    def _persist(self, name: str, document: dict[str, Any]) -> None:
        """Applied either way; a state directory that cannot be written is logged loudly
        (the flag would not survive a restart)."""
        try:
            self._d.ports.flags.save(name, document)
        except OSError as exc:
            self._log(msg.ERR, f"cannot persist operator flag {name} (it will not survive a "
                      f"restart): {exc}", MESSAGE_ID=msg.IO_FAILURE)

    def _operator_log(self, text: str) -> None:
        self._log(msg.NOTICE, f"operator: {text}", MESSAGE_ID=msg.OPERATOR_ACTION)
        self.publish({"type": "operator", "detail": text})

    # -- status --------------------------------------------------------------------------------

    def augment(self, doc: dict[str, Any], stats: NodeStatistics) -> None:
        """Add health and operator fields to the status document."""
        doc["maintenance"] = {"on": self.maintenance, "since": self._iso(self.maintenance_since)
                              if self.maintenance_since is not None else None}
        checks: dict[str, list[dict[str, Any]]] = {}
        for c in stats.checks:
            checks.setdefault(c.vip, []).append({
                "name": c.name, "type": c.type, "target": c.target, "fatal": c.fatal,
                "weight": c.weight, "state": c.state.value, "detail": c.detail,
                "since": self._since(c.since_at), "results": c.results,
                "failures": c.failures, "changes": c.changes, "flapping": c.flapping})
        by_name = {s.name: s for s in stats.vips}
        for vip in doc["vips"]:
            s = by_name[vip["name"]]
            operator = self._operator.get(vip["name"])
            vip.update({
                "faults": list(s.faults), "hold_down": s.hold_down,
                "send_suppressed": s.send_suppressed,
                **dict(s.election.master),
                "operator_demotion": None if operator is None else {
                    "amount": operator[0],
                    "until": self._iso(operator[1]) if operator[1] is not None else None},
                "waiting_for": self._holds[vip["name"]].waiting_for()
                if vip["name"] in self._holds else [],
                "checks": checks.get(vip["name"], []),
                "anomalies": stats.anomalies.get(vip["name"], {}),
            })

    # -- helpers -------------------------------------------------------------------------------

    def _since(self, at: float | None) -> str | None:
        return None if at is None else self._d.wall_iso(at)

    def _wall(self) -> float:
        return self._d.wall_clock()

    @staticmethod
    def _iso(wall: float | None) -> str:
        assert wall is not None
        return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds")

    def _log(self, priority: int, message: str, **fields: object) -> None:
        self._d.ports.log.record(priority, message, **fields)


def _watches(p: VipParams) -> dict[str, CheckParams]:
    """What the health port runs for a VIP, by check id: its checks, then one fatal unit
    watcher per `require_units` entry (for the hold-down)."""
    specs = {f"{p.name}/{c.name}": c for c in p.checks}
    for unit in p.require_units:
        specs[f"{p.name}/{REQUIRE}{unit}"] = CheckParams(
            name=REQUIRE + unit, type="unit", fatal=True, unit=unit, interval=2.0, rise=1,
            fall=1)
    return specs


def _ago(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60} min"
