"""Reloading the configuration file, and what the operator sees of it.

Owns: `Reloader` (SIGHUP: re-read the file and hand it to `Daemon.reload`, one reload at a
time; a SIGHUP during a reload runs one more afterwards) and `ConfigKeeper`, which remembers
the configuration that runs (the `Config` last applied, whose `digest` is of the very text
loaded) and the last refused reload (when, and why: the loader's located error, or the host's
refusal that `Daemon.refusal` keeps), and implements carpd.ops.configcmds.ConfigService:
- `dry_run`: load the file on disk as a reload would (the same node, in a thread) and plan it
  with carpd.driver.preview.plan_for, the planning half of `Daemon.reload`; a file the loader
  refuses is the reply's `error`; nothing is applied;
- `running`: the running VIPs (the core's parameters) with the applied file's password
  origins and "auto" sources, for carpd.ops.configview;
- `file_state`: whether the file on disk still has the digest of the running one. The file is
  stat'ed on each request and read (in a thread, at most the loader's size bound) only when
  its size, times or inode changed, so a status poll costs one stat; a path that is not a
  regular file (a FIFO would block the read) is "unreadable".
Invariants: an invalid file, a refused reload or a bug in one never ends the loop or leaves
systemd without READY=1; the running configuration changes only through `Daemon.reload`.
Must not: hold protocol or planning logic, or show a password (only its origin).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from carpd.config.loader import Config, ConfigError, load_config
from carpd.config.reading import MAX_FILE_BYTES
from carpd.config.written import written_keys
from carpd.control.protocol import ProtocolError
from carpd.core.params import VipParams
from carpd.driver.daemon import Daemon
from carpd.driver.ports import EventLog
from carpd.driver.preview import plan_for, preview
from carpd.driver.reload import ReloadRefused
from carpd.driver.startup import StartupError
from carpd.ops.configview import RunningConfig
from carpd.status import messages as msg
from carpd.status.document import iso_time

RESTART_KEYS = ("control_socket", "state_directory", "metrics_textfile")  # read at start only


@dataclass(frozen=True, slots=True)
class Refusal:
    at: float  # wall-clock seconds
    error: str


class ConfigKeeper:
    """See the module docstring. `node` is `carpd --node` (None: this host's name)."""

    def __init__(self, daemon: Daemon, config: Config, node: str | None,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._daemon, self.applied, self._node = daemon, config, node
        self._started, self._wall_clock = config, wall_clock
        self.refusal: Refusal | None = None
        self._seen: tuple[tuple[int, ...], str | None] = ((), config.digest)  # stat, digest

    def load(self) -> Config:
        """The file on disk, loaded for the running node (ConfigError)."""
        return load_config(self.applied.path, node=self._node)

    def restart_warnings(self, config: Config) -> list[str]:
        return [f"{config.path}: carpd.{key} changed; it takes effect at the next restart "
                "(`systemctl restart carpd`)" for key in RESTART_KEYS
                if getattr(config, key) != getattr(self._started, key)]

    def refused(self, error: str) -> None:
        self.refusal = Refusal(self._wall_clock(), error)

    def applied_now(self, config: Config) -> None:
        self.applied, self.refusal = config, None

    # -- carpd.ops.configcmds.ConfigService ---------------------------------------------------

    async def dry_run(self) -> dict[str, Any]:
        stats = self._daemon.statistics()
        if stats is None:
            raise ProtocolError("carpd is still starting (no VIP runs yet); try again")
        head = {"path": self.applied.path, "node": self.applied.node}
        try:
            config = await asyncio.to_thread(self.load)
            plan = await plan_for(config.vips, stats.params, self._daemon.ports.addresses)
        except (ConfigError, StartupError, OSError) as err:
            return {**head, "valid": False, "error": str(err),
                    "text": f"a reload would be refused: {err}"}
        reply = preview(plan, {v.name: v.state for v in stats.vips})
        warnings = [*config.warnings, *self.restart_warnings(config)]
        where = f"{config.path}" + (f" for node {config.node}" if config.node else "")
        text = [f"dry run of a reload of {where} (nothing is applied):", *reply.pop("lines"),
                *(f"warning: {w}" for w in warnings)]
        return {**head, **reply, "valid": True, "warnings": warnings, "text": "\n".join(text)}

    def running(self) -> RunningConfig:
        stats = self._daemon.statistics()
        vips = () if stats is None else stats.params
        loaded = {v.name: v for v in self.applied.vips}
        auto = frozenset((v.name, key) for v in vips if v.name in loaded
                         for key in ("source", "source6")
                         if getattr(loaded[v.name], key) is None and getattr(v, key) is not None)
        carpd = {key: getattr(self._started, key) for key in RESTART_KEYS}
        carpd["nodes"] = self.applied.nodes
        return RunningConfig(path=self.applied.path, vips=vips, carpd=carpd,
                             keys={v.name: written_keys(v) for v in vips},
                             node=self.applied.node, auto=auto,
                             password_sources=dict(self.applied.password_sources))

    async def file_state(self) -> dict[str, Any]:
        on_disk = await self._disk_digest()
        state = ("unreadable" if on_disk is None else
                 "same" if on_disk == self.applied.digest else "changed")
        refusal = self.refusal
        return {"path": self.applied.path, "node": self.applied.node, "on_disk": state,
                "refused_at": None if refusal is None else iso_time(refusal.at),
                "refused": None if refusal is None else refusal.error}

    async def _disk_digest(self) -> str | None:
        """The SHA-256 of the file's bytes, None when it cannot be read."""
        try:
            st = os.stat(self.applied.path)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):  # a FIFO would block the read: not a config file
            return None
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if key != self._seen[0]:
            self._seen = (key, await asyncio.to_thread(_digest, self.applied.path))
        return self._seen[1]


def _digest(path: str) -> str | None:
    try:  # non-blocking, as the loader opens it (carpd.config.reading)
        with open(path, "rb", opener=lambda p, f: os.open(p, f | os.O_NONBLOCK)) as handle:
            return hashlib.sha256(handle.read(MAX_FILE_BYTES + 1)).hexdigest()
    except OSError:
        return None


class Reloader:
    """SIGHUP: re-read the configuration file and hand it to `Daemon.reload`, one reload at
    a time (a SIGHUP during a reload runs one more afterwards). An invalid file is refused
    by the daemon with a journald record; the running configuration stays. Nothing a reload
    raises ends the loop or leaves systemd without READY=1."""

    def __init__(self, daemon: Daemon, keeper: ConfigKeeper, log: EventLog) -> None:
        self._daemon, self._keeper, self._log = daemon, keeper, log
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._loaded: Config | None = None

    def request(self) -> None:
        if self._task is not None:
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            self._again = True
            while self._again:
                self._again = False
                await self._reload_once()
        finally:
            self._task = None

    async def _reload_once(self) -> None:
        """One reload; a failure in it never ends the loop (a queued SIGHUP still runs) and
        never leaves systemd waiting for READY=1."""
        try:
            applied = await self._daemon.reload(self._load)
        except Exception as exc:  # a bug must not wedge reload handling
            self._log.record(msg.ERR, f"reload failed, still running the previous "
                             f"configuration: {type(exc).__name__}: {exc}",
                             MESSAGE_ID=msg.DAEMON_LIFECYCLE)
            self._daemon.ports.notifier.notify(READY="1", STATUS=self._daemon.status_line())
            self._keeper.refused(f"{type(exc).__name__}: {exc}")
            return
        if applied and self._loaded is not None:  # set by _load, which ran
            self._keeper.applied_now(self._loaded)
        else:
            self._keeper.refused(self._daemon.refusal or "refused (see the journal)")

    async def _load(self) -> tuple[VipParams, ...]:
        try:
            config = await asyncio.to_thread(self._keeper.load)
        except ConfigError as err:
            raise ReloadRefused(str(err)) from None
        except Exception as exc:  # load_config raises ConfigError only; a
            # slip there (or a MemoryError) refuses the reload like a bad file
            raise ReloadRefused(f"{self._keeper.applied.path}: cannot load the file: "
                                f"{type(exc).__name__}") from None
        for warning in (*config.warnings, *self._keeper.restart_warnings(config)):
            self._log.record(msg.WARNING, warning)
        self._loaded = config
        return config.vips
