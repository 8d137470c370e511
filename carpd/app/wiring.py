"""Wiring: build the real adapters around the Daemon and run it under asyncio with signals.

Owns: choosing adapters (journald or stderr, unit jobs over D-Bus or none), attaching the
operator side (carpd.ops.operations.Operations, which serves the control socket, with the
configuration's side from carpd.app.reloading) to the Daemon, the signal handlers
(SIGTERM/SIGINT -> orderly shutdown, SIGHUP -> reload the configuration file through
carpd.app.reloading.Reloader, and with CARPD_TEST_HOOKS=1 only, SIGUSR2 -> wedge the loop for the
watchdog test), the control server's lifetime, and the exit status.
Must not: contain protocol logic (core) or event handling (daemon).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import time

from carpd import __version__
from carpd.app.reloading import ConfigKeeper, Reloader
from carpd.config.loader import Config
from carpd.driver.daemon import Daemon
from carpd.driver.ports import EventLog, Ports, UnitPort
from carpd.io.announce import AddressAnnouncer
from carpd.io.control_server import ControlServer, ControlServerError
from carpd.io.health import HealthChecks
from carpd.io.netlink import NetlinkAddresses
from carpd.io.rawsock import RawSocketTransport
from carpd.io.resumefile import ResumeFile
from carpd.io.scripts import AsyncScriptRunner, ResultCallback
from carpd.io.statefile import JsonFlags, Textfile
from carpd.io.systemd import SdNotifier, make_event_log
from carpd.io.units import DbusUnits, NullUnits, systemd_running
from carpd.ops.operations import Operations
from carpd.status import messages as msg


def run(config: Config, node: str | None = None) -> int:
    """Run the daemon on `config`; `node` (`carpd --node`) is kept for reloads."""
    try:
        return asyncio.run(_main(config, node))
    except KeyboardInterrupt:
        return 130


def _units(log: EventLog) -> UnitPort:
    if systemd_running():  # results come back as events (carpd.driver.lanes logs failures)
        return DbusUnits()

    def on_skip(name: str, units: tuple[str, ...]) -> None:
        log.record(msg.INFO, f"vip {name}: systemd is not running; master units "
                   f"{' '.join(units)} are not started", CARP_NAME=name)
    return NullUnits(on_skip)


def _script_logger(log: EventLog) -> ResultCallback:
    def on_result(name: str, argv: tuple[str, ...], rc: int | None, error: str,
                  duration: float) -> None:
        ok = rc == 0 and not error
        detail = error or f"exit status {rc}"
        log.record(msg.INFO if ok else msg.WARNING,
                   f"vip {name}: script {' '.join(argv)}: {detail} ({duration:.2f} s)",
                   MESSAGE_ID=msg.SCRIPT_RESULT, CARP_NAME=name)
    return on_result


def _wedge_loop(log: EventLog) -> None:
    """Test hook (CARPD_TEST_HOOKS=1, SIGUSR2): block the event loop, as a bug would, so
    nothing (adverts, watchdog pings) runs until systemd's watchdog kills us."""
    log.record(msg.WARNING, "test hook: blocking the event loop (SIGUSR2, CARPD_TEST_HOOKS=1)")
    time.sleep(3600)


async def _main(config: Config, node: str | None) -> int:
    loop = asyncio.get_running_loop()
    log = make_event_log()
    for warning in config.warnings:
        log.record(msg.WARNING, warning)
    notifier = SdNotifier()
    ports = Ports(
        transport=RawSocketTransport(), addresses=NetlinkAddresses(),
        announcer=AddressAnnouncer(), scripts=AsyncScriptRunner(_script_logger(log)),
        units=_units(log), notifier=notifier, log=log, health=HealthChecks(),
        flags=JsonFlags(config.state_directory,
                        lambda text: log.record(msg.WARNING, text, MESSAGE_ID=msg.IO_FAILURE)),
        metrics=Textfile(config.metrics_textfile) if config.metrics_textfile else None,
        resume=ResumeFile(os.path.join(config.state_directory, "resume.json")))
    daemon = Daemon(config.vips, ports, hostname=socket.gethostname(), version=__version__,
                    counter_source=lambda _name: secrets.randbits(64),
                    watchdog_interval=notifier.watchdog_interval)
    keeper = ConfigKeeper(daemon, config, node)
    ops = Operations(daemon, ports, keeper)
    daemon.attach(ops)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, Reloader(daemon, keeper, log).request)
    if os.environ.get("CARPD_TEST_HOOKS") == "1":  # tests/systemd: the watchdog must fire
        loop.add_signal_handler(signal.SIGUSR2, _wedge_loop, log)
    control = ControlServer(config.control_socket, ops.control, subscribe=ops.subscribe)
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
