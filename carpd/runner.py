"""Wiring: build the real adapters around the Daemon and run it under asyncio with signals.

Owns: choosing adapters (journald or stderr, systemctl or no unit jobs), the signal handlers
(SIGTERM/SIGINT -> orderly shutdown), the control server's lifetime, and the exit status.
Must not: contain protocol logic (core) or event handling (daemon).
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import socket

from carpd import __version__
from carpd import messages as msg
from carpd.config import Config
from carpd.daemon import Daemon, Ports
from carpd.io.announce import GarpAnnouncer
from carpd.io.control_server import ControlServer, ControlServerError
from carpd.io.netlink import NetlinkAddresses
from carpd.io.rawsock import RawSocketTransport
from carpd.io.scripts import AsyncScriptRunner
from carpd.io.systemd import SdNotifier, make_event_log
from carpd.io.units import NullUnits, SystemctlUnits, systemd_running
from carpd.ports import EventLog, UnitPort


def run(config: Config) -> int:
    try:
        return asyncio.run(_main(config))
    except KeyboardInterrupt:
        return 130


def _units(log: EventLog) -> UnitPort:
    if systemd_running():
        def on_result(name: str, verb: str, units: tuple[str, ...], ok: bool, err: str) -> None:
            if not ok:
                log.record(msg.ERR, f"vip {name}: systemctl {verb} {' '.join(units)} failed: "
                           f"{err}", MESSAGE_ID=msg.IO_FAILURE, CARP_NAME=name)
        return SystemctlUnits(on_result)

    def on_skip(name: str, units: tuple[str, ...]) -> None:
        log.record(msg.INFO, f"vip {name}: systemd is not running; master units "
                   f"{' '.join(units)} are not started", CARP_NAME=name)
    return NullUnits(on_skip)


def _script_logger(log: EventLog):  # type: ignore[no-untyped-def]
    def on_result(name: str, argv: tuple[str, ...], rc: int | None, error: str,
                  duration: float) -> None:
        ok = rc == 0 and not error
        detail = error or f"exit status {rc}"
        log.record(msg.INFO if ok else msg.WARNING,
                   f"vip {name}: script {' '.join(argv)}: {detail} ({duration:.2f} s)",
                   MESSAGE_ID=msg.SCRIPT_RESULT, CARP_NAME=name)
    return on_result


async def _main(config: Config) -> int:
    loop = asyncio.get_running_loop()
    log = make_event_log()
    for warning in config.warnings:
        log.record(msg.WARNING, warning)
    notifier = SdNotifier()
    ports = Ports(
        transport=RawSocketTransport(), addresses=NetlinkAddresses(),
        announcer=GarpAnnouncer(), scripts=AsyncScriptRunner(_script_logger(log)),
        units=_units(log), notifier=notifier, log=log)
    daemon = Daemon(config.vips, ports, hostname=socket.gethostname(), version=__version__,
                    counter_source=lambda _name: secrets.randbits(64),
                    watchdog_interval=notifier.watchdog_interval)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    control = ControlServer(config.control_socket, daemon.handle_control)
    try:
        await control.start()
    except (ControlServerError, OSError) as exc:
        log.record(msg.ERR, f"carpd cannot start: control socket {config.control_socket}: {exc}",
                   MESSAGE_ID=msg.DAEMON_LIFECYCLE)
        return 1
    try:
        return await daemon.run(stop)
    finally:
        await control.close()
