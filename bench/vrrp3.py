"""`python -m bench vrrp3`: carpd against keepalived 2.2.7, both VRRPv3, in one run.

For every advert interval (`--intervals`, default 1, 0.1, 0.01 s) and implementation
(`--impl`, default carpd,keepalived), one at a time on the lab (bench/topology.py, tag
"vb"): a pair of routers (bench/vrrp3_servers.py) with bench/vrrp_watch.py observing, then
1. `--cpu-seconds` (10) of steady state: CPU of the master and of the backup;
2. `--repeats` (5) crash trials (SIGKILL) and as many graceful ones (SIGTERM), see
   bench/vrrp3_trials.py.
Then the soak (unless `--soak-seconds 0`): every implementation's pair at once on the
segment, each its own VRID and VIP, at `--soak-interval` (0.1 s) for `--soak-seconds` (600),
with a busy loop pinned to one core (the last one: "the other core"; `--no-busy` to skip);
spurious takeovers are counted from the wire (any advert or address of a backup). CPU of
every daemon over the soak. Results (results.json, report.md, the daemons' logs and the
watcher's records) go to bench/results/<timestamp>-vrrp3/; `--update-docs` rewrites the
`vrrp3` block of docs/performance.md. The figures and the targets are bench/vrrp3_report.py's.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import report, topology, vrrp3_perf, vrrp3_report
from bench.vrrp3_servers import IMPLS, Router, master_down_interval
from bench.vrrp3_trials import (
    FAULTS,
    SETTLE_S,
    Pair,
    Trial,
    TrialError,
    WatchLog,
    log,
    procstat,
    start_watch,
    stop_watch,
)
from tests.integration.netns import REPO, Lab

TAG = "vb"
VRID = {"keepalived": 51, "carpd": 52}
VIP = {"keepalived": "172.16.90.31/24", "carpd": "172.16.90.32/24"}
TRIAL_PROBE_S = 0.001   # the client's ARP period during trials: 1 ms resolution
SOAK_PROBE_S = 0.01
RESULTS = REPO / "bench" / "results"
DOC = REPO / "docs" / "performance.md"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("vrrp3", help="carpd vs keepalived in VRRPv3: crash and graceful "
                       "takeover, CPU, spurious takeovers under load")
    p.add_argument("--intervals", default="1,0.1,0.01", help="advert intervals (s)")
    p.add_argument("--impl", default=",".join(IMPLS))
    p.add_argument("--repeats", type=int, default=5, help="trials per fault and interval")
    p.add_argument("--faults", default=",".join(FAULTS))
    p.add_argument("--cpu-seconds", type=float, default=10.0)
    p.add_argument("--soak-seconds", type=float, default=600.0)
    p.add_argument("--soak-interval", type=float, default=0.1)
    p.add_argument("--no-busy", action="store_true", help="soak without the busy loop")
    p.add_argument("--perf", action="store_true", help="run each trial pair's backup under "
                   "perf record and split its takeover syscall by syscall (bench/vrrp3_perf.py)")
    p.add_argument("--results", type=Path)
    p.add_argument("--update-docs", action="store_true")


def _csv(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def check_args(args: argparse.Namespace) -> str | None:
    try:
        args.interval_list = [float(x) for x in _csv(args.intervals)]
    except ValueError:
        return f"--intervals: not a list of numbers: {args.intervals!r}"
    if not args.interval_list or any(not 0.01 <= i <= 40.95 for i in args.interval_list):
        return "--intervals: each must be 0.01..40.95 s (VRRPv3 centiseconds)"
    if not 0.01 <= args.soak_interval <= 40.95:
        return "--soak-interval must be 0.01..40.95 s"
    args.impl_list = _csv(args.impl)
    bad = [i for i in args.impl_list if i not in IMPLS]
    if bad or not args.impl_list:
        return f"--impl: unknown {bad} (of {', '.join(IMPLS)})"
    args.fault_list = _csv(args.faults)
    if any(f not in FAULTS for f in args.fault_list):
        return f"--faults: of {', '.join(FAULTS)}"
    if args.repeats < 0 or args.cpu_seconds < 0 or args.soak_seconds < 0:
        return "--repeats, --cpu-seconds and --soak-seconds must not be negative"
    if args.perf and vrrp3_perf.available():
        return f"--perf: {vrrp3_perf.available()}"
    if "keepalived" in args.impl_list and shutil.which("keepalived") is None:
        return "keepalived is not installed (run bench/setup.sh)"
    return None


def block(lab: Lab, impl: str, interval: float, args: argparse.Namespace, work: Path
          ) -> dict[str, Any]:
    """One implementation at one interval: CPU window, then the trials."""
    router = Router(VRID[impl], VIP[impl], interval)
    d = work / f"{impl}-{interval:g}s"
    d.mkdir(parents=True, exist_ok=True)
    watch_file = d / "watch.txt"
    out: dict[str, Any] = {"impl": impl, "interval": interval, "cpu": None, "trials": [],
                           "mdi": master_down_interval(interval), "error": None,
                           "loadavg": os.getloadavg()}
    proc = start_watch(lab, [router.ip], watch_file, TRIAL_PROBE_S)
    pair = Pair(lab, impl, router, WatchLog(watch_file), d)
    pair.perf_dir = d if args.perf else None
    try:
        log(f"{impl} at {interval:g} s: starting a (priority 150) and b (100)")
        pair.start()
        if args.perf and not args.cpu_seconds:
            time.sleep(SETTLE_S)  # a backup just started under perf took 1-2 s to take over
        if args.cpu_seconds:
            out["cpu"] = pair.cpu_window(args.cpu_seconds)
            log(f"{impl} at {interval:g} s: CPU " + ", ".join(
                f"{h} {c['schedstat_pct']:.2f} %" for h, c in out["cpu"].items()))
        for fault in args.fault_list:
            for n in range(args.repeats):
                try:
                    tr = pair.trial(fault, n)
                except TrialError as exc:
                    tr = Trial(impl, interval, fault, n, notes=[str(exc)])
                    log(f"{impl} at {interval:g} s {fault} #{n + 1}: {exc}; restarting")
                    pair.close()
                    pair.start()
                out["trials"].append(tr.to_json())
                log(f"{impl} at {interval:g} s {fault} #{n + 1}: "
                    + vrrp3_report.describe(tr.to_json(), interval))
    except TrialError as exc:
        out["error"] = str(exc)
        log(f"{impl} at {interval:g} s: {exc}")
    finally:
        pair.close()
        stop_watch(proc)
    if args.perf:
        pair.perf_split(out["trials"])
        out["perf_sockets"] = {f"{pid}:{fd}": k for _d, kinds in pair.perf_runs
                               for (pid, fd), k in kinds.items()}
    return out


def start_busy() -> tuple[subprocess.Popen[bytes], int]:
    cpu = max(os.sched_getaffinity(0))
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"],
                            preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))  # noqa: PLW1509
    return proc, cpu


def soak(lab: Lab, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Every implementation's pair at once, `--soak-seconds` of steady state under load."""
    d = work / "soak"
    d.mkdir(parents=True, exist_ok=True)
    routers = {i: Router(VRID[i], VIP[i], args.soak_interval) for i in args.impl_list}
    watch_file = d / "watch.txt"
    proc = start_watch(lab, [r.ip for r in routers.values()], watch_file, SOAK_PROBE_S)
    watch = WatchLog(watch_file)
    pairs = {i: Pair(lab, i, r, watch, d / i) for i, r in routers.items()}
    busy: subprocess.Popen[bytes] | None = None
    out: dict[str, Any] = {"seconds": args.soak_seconds, "interval": args.soak_interval,
                           "busy_cpu": None, "per_impl": {}, "loadavg": []}
    try:
        for i, pair in pairs.items():
            log(f"soak: starting {i} (VRID {pair.router.vrid})")
            pair.start()
        if not args.no_busy:
            busy, out["busy_cpu"] = start_busy()
        pids = {(i, h): getattr(p, h).pids() for i, p in pairs.items() for h in ("a", "b")}
        cpu0 = {k: sum(procstat.cpu_snapshot(v).values()) for k, v in pids.items()}
        t0 = time.monotonic()
        out["loadavg"].append(os.getloadavg())
        log(f"soak: {args.soak_seconds:g} s at {args.soak_interval:g} s adverts"
            + ("" if busy is None else f", busy loop on CPU {out['busy_cpu']}"))
        while time.monotonic() - t0 < args.soak_seconds:
            time.sleep(min(5.0, max(0.0, t0 + args.soak_seconds - time.monotonic())))
            watch.poll()
            if int(time.monotonic() - t0) % 60 < 5:
                out["loadavg"].append(os.getloadavg())
            dead = [f"{i} {h}" for i, p in pairs.items() for h in ("a", "b")
                    if not getattr(p, h).running()]
            if dead:
                out["exited"] = dead
                log(f"soak: exited on their own: {dead}")
                break
        t1 = time.monotonic()
        wall = t1 - t0
        for (i, h), v in pids.items():
            used = sum(procstat.cpu_snapshot(v).values()) - cpu0[(i, h)]
            out["per_impl"].setdefault(i, {})[f"cpu_{h}_pct"] = 100 * used / wall
        watch.poll()
        for i, pair in pairs.items():
            out["per_impl"][i].update(vrrp3_report.soak_figures(watch, pair, t0, t1))
        out["wall_s"] = wall
    finally:
        if busy is not None:
            busy.kill()
            busy.wait(timeout=5)
        for pair in pairs.values():
            pair.close()
        stop_watch(proc)
    return out


def run(args: argparse.Namespace) -> int:
    why = check_args(args)
    if why:
        print(f"bench vrrp3: {why}", file=sys.stderr)
        return 2
    started = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    outdir = args.results or RESULTS / f"{started}-vrrp3"
    outdir.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {"kind": "vrrp3", "started": started,
                            "command": "python -m bench " + " ".join(args.argv),
                            "machine": report.machine(), "intervals": args.interval_list,
                            "impls": args.impl_list, "repeats": args.repeats,
                            "faults": args.fault_list, "loadavg_start": os.getloadavg()}
    blocks: list[dict[str, Any]] = []
    soaked: dict[str, Any] | None = None
    t_start = time.monotonic()
    topology.cleanup_stale()
    with tempfile.TemporaryDirectory(prefix="carpd-vb-") as tmp:
        work = Path(tmp)
        try:
            with Lab(TAG) as lab:
                topology.build(lab)
                for interval in args.interval_list:
                    for impl in args.impl_list:
                        blocks.append(block(lab, impl, interval, args, work))
                if args.soak_seconds > 0:
                    soaked = soak(lab, args, work)
        finally:
            keep(work, outdir)
    meta["duration_s"] = round(time.monotonic() - t_start, 1)
    meta["loadavg_end"] = os.getloadavg()
    data = {"meta": meta, "blocks": blocks, "soak": soaked}
    (outdir / "results.json").write_text(json.dumps(data, indent=1))
    text = vrrp3_report.markdown(data)
    (outdir / "report.md").write_text(text)
    print(text)
    print(f"\nbench vrrp3: results in {outdir} ({meta['duration_s']} s)")
    if args.update_docs:
        ok = report.update_docs(DOC, "vrrp3", vrrp3_report.docs_block(data))
        print("bench vrrp3: docs/performance.md " + ("updated" if ok else
              "has no bench:vrrp3 markers: not updated"), file=sys.stderr)
    bad = [t for b in blocks for t in b["trials"] if not t["ok"]]
    errors = [b for b in blocks if b["error"]]
    return 1 if bad or errors or (soaked or {}).get("exited") else 0


def keep(work: Path, outdir: Path) -> None:
    """The daemons' logs, configs and the watcher's records into the results folder."""
    for f in work.rglob("*"):
        if f.is_file() and f.suffix in (".log", ".txt", ".toml", ".conf", ".data"):
            dest = outdir / "logs" / f.relative_to(work)
            dest.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):
                shutil.copy2(f, dest)


def on_sigterm(_sig: int, _frame: object) -> None:
    raise SystemExit(143)


def main(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, on_sigterm)
    return run(args)
