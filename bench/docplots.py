"""The plots of docs/performance.md, drawn from the figures recorded in it: docs/img/*.svg.

Owns: reading the generated tables of docs/performance.md (the `bench:failover`,
`bench:variants` and `bench:scale` blocks, written by `python -m bench ... --update-docs`)
and drawing three SVG figures from them with bench/svgplot.py:
- `failover-summary.svg`: takeover time per fault and implementation (median bar, min-max
  whiskers) with each protocol's master-down bound;
- `failover-variants.svg`: (master's last advert -> backup answers) / bound per variant,
  fault and implementation;
- `scale.svg`: resident memory, CPU (master solid, backup dashed) and advert jitter p99
  against the number of VIPs, with carpd's targets.
The per-trial timelines (`timeline-*.png` of a run's results folder) need the raw trials,
which the document does not keep, so they are not drawn here.
Run `python -m bench.docplots` after a `--update-docs` run (no root, no lab, no
matplotlib); tests/bench/test_docplots.py fails when the committed SVGs differ from what
the document's tables give.
Must not: measure anything or edit the document (only docs/img).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.report import COLORS, TARGET_CPU_PCT, TARGET_JITTER_P99_MS, TARGET_RSS_MIB
from bench.svgplot import Panel, Ref, Series, bar_chart, line_panels

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "performance.md"
IMG = REPO / "docs" / "img"
IMPL_ORDER = ("carpd", "ucarp", "keepalived")
SHORT_FAULT = {"master process SIGKILL": "SIGKILL", "graceful stop (SIGTERM)": "graceful stop",
               "master's link down (cable)": "cable pulled",
               "master's switch port down": "switch port down"}
Row = dict[str, str]


def block(text: str, name: str) -> str:
    """The text between `<!-- bench:NAME:begin -->` and its end marker."""
    match = re.search(rf"<!-- bench:{name}:begin -->(.*?)<!-- bench:{name}:end -->", text,
                      re.S)
    if match is None:
        raise ValueError(f"{DOC.name} has no bench:{name} block")
    return match.group(1)


def table(text: str, first_columns: Sequence[str]) -> list[Row]:
    """The rows of the first Markdown table whose header starts with `first_columns`."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        cells = _cells(line)
        if cells[: len(first_columns)] == list(first_columns):
            rows = []
            for body in lines[i + 2:]:
                if not body.startswith("|"):
                    break
                rows.append(dict(zip(cells, _cells(body), strict=True)))
            return rows
    raise ValueError(f"no table with columns {first_columns}")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") \
        else []


def triple(cell: str) -> tuple[float, float, float]:
    """'3386 / 3388 / 3391' -> (3386.0, 3388.0, 3391.0)."""
    low, mid, high = (float(x) for x in cell.split("/"))
    return low, mid, high


def _impls(rows: Sequence[Row]) -> list[str]:
    return [i for i in IMPL_ORDER if any(r["impl"] == i for r in rows)]


def failover_summary(text: str) -> str:
    failover = block(text, "failover")
    rows = table(failover, ("fault", "impl", "ok", "takeover"))
    bounds = {r["impl"]: float(r["master-down bound (ms)"]) / 1000
              for r in table(failover, ("fault", "impl", "master-down bound (ms)"))}
    faults = list(dict.fromkeys(r["fault"] for r in rows))
    series = []
    for impl in _impls(rows):
        got = {r["fault"]: triple(r["takeover"]) for r in rows if r["impl"] == impl}
        pick = [[got[f][k] / 1000 if f in got else None for f in faults] for k in range(3)]
        series.append(Series(impl, COLORS[impl], pick[1], low=pick[0], high=pick[2]))
    refs = [Ref(bounds["carpd"], f"CARP master-down interval ({bounds['carpd']:.2f} s)"),
            Ref(bounds["keepalived"], f"VRRP master-down interval "
                f"({bounds['keepalived']:.2f} s)", COLORS["keepalived"])]
    return bar_chart("Takeover time seen by the client (median, min-max whiskers)",
                     [SHORT_FAULT.get(f, f) for f in faults], series,
                     ylabel="seconds from the fault to the backup's answer", refs=refs,
                     value_label=lambda v: f"{v * 1000:.0f} ms" if v < 0.1 else f"{v:.2f} s")


def failover_variants(text: str) -> str:
    rows = table(block(text, "variants"), ("variant", "fault", "impl", "ok", "takeover"))
    columns = list(dict.fromkeys((r["variant"], r["fault"]) for r in rows))
    series = []
    for impl in _impls(rows):
        got = {(r["variant"], r["fault"]): float(r["÷ bound"]) for r in rows
               if r["impl"] == impl}
        series.append(Series(impl, COLORS[impl], [got.get(c) for c in columns]))
    return bar_chart("Takeover relative to each protocol's master-down interval (medians)",
                     [f"{v}\n{SHORT_FAULT.get(f, f)}" for v, f in columns], series,
                     ylabel="(last advert -> backup answers) / bound",
                     refs=[Ref(1.0, "protocol bound")], value_label=lambda v: f"{v:.3f}")


def scale(text: str) -> str:
    rows = table(block(text, "scale"), ("impl", "VIPs"))
    counts = sorted({int(r["VIPs"]) for r in rows})

    def column(impl: str, name: str, pick: int | None = None) -> list[float | None]:
        got = {int(r["VIPs"]): r[name] for r in rows if r["impl"] == impl}
        return [None if c not in got else float(got[c].split("/")[pick].strip())
                if pick is not None else float(got[c]) for c in counts]

    impls = _impls(rows)
    labels = [str(c) for c in counts]
    rss = Panel("Resident memory of the master (all processes)", labels,
                [Series(i, COLORS[i], column(i, "RSS master (MiB)")) for i in impls],
                "MiB", log=True, refs=[Ref(TARGET_RSS_MIB, "carpd's target")])
    cpu = Panel("CPU in steady state (backup dashed)", labels,
                [s for i in impls for s in (
                    Series(i, COLORS[i], column(i, "CPU master (%)")),
                    Series(i, COLORS[i], column(i, "CPU backup (%)"), dashed=True))],
                "% of one core", log=True, refs=[Ref(TARGET_CPU_PCT, "carpd's target")])
    jitter = Panel("Advert send jitter of the master, p99", labels,
                   [Series(i, COLORS[i], column(i, "jitter p50 / p99 / max (ms)", 1))
                    for i in impls], "ms", refs=[Ref(TARGET_JITTER_P99_MS, "carpd's target")])
    return line_panels("Scale: N VIPs on one interface, one master and one backup",
                       [rss, cpu, jitter])


FIGURES = {"failover-summary.svg": failover_summary, "failover-variants.svg": failover_variants,
           "scale.svg": scale}


def render(text: str) -> dict[str, str]:
    """Every figure's SVG text from the document's text."""
    return {name: draw(text) for name, draw in FIGURES.items()}


def main(argv: Sequence[str]) -> int:
    out = Path(argv[0]) if argv else IMG
    out.mkdir(parents=True, exist_ok=True)
    for name, svg in render(DOC.read_text()).items():
        (out / name).write_text(svg)
        print(f"wrote {out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
