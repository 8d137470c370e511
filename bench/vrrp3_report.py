"""Figures, side-by-side tables and the targets of `python -m bench vrrp3` (issue 11).

Every trial of bench/vrrp3_trials.py carries event times relative to its fault; the figures:
- crash, from the master's last advert before the SIGKILL (`ref`; the backup's
  Master_Down_Interval runs from there): `advert` = b's first advert, `vip` = b's
  RTM_NEWADDR, `garp` = b's first gratuitous ARP, `client` = the client's first ARP reply
  from b (1 ms probe resolution); `from_fault` = SIGKILL -> that reply. Split: `timer` =
  advert - Master_Down_Interval (timer wake-up and the loop until the advert is sent),
  `add` = vip - advert (netlink), `garp_after` = garp - advert, `reply` = client - vip.
- graceful, from SIGTERM: `bow` = a's priority-0 advert, `advert`, `vip`, `client` as above;
  `skew_wait` = b's first advert - a's priority-0 advert (RFC 5798: Skew_Time); `gap` =
  b's RTM_NEWADDR - a's RTM_DELADDR (> 0: nobody held the VIP; < 0: both did).
Targets (issue 11): crash takeover (last advert -> client) within Master_Down_Interval + 5 ms
at 100 ms, every trial; at 10 ms the median SIGKILL -> client under 40 ms; graceful SIGTERM ->
client within Skew_Time + 5 ms (median, every interval); zero spurious takeovers in the soak.
"""
# ruff: noqa: RUF001  (typographic dashes and signs in the generated Markdown)

from __future__ import annotations

import itertools
import statistics
from typing import Any

from bench.vrrp3_servers import master_down_interval, skew_time

MARGIN_S = 0.005
CRASH_TARGET_INTERVAL = 0.1
FAST_INTERVAL, FAST_TARGET_S = 0.01, 0.040


def _sub(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def figures(tr: dict[str, Any]) -> dict[str, float | None]:
    """The derived figures of one trial (seconds)."""
    e, iv = tr["events"], tr["interval"]
    if tr["fault"] == "crash":
        ref = e.get("last_a_advert")
        adv = _sub(e.get("b_advert"), ref)
        return {"phase": None if ref is None else -ref, "advert": adv,
                "vip": _sub(e.get("b_add"), ref), "garp": _sub(e.get("b_garp"), ref),
                "client": _sub(e.get("b_reply"), ref), "from_fault": e.get("b_reply"),
                "timer": _sub(adv, master_down_interval(iv)),
                "add": _sub(e.get("b_add"), e.get("b_advert")),
                "garp_after": _sub(e.get("b_garp"), e.get("b_advert")),
                "reply": _sub(e.get("b_reply"), e.get("b_add"))}
    skew_wait = _sub(e.get("b_advert"), e.get("a_prio0"))
    return {"bow": e.get("a_prio0"), "advert": e.get("b_advert"), "vip": e.get("b_add"),
            "client": e.get("b_reply"), "skew_wait": skew_wait,
            "timer": _sub(skew_wait, skew_time(iv)),
            "add": _sub(e.get("b_add"), e.get("b_advert")),
            "gap": _sub(e.get("b_add"), e.get("a_del")),
            "release": _sub(e.get("a_del"), e.get("a_prio0"))}


def ms(v: float | None, digits: int = 1) -> str:
    return "–" if v is None else f"{v * 1000:.{digits}f}"


def describe(tr: dict[str, Any], interval: float) -> str:
    f = figures(tr)
    if tr["fault"] == "crash":
        text = (f"last advert -> b advert {ms(f['advert'])} ms (MDI "
                f"{ms(master_down_interval(interval))}), VIP {ms(f['vip'])}, client "
                f"{ms(f['client'])}; SIGKILL -> client {ms(f['from_fault'])} ms")
    else:
        text = (f"SIGTERM -> prio 0 {ms(f['bow'])} ms, -> b advert {ms(f['advert'])} "
                f"(skew wait {ms(f['skew_wait'])}, Skew_Time {ms(skew_time(interval))}), "
                f"client {ms(f['client'])} ms, gap {ms(f['gap'])} ms")
    return text + (f" [{'; '.join(tr['notes'])}]" if tr["notes"] else "")


def values(data: dict[str, Any], impl: str, interval: float, fault: str, key: str
           ) -> list[float]:
    out = []
    for b in data["blocks"]:
        if b["impl"] == impl and b["interval"] == interval:
            for t in b["trials"]:
                if t["fault"] == fault and t["ok"]:
                    v = figures(t).get(key)
                    if v is not None:
                        out.append(v)
    return out


def stat(vals: list[float]) -> str:
    if not vals:
        return "–"
    med = statistics.median(vals)
    if len(vals) == 1:
        return ms(med)
    return f"{ms(med)} ({ms(min(vals))}–{ms(max(vals))})"


def ratio(a: list[float], b: list[float]) -> str:
    if not a or not b or statistics.median(b) <= 0:
        return "–"
    return f"{statistics.median(a) / statistics.median(b):.2f}"


def _impls(data: dict[str, Any]) -> list[str]:
    return list(data["meta"]["impls"])


def side_by_side(data: dict[str, Any], fault: str, key: str, bound: Any, title: str) -> str:
    impls = _impls(data)
    head = f"| interval | {title} (ms) | " + " | ".join(
        f"{i}: median (min–max), ms" for i in impls)
    rows = [head + (" | carpd ÷ keepalived |" if len(impls) == 2 else " |"),
            "|" + "---|" * (2 + len(impls) + (len(impls) == 2))]
    for iv in data["meta"]["intervals"]:
        cells = [values(data, i, iv, fault, key) for i in impls]
        n = [len(c) for c in cells]
        row = (f"| {iv * 1000:g} ms | {ms(bound(iv)) if bound else '–'} | "
               + " | ".join(f"{stat(c)} [n={k}]" for c, k in zip(cells, n, strict=True)))
        if len(impls) == 2:
            row += f" | {ratio(*cells)} |"
        else:
            row += " |"
        rows.append(row)
    return "\n".join(rows)


def split_table(data: dict[str, Any], fault: str, parts: list[tuple[str, str]]) -> str:
    """Medians of each part of the takeover, per interval and implementation."""
    rows = ["| interval | implementation | " + " | ".join(t for _k, t in parts) + " |",
            "|" + "---|" * (2 + len(parts))]
    for iv in data["meta"]["intervals"]:
        for impl in _impls(data):
            cells = []
            for key, _t in parts:
                v = values(data, impl, iv, fault, key)
                cells.append(ms(statistics.median(v), 2) if v else "–")
            rows.append(f"| {iv * 1000:g} ms | {impl} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


PERF_PARTS = [("wake", "deadline → epoll return"), ("loop", "epoll return → advert send"),
              ("send_to_wire", "send → on the wire"), ("to_netlink", "advert → netlink send"),
              ("kernel", "netlink send → RTM_NEWADDR")]


def perf_table(data: dict[str, Any], fault: str) -> str | None:
    """Medians of bench/vrrp3_perf.py's split of b's takeover (ms), if it was recorded."""
    rows = ["| interval | implementation | n | " + " | ".join(t for _k, t in PERF_PARTS) + " |",
            "|" + "---|" * (3 + len(PERF_PARTS))]
    for b in data["blocks"]:
        got = [t["perf"] for t in b["trials"] if t["fault"] == fault and t.get("perf")]
        if not got:
            continue
        cells = []
        for key, _t in PERF_PARTS:
            v = [g[key] for g in got if g.get(key) is not None]
            cells.append(ms(statistics.median(v), 2) if v else "–")
        rows.append(f"| {b['interval'] * 1000:g} ms | {b['impl']} | {len(got)} | "
                    + " | ".join(cells) + " |")
    return "\n".join(rows) if len(rows) > 2 else None


def cpu_table(data: dict[str, Any]) -> str:
    rows = ["| interval | implementation | master (a) % of a core | backup (b) % | "
            "a, /proc/PID/stat ticks % | b, ticks % | window (s) |",
            "|---|---|---|---|---|---|---|"]
    for b in data["blocks"]:
        c = b.get("cpu")
        if not c:
            continue
        rows.append(f"| {b['interval'] * 1000:g} ms | {b['impl']} | "
                    f"{c['a']['schedstat_pct']:.3f} | {c['b']['schedstat_pct']:.3f} | "
                    f"{c['a']['stat_pct']:.2f} | {c['b']['stat_pct']:.2f} | "
                    f"{c['a']['seconds']:.0f} |")
    return "\n".join(rows)


def soak_figures(watch: Any, pair: Any, t0: float, t1: float) -> dict[str, Any]:
    """Spurious takeovers and the master's advert spacing over [t0, t1] (from the wire)."""
    iv = pair.router.interval
    in_window = [a.t for a in watch.adverts_of("b", pair.router.vrid) if t0 <= a.t <= t1]
    episodes = sum(1 for k, t in enumerate(in_window)
                   if k == 0 or t - in_window[k - 1] > 3 * iv)
    adds = [t for t, h, s, ip in watch.addrs
            if h == "b" and s == "+" and ip == pair.router.ip and t0 <= t <= t1]
    replies_b = [t for t in watch.replies_of(pair.mac["b"], pair.router.ip).times
                 if t0 <= t <= t1]
    a_times = [a.t for a in watch.adverts_of("a", pair.router.vrid) if t0 <= a.t <= t1]
    gaps = sorted(b - a for a, b in itertools.pairwise(a_times))
    return {"spurious_takeovers": episodes, "b_adverts": len(in_window), "b_adds": len(adds),
            "b_replies": len(replies_b), "a_adverts": len(a_times),
            "gap_median_s": statistics.median(gaps) if gaps else None,
            "gap_p99_s": gaps[min(len(gaps) - 1, int(0.99 * len(gaps)))] if gaps else None,
            "gap_max_s": gaps[-1] if gaps else None,
            "late_adverts": sum(1 for g in gaps if g > 2 * iv),
            "mdi_s": master_down_interval(iv)}


def soak_table(data: dict[str, Any]) -> str:
    s = data.get("soak")
    if not s or not s.get("per_impl"):
        return "(no soak in this run)"
    rows = [f"{s.get('wall_s', s['seconds']):.0f} s at {s['interval'] * 1000:g} ms adverts, "
            + ("no busy loop" if s["busy_cpu"] is None else f"a busy loop pinned to CPU "
               f"{s['busy_cpu']}") + ", every implementation's pair on the segment at once; "
            "load average " + ", ".join(f"{la[0]:.1f}" for la in s["loadavg"]) + ".", "",
            "| implementation | spurious takeovers | backup adverts / addresses / ARP replies "
            "| master's adverts | advert spacing median / p99 / max (ms) | spacing > 2 × "
            "interval | CPU master % | CPU backup % |", "|---|---|---|---|---|---|---|---|"]
    for impl, f in s["per_impl"].items():
        rows.append(f"| {impl} | **{f.get('spurious_takeovers', '–')}** | "
                    f"{f.get('b_adverts', '–')} / {f.get('b_adds', '–')} / "
                    f"{f.get('b_replies', '–')} | {f.get('a_adverts', '–')} | "
                    f"{ms(f.get('gap_median_s'), 2)} / {ms(f.get('gap_p99_s'), 2)} / "
                    f"{ms(f.get('gap_max_s'), 2)} | {f.get('late_adverts', '–')} | "
                    f"{f.get('cpu_a_pct', 0):.3f} | {f.get('cpu_b_pct', 0):.3f} |")
    if s.get("exited"):
        rows.append(f"\nExited on their own during the soak: {', '.join(s['exited'])}.")
    return "\n".join(rows)


def _verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("met" if ok else "**missed**")


def targets(data: dict[str, Any]) -> str:
    rows = ["| target | " + " | ".join(_impls(data)) + " |",
            "|---|" + "---|" * len(_impls(data))]

    def row(name: str, cell: Any) -> None:
        rows.append(f"| {name} | " + " | ".join(cell(i) for i in _impls(data)) + " |")

    mdi = master_down_interval(CRASH_TARGET_INTERVAL)

    def crash(impl: str) -> str:
        v = values(data, impl, CRASH_TARGET_INTERVAL, "crash", "client")
        if not v:
            return "–"
        return (f"{_verdict(max(v) <= mdi + MARGIN_S)}: median {ms(statistics.median(v))}, "
                f"max {ms(max(v))} ms (bound {ms(mdi + MARGIN_S)})")

    def fast(impl: str) -> str:
        v = values(data, impl, FAST_INTERVAL, "crash", "from_fault")
        if not v:
            return "–"
        m = statistics.median(v)
        return f"{_verdict(m < FAST_TARGET_S)}: median {ms(m)} ms"

    def graceful(impl: str) -> str:
        out = []
        for iv in data["meta"]["intervals"]:
            v = values(data, impl, iv, "graceful", "client")
            if v:
                m = statistics.median(v)
                out.append(f"{iv * 1000:g} ms {_verdict(m <= skew_time(iv) + MARGIN_S)} "
                           f"({ms(m)} vs {ms(skew_time(iv) + MARGIN_S)})")
        return "; ".join(out) or "–"

    def spurious(impl: str) -> str:
        s = data.get("soak") or {}
        f = s.get("per_impl", {}).get(impl)
        if not f:
            return "–"
        full = s["seconds"] >= 600 and s["interval"] == CRASH_TARGET_INTERVAL
        note = "" if full else f" (only {s['seconds']:g} s at {s['interval'] * 1000:g} ms)"
        return f"{_verdict(f['spurious_takeovers'] == 0)}: {f['spurious_takeovers']}{note}"

    row("crash takeover ≤ Master_Down_Interval + 5 ms at 100 ms (last advert → client, "
        "every trial)", crash)
    row("crash takeover median < 40 ms at 10 ms (SIGKILL → client)", fast)
    row("graceful handover ≤ Skew_Time + 5 ms (SIGTERM → client, median)", graceful)
    row("zero spurious takeovers, 10 min at 100 ms, other core busy", spurious)
    return "\n".join(rows)


CRASH_SPLIT = [("phase", "fault after last advert"), ("timer", "first advert − MDI"),
               ("add", "advert → RTM_NEWADDR"), ("garp_after", "advert → GARP"),
               ("reply", "RTM_NEWADDR → client reply")]
GRACE_SPLIT = [("bow", "SIGTERM → priority 0"), ("timer", "(prio 0 → advert) − Skew_Time"),
               ("add", "advert → RTM_NEWADDR"), ("release", "prio 0 → a's RTM_DELADDR"),
               ("gap", "a's DELADDR → b's NEWADDR")]


def tables(data: dict[str, Any]) -> str:
    faults = data["meta"]["faults"]
    loads = [f"{b['impl']} {b['interval'] * 1000:g} ms: {b['loadavg'][0]:.1f}"
             for b in data["blocks"] if b.get("loadavg")]
    parts = ["### Targets", "", targets(data), ""]
    if loads:
        parts += ["Load average (1 min) when each block started: " + "; ".join(loads) + ".",
                  ""]
    if "crash" in faults:
        parts += ["### Crash (SIGKILL of the master): last advert → the client reaches b", "",
                  side_by_side(data, "crash", "client", master_down_interval, "MDI"), "",
                  "Last advert → b's first advert (the protocol's takeover):", "",
                  side_by_side(data, "crash", "advert", master_down_interval, "MDI"), "",
                  "SIGKILL → the client reaches b:", "",
                  side_by_side(data, "crash", "from_fault", None, "bound"), "",
                  "Where the time goes (medians, ms):", "",
                  split_table(data, "crash", CRASH_SPLIT), ""]
        pt = perf_table(data, "crash")
        if pt:
            parts += ["The backup's side, syscall by syscall (`--perf`, medians, ms):", "",
                      pt, ""]
    if "graceful" in faults:
        parts += ["### Graceful stop (SIGTERM of the master): SIGTERM → the client reaches b",
                  "", side_by_side(data, "graceful", "client", skew_time, "Skew_Time"), "",
                  "a's priority-0 advert → b's first advert (RFC 5798: Skew_Time):", "",
                  side_by_side(data, "graceful", "skew_wait", skew_time, "Skew_Time"), "",
                  "Where the time goes (medians, ms; *prio 0 → a's RTM_DELADDR* < 0: a "
                  "removed the VIP before its priority-0 advert; *DELADDR → NEWADDR* > 0: "
                  "nobody held the VIP that long, < 0: both did):", "",
                  split_table(data, "graceful", GRACE_SPLIT), ""]
        pt = perf_table(data, "graceful")
        if pt:
            parts += ["The backup's side from a's priority-0 advert + Skew_Time (`--perf`, "
                      "medians, ms):", "", pt, ""]
    parts += ["### CPU in steady state (schedstat, every process of the daemon)", "",
              cpu_table(data), "", "### Soak: spurious takeovers under load", "",
              soak_table(data), ""]
    notes = [f"- {b['impl']} at {b['interval']:g} s: {b['error']}" for b in data["blocks"]
             if b["error"]]
    notes += [f"- {t['impl']} {t['interval']:g} s {t['fault']} #{t['n'] + 1}: "
              + "; ".join(t["notes"]) for b in data["blocks"] for t in b["trials"]
              if t["notes"]]
    if notes:
        parts += ["### Notes", "", *notes, ""]
    return "\n".join(parts)


def markdown(data: dict[str, Any]) -> str:
    m = data["meta"]
    return (f"# VRRPv3 bench {m['started']}\n\n`{m['command']}`, {m['duration_s']} s; "
            f"load average {m['loadavg_start'][0]:.1f} at the start, "
            f"{m['loadavg_end'][0]:.1f} at the end.\n\n" + tables(data))


def docs_block(data: dict[str, Any]) -> str:
    from bench.report import machine_md

    m = data["meta"]
    return (f"Run {m['started']} (`{m['command']}`, {m['duration_s'] / 60:.1f} min) on "
            f"{machine_md(m['machine'])}; load average {m['loadavg_start'][0]:.1f} at the "
            f"start, {m['loadavg_end'][0]:.1f} at the end. {m['repeats']} trial(s) per "
            "fault and interval.\n\n" + tables(data).replace("### ", "#### "))
