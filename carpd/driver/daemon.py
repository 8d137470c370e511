"""The asyncio driver: the only code that reads the clock and owns the timer.

Owns: turning the outside world (packets, carrier and address changes, signals) into core
events stamped with the loop's monotonic clock; executing the core's actions strictly in
order; one timer armed at `Node.next_deadline()` and fired with `now = max(deadline,
loop.time())`; feeding I/O outcomes back as events (SendResult, AddressesRead for a
ReadAddresses action); start-up (carpd.driver.startup), reload, the watchdog ping, the
metrics textfile (every METRICS_INTERVAL_S, if a MetricsSink is given), the status document
(carpd.status.document, from the core's snapshot and the driver's facts) and shutdown.
The transport's sockets per interface, and re-opening them when an interface is deleted
and re-created, are carpd.driver.interfaces'; the resume record is carpd.driver.resume's.
The advert path is synchronous: a timer or packet callback runs the core and sends adverts
with a non-blocking sendto before returning to the loop. Everything slow (netlink, GARP,
scripts, unit jobs, the reconcile pass) goes to carpd.driver.lanes: one ordered lane per VIP.
The election policy (hold-down, operator demotions and their expiry, maintenance) is in the
core. The operator side (carpd.ops: checks, commands, flags, watch) is attached as an
`OperatorSide` port: it hears about the VIPs' lifecycle and sees every report action, and
reaches back only through `post`, `statistics`, `status`, `now`, `wall_of`, `monotonic_of`.
Must not: import carpd.io, carpd.ops, carpd.config or carpd.app (adapters and the operator
side are injected), or contain protocol or election rules.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from carpd.core.actions import (
    Action,
    AddAddresses,
    Announce,
    HoldDownReleased,
    MaintenanceChanged,
    PacketDropped,
    ReadAddresses,
    RemoveAddresses,
    RunScript,
    SendAdvert,
    StartUnits,
    StateChanged,
    StopUnits,
)
from carpd.core.events import (
    AddressesChanged,
    AddressesRead,
    BeginHoldDown,
    Event,
    LinkChanged,
    Resume,
    Retune,
    SendResult,
    Shutdown,
    Start,
    TimerFired,
)
from carpd.core.node import Node, NodeStatistics
from carpd.core.params import VipParams
from carpd.driver.interfaces import Interfaces
from carpd.driver.lanes import VipWork
from carpd.driver.periodic import Periodic
from carpd.driver.ports import NullOperatorSide, OperatorSide, Ports
from carpd.driver.preview import plan_for
from carpd.driver.reload import RELOAD_REFUSED, RELOADED, ReloadRefused, vip_names
from carpd.driver.resume import ResumeKeeper
from carpd.driver.startup import StartupError, ensure_routed, prepare
from carpd.status import messages as msg
from carpd.status.document import NodeInfo, StatusDocument, build_document, iso_time
from carpd.status.metrics import render as render_metrics

LANE_DRAIN_TIMEOUT_S = 5.0
SCRIPT_DRAIN_TIMEOUT_S = 10.0
METRICS_INTERVAL_S = 15.0


class Daemon:
    def __init__(self, vips: tuple[VipParams, ...], ports: Ports, *, hostname: str,
                 version: str, counter_source: Callable[[str], int],
                 watchdog_interval: float | None = None, reconcile_interval: float = 10.0,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._configured = vips
        self.ports = ports
        self._hostname, self._version = hostname, version
        self._counter_source = counter_source
        self._watchdog_interval = watchdog_interval
        self._reconcile_interval = reconcile_interval
        self._wall_clock = wall_clock
        self._pending: deque[tuple[Event, float | None]] = deque()
        self._draining = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._periodic = Periodic()
        self._tasks: set[asyncio.Task[None]] = set()
        self._fatal: str | None = None
        self._stop: asyncio.Event | None = None
        self.node: Node | None = None
        self._started_at = 0.0
        self._ops: OperatorSide = NullOperatorSide()
        self.refusal: str | None = None  # why the last reload was refused
        self.work = VipWork(ports, self._post, self._running)
        self.interfaces = Interfaces(ports, self._post, self._running, self.now)
        self.resume = ResumeKeeper(ports.resume, ports.log, self.now, self._running)

    def attach(self, ops: OperatorSide) -> None:
        """The operator side (carpd.app attaches carpd.ops.operations.Operations)."""
        self._ops = ops

    # -- lifecycle --------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> int:
        """Run until `stop` is set (SIGTERM/SIGINT) or a fatal error; always clean up."""
        loop = asyncio.get_running_loop()
        self._stop, self._started_at = stop, loop.time()
        resumable = self.resume.candidates(self._configured)
        try:
            params = await prepare(self._configured, self.ports.addresses, self.ports.log,
                                   keep=frozenset(resumable))
        except (StartupError, OSError) as exc:
            return self._fail_start(str(exc), getattr(exc, "exit_status", 1))
        self.node = Node(params, counter_source=self._counter_source, now=loop.time())
        for p in params:
            self.work.add(p.name)
        try:
            await self._bring_up(params, resumable)
        except OSError as exc:
            self._fatal = f"cannot open the network: {exc}"
            stop.set()
        await stop.wait()
        await self._shut_down()
        if self._fatal:
            self._log(msg.ERR, f"carpd stopped on a fatal error: {self._fatal}",
                      MESSAGE_ID=msg.DAEMON_LIFECYCLE)
            return 1
        self._log(msg.INFO, "carpd stopped; every VIP released", MESSAGE_ID=msg.DAEMON_LIFECYCLE)
        return 0

    def _fail_start(self, reason: str, status: int) -> int:
        """`status`: 1, or a StartupError's own (HostMismatchError: not restarted)."""
        self._log(msg.ERR, f"carpd cannot start: {reason}", MESSAGE_ID=msg.DAEMON_LIFECYCLE)
        self.ports.notifier.notify(STATUS=f"failed: {reason}")
        return status

    async def _bring_up(self, params: tuple[VipParams, ...], resumable: dict[str, float]) -> None:
        ports = self.ports
        await ports.addresses.start(self._on_link, self._on_addresses_changed,
                                    self.interfaces.presence)
        for iface in dict.fromkeys(p.interface for p in params):
            self.interfaces.open(iface, params)
            if not await ports.addresses.link_up(iface):
                self._post(LinkChanged(interface=iface, up=False))
        self._ops.before_start()
        for name, advert_at in resumable.items():  # before Start: the core may resume them
            self._post(Resume(name=name, advert_at=advert_at))
        self._post(Start())
        self._post(BeginHoldDown())
        for p in params:
            self._ops.vip_started(p)
        self._start_periodic()
        ports.notifier.notify(READY="1", STATUS=self.status_line())
        self._log(msg.INFO, f"carpd {self._version} started: {self.status_line()}",
                  MESSAGE_ID=msg.DAEMON_LIFECYCLE)

    async def _shut_down(self) -> None:
        self.ports.notifier.notify(STOPPING="1", STATUS="stopping: bowing out")
        self._periodic.cancel()
        if self.node is not None:
            self._post(Shutdown())
        if self._timer is not None:
            self._timer.cancel()
        await self._ops.close()
        await self.work.drain(LANE_DRAIN_TIMEOUT_S)
        await self.ports.scripts.drain(SCRIPT_DRAIN_TIMEOUT_S)
        await self.ports.units.drain(LANE_DRAIN_TIMEOUT_S)
        await self.work.release_everything(self._configured)
        self.resume.flush()
        self.work.close()
        self.ports.announcer.close()
        self.ports.transport.close()
        await self.ports.addresses.close()

    def fatal(self, reason: str) -> None:
        """An adapter hit an unrecoverable error: clean up and exit non-zero."""
        if self._fatal is None:
            self._fatal = reason
        if self._stop is not None:
            self._stop.set()

    # -- reload (carpd.driver.reload plans it; SIGHUP in carpd.app triggers it) ---------

    async def reload(self, load: Callable[[], Awaitable[tuple[VipParams, ...]]]) -> bool:
        """Re-read the configuration through `load` and apply it without touching unchanged
        VIPs and retuning (not re-creating) those changed only in tunable settings. A
        `ReloadRefused`/`StartupError` from loading or checking refuses the reload and the
        running configuration stays. Returns whether the new one was applied."""
        notifier = self.ports.notifier
        notifier.notify(RELOADING="1", MONOTONIC_USEC=str(int(self.now() * 1_000_000)),
                        STATUS="reloading the configuration")
        try:
            if self.node is None or (self._stop is not None and self._stop.is_set()):
                raise ReloadRefused("the daemon is not running its VIPs yet (or any more)")
            vips = await load()
            plan = await plan_for(vips, self._running(), self.ports.addresses)
            await ensure_routed(plan.enlist, self.ports.addresses, self.ports.log)
        except (ReloadRefused, StartupError, OSError) as exc:
            self.refusal = str(exc)  # for status (carpd.app.reloading)
            self._log(msg.ERR, f"reload refused, still running the previous configuration: "
                      f"{exc}", MESSAGE_ID=RELOAD_REFUSED)
            notifier.notify(READY="1", STATUS=self.status_line())
            return False
        for old in plan.retire:
            await self._retire(old)
        for old, new in plan.retuned:
            self._retune(old, new)
        for new in plan.enlist:
            await self._enlist(new)
        self._configured = vips
        self._log(msg.NOTICE, f"configuration reloaded: {plan.summary()}", MESSAGE_ID=RELOADED,
                  CARP_RELOAD_ADDED=vip_names(plan.added),
                  CARP_RELOAD_REMOVED=vip_names(plan.removed),
                  CARP_RELOAD_CHANGED=vip_names(new for _, new in plan.changed),
                  CARP_RELOAD_RETUNED=vip_names(new for _, new in plan.retuned),
                  CARP_RELOAD_UNCHANGED=vip_names(plan.unchanged))
        notifier.notify(READY="1", STATUS=self.status_line())
        return True

    def _running(self) -> tuple[VipParams, ...]:
        if self.node is None:
            return ()
        return tuple(self.node.machine(n).params for n in self.node.names)

    async def _retire(self, p: VipParams) -> None:
        """Bow out (if MASTER) and release, wait for its lane, then forget the VIP."""
        self._ops.vip_removed(p.name)
        self._post(Shutdown(name=p.name))
        await self.work.remove(p.name, LANE_DRAIN_TIMEOUT_S)
        assert self.node is not None
        self.node.remove(p.name)

    def _retune(self, old: VipParams, new: VipParams) -> None:
        """New tunable settings for a running VIP: its machine keeps state, timers, counter
        and demotions (the core's actions run through the normal path), then the operator side
        swaps the checks and unit watchers that changed; changed peers re-join groups."""
        self._post(Retune(params=new))
        self._ops.vip_retuned(old, new)
        if old.peers != new.peers or old.accept_multicast != new.accept_multicast:
            running = tuple(new if v.name == new.name else v for v in self._running())
            try:
                self.interfaces.open(new.interface, running)
            except OSError as exc:
                self._log(msg.ERR, f"vip {new.name}: cannot update the groups on "
                          f"{new.interface}: {exc}", MESSAGE_ID=msg.IO_FAILURE,
                          CARP_NAME=new.name)

    async def _enlist(self, p: VipParams) -> None:
        """Create the VIP and start it in BACKUP (INIT while its link is down)."""
        assert self.node is not None
        try:
            self.interfaces.open(p.interface, (*self._running(), p))
            link_up = await self.ports.addresses.link_up(p.interface)
        except OSError as exc:
            self._log(msg.ERR, f"vip {p.name}: not started, cannot open {p.interface}: {exc}",
                      MESSAGE_ID=msg.IO_FAILURE, CARP_NAME=p.name)
            return
        self.node.add(p, asyncio.get_running_loop().time())
        self.work.add(p.name)
        if not link_up:
            self._post(LinkChanged(interface=p.interface, up=False))
        self._post(Start(name=p.name))
        self._post(BeginHoldDown(name=p.name))
        self._ops.vip_started(p)

    # -- events in ------------------------------------------------------------------------

    def _on_link(self, interface: str, up: bool) -> None:
        if up:
            self.interfaces.link_up(interface)
        self._post(LinkChanged(interface=interface, up=up))

    def _on_addresses_changed(self, interface: str) -> None:
        self.work.reconcile(interface)
        self._post(AddressesChanged(interface=interface))

    def _on_timer(self, deadline: float) -> None:
        self._timer = self._timer_at = None
        loop = asyncio.get_running_loop()
        self._post(TimerFired(), max(deadline, loop.time()))

    def _post(self, event: Event, now: float | None = None) -> None:
        """Queue an event; the outermost caller drains the queue in order."""
        self._pending.append((event, now))
        if self._draining:
            return
        self._draining = True
        try:
            self._drain()
        finally:
            self._draining = False
        self._arm_timer()

    # -- what the operator side uses (carpd.ops.host.Driver) ------------------------------------

    def post(self, event: Event) -> None:
        self._post(event)

    def statistics(self) -> NodeStatistics | None:
        return None if self.node is None else self.node.statistics()

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def wall_of(self, at: float) -> float:
        return self._wall_clock() - (self.now() - at)

    def monotonic_of(self, wall: float) -> float:
        return self.now() - (self._wall_clock() - wall)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _drain(self) -> None:
        assert self.node is not None
        loop = asyncio.get_running_loop()
        while self._pending:
            event, now = self._pending.popleft()
            for action in self.node.handle(event, loop.time() if now is None else now):
                self._execute(action)

    def _arm_timer(self) -> None:
        if self.node is None:
            return
        deadline = self.node.next_deadline()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = (None if deadline is None else
                       asyncio.get_running_loop().call_at(deadline, self._on_timer, deadline))

    # -- actions out ------------------------------------------------------------------------

    def _execute(self, action: Action) -> None:
        match action:
            case SendAdvert() if action.bow_out:
                # after the release queued before it: the peer is told once our VIP is gone
                self.work.after_pending(action.name, lambda: self._send(action))
            case SendAdvert():
                self._send(action)
            case AddAddresses() | RemoveAddresses() | Announce() | StartUnits() | StopUnits() \
                    | RunScript():
                self.work.execute(action)
            case _:
                self._report(action)

    def _report(self, action: Action) -> None:
        """A report (or ReadAddresses): the driver's part first, then the operator side's."""
        match action:
            case ReadAddresses(interface=interface):
                self._spawn(self._read_addresses(interface))
            case StateChanged():
                self._state_changed(action)
            case PacketDropped():
                self._dropped(action)
            case HoldDownReleased(name=name):
                self._log(*msg.hold_down_released(action), MESSAGE_ID=msg.DAEMON_LIFECYCLE,
                          CARP_NAME=name)
            case MaintenanceChanged():
                self.ports.notifier.notify(STATUS=self.status_line())
        self._ops.observe(action)

    async def _read_addresses(self, interface: str) -> None:
        """ReadAddresses: the addresses on `interface`, back to the core (the hold-down)."""
        try:
            present = await self.ports.addresses.addresses(interface)
        except OSError:
            return  # the next address change asks again
        self._post(AddressesRead(interface=interface, addresses=frozenset(a.ip for a in present)))

    def _send(self, a: SendAdvert) -> None:
        try:
            self.ports.transport.send(a)
        except OSError as exc:
            self._log(msg.WARNING, f"vip {a.name}: sending the advert on {a.interface} failed: "
                      f"{exc}", MESSAGE_ID=msg.IO_FAILURE, CARP_NAME=a.name)
            self._post(SendResult(name=a.name, ok=False, error=str(exc)))
            self.interfaces.send_failed(a.interface, exc.errno)
            return
        self.interfaces.send_ok(a.interface)
        self.resume.sent(a)
        self._post(SendResult(name=a.name, ok=True))

    def _state_changed(self, a: StateChanged) -> None:
        prio, text, fields = msg.state_changed(a, self.now(), lambda at: iso_time(self.wall_of(at)))
        self._log(prio, text, **fields)
        self.resume.state_changed(a)
        self.ports.notifier.notify(STATUS=self.status_line())

    def _dropped(self, a: PacketDropped) -> None:
        if a.log:  # (a bad HMAC is also a foreign_advert Anomaly, logged per sender)
            self._log(msg.WARNING, f"dropped CARP packet on {a.interface} from {a.source}: "
                      f"{a.reason} ({a.detail}); further drops of this kind are counted, not "
                      "logged, for a while", MESSAGE_ID=msg.PACKET_DROPPED,
                      CARP_INTERFACE=a.interface, CARP_DROP_REASON=a.reason, CARP_PEER=a.source,
                      CARP_VHID=a.vhid)

    # -- periodic work --------------------------------------------------------

    def _start_periodic(self) -> None:
        if self._watchdog_interval:
            self._periodic.every(self._watchdog_interval / 2,
                                 lambda: self.ports.notifier.notify(WATCHDOG="1"))
        self._periodic.every(self._reconcile_interval, lambda: self.work.reconcile(None))
        if self.ports.metrics is not None:
            self._write_metrics()
            self._periodic.every(METRICS_INTERVAL_S, self._write_metrics)

    def _write_metrics(self) -> None:
        assert self.ports.metrics is not None
        try:
            self.ports.metrics.write(render_metrics(self.status()))
        except OSError as exc:
            self._log(msg.WARNING, f"cannot write the metrics textfile: {exc}",
                      MESSAGE_ID=msg.IO_FAILURE)

    # -- status ---------------------------------------------------------------------------

    def status_line(self) -> str:
        if self.node is None:
            return "starting"
        parts = [f"{name} {state.value}" for name, state in self.node.states()]
        n = len(parts)
        maintenance = "; maintenance on" if self.node.maintenance else ""
        return f"{n} VIP{'s' if n != 1 else ''}: {', '.join(parts)}{maintenance}"

    def status(self) -> StatusDocument:
        info = NodeInfo(hostname=self._hostname, version=self._version,
                        uptime_s=round(self.now() - self._started_at, 3))
        return build_document(self.statistics(), node=info,
                              wall_iso=lambda at: iso_time(self.wall_of(at)))

    def _log(self, priority: int, message: str, **fields: object) -> None:
        self.ports.log.record(priority, message, **fields)
