"""The operator side of the daemon: health-check wiring, operator commands, flags, watch.

Owns: `Operations`, which carpd.app builds around the running Daemon and attaches to it.
Towards the driver it is a `carpd.driver.ports.OperatorSide`: told when the VIPs are about to
start (`before_start`: the persisted flags, ops/flags.py), when one started, was retuned or
removed (its checks on the HealthPort, ops/checks.py), and shown every action the driver does
not execute itself (`observe`): transitions, check results and anomalies go to the watch
stream (ops/watch.py), transitions also to the history ring (ops/history.py), the latter two
also to the journal, as is the log limit's summary of
what it held back (LogsSuppressed); a check that could not be run (an error result: carpd
short of descriptors, memory or processes) is logged once when it starts failing to run and
once when it runs again; an operator demotion that expired is persisted and announced.
Towards the control server it answers requests (`control`,
ops/commands.py; the configuration's, given a `ConfigService`, ops/configcmds.py) and hands
out watch subscriptions (`subscribe`). It reaches the driver only
through the `carpd.ops.host.Driver` interface: post an event, read snapshots, the clock.
The election policy itself (hold-down, demotions and their expiry, maintenance) is in the
core (carpd/core/policy); nothing here keeps timers or a copy of it.
Must not: contain protocol or election rules, import carpd.io or the driver, or block the
loop.
"""

from __future__ import annotations

from typing import Any

from carpd.control.protocol import Peer, Request
from carpd.core.actions import (
    Action,
    Anomaly,
    AnomalyKind,
    CheckObserved,
    CheckState,
    DemotionExpired,
    LogsSuppressed,
    StateChanged,
)
from carpd.core.params import VipParams
from carpd.driver.ports import Ports
from carpd.ops.checks import CheckRunners
from carpd.ops.commands import Commands
from carpd.ops.configcmds import ConfigCommands, ConfigService
from carpd.ops.flags import OperatorFlags
from carpd.ops.history import History
from carpd.ops.host import Driver
from carpd.ops.watch import (
    Queue,
    Watchers,
    anomaly_event,
    check_event,
    operator_event,
    transition_event,
)
from carpd.status import messages as msg


class Operations:
    """See the module docstring. One per Daemon."""

    def __init__(self, driver: Driver, ports: Ports,
                 config: ConfigService | None = None) -> None:
        self._log = ports.log
        self._config = None if config is None else ConfigCommands(config)
        self._watchers = Watchers(driver, ports.log)
        self._checks = CheckRunners(ports.health, driver.post)
        self._flags = OperatorFlags(ports.flags, driver, ports.log)
        self._history = History(driver)
        self._commands = Commands(driver, self._flags, self._tell, self._history)
        self._erroring: set[tuple[str, str]] = set()  # (vip, check) that could not run

    # -- carpd.driver.ports.OperatorSide --------------------------------------------------------

    def before_start(self) -> None:
        self._flags.restore()

    def vip_started(self, params: VipParams) -> None:
        self._checks.start(params)

    def vip_retuned(self, old: VipParams, new: VipParams) -> None:
        self._checks.retune(old, new)

    def vip_removed(self, name: str) -> None:
        """Its checks stop; its operator demotion stays in the core (by name)."""
        self._checks.stop(name)
        self._history.forget(name)

    def observe(self, action: Action) -> None:
        match action:
            case StateChanged():
                self._history.record(action)
                self._watchers.publish(transition_event(action))
            case CheckObserved():
                self._check_observed(action)
            case Anomaly():
                self._anomaly(action)
            case LogsSuppressed():
                self._suppressed(action)
            case DemotionExpired(name=name):
                self._flags.save_demotions()
                self._tell(f"operator demotion of {name} expired")

    async def close(self) -> None:
        await self._checks.close()
        self._watchers.close()

    # -- the control server -----------------------------------------------------------------

    async def control(self, req: Request, peer: Peer | None = None) -> dict[str, Any]:
        """One control request; `peer` is None for in-process callers (trusted). The
        configuration's commands (and status's `config` section) are ops/configcmds.py's."""
        if self._config is not None and req.cmd == "reload":
            return await self._config.reload(req, peer)
        if self._config is not None and req.cmd == "config":
            return self._config.config(req)
        result = self._commands.run(req, peer)
        if self._config is not None and req.cmd == "status":
            return await self._config.status(result)
        return result

    def subscribe(self, req: Request, peer: Peer) -> Queue:
        """A watch stream, narrowed by the request's args (ops/watch.py `WatchFilter`)."""
        return self._watchers.subscribe(self._commands.watch_filter(req))

    def check_result(self, check_id: str, ok: bool | None, detail: str) -> None:
        """A raw result as the HealthPort reports it (also for tests)."""
        self._checks.check_result(check_id, ok, detail)

    # -- reports ----------------------------------------------------------------------------

    def _check_observed(self, a: CheckObserved) -> None:
        self._watchers.publish(check_event(a))
        key = (a.name, a.check)
        if a.ok is None and key not in self._erroring:
            self._erroring.add(key)
            self._log.record(msg.WARNING, f"vip {a.name}: check {a.check} could not be run, "
                             f"counted as neither pass nor fail (it stays {a.state.value}): "
                             f"{a.detail}", MESSAGE_ID=msg.IO_FAILURE, CARP_NAME=a.name,
                             CARP_CHECK=a.check)
        elif a.ok is not None and key in self._erroring:
            self._erroring.discard(key)
            self._log.record(msg.NOTICE, f"vip {a.name}: check {a.check} runs again",
                             MESSAGE_ID=msg.IO_FAILURE, CARP_NAME=a.name, CARP_CHECK=a.check)
        if a.changed:
            prio = msg.WARNING if a.state is CheckState.FAILING else msg.NOTICE
            self._log.record(prio, f"vip {a.name}: check {a.check} is {a.state.value}: "
                             f"{a.detail}", MESSAGE_ID=msg.CHECK_CHANGED, CARP_NAME=a.name,
                             CARP_CHECK=a.check, CARP_CHECK_STATE=a.state.value)

    def _anomaly(self, a: Anomaly) -> None:
        self._watchers.publish(anomaly_event(a))
        if a.log:
            self._log.record(msg.WARNING, f"vip {a.name}: {a.kind.value.replace('_', ' ')}: "
                             f"{a.detail}", MESSAGE_ID=msg.ANOMALY, CARP_NAME=a.name,
                             CARP_ANOMALY=a.kind.value, CARP_PEER=a.peer)

    def _suppressed(self, a: LogsSuppressed) -> None:
        """The summary of what the core's log limit held back (core/loglimit.py)."""
        fields = ({"MESSAGE_ID": msg.ANOMALY, "CARP_ANOMALY": a.kind.value}
                  if isinstance(a.kind, AnomalyKind)
                  else {"MESSAGE_ID": msg.PACKET_DROPPED, "CARP_DROP_REASON": a.kind.value})
        self._log.record(msg.WARNING, a.text, **fields)

    def _tell(self, text: str) -> None:
        """An operator action: the journal and the watch stream."""
        self._log.record(msg.NOTICE, f"operator: {text}", MESSAGE_ID=msg.OPERATOR_ACTION)
        self._watchers.publish(operator_event(text))
