"""The resume record: which VIPs are MASTER and when each last advertised, for a restart.

Owns: `ResumeKeeper`. While the daemon runs it keeps in memory the VIPs that are MASTER (from
StateChanged) and the loop instant of each one's last advert as MASTER (`sent`, called on the
advert path: a dict assignment, no I/O), and writes the record through the ResumeStore port,
always from a `call_soon` callback, so after the adverts of that step have gone out: after
each transition to or from MASTER, after an advert as MASTER when the last write is at least
RECORD_INTERVAL_S old (so at most about once a second, and the record's advert is at most one
advert interval older than the crash that follows), and at shutdown (`flush`). The record
changes only at those moments, so a timer of its own would only rewrite the same document.
A failed write is logged once (again only after a write succeeded), never fatal: without a
record a restart goes through BACKUP as always.
At start, `candidates` reads it back: VIP name -> the loop instant of its last advert as
MASTER, for each VIP the record names that was written on this boot (same boot id) for the
same VHID, interface and addresses. The driver keeps those VIPs' leftover addresses and posts
Resume for them; the core decides whether the advert is recent enough (core/machine.py).
Document: {"version": 1, "boot_id": str, "written_at": t, "vips": {name: {"vhid": int,
"interface": str, "addresses": [str], "advert_at": t}}}, every t in CLOCK_BOOTTIME seconds
(converted to and from the loop's clock when written and read; boottime keeps counting through
a suspend, so a suspended host's record is as old as its peers think). Anything unexpected
in it (types, version, a time in the future or not finite) sets the whole record aside with
one warning.
Must not: decide whether to resume, write on the advert path, or read files itself.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable
from typing import Any

from carpd.core.actions import SendAdvert, StateChanged, VhidState
from carpd.core.params import VipParams
from carpd.driver.ports import EventLog, ResumeStore
from carpd.status import messages as msg

RECORD_VERSION = 1
RECORD_INTERVAL_S = 0.9  # a little under a second: adverts at 1 s intervals each get a write


class ResumeKeeper:
    def __init__(self, store: ResumeStore | None, log: EventLog, now: Callable[[], float],
                 vips: Callable[[], Iterable[VipParams]]) -> None:
        self._store, self._log, self._now, self._vips = store, log, now, vips
        self._masters: set[str] = set()
        self._advert_at: dict[str, float] = {}  # loop instants
        self._scheduled = False
        self._failing = False
        self._written_at = -math.inf  # loop instant of the last write

    # -- at start ---------------------------------------------------------------------------

    def candidates(self, vips: Iterable[VipParams]) -> dict[str, float]:
        """VIP name -> loop instant of its last advert as MASTER, per this boot's record."""
        if self._store is None:
            return {}
        try:
            document = self._store.load()
            if document is None:
                return {}
            boot_id, boottime = self._store.boot()
            found = _read(document, boot_id, boottime, vips)
        except (OSError, ValueError) as exc:
            self._log.record(msg.WARNING, f"resume record ignored, every VIP starts as "
                             f"BACKUP: {exc}", MESSAGE_ID=msg.IO_FAILURE)
            return {}
        now = self._now()
        result = {name: now - (boottime - at) for name, at in found.items()}
        for name, at in result.items():
            self._advert_at[name] = at  # a crash before the first new advert keeps it
            self._log.record(msg.INFO, f"vip {name}: the resume record says MASTER, last "
                             f"advert {now - at:.3f} s ago", MESSAGE_ID=msg.DAEMON_LIFECYCLE,
                             CARP_NAME=name)
        return result

    # -- while running ----------------------------------------------------------------------

    def sent(self, advert: SendAdvert) -> None:
        """An advert went out (the advert path: memory only; the write comes after)."""
        if advert.name in self._masters and not advert.bow_out:
            now = self._advert_at[advert.name] = self._now()
            if now - self._written_at >= RECORD_INTERVAL_S:
                self._schedule()

    def state_changed(self, change: StateChanged) -> None:
        if VhidState.MASTER not in (change.old, change.new):
            return
        if change.new is VhidState.MASTER:
            self._masters.add(change.name)
        else:
            self._masters.discard(change.name)
        self._schedule()

    def _schedule(self) -> None:
        if self._store is not None and not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Write the record now (also at shutdown)."""
        self._scheduled = False
        if self._store is None:
            return
        self._written_at = self._now()
        try:
            boot_id, boottime = self._store.boot()
            self._store.save(self._document(boot_id, boottime))
        except OSError as exc:
            if not self._failing:
                self._log.record(msg.WARNING, f"cannot write the resume record: {exc}; a "
                                 "restart after a crash will go through BACKUP (logged once)",
                                 MESSAGE_ID=msg.IO_FAILURE)
            self._failing = True
            return
        self._failing = False

    def _document(self, boot_id: str, boottime: float) -> dict[str, Any]:
        now = self._now()
        vips: dict[str, Any] = {}
        for p in self._vips():
            at = self._advert_at.get(p.name)
            if p.name in self._masters and at is not None:
                vips[p.name] = {"vhid": p.vhid, "interface": p.interface,
                                "addresses": [str(a) for a in p.addresses],
                                "advert_at": round(boottime - (now - at), 6)}
        return {"version": RECORD_VERSION, "boot_id": boot_id,
                "written_at": round(boottime, 6), "vips": vips}


def _read(document: dict[str, Any], boot_id: str, boottime: float,
          vips: Iterable[VipParams]) -> dict[str, float]:
    """name -> boottime of its last advert, for the configured VIPs the record matches.
    Raises ValueError for a record that is not one (another boot is not an error: {})."""
    if document.get("version") != RECORD_VERSION:
        raise ValueError(f"unknown version {document.get('version')!r}")
    if not isinstance(document.get("boot_id"), str) or not isinstance(
            document.get("vips"), dict):
        raise ValueError("boot_id or vips missing or of the wrong type")
    if document["boot_id"] != boot_id:
        return {}  # written before the last reboot: nothing of it holds
    written = _time(document.get("written_at"), boottime)
    found: dict[str, float] = {}
    for p in vips:
        entry = document["vips"].get(p.name)
        if entry is None:
            continue
        if not isinstance(entry, dict):
            raise ValueError(f"vip {p.name}: not an object")
        at = _time(entry.get("advert_at"), written)
        same = (type(entry.get("vhid")) is int and entry["vhid"] == p.vhid
                and entry.get("interface") == p.interface
                and entry.get("addresses") == [str(a) for a in p.addresses])
        if same:
            found[p.name] = at
    return found


def _time(value: object, latest: float) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):  # type: ignore[arg-type]
        raise ValueError(f"not a time: {value!r}")
    assert isinstance(value, int | float)
    if not 0 <= value <= latest:
        raise ValueError(f"time {value!r} outside this boot (now {latest:.3f})")
    return float(value)
