"""`carpctl watch`: an ordered stream of what happens, to every subscriber, never waited for.

Owns: `Watchers`, the subscribers' bounded queues (WATCH_QUEUE events each) and the events
put in them, in order: transitions, check results, anomalies and operator actions, each a
JSON object with its wall-clock "time" first. A subscriber whose queue is full is dropped
(its queue gets the end marker None, which ends its stream in the control server) and the
drop is logged; nothing here ever blocks the loop. Each subscriber has a `WatchFilter`:
`name` keeps one VIP's events (and those about no VIP: operator actions), `changes` keeps
only what changes something: transitions, check results that changed the verdict, anomalies
that are logged (the first per (kind, VIP, peer) in each log interval; the others carry
"repeat": true) and operator actions. A filtered-out event never fills a queue.
Must not: block, or read the clock (the time comes from the driver).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from carpd.core.actions import Anomaly, CheckObserved, StateChanged
from carpd.driver.ports import EventLog
from carpd.ops.host import Driver
from carpd.status import messages as msg
from carpd.status.document import iso_time

WATCH_QUEUE = 1024
Queue = asyncio.Queue[dict[str, Any] | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchFilter:
    name: str | None = None  # None: every VIP
    changes: bool = False  # only events that change something

    def wants(self, event: dict[str, Any]) -> bool:
        vip = event.get("vip")
        if self.name is not None and vip is not None and vip != self.name:
            return False
        if not self.changes:
            return True
        match event.get("type"):
            case "check":
                return bool(event.get("changed"))
            case "anomaly":
                return not event.get("repeat")
        return True


class Watchers:
    def __init__(self, driver: Driver, log: EventLog) -> None:
        self._driver, self._log = driver, log
        self._queues: dict[Queue, WatchFilter] = {}

    def subscribe(self, wants: WatchFilter | None = None) -> Queue:
        queue: Queue = asyncio.Queue(WATCH_QUEUE)
        self._queues[queue] = WatchFilter() if wants is None else wants
        return queue

    def publish(self, event: dict[str, Any]) -> None:
        if not self._queues:
            return
        event = {"time": iso_time(self._driver.wall_of(self._driver.now())), **event}
        for queue, wants in list(self._queues.items()):
            if not wants.wants(event):
                continue
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self._end(queue)
                self._log.record(msg.WARNING, "a carpctl watch client read too slowly and "
                                 "was disconnected", MESSAGE_ID=msg.OPERATOR_ACTION)

    def close(self) -> None:
        for queue in list(self._queues):
            self._end(queue)

    def _end(self, queue: Queue) -> None:
        self._queues.pop(queue, None)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)


def transition_event(a: StateChanged) -> dict[str, Any]:
    return {"type": "transition", "vip": a.name, "from": a.old.value, "to": a.new.value,
            "reason": a.reason_code, "peer": str(a.peer) if a.peer else None}


def check_event(a: CheckObserved) -> dict[str, Any]:
    return {"type": "check", "vip": a.name, "check": a.check, "ok": a.ok,
            "state": a.state.value, "changed": a.changed, "detail": a.detail}


def anomaly_event(a: Anomaly) -> dict[str, Any]:
    return {"type": "anomaly", "kind": a.kind.value, "vip": a.name,
            "peer": str(a.peer) if a.peer else None, "detail": a.detail, "repeat": not a.log}


def operator_event(text: str) -> dict[str, Any]:
    return {"type": "operator", "detail": text}
