"""Scale run: N VIPs on one interface, preferred server a and backup server b.

For each implementation and each N: start both servers with N VIPs (carpd: one process per
server; ucarp: one process per VIP; keepalived: one process with N vrrp_instances, plus its
VRRP child), wait until a holds all N VIPs and b none, let it settle, then over MEASURE_S
seconds of steady state measure, per server, the CPU time used by all its processes
(utime + stime from /proc/PID/stat) and at the end the total resident memory (VmRSS), while a
capture on a's bridge port records every advert a sends (kernel timestamps). Send jitter is
the deviation of each interval between two consecutive adverts of one VHID from the
advertised interval (CARP: advbase + advskew/256; VRRP: advert_int).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import procstat
from bench.analysis import percentile
from bench.failover import log
from bench.impls import Server, VipSpec, make_server
from bench.topology import scale_vip_cidr, vip_holders, wait_addresses
from tests.integration.netns import REPO, Lab

SETTLE_S = 3.0
MEASURE_S = 10.0
ATTEMPTS = 3


@dataclass
class ScaleRow:
    impl: str
    count: int
    ok: bool = False
    processes_a: int = 0
    processes_b: int = 0
    rss_a_kib: int = 0
    rss_b_kib: int = 0
    cpu_a_pct: float = 0.0       # percent of one core, steady state
    cpu_b_pct: float = 0.0
    adverts: int = 0              # adverts of a captured during the window
    jitter_p50_ms: float | None = None
    jitter_p99_ms: float | None = None
    jitter_max_ms: float | None = None
    settle_s: float | None = None
    profile: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _cpu_pct(before: dict[int, float], after: dict[int, float], wall: float) -> float:
    used = sum(after[p] - before[p] for p in after if p in before)
    return 100.0 * used / wall


def jitter(records: list[list[Any]], src: str) -> tuple[list[float], int]:
    """|interval - advertised interval| in seconds for every pair of consecutive adverts of
    one VHID sent by `src`; also the number of adverts."""
    by_vhid: dict[int, list[tuple[float, float]]] = {}
    n = 0
    for t, _port, s, vhid, b2, b5 in records:
        if s != src:
            continue
        n += 1
        expected = b5 + b2 / 256 if b5 != 0 or b2 != 0 else 1.0
        by_vhid.setdefault(vhid, []).append((t, expected))
    devs: list[float] = []
    for seq in by_vhid.values():
        seq.sort()
        for (t0, _), (t1, exp) in itertools.pairwise(seq):
            devs.append(abs((t1 - t0) - exp))
    return devs, n


def _expected_vrrp(impl: str, records: list[list[Any]]) -> list[list[Any]]:
    """VRRPv2 carries priority (not a skew) in byte 2: the interval is advert_int alone."""
    if impl != "keepalived":
        return records
    return [[t, p, s, v, 0, b5] for t, p, s, v, _b2, b5 in records]


def _stable(lab: Lab, count: int, ips: set[str], seconds: float) -> bool:
    """a holds every VIP and b none, at every check for `seconds` (4 checks a second)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if wait_addresses(lab, {"a": count, "b": 0}, ips, timeout=0.01) is None:
            return False
        time.sleep(0.25)
    return True


def _measure_window(lab: Lab, impl: str, a: Server, b: Server, base: Path,  # noqa: PLR0917
                    row: ScaleRow) -> str | None:
    """One MEASURE_S window; None if it was steady, else why not. The capture itself must
    show steady state: b sent nothing, and a sent every VHID's adverts on schedule."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    ports = f"{lab.hosts['a'].port},{lab.hosts['b'].port}"
    cap = lab.popen("switch", [sys.executable, "-m", "bench.capture", "--ports", ports,
                               "--seconds", str(MEASURE_S)],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert cap.stdout is not None
    cap.stdout.readline()  # "ready"
    pids_a, pids_b = a.pids(), b.pids()
    c0a, c0b = procstat.cpu_snapshot(pids_a), procstat.cpu_snapshot(pids_b)
    t0 = time.monotonic()
    time.sleep(MEASURE_S)
    wall = time.monotonic() - t0
    c1a, c1b = procstat.cpu_snapshot(pids_a), procstat.cpu_snapshot(pids_b)
    row.cpu_a_pct, row.cpu_b_pct = _cpu_pct(c0a, c1a, wall), _cpu_pct(c0b, c1b, wall)
    pids_a, pids_b = a.pids(), b.pids()
    row.processes_a, row.processes_b = len(pids_a), len(pids_b)
    row.rss_a_kib = procstat.total_rss_kib(pids_a)
    row.rss_b_kib = procstat.total_rss_kib(pids_b)
    doc = lab.collect(cap, timeout=MEASURE_S + 20)
    (base / "adverts-capture.json").write_text(json.dumps(doc))
    records = _expected_vrrp(impl, doc["adverts"])  # type: ignore[index]
    devs, row.adverts = jitter(records, lab.hosts["a"].ip)
    row.jitter_p50_ms = row.jitter_p99_ms = row.jitter_max_ms = None
    if devs:
        row.jitter_p50_ms = percentile(devs, 50) * 1000
        row.jitter_p99_ms = percentile(devs, 99) * 1000
        row.jitter_max_ms = max(devs) * 1000
    from_b = sum(1 for r in records if r[2] == lab.hosts["b"].ip)
    if from_b:
        return f"b sent {from_b} adverts"
    per_vhid: dict[int, int] = {}
    for r in records:
        per_vhid[r[3]] = per_vhid.get(r[3], 0) + 1
    expected = int(MEASURE_S)  # advbase 1 (CARP skew 0 on a): one advert a second
    odd = [v for v in range(1, row.count + 1)
           if not expected - 1 <= per_vhid.get(v, 0) <= expected + 1]
    if odd:
        return f"{len(odd)} VHID(s) of a off schedule, e.g. vhid {odd[0]}"
    return None


def measure_one(lab: Lab, impl: str, count: int, workdir: Path, profile: bool
                ) -> ScaleRow:
    row = ScaleRow(impl, count)
    vips = [VipSpec(i + 1, scale_vip_cidr(i)) for i in range(count)]
    ips = {v.ip for v in vips}
    base = workdir / f"scale-{impl}-{count}"
    a: Server = make_server(impl, lab, "a", base, vips, "master")
    b: Server = make_server(impl, lab, "b", base, vips, "backup")
    try:
        b.start()
        a.start()
        settled = wait_addresses(lab, {"a": count, "b": 0}, ips, timeout=30.0 + count * 0.1)
        if settled is None:
            row.notes.append("a never held all VIPs (or b held some) within the time limit")
            return row
        row.settle_s = settled
        for attempt in range(1, ATTEMPTS + 1):
            if not _stable(lab, count, ips, SETTLE_S):
                row.notes.append(f"attempt {attempt}: VIP placement not stable for "
                                 f"{SETTLE_S:.0f} s")
                continue
            why = _measure_window(lab, impl, a, b, base, row)
            if why is None:
                row.ok = True
                if attempt > 1:
                    row.notes.append(f"steady on attempt {attempt}")
                break
            row.notes.append(f"attempt {attempt}: not steady ({why}); measured again")
        if profile and impl == "carpd":
            row.profile = run_profiles(a, b, base)
        return row
    finally:
        for s in (a, b):
            s.shutdown()
        for h in ("a", "b"):
            for ip_ in vip_holders(lab, h, ips):  # left by a crashed daemon: not ours to keep
                lab.run(h, "ip", "addr", "del", f"{ip_}/32", "dev", "eth0", check=False)


def run_profiles(a: Server, b: Server, base: Path) -> dict[str, str]:
    """py-spy (if installed) on carpd's master and backup for 10 s each: raw folded stacks."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        return {}
    out: dict[str, str] = {}
    procs = []
    for role, server in (("master", a), ("backup", b)):
        pid = server.main_pids()[0]
        path = base / f"pyspy-{role}.txt"
        procs.append(subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", "10",
                                       "--rate", "250", "--format", "raw", "--nonblocking",
                                       "--output", str(path)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        out[role] = str(path)
    for p in procs:
        try:
            p.wait(timeout=40)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)
    return out


def run(lab: Lab, impls: list[str], counts: list[int], workdir: Path, profile: bool = False
        ) -> list[ScaleRow]:
    rows = []
    for impl in impls:
        for count in counts:
            log(f"scale: {impl} with {count} VIPs ...")
            row = measure_one(lab, impl, count, workdir, profile and count == max(counts))
            log(f"scale: {impl} {count} VIPs: RSS a {row.rss_a_kib / 1024:.1f} MiB "
                f"({row.processes_a} proc), b {row.rss_b_kib / 1024:.1f} MiB; CPU a "
                f"{row.cpu_a_pct:.2f}% b {row.cpu_b_pct:.2f}%; jitter p50/p99/max "
                f"{row.jitter_p50_ms}/{row.jitter_p99_ms}/{row.jitter_max_ms} ms"
                + (f" [{'; '.join(row.notes)}]" if row.notes else ""))
            rows.append(row)
    return rows
