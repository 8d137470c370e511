"""`python -m bench routed`: routed VIPs (docs/routed.md) through FRR and BIRD, per fault.

Runs the integration lab of tests/integration/routed_lab.py (an FRR router, two servers in two
subnets with FRR or BIRD, a client; the shipped etc/routed configurations) with the BFD
interval given (`--bfd-ms`, default 100 ms x 3; the tests use 300 ms) and the shipped BGP
timers (keepalive 1 s, hold 3 s, no graceful restart), and for each engine and trial the
fault sequence of tests/integration/routed_faults.py: fault -> the router's FIB points at the
backup, the client's longest outage (UDP probes every 10 ms through the router), repair ->
the FIB back at the first server (preemption), and the longest time both servers' paths were
in the router's table. Results: bench/results/<timestamp>-routed/results.json and report.md;
with `--update-docs` the table between the routed markers of docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
from pathlib import Path
from typing import Any

from bench import report
from tests.integration.routed_faults import FAULTS, Measured, run_fault
from tests.integration.routed_lab import ADVERT_INTERVAL_S, CHECK_INTERVAL_S, RoutedLab

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
DOC = REPO / "docs" / "performance.md"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("routed", help="routed VIPs through FRR and BIRD: fault -> the router's "
                       "FIB at the new master, client outage")
    p.add_argument("--engines", default="frr,bird")
    p.add_argument("--trials", type=int, default=3)
    p.add_argument("--bfd-ms", type=int, default=100, help="BFD interval (x3), every daemon")
    p.add_argument("--results", type=Path)
    p.add_argument("--update-docs", action="store_true")


def run(args: argparse.Namespace) -> int:
    started = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    outdir = args.results or RESULTS / f"{started}-routed"
    outdir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
        with RoutedLab(engine, bfd_ms=args.bfd_ms, tag=f"b{engine}") as rl:
            for trial in range(args.trials):
                for fault in FAULTS:
                    m = run_fault(rl, fault)
                    rows.append({"engine": engine, "trial": trial, **m.__dict__})
                    print(f"{engine} #{trial} {fault}: {_fmt(m)}", flush=True)
    meta = {"started": started, "bfd_ms": args.bfd_ms, "trials": args.trials,
            "advert_interval_s": ADVERT_INTERVAL_S, "check_interval_s": CHECK_INTERVAL_S}
    (outdir / "results.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    table = markdown(rows, meta)
    (outdir / "report.md").write_text(table + "\n")
    print(table)
    if args.update_docs and not report.update_docs(DOC, "routed", table):
        print("docs/performance.md has no routed markers; not updated")
    return 0


def _fmt(m: Measured) -> str:
    move = "-" if m.to_backup_s is None else f"{m.to_backup_s:.2f}"
    back = "-" if m.back_s is None else f"{m.back_s:.2f}"
    return (f"fault {m.fault_s:.2f} s, FIB at backup {move} s, outage {m.outage_s:.2f} s, "
            f"back {back} s "
            f"(outage {m.outage_back_s:.2f} s), both paths {m.overlap_s:.2f} s "
            f"(+-{m.overlap_resolution_s:.2f})")


def _median(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return "-"
    return f"{statistics.median(known):.2f} ({min(known):.2f}-{max(known):.2f})"


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [f"Run {meta['started']}: BFD {meta['bfd_ms']} ms x 3 on the router and the servers, "
             "BGP keepalive 1 s / hold 3 s, no graceful restart, CARP advbase 1 (unicast "
             f"through the router), bgp check every {meta['check_interval_s']:g} s with fall 2 / "
             f"rise 2 and `fatal`; {meta['trials']} trial(s) per engine and fault; median "
             "(min-max) seconds.", "",
             "| servers | fault | the fault takes | fault -> router FIB at the backup | "
             "client outage | "
             "repair -> FIB back (preemption) | client outage on the way back | both paths in "
             "the router's table (resolution) |", "|---|---|---|---|---|---|---|---|"]
    for engine in dict.fromkeys(r["engine"] for r in rows):
        for fault in FAULTS:
            mine = [r for r in rows if r["engine"] == engine and r["fault"] == fault]
            lines.append(f"| {engine.upper() if engine == 'frr' else 'BIRD'} | {fault} | "
                         f"{_median([r['fault_s'] for r in mine])} | "
                         f"{_median([r['to_backup_s'] for r in mine])} | "
                         f"{_median([r['outage_s'] for r in mine])} | "
                         f"{_median([r['back_s'] for r in mine])} | "
                         f"{_median([r['outage_back_s'] for r in mine])} | "
                         f"{_median([r['overlap_s'] for r in mine])} "
                         f"({max(r['overlap_resolution_s'] for r in mine):.2f}) |")
    return "\n".join(lines)
