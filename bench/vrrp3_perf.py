"""`python -m bench vrrp3 --perf`: where the backup's takeover time goes, syscall by syscall.

The backup (b) of each pair is started under `perf record -k CLOCK_MONOTONIC` with four
syscall tracepoints (epoll_wait / epoll_pwait returns, sendto and sendmsg entries), so every
record carries a CLOCK_MONOTONIC stamp comparable with the watcher's and the bench's.
(`perf record -p PID` records nothing on this machine's kernel, so b runs as perf's child;
b is stopped by signalling the daemon itself, after which perf writes its file and exits.)
Before b stops, its sockets are classified from /proc (fd -> socket inode ->
/proc/PID/net/{netlink,raw,packet}), so each send is known as netlink, raw (the advert) or
packet (GARP). Per trial the split of b's takeover is then:
  `wake`  - the deadline (a's last advert on the wire + Master_Down_Interval, or the
            priority-0 advert + Skew_Time) -> the epoll return that led to the advert
            (timer rounding, timer slack, scheduling);
  `loop`  - that return -> the advert's send syscall (the event loop and the core);
  `to_netlink` - the advert's send -> the first netlink send (hand-off, message building);
  `kernel` - that netlink send -> RTM_NEWADDR seen by the watcher (the kernel and its notify).
Needs `perf` (linux-perf); without it `--perf` is refused with that reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

EVENTS = ("syscalls:sys_exit_epoll_wait", "syscalls:sys_exit_epoll_pwait",
          "syscalls:sys_enter_sendto", "syscalls:sys_enter_sendmsg")
LINE = re.compile(r"^\s*(\d+)/(\d+)\s+([\d.]+):\s+syscalls:sys_(enter|exit)_(\w+):\s*(.*)$")


def available() -> str | None:
    return None if shutil.which("perf") else "perf is not installed (apt: linux-perf)"


def wrap(out: Path) -> list[str]:
    """The argv prefix that runs a daemon under perf, writing `out`."""
    argv = ["perf", "record", "-q", "-k", "CLOCK_MONOTONIC", "-o", str(out)]
    for e in EVENTS:
        argv += ["-e", e]
    return [*argv, "--"]


def socket_kinds(pids: list[int]) -> dict[tuple[int, int], str]:
    """(pid, fd) -> "netlink" | "raw" | "packet" for the sockets of `pids`."""
    kinds: dict[tuple[int, int], str] = {}
    for pid in pids:
        inodes: dict[str, str] = {}
        for kind in ("netlink", "raw", "packet"):
            try:
                rows = Path(f"/proc/{pid}/net/{kind}").read_text().splitlines()[1:]
            except OSError:
                continue
            col = {"netlink": 9, "raw": 9, "packet": 8}[kind]
            for row in rows:
                parts = row.split()
                if len(parts) > col:
                    inodes[parts[col]] = kind
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            m = re.fullmatch(r"socket:\[(\d+)\]", target)
            if m and m.group(1) in inodes:
                kinds[(pid, int(fd))] = inodes[m.group(1)]
    return kinds


def parse(data: Path) -> list[tuple[float, int, int, str, int | None]]:
    """(t, pid, tid, "wake" | "send", fd) from `perf script` over `data`."""
    if not data.exists():
        return []
    proc = subprocess.run(["perf", "script", "-i", str(data), "-F", "pid,tid,time,event,trace",
                           "--ns"], capture_output=True, text=True, timeout=120, check=False)
    out = []
    for line in proc.stdout.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        pid, tid, t, edge, name, args = m.groups()
        if edge == "exit" and name.startswith("epoll"):
            out.append((float(t), int(pid), int(tid), "wake", None))
        elif edge == "enter" and name in ("sendto", "sendmsg"):
            fd = re.search(r"fd: (0x[0-9a-f]+|\d+)", args)
            out.append((float(t), int(pid), int(tid), "send",
                        int(fd.group(1), 0) if fd else None))
    return out


def split(records: list[tuple[float, int, int, str, int | None]],
          kinds: dict[tuple[int, int], str], deadline: float, advert: float,
          vip_added: float | None) -> dict[str, float | None]:
    """The parts of one takeover (seconds; absolute stamps in, durations out)."""
    sends = [(t, pid, tid, fd) for t, pid, tid, what, fd in records
             if what == "send" and kinds.get((pid, fd or -1)) in ("raw", "packet")
             and deadline - 0.05 <= t <= advert + 0.00002]
    if not sends:
        return {}
    t_send, pid, tid, _fd = sends[-1]  # the advert: the last raw/packet send before the wire
    # (the kernel stamps the frame after the syscall's entry; 20 us of slack for the clocks)
    wakes = [t for t, p, th, what, _f in records if what == "wake" and p == pid and th == tid
             and t <= t_send]
    t_wake = wakes[-1] if wakes else None
    nl = [t for t, p, _th, what, fd in records if what == "send" and p == pid
          and kinds.get((p, fd or -1)) == "netlink" and t_send <= t <= t_send + 0.05]
    t_nl = nl[0] if nl else None
    return {"wake": None if t_wake is None else t_wake - deadline,
            "loop": None if t_wake is None else t_send - t_wake,
            "send_to_wire": advert - t_send,
            "to_netlink": None if t_nl is None else t_nl - t_send,
            "kernel": None if t_nl is None or vip_added is None else vip_added - t_nl}


def attach(trials: list[dict[str, Any]], records: list[tuple[float, int, int, str, int | None]],
           kinds: dict[tuple[int, int], str], mdi: float, skew: float) -> None:
    """Add `perf` (the split) to every trial, from its absolute `stamps`."""
    for tr in trials:
        s = tr.get("stamps") or {}
        if s.get("b_advert") is None:
            continue
        if tr["fault"] == "crash" and s.get("last_a_advert") is not None:
            deadline = s["last_a_advert"] + mdi
        elif tr["fault"] == "graceful" and s.get("a_prio0") is not None:
            deadline = s["a_prio0"] + skew
        else:
            continue
        tr["perf"] = split(records, kinds, deadline, s["b_advert"], s.get("b_add"))
