"""`sudo .venv/bin/python -m bench {failover,scale,smoke,all,soak,routed,vrrp3}`: see the docs.

Failover scenarios (`--variants`): ipv4 (multicast, the default of `failover`), ipv6
(IPv6-only VIP, multicast to ff02::12), unicast (IPv4 VIP, adverts unicast to the other
server), unicast6 (IPv6 VIP, unicast); `all` runs ipv4,ipv6,unicast. ucarp is skipped for
every variant but ipv4 (no IPv6, no unicast), with that reason in the report.

Everything runs in network namespaces made here (tests/integration/netns.py) and is removed
on every path: normal end, an error, Ctrl-C or SIGTERM. A later run also stops processes and
removes namespaces left by a bench run that was killed outright.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import (  # noqa: E402
    failover,
    impls,
    report,
    routed,
    scale,
    soak,
    topology,
    variants,
    vrrp3,
)
from tests.integration.netns import Lab, have_lab_prerequisites  # noqa: E402

RESULTS = REPO / "bench" / "results"
DOC = REPO / "docs" / "performance.md"
SMOKE_DEADLINE_S = 100


def _csv(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--results", type=Path, help="results folder (default: "
                       "bench/results/<timestamp>-<command>)")
        p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
        p.add_argument("--keep-raw", action="store_true",
                       help="also copy the prober's raw records into the results folder")

    def fail_opts(p: argparse.ArgumentParser, variants_default: str) -> None:
        p.add_argument("--trials", type=int, default=10)
        p.add_argument("--impl", default="carpd,ucarp,keepalived")
        p.add_argument("--faults", default=",".join(failover.FAULTS))
        p.add_argument("--variants", default=variants_default,
                       help=f"comma-separated, of {','.join(variants.ORDER)} "
                       f"(default {variants_default})")

    def scale_opts(p: argparse.ArgumentParser) -> None:
        p.add_argument("--counts", default="1,16,64,255")
        p.add_argument("--scale-impl", default="carpd,ucarp,keepalived")
        p.add_argument("--profile", action="store_true",
                       help="py-spy carpd's master and backup at the largest count")

    p = sub.add_parser("failover", help="failover latency under four faults")
    fail_opts(p, "ipv4")
    common(p)
    p.add_argument("--update-docs", action="store_true")
    p = sub.add_parser("scale", help="RSS, CPU and advert jitter with 1..255 VIPs")
    scale_opts(p)
    p.add_argument("--impl", dest="scale_impl", help="alias of --scale-impl")
    common(p)
    p.add_argument("--update-docs", action="store_true")
    p = sub.add_parser("all", help="failover then scale, then docs/performance.md")
    fail_opts(p, "ipv4,ipv6,unicast")
    scale_opts(p)
    common(p)
    p.add_argument("--no-docs", action="store_true")
    p = sub.add_parser("smoke", help="CI: carpd only, 1 trial of SIGKILL and SIGTERM over "
                       "IPv4 and 1 of SIGKILL over IPv6")
    common(p)
    p = sub.add_parser("report", help="rebuild report.md and plots from a results folder")
    p.add_argument("folder", type=Path)
    p.add_argument("--update-docs", action="store_true")
    soak.add_parser(sub)  # bench/soak.py: faults at random, an outside-only checker
    routed.add_parser(sub)  # bench/routed.py: routed VIPs through FRR and BIRD
    vrrp3.add_parser(sub)  # bench/vrrp3.py: carpd vs keepalived in VRRPv3 (issue 11)
    args = ap.parse_args(argv)
    if args.cmd == "smoke":
        args.trials, args.impl, args.faults, args.no_plots = 1, "carpd", "sigkill,sigterm", True
        args.variants = "ipv4,ipv6"
    if args.cmd == "all":
        args.update_docs = not args.no_docs
    return args


def _on_sigterm(_sig: int, _frame: object) -> None:
    raise SystemExit(143)


def _on_alarm(_sig: int, _frame: object) -> None:
    raise TimeoutError(f"smoke benchmark exceeded {SMOKE_DEADLINE_S} s")


def rebuild(folder: Path, update_docs: bool) -> int:
    """`python -m bench report FOLDER`: report.md and plots again from results.json."""
    data = json.loads((folder / "results.json").read_text())
    trials = [failover.Trial(**t) for t in data["trials"]]
    rows = [scale.ScaleRow(**r) for r in data["scale"]]
    meta = data["meta"]
    pngs: list[Path] = []
    if report.have_matplotlib():
        if trials:
            pngs += report.plot_timelines(trials, folder)
            for plot in (report.plot_summary, report.plot_variants):
                s = plot(trials, folder)
                pngs += [s] if s else []
        if rows:
            s = report.plot_scale(rows, folder)
            pngs += [s] if s else []
    path = report.write_report(folder, meta["kind"], trials, rows, meta, pngs)
    print(path.read_text())
    if update_docs:
        _update_docs(trials, rows, meta)
    return 0


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915
    args = parse(argv)
    if args.cmd == "report":
        return rebuild(args.folder, args.update_docs)
    why = have_lab_prerequisites()
    if why:
        print(f"bench: {why}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _on_sigterm)
    if args.cmd in ("soak", "vrrp3"):
        args.argv = sys.argv[1:] if argv is None else argv
        return soak.run(args) if args.cmd == "soak" else vrrp3.main(args)
    if args.cmd == "routed":
        return routed.run(args)
    if args.cmd == "smoke":
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(SMOKE_DEADLINE_S)
    do_fail = args.cmd in ("failover", "smoke", "all")
    do_scale = args.cmd in ("scale", "all")
    fail_impls = _csv(args.impl) if do_fail else []
    scale_impls = _csv(args.scale_impl or "carpd,ucarp,keepalived") if do_scale else []
    faults = _csv(args.faults) if do_fail else []
    variant_names = _csv(args.variants) if do_fail else []
    counts = [int(c) for c in _csv(args.counts)] if do_scale else []
    for impl in dict.fromkeys(fail_impls + scale_impls):
        if impl not in impls.IMPLS:
            print(f"bench: unknown implementation {impl!r} (one of {impls.IMPLS})",
                  file=sys.stderr)
            return 2
        reason = impls.available(impl)
        if reason:
            print(f"bench: {impl}: {reason}", file=sys.stderr)
            return 2
    for f in faults:
        if f not in failover.FAULTS:
            print(f"bench: unknown fault {f!r} (one of {failover.FAULTS})", file=sys.stderr)
            return 2
    for v in variant_names:
        if v not in variants.VARIANTS:
            print(f"bench: unknown variant {v!r} (one of {variants.ORDER})", file=sys.stderr)
            return 2
    plan, skipped = failover.make_plan(variant_names, fail_impls, faults)
    if args.cmd == "smoke":  # keep it small: the IPv6 part is one SIGKILL trial
        plan = [(v, i, ["sigkill"] if v != "ipv4" else fs) for v, i, fs in plan]
    for why in skipped:
        print(f"bench: {why}", file=sys.stderr)
    if do_fail and not plan:
        print("bench: nothing to measure (every implementation skipped)", file=sys.stderr)
        return 2
    if any(not 1 <= c <= 255 for c in counts):
        print("bench: VIP counts must be 1..255 (the VHID is 8 bits)", file=sys.stderr)
        return 2
    plots = not args.no_plots and report.have_matplotlib()
    if not args.no_plots and not plots:
        print("bench: matplotlib not installed (bench/setup.sh): no plots", file=sys.stderr)

    started = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    outdir = args.results or RESULTS / f"{started}-{args.cmd}"
    outdir.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {"kind": args.cmd, "started": started,
                            "command": "python -m bench " + " ".join(sys.argv[1:] if argv is None
                                                                     else argv),
                            "machine": report.machine(), "trials": getattr(args, "trials", 0),
                            "faults": faults, "impls": fail_impls, "counts": counts,
                            "scale_impls": scale_impls, "variants": variant_names,
                            "skipped": skipped,
                            "holddown_workaround": False,  # the carpd bug is fixed
                            "loadavg_start": list(os.getloadavg())}
    trials: list[failover.Trial] = []
    rows: list[scale.ScaleRow] = []
    t0 = time.monotonic()
    topology.cleanup_stale()
    with tempfile.TemporaryDirectory(prefix="carpd-bench-") as tmp:
        work = Path(tmp)
        try:
            with Lab(topology.TAG) as lab:
                topology.build(lab, ipv6=any(variants.VARIANTS[v].family == 6
                                             for v, _i, _f in plan))
                if do_fail:
                    trials = failover.run(lab, plan, args.trials, work,
                                          smoke=args.cmd == "smoke")
                if do_scale:
                    rows = scale.run(lab, scale_impls, counts, work, profile=args.profile)
        finally:
            signal.alarm(0)
            _keep_files(work, outdir, args.keep_raw)
    meta["duration_s"] = round(time.monotonic() - t0, 1)
    meta["loadavg_end"] = list(os.getloadavg())
    report.save_results(outdir, trials, rows, meta)  # the raw numbers first, whatever follows
    pngs: list[Path] = []
    if plots:
        try:
            if trials:
                pngs += report.plot_timelines(trials, outdir)
                for plot in (report.plot_summary, report.plot_variants):
                    s = plot(trials, outdir)
                    pngs += [s] if s else []
            if rows:
                s = report.plot_scale(rows, outdir)
                pngs += [s] if s else []
        except Exception as exc:  # a plotting problem must not lose the measurements
            print(f"bench: plotting failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    if rows and args.profile:
        _summarise_profiles(rows, outdir)
    path = report.write_report(outdir, args.cmd, trials, rows, meta, pngs)
    print(path.read_text())
    print(f"\nbench: report and plots in {outdir} ({meta['duration_s']} s)")
    if getattr(args, "update_docs", False):
        _update_docs(trials, rows, meta)
    missing = [t for t in trials if t.takeover_s is None]
    bad_rows = [r for r in rows if not r.ok]
    if missing or bad_rows:
        print(f"bench: {len(missing)} trial(s) without a takeover, {len(bad_rows)} scale "
              "point(s) not measured", file=sys.stderr)
        return 1
    return 0


def _keep_files(work: Path, outdir: Path, raw: bool) -> None:
    logs = outdir / "logs"
    for f in work.rglob("*"):
        if f.is_file() and (f.suffix == ".log" or f.name.startswith(("pyspy-", "adverts-"))
                            or (raw and f.name.startswith("probe-"))):
            dest = logs / f.relative_to(work)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dest)


def _summarise_profiles(rows: list[scale.ScaleRow], outdir: Path) -> None:
    from bench import profile

    for r in rows:
        for role in r.profile:
            src = outdir / "logs" / Path(r.profile[role]).relative_to(
                Path(r.profile[role]).parents[1])
            if src.exists():
                (outdir / f"profile-{role}.md").write_text(profile.summarise(src, role))


def _latest(kind_has: str, full_ipv4: bool = False) -> dict[str, Any] | None:
    """The newest saved results.json that has `kind_has` (with `full_ipv4`: whose IPv4
    trials cover every implementation and fault)."""
    docs = sorted(RESULTS.glob("*/results.json"), reverse=True)
    for d in docs:
        try:
            data = json.loads(d.read_text())
        except (OSError, ValueError):
            continue
        if not data.get(kind_has):
            continue
        if full_ipv4 and not report.full_ipv4([failover.Trial(**t) for t in data["trials"]]):
            continue
        return data
    return None


def _update_docs(trials: list[failover.Trial], rows: list[scale.ScaleRow],
                 meta: dict[str, Any]) -> None:
    """Refresh the generated blocks of docs/performance.md.

    - failover (the IPv4 tables of issue 6): only from a run whose IPv4 trials cover every
      implementation and fault, so a partial run never replaces the full table;
    - variants (IPv4 / IPv6 / unicast side by side): from a run with any non-IPv4 variant,
      all its rows from that one run;
    - scale: from a run with scale rows;
    - targets: whenever the failover or scale block changed, from the run that fed each of
      them (this one, or the newest saved run that has it); left alone if one is missing.
    A block this run cannot fill keeps its text."""
    ok = report.update_docs(DOC, "machine", f"Latest run: {meta['started']} "
                            f"(`{meta['command']}`) on {report.machine_md(meta['machine'])}.")
    fo_trials: list[failover.Trial] | None = None
    changed = False
    if report.full_ipv4(trials):
        fo_trials = report.ipv4(trials)
        ok &= report.update_docs(DOC, "failover",
                                 report.failover_md(fo_trials, meta.get("trials", 0), meta))
        changed = True
    else:
        if report.ipv4(trials):
            print("bench: docs/performance.md: failover block kept (this run's IPv4 trials do "
                  "not cover every implementation and fault)", file=sys.stderr)
        old = _latest("trials", full_ipv4=True)
        if old:
            fo_trials = report.ipv4([failover.Trial(**t) for t in old["trials"]])
    if report.has_variants(trials):
        ok &= report.update_docs(DOC, "variants", report.variants_md(trials, meta))
    sc_rows: list[scale.ScaleRow] | None = None
    if rows:
        sc_rows = rows
        ok &= report.update_docs(DOC, "scale", report.scale_table(rows))
        changed = True
    else:
        old = _latest("scale")
        if old:
            sc_rows = [scale.ScaleRow(**r) for r in old["scale"]]
    if changed and fo_trials is not None and sc_rows is not None:
        ok &= report.update_docs(DOC, "targets", report.targets(fo_trials, sc_rows))
    elif changed:
        print("bench: docs/performance.md: targets block kept (the failover or scale run "
              "behind it is not saved here)", file=sys.stderr)
    print("bench: docs/performance.md " + ("updated" if ok else "has no bench markers: "
                                           "not updated"), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
