"""Health checks: run each configured check off the advert path and report raw results.

Owns: one asyncio task per check, reporting `on_result(check_id, ok, detail)` from the loop,
where `ok` is True (pass), False (fail) or None (error: the check could not be made at all).
- exec: the argv (no shell) as a subprocess in its own session, stdin /dev/null; exit 0 is a
  pass; a non-zero status, a signal, a timeout (the whole process group is killed) or a
  command that cannot be run (missing binary, permission) is a failure with the reason.
  Nothing that goes wrong is ever reported as success.
- error, not failure: when carpd itself lacks the resources to make a check (EMFILE/ENFILE:
  no descriptors, ENOMEM, EAGAIN: no processes, ENOBUFS) the result is None with
  "carpd could not run the check: ..." in the detail. That says nothing about the service,
  so it must never demote a VIP (core/policy/checks.py keeps the verdict).
- tcp: a connection to host:port within the timeout.
- http: a minimal HTTP/1.1 GET over asyncio streams (TLS for https), passing iff the status
  line carries `expect_status`; no dependency beyond the standard library.
- bgp: whether the local routing engine (FRR, BIRD) has an established BGP session
  (carpd.io.bgp), each interval.
- interface: carrier and operstate of another interface from /sys/class/net, each interval.
- unit: the systemd unit's ActiveState over D-Bus *signals* (dbus-fast; no polling): failing
  the moment it leaves "active", passing when it is active again. Without a reachable system
  bus (a network namespace test, no systemd, dbus-fast missing) the check reports a failure
  "systemd D-Bus not reachable: ..." and retries every interval, never a success.
Periodic checks start at once and then run every `interval` seconds from the start of the
previous run; a result is reported after each run.
Must not: decide what a result means (core/checks.py does), block the event loop, or raise
out of a check task.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import ssl
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from carpd.core.params import CheckParams
from carpd.io.bgp import run_bgp

if TYPE_CHECKING:  # dbus-fast is imported only when a unit check runs (optional extra)
    from dbus_fast import Message
    from dbus_fast.aio import MessageBus

Outcome = tuple[bool | None, str]
OnResult = Callable[[str, bool | None, str], None]
RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EAGAIN,
                             errno.ENOBUFS})
OUTPUT_LIMIT = 200
CLOSE_TIMEOUT_S = 2.0
SYS_NET = Path("/sys/class/net")
SYSTEMD = "org.freedesktop.systemd1"
UNIT_IFACE = "org.freedesktop.systemd1.Unit"
MANAGER = (SYSTEMD, "/org/freedesktop/systemd1", f"{SYSTEMD}.Manager")
DBUS = ("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus")


class HealthChecks:
    """The health port (carpd.driver.ports.HealthPort) on real processes, sockets and D-Bus."""

    def __init__(self, *, sys_net: Path = SYS_NET) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._sys_net = sys_net
        self._bus: _SystemBus | None = None
        self._closed = False

    def start(self, check_id: str, params: CheckParams, on_result: OnResult) -> None:
        self.stop(check_id)
        run = self._unit if params.type == "unit" else self._periodic
        self._tasks[check_id] = asyncio.get_running_loop().create_task(
            run(check_id, params, on_result), name=f"check {check_id}")

    def stop(self, check_id: str) -> None:
        task = self._tasks.pop(check_id, None)
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        """Stop every check. Bounded: Python 3.11's wait_for can swallow a cancellation
        that races with its result, so the loops also stop on `_closed`."""
        self._closed = True
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT_S)
        if self._bus is not None:
            await self._bus.close()

    # -- periodic checks ---------------------------------------------------------------------

    async def _periodic(self, check_id: str, p: CheckParams, on_result: OnResult) -> None:
        probe = {"exec": run_exec, "tcp": run_tcp, "http": run_http, "bgp": run_bgp}.get(p.type)
        loop = asyncio.get_running_loop()
        while not self._closed:
            started = loop.time()
            if probe is None:
                ok, detail = interface_state(self._sys_net, p.interface or "")
            else:
                ok, detail = await _bounded(probe(p), p.timeout)
            on_result(check_id, ok, detail)
            await asyncio.sleep(max(0.0, started + p.interval - loop.time()))

    # -- unit checks -------------------------------------------------------------------------

    async def _unit(self, check_id: str, p: CheckParams, on_result: OnResult) -> None:
        assert p.unit is not None
        while not self._closed:
            try:
                bus = await self._system_bus()
                await bus.watch_unit(p.unit, lambda ok, detail: on_result(check_id, ok, detail))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # no bus, no systemd, dbus-fast missing, bus lost
                self._bus = None
                if _lacks_resources(exc):
                    on_result(check_id, None, _resource_error(exc))
                else:
                    on_result(check_id, False, f"systemd D-Bus not reachable: {_reason(exc)}")
            await asyncio.sleep(p.interval)

    async def _system_bus(self) -> _SystemBus:
        if self._bus is None or not self._bus.connected:
            self._bus = await _SystemBus.connect()
        return self._bus


async def _bounded(probe: Awaitable[Outcome], timeout: float) -> Outcome:
    try:
        return await asyncio.wait_for(probe, timeout)
    except TimeoutError:
        return False, f"timed out after {timeout:g} s"
    except Exception as exc:  # a probe bug is a failure, never a success
        return (None, _resource_error(exc)) if _lacks_resources(exc) else (False, _reason(exc))


def _lacks_resources(exc: BaseException) -> bool:
    """carpd could not make the check (no descriptors, memory or processes)."""
    return isinstance(exc, OSError) and exc.errno in RESOURCE_ERRNOS


def _resource_error(exc: BaseException) -> str:
    return f"carpd could not run the check: {_reason(exc)}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno:  # asyncio rewrites strerror; errno is exact
        return os.strerror(exc.errno)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


# -- exec -----------------------------------------------------------------------------------

async def run_exec(p: CheckParams) -> Outcome:
    """Run argv; the timeout is enforced here too so the process group is always killed."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *p.command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True)
    except OSError as exc:
        if _lacks_resources(exc):
            return None, f"{_resource_error(exc)} (starting {p.command[0]})"
        return False, f"cannot run {p.command[0]}: {_reason(exc)}"
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), p.timeout * 0.95)
    except (TimeoutError, asyncio.CancelledError) as exc:
        _kill_group(proc.pid)
        await proc.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        return False, f"timed out after {p.timeout:g} s; killed"
    text = out.decode(errors="replace").strip().replace("\n", " ")[:OUTPUT_LIMIT]
    rc = proc.returncode
    if rc == 0:
        return True, "exit status 0" + (f": {text}" if text else "")
    what = f"killed by signal {-rc}" if rc is not None and rc < 0 else f"exit status {rc}"
    return False, what + (f": {text}" if text else "")


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


# -- tcp and http ---------------------------------------------------------------------------

async def run_tcp(p: CheckParams) -> Outcome:
    target = f"{p.host}:{p.port}"
    try:
        _, writer = await asyncio.open_connection(p.host, p.port)
    except OSError as exc:
        return _connect_failed(target, exc)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True, f"connected to {target}"


def _connect_failed(target: str, exc: OSError) -> Outcome:
    if _lacks_resources(exc):
        return None, f"{_resource_error(exc)} (connecting to {target})"
    return False, f"{target}: {_reason(exc)}"


async def run_http(p: CheckParams) -> Outcome:
    assert p.url is not None
    url = urllib.parse.urlsplit(p.url)
    tls = url.scheme == "https"
    host = url.hostname or ""
    port = url.port or (443 if tls else 80)
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    try:
        reader, writer = await asyncio.open_connection(
            host, port, ssl=ssl.create_default_context() if tls else None)
    except OSError as exc:
        return _connect_failed(p.url, exc)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\nUser-Agent: carpd-check"
                     f"\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        line = await reader.readline()
    except OSError as exc:
        return False, f"{p.url}: {_reason(exc)}"
    finally:
        writer.close()
    return _status(p, line)


def _status(p: CheckParams, line: bytes) -> Outcome:
    parts = line.decode("latin-1").strip().split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        shown = line[:60].decode("latin-1").strip() or "nothing"
        return False, f"{p.url}: not an HTTP response ({shown!r})"
    status = int(parts[1])
    detail = f"{p.url}: HTTP {' '.join(parts[1:])}"
    if status != p.expect_status:
        return False, f"{detail} (expected {p.expect_status})"
    return True, detail


# -- interface ------------------------------------------------------------------------------

def interface_state(sys_net: Path, name: str) -> Outcome:
    """Carrier from sysfs: up iff carrier is 1 and operstate is up (or unknown: no driver
    support, e.g. some tunnels). A missing interface is a failure; a file carpd cannot open
    for lack of descriptors is an error, never "no interface"."""
    base = sys_net / name
    try:
        operstate = (base / "operstate").read_text().strip()
    except OSError as exc:
        if _lacks_resources(exc):
            return None, f"{_resource_error(exc)} (reading {base / 'operstate'})"
        return False, f"no interface {name}"
    try:
        carrier = (base / "carrier").read_text().strip() == "1"
    except OSError:  # EINVAL while the interface is administratively down
        carrier = False
    ok = carrier and operstate in ("up", "unknown")
    return ok, f"{name}: carrier {'on' if carrier else 'off'}, operstate {operstate}"


# -- systemd over D-Bus -------------------------------------------------------------------

class _SystemBus:
    """One system-bus connection shared by every unit check; systemd's PropertiesChanged
    signals for each watched unit drive the callbacks."""

    def __init__(self, bus: MessageBus) -> None:
        self._bus = bus
        self._watchers: dict[str, list[Callable[[str, str], None]]] = {}
        self._paths: dict[str, str] = {}  # object path -> unit
        self._state: dict[str, tuple[str, str]] = {}  # unit -> (active, sub)
        bus.add_message_handler(self._on_message)

    @classmethod
    async def connect(cls) -> _SystemBus:
        from dbus_fast import BusType
        from dbus_fast.aio import MessageBus

        bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        self = cls(bus)
        await self._call(MANAGER, "Subscribe", "", [])
        return self

    @property
    def connected(self) -> bool:
        return bool(self._bus.connected)

    async def close(self) -> None:
        self._bus.disconnect()

    async def watch_unit(self, unit: str, report: Callable[[bool, str], None]) -> None:
        """Report the unit's state now and on every change, until the bus goes away."""
        (path,) = await self._call(MANAGER, "LoadUnit", "s", [unit])
        path = str(path)
        self._paths[path] = unit
        rule = (f"type='signal',sender='{SYSTEMD}',path='{path}',"
                "interface='org.freedesktop.DBus.Properties',member='PropertiesChanged'")
        await self._call(DBUS, "AddMatch", "s", [rule])

        def on_change(active: str, sub: str) -> None:
            ok = active == "active"
            report(ok, f"{unit} is {active} ({sub})")

        self._watchers.setdefault(unit, []).append(on_change)
        active = await self._get(path, "ActiveState")
        sub = await self._get(path, "SubState")
        self._state[unit] = (active, sub)
        on_change(active, sub)
        await self._bus.wait_for_disconnect()  # type: ignore[no-untyped-call]
        raise ConnectionError("the system bus connection was lost")

    def _on_message(self, message: Message) -> None:
        if message.member != "PropertiesChanged" or message.path not in self._paths:
            return
        iface, changed, _ = message.body
        if iface != UNIT_IFACE or not ({"ActiveState", "SubState"} & set(changed)):
            return
        unit = self._paths[message.path]
        active, sub = self._state.get(unit, ("unknown", "unknown"))
        active = changed["ActiveState"].value if "ActiveState" in changed else active
        sub = changed["SubState"].value if "SubState" in changed else sub
        if (active, sub) == self._state.get(unit):
            return
        self._state[unit] = (active, sub)
        for watcher in self._watchers.get(unit, []):
            watcher(active, sub)

    async def _get(self, path: str, prop: str) -> str:
        (variant,) = await self._call((SYSTEMD, path, "org.freedesktop.DBus.Properties"), "Get",
                                      "ss", [UNIT_IFACE, prop])
        return str(variant.value)

    async def _call(self, target: tuple[str, str, str], member: str, sig: str,
                    body: list[object]) -> list[Any]:
        from dbus_fast import Message, MessageType

        dest, path, iface = target
        reply = await self._bus.call(Message(
            destination=dest, path=path, interface=iface, member=member, signature=sig,
            body=body))
        if reply is None:
            raise ConnectionError(f"{member}: no reply")
        if reply.message_type == MessageType.ERROR:
            raise ConnectionError(f"{member}: {reply.error_name}: "
                                  f"{reply.body[0] if reply.body else ''}")
        return list(reply.body)
