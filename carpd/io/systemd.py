"""systemd integration that needs no D-Bus: sd_notify and structured logging.

Owns: `SdNotifier` (READY/STATUS/STOPPING/WATCHDOG/RELOADING over $NOTIFY_SOCKET, a no-op when
it is unset), `JournalLog` (native journald records with our CARP_* fields via
systemd-python) and `StderrLog` (the same records as readable lines when journald is not
there: a terminal, a test, a network namespace demo). `make_event_log()` picks one.
Must not: ever log a password (callers pass none; fields are rendered as given).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from typing import Any, TextIO

_LEVELS = {0: "EMERG", 1: "ALERT", 2: "CRIT", 3: "ERROR", 4: "WARNING", 5: "NOTICE",
           6: "INFO", 7: "DEBUG"}


class SdNotifier:
    """sd_notify(3) without libsystemd: one datagram per call to $NOTIFY_SOCKET."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        path = env.get("NOTIFY_SOCKET", "")
        self._address = "\0" + path[1:] if path.startswith("@") else path
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self.watchdog_interval: float | None = (
            int(usec) / 1e6 if usec.isdigit() and int(usec) > 0 and mine else None)

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    def notify(self, **fields: str) -> None:
        if not self._address:
            return
        msg = "\n".join(f"{k}={v}" for k, v in fields.items()).encode()
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock, \
                contextlib.suppress(OSError):
            sock.sendto(msg, self._address)


class StderrLog:
    """Readable lines: `carpd: WARNING web: BACKUP -> MASTER (master_down_timer) [k=v ...]`."""

    def __init__(self, stream: TextIO | None = None, min_priority: int = 6) -> None:
        self._stream = stream or sys.stderr
        self._min = min_priority

    def record(self, priority: int, message: str, **fields: object) -> None:
        if priority > self._min:
            return
        extra = " ".join(f"{k}={v}" for k, v in fields.items()
                         if k != "MESSAGE_ID" and v is not None)
        stamp = time.strftime("%H:%M:%S") + f".{int(time.time() * 1000) % 1000:03d}"
        line = f"{stamp} carpd: {_LEVELS.get(priority, str(priority))} {message}"
        print(f"{line}  [{extra}]" if extra else line, file=self._stream, flush=True)


class JournalLog:
    """Native journald records; every CARP_* field is indexed, so
    `journalctl -u carpd CARP_NAME=web` works."""

    def __init__(self, min_priority: int = 6) -> None:
        from systemd import journal  # only imported where journald exists

        self._send: Any = journal.send
        self._min = min_priority

    def record(self, priority: int, message: str, **fields: object) -> None:
        if priority > self._min:
            return
        clean = {k: str(v) for k, v in fields.items() if v is not None}
        self._send(message, PRIORITY=str(priority), SYSLOG_IDENTIFIER="carpd", **clean)


def make_event_log(debug: bool = False) -> JournalLog | StderrLog:
    """journald when our stderr is connected to it (JOURNAL_STREAM) or the socket exists and
    stderr is not a terminal; otherwise stderr lines."""
    level = 7 if debug else 6
    wants_journal = "JOURNAL_STREAM" in os.environ or (
        os.path.exists("/run/systemd/journal/socket") and not sys.stderr.isatty()
        and "CARPD_LOG_STDERR" not in os.environ)
    if wants_journal:
        try:
            return JournalLog(level)
        except ImportError:
            pass
    return StderrLog(min_priority=level)
