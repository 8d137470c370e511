"""A tiny SVG renderer for the documentation's plots: grouped bar charts and line panels.

Owns: `bar_chart` (categories along x, one bar per series in each, optional min-max whiskers,
value labels and dotted reference lines) and `line_panels` (side-by-side panels, categorical
x, linear or log y, one polyline with markers per series), both returning an SVG document as
text. It exists so docs/img can be drawn on a machine without matplotlib (Debian 12's base
install has none, and the plots must be reproducible from the recorded figures alone).
Invariants: the output is a pure function of the arguments (no timestamps, fixed number
formatting), so regenerating unchanged figures gives byte-identical files; every text is
XML-escaped.
Must not: read or write files (bench/docplots.py does), or import anything outside the
standard library.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

FONT = "font-family=\"DejaVu Sans, Arial, sans-serif\""
AXIS, GRID, TEXT = "#444444", "#dddddd", "#222222"


@dataclass(frozen=True)
class Series:
    """One named colour; `values[i]` belongs to category i (None: no bar/point there).
    `low`/`high`, when given, are the whisker ends per category."""

    name: str
    color: str
    values: Sequence[float | None]
    low: Sequence[float | None] | None = None
    high: Sequence[float | None] | None = None
    dashed: bool = False


@dataclass(frozen=True)
class Ref:
    """A dotted horizontal reference line with its legend text."""

    value: float
    label: str
    color: str = "#888888"


@dataclass(frozen=True)
class Panel:
    title: str
    xlabels: Sequence[str]
    series: Sequence[Series]
    ylabel: str
    log: bool = False
    refs: Sequence[Ref] = field(default_factory=tuple)


def _num(x: float) -> str:
    return f"{x:.1f}"


def _text(x: float, y: float, s: str, *, size: int = 12, anchor: str = "middle",
          weight: str = "normal", rotate: float | None = None) -> str:
    lines = s.split("\n")
    transform = f' transform="rotate({rotate:g} {_num(x)} {_num(y)})"' if rotate else ""
    spans = "".join(f'<tspan x="{_num(x)}" dy="{0 if i == 0 else size + 2}">{escape(line)}'
                    "</tspan>" for i, line in enumerate(lines))
    return (f'<text x="{_num(x)}" y="{_num(y)}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{TEXT}" {FONT}{transform}>{spans}</text>')


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) covering low..high."""
    span = max(high - low, 1e-9)
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks, t = [], first
    while t <= high + step * 1e-6:
        ticks.append(round(t, 10))
        t += step
    return ticks


def log_ticks(low: float, high: float) -> list[float]:
    """1, 2, 5 times the powers of ten between low and high (both > 0)."""
    ticks = []
    for exp in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for m in (1, 2, 5):
            v = m * 10.0 ** exp
            if low <= v <= high:
                ticks.append(v)
    return ticks


def _tick_label(v: float) -> str:
    return f"{v:g}" if abs(v) >= 1 or v == 0 else f"{v:.2g}"


class _Frame:
    """A plot area inside the SVG with a y scale (linear or log) and its gridlines."""

    def __init__(self, x: float, y: float, w: float, h: float, ylow: float,  # noqa: PLR0917
                 yhigh: float, log: bool) -> None:
        self.x, self.y, self.w, self.h, self.log = x, y, w, h, log
        self.ylow, self.yhigh = ylow, yhigh

    def py(self, v: float) -> float:
        if self.log:
            v = max(v, self.ylow)
            frac = (math.log10(v) - math.log10(self.ylow)) / (
                math.log10(self.yhigh) - math.log10(self.ylow))
        else:
            frac = (v - self.ylow) / (self.yhigh - self.ylow)
        return self.y + self.h - frac * self.h

    def axes(self, ticks: Sequence[float], ylabel: str) -> list[str]:
        out = []
        for t in ticks:
            yy = self.py(t)
            out.append(f'<line x1="{_num(self.x)}" y1="{_num(yy)}" x2="{_num(self.x + self.w)}" '
                       f'y2="{_num(yy)}" stroke="{GRID}" stroke-width="1"/>')
            out.append(_text(self.x - 6, yy + 4, _tick_label(t), size=11, anchor="end"))
        out.append(f'<line x1="{_num(self.x)}" y1="{_num(self.y)}" x2="{_num(self.x)}" '
                   f'y2="{_num(self.y + self.h)}" stroke="{AXIS}"/>')
        out.append(f'<line x1="{_num(self.x)}" y1="{_num(self.y + self.h)}" '
                   f'x2="{_num(self.x + self.w)}" y2="{_num(self.y + self.h)}" stroke="{AXIS}"/>')
        out.append(_text(self.x - 48, self.y + self.h / 2, ylabel, size=12, rotate=-90))
        return out

    def ref(self, r: Ref) -> str:
        yy = self.py(r.value)
        return (f'<line class="ref" x1="{_num(self.x)}" y1="{_num(yy)}" '
                f'x2="{_num(self.x + self.w)}" y2="{_num(yy)}" stroke="{r.color}" '
                'stroke-width="1.5" stroke-dasharray="3,3"/>')


def _legend(x: float, y: float, items: Sequence[tuple[str, str, str]]) -> list[str]:
    """(label, colour, kind: bar | line | ref) entries in one row from (x, y)."""
    out = []
    for label, color, kind in items:
        if kind == "bar":
            out.append(f'<rect x="{_num(x)}" y="{_num(y - 10)}" width="12" height="12" '
                       f'fill="{color}"/>')
        else:
            dash = ' stroke-dasharray="3,3"' if kind == "ref" else ""
            out.append(f'<line x1="{_num(x)}" y1="{_num(y - 4)}" x2="{_num(x + 14)}" '
                       f'y2="{_num(y - 4)}" stroke="{color}" stroke-width="2"{dash}/>')
        out.append(_text(x + 18, y, label, size=11, anchor="start"))
        x += 26 + 6.4 * len(label)
    return out


def _document(width: int, height: int, title: str, body: list[str]) -> str:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}">')
    return "\n".join([head, f'<rect width="{width}" height="{height}" fill="white"/>',
                      _text(width / 2, 24, title, size=15, weight="bold"), *body,
                      "</svg>"]) + "\n"


def bar_chart(title: str, categories: Sequence[str], series: Sequence[Series], *,
              ylabel: str, refs: Sequence[Ref] = (), ymax: float | None = None,
              value_label: Callable[[float], str] = lambda v: f"{v:g}",
              width: int = 960, height: int = 460) -> str:
    """Grouped vertical bars: one group per category, one bar per series (module doc)."""
    tops = [v for s in series for v in (s.high or s.values) if v is not None]
    top = ymax if ymax is not None else max([*tops, *(r.value for r in refs), 1e-9]) * 1.12
    frame = _Frame(80, 64, width - 110, height - 64 - 90, 0.0, top, log=False)
    body = frame.axes([t for t in nice_ticks(0, top) if t <= top], ylabel)
    group_w = frame.w / max(1, len(categories))
    bar_w = group_w * 0.8 / max(1, len(series))
    for i, cat in enumerate(categories):
        left = frame.x + i * group_w + group_w * 0.1
        for k, s in enumerate(series):
            v = s.values[i]
            if v is None:
                continue
            bx, by = left + k * bar_w, frame.py(v)
            body.append(f'<rect class="bar" x="{_num(bx)}" y="{_num(by)}" '
                        f'width="{_num(bar_w * 0.92)}" height="{_num(frame.py(0) - by)}" '
                        f'fill="{s.color}"><title>{escape(f"{s.name}, {cat}: {v:g}")}'
                        "</title></rect>")
            body.extend(_whisker(frame, s, i, bx + bar_w * 0.46))
            body.append(_text(bx + bar_w * 0.46, by - 4, value_label(v), size=9))
        body.append(_text(frame.x + (i + 0.5) * group_w, frame.y + frame.h + 18, cat, size=11))
    body.extend(frame.ref(r) for r in refs)
    legend = [(s.name, s.color, "bar") for s in series] + [(r.label, r.color, "ref")
                                                            for r in refs]
    body.extend(_legend(frame.x, height - 14, legend))
    return _document(width, height, title, body)


def _whisker(frame: _Frame, s: Series, i: int, cx: float) -> list[str]:
    if s.low is None or s.high is None or s.low[i] is None or s.high[i] is None:
        return []
    lo, hi = frame.py(s.low[i] or 0.0), frame.py(s.high[i] or 0.0)
    return [f'<line x1="{_num(cx)}" y1="{_num(lo)}" x2="{_num(cx)}" y2="{_num(hi)}" '
            f'stroke="{AXIS}" stroke-width="1"/>',
            *(f'<line x1="{_num(cx - 3)}" y1="{_num(y)}" x2="{_num(cx + 3)}" y2="{_num(y)}" '
              f'stroke="{AXIS}" stroke-width="1"/>' for y in (lo, hi))]


def line_panels(title: str, panels: Sequence[Panel], *, width: int = 1100,
                height: int = 430) -> str:
    """Panels side by side, each with categorical x and one line per series."""
    body: list[str] = []
    panel_w = width / len(panels)
    for p_index, panel in enumerate(panels):
        body.extend(_panel(panel, p_index * panel_w, panel_w, height))
    names: dict[str, tuple[str, str]] = {}
    for panel in panels:
        for s in panel.series:
            names.setdefault(s.name, (s.color, "line"))
        for r in panel.refs:
            names.setdefault(r.label, (r.color, "ref"))
    body.extend(_legend(70, height - 12, [(n, c, k) for n, (c, k) in names.items()]))
    return _document(width, height, title, body)


def _panel(panel: Panel, x0: float, w: float, height: int) -> list[str]:
    values = [v for s in panel.series for v in s.values if v is not None]
    values += [r.value for r in panel.refs]
    if panel.log:
        low, high = 10 ** math.floor(math.log10(min(values))), 10 ** math.ceil(
            math.log10(max(values)))
        ticks = log_ticks(low, high)
    else:
        low, high = 0.0, max(values) * 1.12
        ticks = [t for t in nice_ticks(0, high) if t <= high]
    frame = _Frame(x0 + 70, 70, w - 95, height - 70 - 80, low, high, panel.log)
    out = [_text(x0 + w / 2, 52, panel.title, size=12, weight="bold"),
           *frame.axes(ticks, panel.ylabel)]
    step = frame.w / max(1, len(panel.xlabels))
    xs = [frame.x + (i + 0.5) * step for i in range(len(panel.xlabels))]
    for i, label in enumerate(panel.xlabels):
        out.append(_text(xs[i], frame.y + frame.h + 18, label, size=11))
    out.extend(frame.ref(r) for r in panel.refs)
    for s in panel.series:
        points = [(xs[i], frame.py(v)) for i, v in enumerate(s.values) if v is not None]
        dash = ' stroke-dasharray="6,3"' if s.dashed else ""
        out.append(f'<polyline class="line" fill="none" stroke="{s.color}" stroke-width="2"'
                   f'{dash} points="{" ".join(f"{_num(a)},{_num(b)}" for a, b in points)}"/>')
        out.extend(f'<circle cx="{_num(a)}" cy="{_num(b)}" r="3.5" fill="{s.color}"/>'
                   for a, b in points)
    return out
