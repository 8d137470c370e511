"""The slow side of each VIP: everything the core asks for that may take time.

Owns: one ordered "lane" task per VIP that runs its address operations (netlink), unit jobs
and script submissions strictly in the order the core emitted them; the gratuitous-ARP bursts
(which run beside the lane, so a 3-second burst never holds up a step-down, and are cancelled
when the VIP is released); the exit's last removal of every VIP (`release_everything`); and
the reconcile pass that makes each interface agree
with the state machines (a VIP deleted behind our back while MASTER is put back, carpd's own
copy present while not MASTER is removed). Failures are logged and, for address operations,
fed back to the core as `AddressOpFailed` through `post`; except a removal from an interface
the kernel confirms is gone (deleted: its addresses went with it), which is only noted, as is
a reconcile pass of such an interface. Every unit job's outcome (the unit port's `report_to`)
goes back as `UnitJobFinished`, a failed one logged first.
Ownership (carpd.core.ownership): the pass and every release remove only addresses carrying
carpd's mark. A copy of a VIP address that is not carpd's (an operator's `ip addr add`) is
never removed or taken: the pass logs it once and posts `SetFault(FOREIGN_ADDRESS)`, so the
VIP is FAULT (released, silent, the peer serves it) until that copy is gone, when it posts
the fault's end and the VIP rejoins as BACKUP.
Invariants: `Lane.held` is what the last *executed* address operation left on the interface,
so the reconcile pass compares against the desired state at the lane's position, never
against a state the lane has not reached yet; a busy lane is never reconciled.
Master units follow the latest state: a StartUnits still queued when a later release is
queued is skipped (the unit port, in turn, drops a start still waiting behind a stop), so a
claim unit never starts on a node that is no longer MASTER (docs/routed.md).
Every address operation and the pass name the VIP's `address_interface` (a routed VIP's
`routed_interface`, carpd.driver.placement), where its addresses live.
Must not: run anything on the advert path (the driver sends adverts itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
from collections.abc import Awaitable, Callable, Iterable

from carpd.core.actions import (
    AddAddresses,
    Announce,
    RemoveAddresses,
    RunScript,
    StartUnits,
    StopUnits,
)
from carpd.core.addresses import AddressWithPrefix
from carpd.core.effects import announcements
from carpd.core.events import AddressOpFailed, Event, SetFault, UnitJobFinished
from carpd.core.ownership import FOREIGN_ADDRESS, foreign_copy_text, survey
from carpd.core.params import VipParams, address_label
from carpd.driver.ports import Ports
from carpd.status import messages as msg

RECONCILE_DEBOUNCE_S = 0.2
SlowAction = AddAddresses | RemoveAddresses | Announce | StartUnits | StopUnits | RunScript


class Lane:
    """One VIP's ordered queue of slow operations, run by one task."""

    def __init__(self, name: str, on_error: Callable[[str, BaseException], None]) -> None:
        self._queue: asyncio.Queue[Callable[[], Awaitable[None]]] = asyncio.Queue()
        self._on_error = on_error
        self._name = name
        self._task = asyncio.get_running_loop().create_task(self._work())
        self._active = False
        self.held = False

    @property
    def busy(self) -> bool:
        return self._active or not self._queue.empty()

    def submit(self, op: Callable[[], Awaitable[None]]) -> None:
        self._queue.put_nowait(op)

    async def _work(self) -> None:
        while True:
            op = await self._queue.get()
            self._active = True
            try:
                await op()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # an adapter failure must not kill the lane
                self._on_error(self._name, exc)
            finally:
                self._active = False
                self._queue.task_done()

    async def drain(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout)

    def cancel(self) -> None:
        self._task.cancel()


class VipWork:
    def __init__(self, ports: Ports, post: Callable[[Event], None],
                 vips: Callable[[], Iterable[VipParams]]) -> None:
        self._ports = ports
        self._post = post
        self._vips = vips  # the VIPs currently run by the core
        self._lanes: dict[str, Lane] = {}
        self._bursts: dict[str, set[asyncio.Task[None]]] = {}
        self._reconciling: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False  # close() ran: a debounced pass due later must not start
        self._foreign: dict[str, frozenset[AddressWithPrefix]] = {}  # VIP -> copies not ours
        self._releases: dict[str, int] = {}  # VIP -> releases the core has asked for so far
        ports.units.report_to(self._unit_result)

    # -- membership ------------------------------------------------------------------------

    def add(self, name: str) -> None:
        self._lanes[name] = Lane(name, self._lane_error)
        self._foreign.pop(name, None)

    async def remove(self, name: str, timeout: float) -> None:
        """Let the VIP's pending operations finish, then forget it."""
        await self._lanes[name].drain(timeout)
        self._lanes.pop(name).cancel()
        self._cancel_bursts(name)
        self._foreign.pop(name, None)

    async def drain(self, timeout: float) -> None:
        await asyncio.gather(*(lane.drain(timeout) for lane in self._lanes.values()))

    def close(self) -> None:
        self._closed = True
        for name in list(self._bursts):
            self._cancel_bursts(name)
        for lane in self._lanes.values():
            lane.cancel()
        for task in self._tasks:
            task.cancel()

    # -- the core's slow actions -------------------------------------------------------------

    def after_pending(self, name: str, fn: Callable[[], None]) -> None:
        """Run `fn` in the loop once the VIP's operations queued so far are done (at once
        when none are)."""
        lane = self._lanes[name]
        if not lane.busy:
            fn()
            return

        async def op() -> None:
            fn()

        lane.submit(op)

    def execute(self, a: SlowAction) -> None:
        lane = self._lanes[a.name]
        match a:
            case AddAddresses() | RemoveAddresses():
                if isinstance(a, RemoveAddresses):
                    self._cancel_bursts(a.name)  # stop announcing what we are releasing
                    self._releases[a.name] = self._releases.get(a.name, 0) + 1
                if lane.busy or not self._at_once(a):
                    lane.submit(lambda: self._address_op(lane, a))
                else:
                    lane.held = isinstance(a, AddAddresses)  # what the lane's op would leave
            case Announce():  # never for addresses a later release is giving up
                lane.submit(self._unless_released(a.name, lambda: self._start_burst(a)))
            case StartUnits():
                lane.submit(self._unless_released(
                    a.name, lambda: self._unit_job(a.name, a.units, start=True),
                    skipped="master units not started"))
            case StopUnits():
                lane.submit(lambda: self._unit_job(a.name, a.units, start=False))
            case RunScript():
                lane.submit(lambda: self._script(a))

    def _at_once(self, a: AddAddresses | RemoveAddresses) -> bool:
        """An address operation on an idle lane goes at once, on this thread: queued, it
        waits for the lane task and the netlink worker thread, which on a busy machine cost
        more than the rest of a takeover or of a shutdown's bow-out (bench vrrp3 --perf:
        ~10 ms against ~0.1 ms). Nothing is queued before it, so the order the core emitted
        is kept; when the port cannot do it at once (a copy already there, an error) the
        lane's operation runs as before, with its error handling."""
        ports = self._ports.addresses
        if isinstance(a, AddAddresses):
            return ports.add_now(a.interface, a.addresses, a.label,
                                 deprecate_ipv6=a.deprecate_ipv6)
        return ports.remove_now(a.interface, a.addresses,
                                label=address_label(a.interface, a.name))

    def _unless_released(self, name: str, op: Callable[[], Awaitable[None]],
                         skipped: str | None = None) -> Callable[[], Awaitable[None]]:
        """`op`, skipped if the VIP was released after it was queued: a master unit (a
        cloud claim) queued while MASTER never starts once the node has left MASTER, and
        a GARP/NA burst queued then never announces addresses the node gave up (its
        release cancels only the bursts already running). `skipped` is logged."""
        queued_at = self._releases.get(name, 0)

        async def run() -> None:
            if self._releases.get(name, 0) == queued_at:
                await op()
            elif skipped is not None:
                self._log(msg.INFO, f"vip {name}: {skipped}: the VIP was released before "
                          "their turn", CARP_NAME=name)

        return run

    async def _address_op(self, lane: Lane, a: AddAddresses | RemoveAddresses) -> None:
        try:
            if isinstance(a, AddAddresses):
                await self._ports.addresses.add(a.interface, a.addresses, a.label,
                                                deprecate_ipv6=a.deprecate_ipv6)
            else:
                await self._ports.addresses.remove(a.interface, a.addresses,
                                                   label=address_label(a.interface, a.name))
        except OSError as exc:
            if isinstance(a, RemoveAddresses) and await self.interface_gone(a.interface, exc):
                self._log(msg.INFO, f"vip {a.name}: {a.interface} is gone, and its addresses "
                          "went with it", CARP_NAME=a.name, CARP_INTERFACE=a.interface)
                return
            self._log(msg.ERR, f"vip {a.name}: {exc}", MESSAGE_ID=msg.IO_FAILURE,
                      CARP_NAME=a.name)
            self._post(AddressOpFailed(name=a.name, error=str(exc)))
        finally:
            lane.held = isinstance(a, AddAddresses)

    async def release_everything(self, vips: Iterable[VipParams]) -> None:
        """At exit, belt and braces: whatever happened before, no VIP stays on an interface."""
        for p in vips:
            try:
                await self._ports.addresses.remove(p.address_interface, p.addresses,
                                                   label=p.label)
            except OSError as exc:
                if await self.interface_gone(p.address_interface, exc):
                    continue
                self._log(msg.ERR, f"vip {p.name}: could not remove {p.addresses} at exit: "
                          f"{exc}", MESSAGE_ID=msg.IO_FAILURE, CARP_NAME=p.name)

    async def interface_gone(self, iface: str, exc: OSError) -> bool:
        """`exc` says `iface` does not exist and the kernel confirms it; a lookup that
        failed for another reason (out of descriptors, say) is not a missing interface."""
        if exc.errno != errno.ENODEV:
            return False
        try:
            return not await self._ports.addresses.exists(iface)
        except OSError:
            return False

    async def _start_burst(self, a: Announce) -> None:
        """Bursts run side by side: a one-off re-announcement (a slower master was heard)
        must not cut short the promotion burst still running. Only a release stops them."""
        task = asyncio.get_running_loop().create_task(self._burst(a))
        tasks = self._bursts.setdefault(a.name, set())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def _cancel_bursts(self, name: str) -> None:
        for task in self._bursts.pop(name, set()):
            task.cancel()

    async def _burst(self, a: Announce) -> None:
        try:
            await self._ports.announcer.announce(a.interface, a.addresses, a.count, a.interval,
                                                 router=a.router)
        except OSError as exc:
            self._log(msg.WARNING, f"vip {a.name}: gratuitous ARP failed: {exc}",
                      MESSAGE_ID=msg.IO_FAILURE, CARP_NAME=a.name)

    async def _unit_job(self, name: str, units: tuple[str, ...], *, start: bool) -> None:
        units_port = self._ports.units
        (units_port.start_units if start else units_port.stop_units)(name, units)

    def _unit_result(self, ev: UnitJobFinished) -> None:
        """A unit job's outcome: a failure is logged, every outcome goes to the core."""
        if ev.result.failed:
            detail = f": {ev.detail}" if ev.detail else ""
            self._log(msg.ERR, f"vip {ev.name}: {ev.verb.value} {ev.unit} via {ev.via.value}: "
                      f"{ev.result.value}{detail}", MESSAGE_ID=msg.IO_FAILURE, CARP_NAME=ev.name,
                      CARP_UNIT=ev.unit, CARP_UNIT_RESULT=ev.result.value)
        self._post(ev)

    async def _script(self, a: RunScript) -> None:
        self._ports.scripts.submit(a.name, a.argv)

    # -- reconcile ---------------------------------------------------------------------------

    def reconcile(self, interface: str | None) -> None:
        """Schedule one pass per interface, coalescing bursts of notifications (our own
        address changes trigger them too)."""
        loop = asyncio.get_running_loop()
        for iface in sorted({p.address_interface for p in self._vips()}):
            if (interface is None or iface == interface) and iface not in self._reconciling:
                self._reconciling.add(iface)
                loop.call_later(RECONCILE_DEBOUNCE_S, self._start_pass, iface)

    def _start_pass(self, iface: str) -> None:
        if self._closed:  # the exit closed the adapters after this pass was debounced
            return
        task = asyncio.get_running_loop().create_task(self._reconcile_pass(iface))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reconcile_pass(self, iface: str) -> None:
        """One address dump for the interface; each VIP's foreign copies are noted, and each
        VIP whose lane is idle is compared with what its state machine wants. A busy lane
        is skipped: its pending operations are about to change the interface, and the next
        pass looks again."""
        self._reconciling.discard(iface)
        try:
            listing = await self._ports.addresses.listing(iface)
        except OSError as exc:
            if await self.interface_gone(iface, exc):
                return  # nothing to reconcile; its VIPs are INIT until it comes back
            self._log(msg.WARNING, f"reconcile of {iface} failed: {exc}",
                      MESSAGE_ID=msg.IO_FAILURE, CARP_INTERFACE=iface)
            return
        for p in self._vips():
            lane = self._lanes.get(p.name)
            if p.address_interface != iface or lane is None:
                continue
            found = survey(p.addresses, p.label, listing)
            self._note_foreign(p, frozenset(found.foreign))
            if lane.busy:
                continue
            have = {a.ip for a in found.ours}
            if lane.held and not found.foreign and len(have) < len(p.addresses):
                lane.submit(functools.partial(self._restore, p, lane))
            elif not lane.held and found.ours:
                lane.submit(functools.partial(self._evict, p, lane, found.ours))

    def _note_foreign(self, p: VipParams, foreign: frozenset[AddressWithPrefix]) -> None:
        """A change in the VIP's copies that are not carpd's: logged, and the VIP's
        FOREIGN_ADDRESS fault set or cleared."""
        if foreign == self._foreign.get(p.name, frozenset()):
            return
        self._foreign[p.name] = foreign
        where = p.address_interface
        if foreign:
            texts = "; ".join(foreign_copy_text(a, where) for a in sorted(foreign, key=str))
            self._log(msg.ERR, f"vip {p.name}: {texts}; the VIP is FAULT (not served by this "
                      "host) until it is gone", MESSAGE_ID=msg.VIP_RECONCILED, CARP_NAME=p.name,
                      CARP_INTERFACE=where)
        else:
            self._log(msg.NOTICE, f"vip {p.name}: no address on {where} equal to the VIP "
                      "that carpd did not add any more; the VIP runs again",
                      MESSAGE_ID=msg.VIP_RECONCILED, CARP_NAME=p.name, CARP_INTERFACE=where)
        self._post(SetFault(name=p.name, source=FOREIGN_ADDRESS, failing=bool(foreign)))

    async def _restore(self, p: VipParams, lane: Lane) -> None:
        if not lane.held:
            return  # released meanwhile
        await self._ports.addresses.add(p.address_interface, p.addresses, p.label,
                                        deprecate_ipv6=p.deprecate_ipv6_vip)
        self._log(msg.WARNING, f"vip {p.name}: address removed behind carpd's back while "
                  "MASTER; restored it", MESSAGE_ID=msg.VIP_RECONCILED, CARP_NAME=p.name)
        for burst in announcements(p, once=True):
            await self._start_burst(burst)

    async def _evict(self, p: VipParams, lane: Lane,
                     have: tuple[AddressWithPrefix, ...]) -> None:
        if lane.held:
            return  # became MASTER meanwhile
        removed = await self._ports.addresses.remove(p.address_interface, have, label=p.label)
        if removed:
            self._log(msg.WARNING, f"vip {p.name}: {', '.join(map(str, removed))} (carpd's) "
                      "present while not MASTER; removed it", MESSAGE_ID=msg.VIP_RECONCILED,
                      CARP_NAME=p.name)

    def _lane_error(self, name: str, exc: BaseException) -> None:
        self._log(msg.ERR, f"vip {name}: {type(exc).__name__}: {exc}", MESSAGE_ID=msg.IO_FAILURE,
                  CARP_NAME=name)

    def _log(self, priority: int, message: str, **fields: object) -> None:
        self._ports.log.record(priority, message, **fields)
