"""The docs refer only to files that exist in the checkout (the design notes they once cited,
CARP.md and friends, are not shipped: a reader could not follow such a reference)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")),
        *sorted((REPO / "docs" / "man").glob("*.[0-9]")), REPO / "etc" / "carpd.toml.example",
        REPO / "packaging" / "carpd.catalog"]
GENERATED = {"report.md"}  # written by each bench run into its results folder, not a document
MD_NAME = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.md)\b")


def referenced(doc: Path) -> set[str]:
    return {m.group(1) for m in MD_NAME.finditer(doc.read_text())}


def resolves(doc: Path, name: str) -> bool:
    return any((base / name).is_file() for base in (doc.parent, REPO, REPO / "docs"))


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_referenced_document_exists(doc: Path) -> None:
    missing = sorted(name for name in referenced(doc) - GENERATED if not resolves(doc, name))
    assert missing == []


def test_the_reader_finds_references() -> None:
    assert "docs/configuration.md" in referenced(REPO / "README.md")
