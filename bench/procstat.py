"""Resident memory and CPU time of a set of processes and all their descendants, from /proc."""

from __future__ import annotations

import os
from collections.abc import Iterable

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    # comm may contain spaces and parentheses: split after the last ')'
    return text[text.rindex(")") + 2:].split()


def descendants(roots: Iterable[int]) -> list[int]:
    """`roots` that are alive plus every process below them (one scan of /proc)."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                parent[int(entry)] = int(fields[1])
    children: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    out: list[int] = []
    todo = [p for p in roots if p in parent]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return sorted(set(out))


def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """CPU time `pid` (all its threads) has used so far, in seconds (0 if it is gone).

    From /proc/PID/task/*/schedstat (nanoseconds on the CPU) when the kernel has it, else
    utime + stime from /proc/PID/stat (10 ms ticks: too coarse for a 2 % budget)."""
    try:
        total = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        pass
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    # fields[0] is state (field 3); utime is field 14 and stime field 15 of the stat line.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def total_rss_kib(pids: Iterable[int]) -> int:
    return sum(rss_kib(p) for p in pids)


def cpu_snapshot(pids: Iterable[int]) -> dict[int, float]:
    return {p: cpu_seconds(p) for p in pids}
