"""The fault sequence both routed tests run on one lab (tests/integration/routed_lab.py).

Owns: `run_faults`: from s1 MASTER with the router's route via s1, each fault in turn (a
graceful stop of carpd, SIGKILL of carpd followed by the unit's cleanup, SIGKILL of the
server's BGP daemon, a silent drop of all of the master's traffic on its switch port, which
only BFD sees), and after each the repair (carpd
or the engine started again, the filter removed) with s1 taking the VIP back by preemption.
For each it measures, from the observer's samples and a client probe stream every 10 ms:
fault -> the router's FIB via s2, the client's longest outage, repair -> via s1 again, and
the longest time both servers' BGP paths were in the router's table once the fault is complete
(after a SIGKILL, the old master's address and route stay until the cleanup has run; a slow
cleanup can outlast the backup's master-down interval: both routes, the router preferring
the old master, which still holds the VIP). `Measured` carries them
(the benchmark prints the same figures).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from tests.integration.routed_lab import RoutedLab

MOVE_TIMEOUT_S = 15.0


@dataclass
class Measured:
    fault: str
    fault_s: float  # how long the fault itself took (SIGTERM: the exit; SIGKILL: the cleanup)
    to_backup_s: float | None  # fault -> FIB via s2
    outage_s: float  # the client's longest gap in answers from the fault to the repair
    outage_back_s: float  # ... from the repair to the end (the move back by preemption)
    answered_by_s2: bool  # probes after the move were answered by s2
    back_s: float | None  # repair -> FIB via s1 again
    answered_by_s1_after: bool  # the last probes were answered by s1
    overlap_s: float  # longest time both servers' paths were in the router's BGP table
    overlap_resolution_s: float  # ... measured to within this (the gaps between looks)


def _graceful(rl: RoutedLab) -> Callable[[], None]:
    rl.stop_carpd("s1", signal.SIGTERM)
    return lambda: rl.start_carpd("s1")


def _killed(rl: RoutedLab) -> Callable[[], None]:
    rl.stop_carpd("s1", signal.SIGKILL)
    assert rl.holds("s1"), "a SIGKILLed carpd leaves its address (until the cleanup)"
    rl.cleanup("s1")
    assert not rl.holds("s1"), "carpd --cleanup removes the routed VIP"
    return lambda: rl.start_carpd("s1")


def _engine_killed(rl: RoutedLab) -> Callable[[], None]:
    rl.engines["s1"].kill_bgp()
    return rl.engines["s1"].restart_bgp


def _isolated(rl: RoutedLab) -> Callable[[], None]:
    rl.isolate("s1")
    return lambda: rl.heal("s1")


FAULTS: dict[str, Callable[[RoutedLab], Callable[[], None]]] = {
    "graceful stop of carpd": _graceful,
    "SIGKILL of carpd, then its cleanup": _killed,
    "SIGKILL of the BGP daemon": _engine_killed,
    "silent drop of all its traffic (only BFD sees it)": _isolated,
}


def run_fault(rl: RoutedLab, name: str, probe_s: float = 60.0) -> Measured:
    probe = rl.start_probe(probe_s)
    time.sleep(0.5)  # some answers from s1 first
    t_fault = time.monotonic()
    repair = FAULTS[name](rl)
    t_done = time.monotonic()  # the fault is complete (after SIGKILL: the cleanup has run)
    to_backup = rl.route_moved_at("s2", t_fault, MOVE_TIMEOUT_S)
    time.sleep(1.0)  # the client reaches s2 for a while
    t_repair = time.monotonic()
    repair()
    back = rl.route_moved_at("s1", t_repair, MOVE_TIMEOUT_S + 15.0)
    # the route may settle on s1 before s2 stepped down: wait for s2's path to leave
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and len(rl.bgp_paths()) > 1:
        time.sleep(0.05)
    time.sleep(1.0)
    result = rl.finish_probe(probe, timeout=probe_s + 30.0)
    after_move = result.answered_by(to_backup + 0.3) if to_backup else []
    last = [n for _, n in result.rows[-20:] if n is not None]
    overlap, resolution = rl.longest_overlap(t_done)
    return Measured(
        fault=name,
        fault_s=t_done - t_fault,
        to_backup_s=None if to_backup is None else to_backup - t_fault,
        outage_s=result.outage(t_fault - 0.1, t_repair),
        outage_back_s=result.outage(t_repair - 0.1),
        answered_by_s2="s2" in after_move[:50],
        back_s=None if back is None else back - t_repair,
        answered_by_s1_after=bool(last) and set(last) == {"s1"},
        overlap_s=overlap, overlap_resolution_s=resolution)


def run_faults(rl: RoutedLab, probe_s: float = 60.0) -> list[Measured]:
    return [run_fault(rl, name, probe_s) for name in FAULTS]
