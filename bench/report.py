"""Markdown tables, target verdicts and PNG plots from failover trials and scale rows."""

# ruff: noqa: RUF001  (typographic dashes and minus signs in the generated Markdown)

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.failover import FAULT_TITLE, FAULTS, Trial
from bench.impls import IMPLS, bound_rule, master_down_interval
from bench.scale import ScaleRow
from bench.variants import ORDER, VARIANTS

TARGET_OVER_BOUND_S = 0.020
TARGET_GRACEFUL_S = 0.050
TARGET_RSS_MIB = 40.0
TARGET_CPU_PCT = 2.0
TARGET_JITTER_P99_MS = 5.0


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    def version(argv: list[str]) -> str:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10,
                                 check=False)
            return (out.stdout + out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return "not installed"

    os_name = "unknown"
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    try:
        rev = subprocess.run(["git", "-C", str(Path(__file__).resolve().parents[1]), "rev-parse",
                              "--short", "HEAD"], capture_output=True, text=True, timeout=10,
                             check=False).stdout.strip() or "?"
        dirty = subprocess.run(["git", "-C", str(Path(__file__).resolve().parents[1]), "status",
                                "--porcelain", "carpd"], capture_output=True, text=True,
                               timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev, dirty = "?", ""
    carpd_rev = f"commit {rev}" + (" with local changes in carpd/" if dirty else "")
    return {"carpd": carpd_rev, "nproc": str(os.cpu_count()), "kernel": platform.release(),
            "cpu": cpu,
            "os": os_name, "python": platform.python_version(),
            "ucarp": version(["ucarp", "--help"]).replace(" - ", " "),
            "keepalived": version(["keepalived", "--version"])}


def _ms(v: float | None, digits: int = 0) -> str:
    return "–" if v is None else f"{v * 1000:.{digits}f}"


def _triple(vals: Sequence[float | None]) -> str:
    v = [x for x in vals if x is not None]
    if not v:
        return "–"
    return f"{_ms(min(v))} / {_ms(statistics.median(v))} / {_ms(max(v))}"


def _median(vals: Sequence[float | None]) -> float | None:
    v = [x for x in vals if x is not None]
    return statistics.median(v) if v else None


def _max(vals: Sequence[float | None]) -> float | None:
    v = [x for x in vals if x is not None]
    return max(v) if v else None


def _median_max(vals: Sequence[float | None]) -> str:
    """Median / max in ms, as the dual-master columns show them."""
    return f"{_ms(_median(vals))} / {_ms(_max(vals))}"


def ipv4(trials: Sequence[Trial]) -> list[Trial]:
    """The trials of the original IPv4 multicast scenario (the issue-6 tables and targets)."""
    return [t for t in trials if getattr(t, "variant", "ipv4") == "ipv4"]


def full_ipv4(trials: Sequence[Trial]) -> bool:
    """The run's IPv4 trials cover every implementation and every fault (what the issue-6
    failover block and its targets show)."""
    have = {(t.fault, t.impl) for t in ipv4(trials)}
    return all((f, i) in have for f in FAULTS for i in IMPLS)


def group(trials: Sequence[Trial]) -> dict[tuple[str, str], list[Trial]]:
    """IPv4 trials by (fault, impl)."""
    out: dict[tuple[str, str], list[Trial]] = {}
    for t in ipv4(trials):
        out.setdefault((t.fault, t.impl), []).append(t)
    return out


def group_variants(trials: Sequence[Trial]) -> dict[tuple[str, str, str], list[Trial]]:
    """All trials by (variant, fault, impl)."""
    out: dict[tuple[str, str, str], list[Trial]] = {}
    for t in trials:
        out.setdefault((t.variant, t.fault, t.impl), []).append(t)
    return out


def has_variants(trials: Sequence[Trial]) -> bool:
    return any(t.variant != "ipv4" for t in trials)


def _after_advert(t: Trial) -> float | None:
    """Master's last advert seen -> the backup's first answer (what the bound limits)."""
    return None if t.takeover_s is None or t.phase_s is None else t.takeover_s + t.phase_s


def variants_table(trials: Sequence[Trial]) -> str:
    g = group_variants(trials)
    lines = [
        "All times in ms, min / median / max over the trials. *bound*: the backup's "
        "master-down interval by its protocol's rule. *after last advert*: master's last "
        "advert seen → first answer from the backup (NA for IPv6, ARP for IPv4); *÷ bound*: "
        "that median divided by the bound (1.000 = exactly at the bound; far below 1 for a "
        "graceful stop, where the leaving master tells the backup). *over bound*: the same "
        "minus the bound. *backup's first advert* / *VIP answers after it*: medians, as in the "
        "IPv4 bound table above. *hand-back*: fault undone → the client sees only the "
        "preferred server again; *both*: time both servers answered during the hand-back.",
        "",
        "| variant | fault | impl | ok | takeover | bound (ms) | rule | after last advert "
        "(median) | ÷ bound | over bound | backup's first advert vs bound | VIP answers "
        "after it | hand-back | hand-back both: median / max |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for vname in ORDER:
        v = VARIANTS[vname]
        for fault in FAULTS:
            for impl in IMPLS:
                ts = g.get((vname, fault, impl))
                if not ts:
                    continue
                bound = master_down_interval(impl, "backup", v)
                after = _median([_after_advert(t) for t in ts])
                ratio = "–" if after is None else f"{after / bound:.3f}"
                lines.append(
                    f"| {vname} | {FAULT_TITLE[fault]} | {impl} | {sum(t.ok for t in ts)}/"
                    f"{len(ts)} | {_triple([t.takeover_s for t in ts])} | {bound * 1000:.1f} "
                    f"| {bound_rule(impl, v)} | {_ms(after)} | {ratio} "
                    f"| {_triple([t.over_bound_s for t in ts])} "
                    f"| {_ms(_median([t.backup_advert_s for t in ts]), 1)} "
                    f"| {_ms(_median([t.vip_after_advert_s for t in ts]), 1)} "
                    f"| {_triple([t.handback_s for t in ts])} "
                    f"| {_median_max([t.handback_dual_s for t in ts])} |")
    return "\n".join(lines)


def variants_ratio_table(trials: Sequence[Trial]) -> str:
    """carpd's median takeover and hand-back over keepalived's, per variant and fault."""
    g = group_variants(trials)
    rows = []
    for vname in ORDER:
        for fault in FAULTS:
            c, k = g.get((vname, fault, "carpd")), g.get((vname, fault, "keepalived"))
            if not c or not k:
                continue
            cells = []
            for attr in ("takeover_s", "handback_s"):
                a = _median([getattr(t, attr) for t in c])
                b = _median([getattr(t, attr) for t in k])
                cells.append("–" if a is None or not b else f"{a / b:.3f}")
            oc = _median([t.over_bound_s for t in c])
            ok_ = _median([t.over_bound_s for t in k])
            cells.append(f"{_ms(oc)} / {_ms(ok_)}")
            rows.append(f"| {vname} | {FAULT_TITLE[fault]} | " + " | ".join(cells) + " |")
    if not rows:
        return "(ratios need carpd and keepalived in the same run)"
    return "\n".join(["| variant | fault | carpd / keepalived: takeover | carpd / keepalived: "
                      "hand-back | over bound, median: carpd / keepalived (ms) |",
                      "|---|---|---|---|---|", *rows])


def advert_paths(trials: Sequence[Trial]) -> str:
    seen: dict[tuple[str, str], str] = {}
    for t in trials:
        if t.advert_path and (t.variant, t.impl) not in seen:
            seen[(t.variant, t.impl)] = t.advert_path
    return "\n".join(f"- {v} / {i}: {p}" for (v, i), p in
                     sorted(seen.items(), key=lambda kv: (ORDER.index(kv[0][0]), kv[0][1])))


def variants_md(trials: Sequence[Trial], meta: dict[str, Any]) -> str:
    n = meta.get("trials", 0)
    where = f" on {machine_md(meta['machine'])}" if meta.get("machine") else ""
    notes = [f"Run {meta.get('started', '?')} (`{meta.get('command', '?')}`){where}: every "
             f"row below was measured in this one run, {n} trial(s) per variant, "
             "implementation and fault, one implementation at a time on the same lab."
             + load_md(meta)]
    if any(t.impl == "carpd" and t.variant in ("ipv6", "unicast6") for t in trials) and \
            meta.get("holddown_workaround", True):
        notes.append("carpd's IPv6-only VIPs ran with an explicit IPv4 `source` in their "
                     "configuration, a workaround for a carpd bug: the boot hold-down waits "
                     "for the VIP's IPv4 source, which an IPv6-only VIP never resolves, so it "
                     "would advertise advskew + 240 and never preempt. The IPv4 source is "
                     "otherwise unused by such a VIP.")
    parts = [" ".join(notes), variants_table(trials),
             "#### carpd relative to keepalived, per variant (below 1: carpd is faster)",
             variants_ratio_table(trials)]
    paths = advert_paths(trials)
    if paths:
        parts += ["Adverts of the preferred server as the bench saw them (unicast: on the "
                  "switch ports; multicast: at the client):", paths]
    skipped = meta.get("skipped") or []
    if skipped:
        parts += ["Not measured: " + "; ".join(skipped) + "."]
    return "\n\n".join(parts)


def failover_table(trials: Sequence[Trial]) -> str:
    g = group(trials)
    lines = [
        "All times in ms, min / median / max over the trials. *takeover*: fault → first ARP "
        "answer from the backup. *over bound*: first backup answer − (master's last advert "
        "seen + master-down interval). *outage*: longest stretch the client got no ARP answer "
        "at all. *both*: time two servers answered (dual master as the client sees it). "
        "*hand-back*: fault undone → the client sees only the preferred server again.",
        "",
        "| fault | impl | ok | takeover | over bound (median) | outage | ICMP outage (median) "
        "| both: median / max | hand-back | hand-back outage (median) "
        "| hand-back both: median / max |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for fault in FAULTS:
        for impl in IMPLS:
            ts = g.get((fault, impl))
            if not ts:
                continue
            ok = sum(t.ok for t in ts)
            lines.append(
                f"| {FAULT_TITLE[fault]} | {impl} | {ok}/{len(ts)} "
                f"| {_triple([t.takeover_s for t in ts])} "
                f"| {_ms(_median([t.over_bound_s for t in ts]))} "
                f"| {_triple([t.outage_s for t in ts])} "
                f"| {_ms(_median([t.icmp_outage_s for t in ts]))} "
                f"| {_median_max([t.dual_s for t in ts])} "
                f"| {_triple([t.handback_s for t in ts])} "
                f"| {_ms(_median([t.handback_outage_s for t in ts]))} "
                f"| {_median_max([t.handback_dual_s for t in ts])} |")
    return "\n".join(lines)


def ratio_table(trials: Sequence[Trial]) -> str:
    g = group(trials)
    peers = [i for i in IMPLS if i != "carpd" and any(k[1] == i for k in g)]
    if "carpd" not in {k[1] for k in g} or not peers:
        return "(ratios need carpd and at least one peer in the same run)"
    head = " | ".join(f"carpd / {p}: takeover | carpd / {p}: outage" for p in peers)
    lines = [f"| fault | {head} |", "|---|" + "---|" * (2 * len(peers))]
    for fault in FAULTS:
        c = g.get((fault, "carpd"))
        if not c:
            continue
        cells = []
        for p in peers:
            other = g.get((fault, p), [])
            for attr in ("takeover_s", "outage_s"):
                a = _median([getattr(t, attr) for t in c])
                b = _median([getattr(t, attr) for t in other])
                cells.append("–" if a is None or not b else f"{a / b:.3f}")
        lines.append(f"| {FAULT_TITLE[fault]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def bound_table(trials: Sequence[Trial]) -> str:
    g = group(trials)
    lines = ["*backup's first advert*: when the backup started to act as master, relative to "
             "the bound (timer lateness; negative for a bow-out / priority-0 handover). "
             "*VIP answers after that advert*: how long the VIP took to be configured and "
             "answer ARP. Both medians, ms.", "",
             "| fault | impl | master-down bound (ms) | takeover after the last advert, median "
             "(ms) | over the bound: min / median / max (ms) | backup's first advert vs the "
             "bound | VIP answers after that advert |", "|---|---|---|---|---|---|---|"]
    for fault in FAULTS:
        for impl in IMPLS:
            ts = g.get((fault, impl))
            if not ts:
                continue
            bound = master_down_interval(impl)
            after = _median([None if t.takeover_s is None or t.phase_s is None
                             else t.takeover_s + t.phase_s for t in ts])
            lines.append(f"| {FAULT_TITLE[fault]} | {impl} | {bound * 1000:.1f} | {_ms(after)} "
                         f"| {_triple([t.over_bound_s for t in ts])} "
                         f"| {_ms(_median([t.backup_advert_s for t in ts]), 1)} "
                         f"| {_ms(_median([t.vip_after_advert_s for t in ts]), 1)} |")
    return "\n".join(lines)


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**missed**")


def targets(trials: Sequence[Trial], rows: Sequence[ScaleRow]) -> str:
    g = group(trials)
    out = ["| target | carpd measured | verdict |", "|---|---|---|"]
    bound = master_down_interval("carpd")
    for fault in ("sigkill", "link", "bridge"):
        ts = g.get((fault, "carpd"))
        if not ts:
            continue
        over = _median([t.over_bound_s for t in ts])
        take = _median([t.takeover_s for t in ts])
        ok = None if over is None else over <= TARGET_OVER_BOUND_S
        out.append(f"| {FAULT_TITLE[fault]}: takeover ≤ master-down ({bound * 1000:.1f} ms) "
                   f"+ 20 ms | median {_ms(take)} ms after the fault, {_ms(over, 1)} ms over "
                   f"the bound (measured from the master's last advert) | {_verdict(ok)} |")
    ts = g.get(("sigterm", "carpd"))
    if ts:
        take = _median([t.takeover_s for t in ts])
        ok = None if take is None else take <= TARGET_GRACEFUL_S
        out.append(f"| graceful stop: takeover median ≤ 50 ms | {_ms(take, 1)} ms "
                   f"| {_verdict(ok)} |")
    for fault in ("sigterm", "link"):
        ts = g.get((fault, "carpd"))
        if not ts:
            continue
        fo = max(t.dual_s or 0.0 for t in ts)
        hb = max(t.handback_dual_s or 0.0 for t in ts)
        out.append(f"| {FAULT_TITLE[fault]}: dual-master time 0 | failover: max {_ms(fo)} ms "
                   f"(median {_ms(_median([t.dual_s for t in ts]))}); hand-back: max "
                   f"{_ms(hb)} ms (median {_ms(_median([t.handback_dual_s for t in ts]))}), "
                   f"{len(ts)} trials | {_verdict(fo == 0.0 and hb == 0.0)} |")
    big = [r for r in rows if r.impl == "carpd" and r.ok]
    if big:
        r = max(big, key=lambda r: r.count)
        rss = max(r.rss_a_kib, r.rss_b_kib) / 1024
        cpu = max(r.cpu_a_pct, r.cpu_b_pct)
        out.append(f"| {r.count} VIPs: RSS ≤ 40 MB per server | master {r.rss_a_kib / 1024:.1f} "
                   f"MiB, backup {r.rss_b_kib / 1024:.1f} MiB "
                   f"| {_verdict(rss <= TARGET_RSS_MIB)} |")
        out.append(f"| {r.count} VIPs: CPU ≤ 2 % of one core | master {r.cpu_a_pct:.2f} %, "
                   f"backup {r.cpu_b_pct:.2f} % | {_verdict(cpu <= TARGET_CPU_PCT)} |")
        j = r.jitter_p99_ms
        out.append(f"| {r.count} VIPs: advert jitter p99 ≤ 5 ms | p99 "
                   f"{'–' if j is None else f'{j:.2f}'} ms (p50 "
                   f"{'–' if r.jitter_p50_ms is None else f'{r.jitter_p50_ms:.2f}'}, max "
                   f"{'–' if r.jitter_max_ms is None else f'{r.jitter_max_ms:.2f}'}) "
                   f"| {_verdict(None if j is None else j <= TARGET_JITTER_P99_MS)} |")
    return "\n".join(out)


def scale_table(rows: Sequence[ScaleRow]) -> str:
    lines = ["RSS: sum of VmRSS over all the server's processes. CPU: percent of one core over "
             "10 s of steady state. Jitter: |interval between two adverts of one VHID − the "
             "advertised interval| over all VHIDs of the master, from kernel timestamps on its "
             "bridge port.", "",
             "| impl | VIPs | processes (master) | RSS master (MiB) | RSS backup (MiB) "
             "| CPU master (%) | CPU backup (%) | adverts captured | jitter p50 / p99 / max (ms) "
             "| ok |", "|---|---|---|---|---|---|---|---|---|---|"]

    def f(v: float | None) -> str:
        return "–" if v is None else f"{v:.2f}"

    for impl in IMPLS:
        for r in sorted((r for r in rows if r.impl == impl), key=lambda r: r.count):
            lines.append(f"| {impl} | {r.count} | {r.processes_a} | {r.rss_a_kib / 1024:.1f} "
                         f"| {r.rss_b_kib / 1024:.1f} | {r.cpu_a_pct:.2f} | {r.cpu_b_pct:.2f} "
                         f"| {r.adverts} | {f(r.jitter_p50_ms)} / {f(r.jitter_p99_ms)} / "
                         f"{f(r.jitter_max_ms)} "
                         f"| {'yes' if r.ok else 'NO: ' + '; '.join(r.notes)} |")
    return "\n".join(lines)


# -- plots ---------------------------------------------------------------------------------

def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


COLORS = {"carpd": "#1f77b4", "ucarp": "#ff7f0e", "keepalived": "#2ca02c"}


def _median_trial(ts: list[Trial]) -> Trial | None:
    good = [t for t in ts if t.takeover_s is not None and t.timeline]
    if not good:
        return None
    good.sort(key=lambda t: t.takeover_s or 0.0)
    return good[(len(good) - 1) // 2]


def _lanes(ax: Any, tr: Trial, x0: float, x1: float, shift: float) -> None:
    lanes = {2: ("a (preferred)", "#1f77b4"), 1: ("b (backup)", "#ff7f0e")}
    for bit, (y, (_label, color)) in zip((1, 2), lanes.items(), strict=True):
        spans = [(s - shift, e - s) for s, e, c in tr.timeline if c & bit]
        ax.broken_barh(spans, (y - 0.35, 0.7), facecolors=color)
    none = [(s - shift, e - s) for s, e, c in tr.timeline if c == 0]
    ax.broken_barh(none, (-0.35, 0.7), facecolors="#d62728")
    both = [(s - shift, e - s) for s, e, c in tr.timeline if c == 3]
    if both:
        ax.broken_barh(both, (2.6, 0.3), facecolors="#9467bd")
    ax.set_xlim(x0, x1)
    ax.set_ylim(-0.6, 3.0)
    ax.set_yticks([0, 1, 2, 2.75])
    ax.set_yticklabels(["nobody", "b answers", "a answers", "both"])
    ax.axvline(0, color="black", lw=1)
    ax.grid(axis="x", alpha=0.3)


def plot_timelines(trials: Sequence[Trial], outdir: Path) -> list[Path]:
    paths = []
    for vname in ORDER:
        ts = [t for t in trials if t.variant == vname]
        if ts:
            paths += _plot_timelines(ts, outdir, vname)
    return paths


def _plot_timelines(trials: Sequence[Trial], outdir: Path, vname: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    v = VARIANTS[vname]
    g: dict[tuple[str, str], list[Trial]] = {}
    for t in trials:
        g.setdefault((t.fault, t.impl), []).append(t)
    paths = []
    for fault in FAULTS:
        impls = [i for i in IMPLS if (fault, i) in g]
        if not impls:
            continue
        fig, axes = plt.subplots(len(impls), 2, figsize=(15, 2.6 * len(impls) + 1.2),
                                 squeeze=False)
        for row, impl in enumerate(impls):
            tr = _median_trial(g[(fault, impl)])
            ax_f, ax_h = axes[row]
            if tr is None:
                ax_f.set_title(f"{impl}: no takeover measured")
                continue
            take = tr.takeover_s or 0.0
            rec = tr.recover_at or take
            x0 = -min(0.5, max(0.02, take * 0.15))
            x1 = take + max(0.03, min(0.8, take * 0.25))
            _lanes(ax_f, tr, x0, x1, 0.0)
            ax_f.axvline(take, color="#ff7f0e", ls="--", lw=1)
            bound_at = (None if tr.phase_s is None
                        else master_down_interval(impl, "backup", v) - tr.phase_s)
            shown = bound_at is not None and x0 < bound_at < x1
            if shown:
                ax_f.axvline(bound_at, color="gray", ls=":", lw=1.5)
            ax_f.set_title(f"{impl}: fault at 0 → b answers after {take * 1000:.0f} ms"
                           + (" (dotted: protocol bound)" if shown else ""), fontsize=10)
            ax_f.set_xlabel("seconds since the fault")
            hb = tr.handback_s
            end = (tr.timeline[-1][1] - rec) if tr.timeline else 3.0
            _lanes(ax_h, tr, -0.5, min(end, (hb or end) + 1.5), rec)
            ax_h.set_title(f"{impl}: fault undone at 0 → only a answers after "
                           f"{'–' if hb is None else f'{hb * 1000:.0f} ms'}", fontsize=10)
            ax_h.set_xlabel("seconds since the fault was undone")
        probe = "NS probe" if v.family == 6 else "ARP probe"
        fig.suptitle(f"Failover as the client saw it: {FAULT_TITLE[fault]}, {v.title} "
                     f"(median trial; {probe} every 5 ms; purple = both answer)", fontsize=12)
        fig.tight_layout()
        name = f"timeline-{fault}.png" if vname == "ipv4" else f"timeline-{vname}-{fault}.png"
        path = outdir / name
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths


def plot_summary(trials: Sequence[Trial], outdir: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = group(trials)
    faults = [f for f in FAULTS if any((f, i) in g for i in IMPLS)]
    impls = [i for i in IMPLS if any((f, i) in g for f in faults)]
    if not faults:
        return None
    fig, ax = plt.subplots(figsize=(11, 5))
    width = 0.8 / len(impls)
    for k, impl in enumerate(impls):
        xs, meds, lo, hi = [], [], [], []
        for j, fault in enumerate(faults):
            vals = [t.takeover_s for t in g.get((fault, impl), []) if t.takeover_s is not None]
            if not vals:
                continue
            m = statistics.median(vals)
            xs.append(j + (k - (len(impls) - 1) / 2) * width)
            meds.append(m)
            lo.append(m - min(vals))
            hi.append(max(vals) - m)
        ax.bar(xs, meds, width, yerr=[lo, hi], capsize=3, label=impl, color=COLORS[impl])
        for x, m in zip(xs, meds, strict=True):
            label = f"{m * 1000:.0f} ms" if m < 0.1 else f"{m:.2f} s"
            ax.text(x, m + 0.05, label, ha="center", va="bottom", fontsize=8)
    ax.axhline(master_down_interval("carpd"), color="gray", ls=":", lw=1,
               label="CARP master-down interval (3.39 s)")
    ax.axhline(master_down_interval("keepalived"), color="#2ca02c", ls=":", lw=1,
               label="VRRP master-down interval (3.61 s)")
    ax.set_ylim(0, 6.3)
    ax.set_xticks(range(len(faults)))
    ax.set_xticklabels([FAULT_TITLE[f] for f in faults])
    ax.set_ylabel("seconds from fault to the backup's first answer")
    ax.set_title("Takeover time seen by the client (median, min–max whiskers)")
    ax.legend(loc="upper center", ncol=5, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path = outdir / "failover-summary.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_variants(trials: Sequence[Trial], outdir: Path) -> Path | None:
    """Takeover (master's last advert → backup's answer) over the bound, per variant and
    fault, one bar per implementation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = group_variants(trials)
    cols = [(v, f) for v in ORDER for f in FAULTS if any((v, f, i) in g for i in IMPLS)]
    impls = [i for i in IMPLS if any((v, f, i) in g for v, f in cols)]
    if not cols or not has_variants(trials):
        return None
    fig, ax = plt.subplots(figsize=(max(8, 1.4 * len(cols) + 2), 5))
    width = 0.8 / len(impls)
    for k, impl in enumerate(impls):
        xs, ys = [], []
        for j, (vname, fault) in enumerate(cols):
            after = _median([_after_advert(t) for t in g.get((vname, fault, impl), [])])
            if after is None:
                continue
            xs.append(j + (k - (len(impls) - 1) / 2) * width)
            ys.append(after / master_down_interval(impl, "backup", VARIANTS[vname]))
        ax.bar(xs, ys, width, label=impl, color=COLORS[impl])
        for x, y in zip(xs, ys, strict=True):
            ax.text(x, y + 0.01, f"{y:.3f}", ha="center", va="bottom", fontsize=7)
    ax.axhline(1.0, color="gray", ls=":", lw=1, label="protocol bound")
    ax.set_xticks(range(len(cols)))
    ax.set_xticklabels([f"{v}\n{FAULT_TITLE[f]}" for v, f in cols], fontsize=8)
    ax.set_ylabel("(master's last advert → backup answers) ÷ bound")
    ax.set_title("Takeover relative to each protocol's master-down interval (medians)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path = outdir / "failover-variants.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_scale(rows: Sequence[ScaleRow], outdir: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not rows:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(16, 5))
    counts = sorted({r.count for r in rows})
    for impl in IMPLS:
        rs = sorted((r for r in rows if r.impl == impl and r.ok), key=lambda r: r.count)
        if not rs:
            continue
        xs = [r.count for r in rs]
        c = COLORS[impl]
        axes[0].plot(xs, [r.rss_a_kib / 1024 for r in rs], "o-", color=c, label=f"{impl}")
        axes[1].plot(xs, [r.cpu_a_pct for r in rs], "o-", color=c, label=f"{impl} master")
        axes[1].plot(xs, [r.cpu_b_pct for r in rs], "s--", color=c, alpha=0.6,
                     label=f"{impl} backup")
        js = [(r.count, r.jitter_p99_ms) for r in rs if r.jitter_p99_ms is not None]
        if js:
            axes[2].plot([x for x, _ in js], [y for _, y in js], "o-", color=c,
                         label=f"{impl} p99")
    axes[0].axhline(TARGET_RSS_MIB, color="gray", ls=":")
    axes[0].set_title("Resident memory of the master server (all processes)")
    axes[0].set_ylabel("MiB")
    axes[0].set_yscale("log")
    axes[1].axhline(TARGET_CPU_PCT, color="gray", ls=":")
    axes[1].set_title("CPU in steady state")
    axes[1].set_ylabel("% of one core")
    axes[2].axhline(TARGET_JITTER_P99_MS, color="gray", ls=":")
    axes[2].set_title("Advert send jitter of the master, p99")
    axes[2].set_ylabel("ms")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xticks(counts)
        ax.set_xticklabels([str(c) for c in counts])
        ax.set_xlabel("VIPs on one interface")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Scale: N VIPs, one preferred server and one backup (dotted: carpd's target)")
    fig.tight_layout()
    path = outdir / "scale.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


# -- documents ----------------------------------------------------------------------------

def machine_md(m: dict[str, str]) -> str:
    return (f"{m['cpu']}, {m['nproc']} cores (nproc), kernel {m['kernel']}, {m['os']}, "
            f"Python {m['python']}; {m['ucarp']}; {m['keepalived']}; carpd at "
            f"{m.get('carpd', '?')}")


def failover_md(trials: Sequence[Trial], n: int, meta: dict[str, Any] | None = None) -> str:
    src = "" if meta is None else (f"From run {meta.get('started', '?')} "
                                   f"(`{meta.get('command', '?')}`) on "
                                   f"{machine_md(meta['machine'])}.\n\n")
    return src + "\n\n".join([
        f"### Failover, IPv4 multicast ({n} trial(s) per implementation and fault)",
        failover_table(trials),
        "#### carpd's median relative to each peer's (below 1: carpd is faster)",
        ratio_table(trials),
        "#### Takeover relative to the protocol bound (master-down interval)",
        bound_table(trials)])


def load_md(meta: dict[str, Any]) -> str:
    """The machine's load averages at the start and end of the run (other work on the
    machine shows up as noise in every figure)."""
    a, b = meta.get("loadavg_start"), meta.get("loadavg_end")
    if not a:
        return ""
    text = f" Load average (1/5/15 min) at the start {a[0]:.2f}/{a[1]:.2f}/{a[2]:.2f}"
    if b:
        text += f", at the end {b[0]:.2f}/{b[1]:.2f}/{b[2]:.2f}"
    return text + f" (on {meta['machine'].get('nproc', '?')} cores)."


def write_report(outdir: Path, kind: str, trials: Sequence[Trial],  # noqa: PLR0917
                 rows: Sequence[ScaleRow], meta: dict[str, Any], plots: list[Path]) -> Path:
    parts = [f"# carpd benchmark: {kind}", "", f"Run {meta['started']} with `{meta['command']}`.",
             "", f"Machine: {machine_md(meta['machine'])}.{load_md(meta)}", ""]
    if ipv4(trials):
        parts += [failover_md(trials, meta.get("trials", 0)), ""]
    if has_variants(trials):
        parts += ["### Failover by scenario: IPv4, IPv6, unicast", "",
                  variants_md(trials, meta), ""]
    if rows:
        parts += ["### Scale", "", scale_table(rows), ""]
    if ipv4(trials) or rows:
        parts += ["### carpd against the targets (IPv4 multicast)", "", targets(trials, rows),
                  ""]
    notes = [f"- {t.variant} {t.impl} {t.fault} #{t.n + 1}: {'; '.join(t.notes)}"
             for t in trials if t.notes]
    notes += [f"- scale {r.impl} {r.count}: {'; '.join(r.notes)}" for r in rows if r.notes]
    if notes:
        parts += ["### Notes from the run", "", *notes, ""]
    for p in plots:
        parts += [f"![{p.stem}]({p.name})", ""]
    path = outdir / "report.md"
    path.write_text("\n".join(parts))
    save_results(outdir, trials, rows, meta)
    return path


def save_results(outdir: Path, trials: Sequence[Trial], rows: Sequence[ScaleRow],
                 meta: dict[str, Any]) -> None:
    (outdir / "results.json").write_text(json.dumps(
        {"meta": meta, "trials": [t.to_json() for t in trials],
         "scale": [r.to_json() for r in rows]}, indent=1))


BEGIN = "<!-- bench:{name}:begin -->"
END = "<!-- bench:{name}:end -->"


def update_docs(doc: Path, name: str, body: str) -> bool:
    """Replace the text between this block's markers in docs/performance.md."""
    if not doc.exists():
        return False
    text = doc.read_text()
    b, e = BEGIN.format(name=name), END.format(name=name)
    if b not in text or e not in text:
        return False
    head, rest = text.split(b, 1)
    _old, tail = rest.split(e, 1)
    doc.write_text(f"{head}{b}\n{body.strip()}\n{e}{tail}")
    return True
