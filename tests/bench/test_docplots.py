"""bench/docplots.py: the figures of docs/performance.md are drawn from its tables, and the
committed docs/img/*.svg are what the tables give today (regenerate with
`python -m bench.docplots` after a --update-docs run)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bench import docplots
from bench.svgplot import Series, bar_chart, log_ticks, nice_ticks

SVG = "{http://www.w3.org/2000/svg}"
TEXT = docplots.DOC.read_text()


@pytest.mark.parametrize("name", sorted(docplots.FIGURES))
def test_committed_figure_is_up_to_date(name: str) -> None:
    committed = docplots.IMG / name
    assert committed.exists(), f"run python -m bench.docplots ({name} is missing)"
    assert committed.read_text() == docplots.FIGURES[name](TEXT), (
        f"docs/img/{name} is out of date with docs/performance.md: python -m bench.docplots")


@pytest.mark.parametrize("name", sorted(docplots.FIGURES))
def test_figure_is_embedded_and_well_formed(name: str) -> None:
    assert f"](img/{name})" in TEXT
    root = ET.fromstring(docplots.FIGURES[name](TEXT))
    assert root.tag == f"{SVG}svg"


def test_summary_draws_every_measured_bar() -> None:
    rows = docplots.table(docplots.block(TEXT, "failover"), ("fault", "impl", "ok", "takeover"))
    root = ET.fromstring(docplots.failover_summary(TEXT))
    bars = [e for e in root.iter(f"{SVG}rect") if e.get("class") == "bar"]
    assert len(bars) == len(rows) == 12
    titles = {b.find(f"{SVG}title").text for b in bars}  # type: ignore[union-attr]
    assert "carpd, SIGKILL: 3.388" in titles  # the median of '3386 / 3388 / 3391' ms, in s


def test_tables_are_read_by_their_header() -> None:
    text = "x\n| a | b |\n|---|---|\n| 1 | 2 / 3 / 4 |\n| 5 | 6 / 7 / 8 |\n\nafter\n"
    rows = docplots.table(text, ("a", "b"))
    assert rows == [{"a": "1", "b": "2 / 3 / 4"}, {"a": "5", "b": "6 / 7 / 8"}]
    assert docplots.triple(rows[1]["b"]) == (6.0, 7.0, 8.0)
    with pytest.raises(ValueError, match="no table"):
        docplots.table(text, ("c",))
    with pytest.raises(ValueError, match="no bench:nothing block"):
        docplots.block(text, "nothing")


def test_renderer_is_deterministic_and_escapes(tmp_path: Path) -> None:
    one = bar_chart("A & B <x>", ["p", "q"], [Series("s", "#000", [1.0, None])], ylabel="y")
    assert one == bar_chart("A & B <x>", ["p", "q"], [Series("s", "#000", [1.0, None])],
                            ylabel="y")
    root = ET.fromstring(one)
    assert len([e for e in root.iter(f"{SVG}rect") if e.get("class") == "bar"]) == 1
    assert "A &amp; B &lt;x&gt;" in one


def test_ticks() -> None:
    assert nice_ticks(0, 5.5) == [0, 2, 4]  # steps of 1, 2 or 5 times a power of ten
    assert nice_ticks(0, 1.12) == [0, 0.5, 1.0]
    assert nice_ticks(0, 30) == [0, 10, 20, 30]
    assert log_ticks(1, 100) == [1, 2, 5, 10, 20, 50, 100]
