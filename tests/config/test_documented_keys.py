"""Every key the loader knows is documented, and every documented key is known to the loader.

The loader's keys: `CARPD_KEYS` ([carpd]), `VIP_KEYS` ([defaults] and [vip.NAME]) and the
check keys (checks.COMMON and each type's TYPE_KEYS). The documentation: the reference tables
of docs/configuration.md, the key entries of carpd.toml(5) (docs/man/carpd.toml.5), the keys
written (or commented out) in etc/carpd.toml.example and in the ```toml blocks of README.md and
docs/*.md. A key added to the loader without its
documentation, or a documented key the loader would reject as unknown, fails here.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from carpd.config.checks import COMMON, TYPE_KEYS
from carpd.config.schema import CARPD_KEYS, VIP_KEYS

REPO = Path(__file__).resolve().parents[2]
KEY = re.compile(r"[a-z][a-z0-9_]*")
LOADER = {
    "carpd": set(CARPD_KEYS),
    "vip": set(VIP_KEYS),
    "check": set(COMMON) | {k for keys in TYPE_KEYS.values() for k in keys},
}


def _section(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0]


def _first_column(table_text: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"^\| `([a-z0-9_]+)` \|", table_text, re.M)}


def configuration_md() -> dict[str, set[str]]:
    text = (REPO / "docs" / "configuration.md").read_text()
    checks = _section(text, "\n## Health checks", "\n## ")
    common, per_type = checks.split("Keys of each type:", 1)
    type_keys = {k for row in re.findall(r"^\| `[a-z]+` \| (.*?) \|", per_type, re.M)
                 for k in re.findall(r"`([a-z_]+)`", row)}
    return {"carpd": _first_column(_section(text, "\n## `[carpd]`", "\n## ")),
            "vip": _first_column(_section(text, "\n## Per-VIP keys", "\n## ")),
            "check": _first_column(common) | type_keys}


def _man_keys(section: str, *, item_heads_only: bool = True) -> set[str]:
    """Keys named in bold by the .B/.BR lines of a man section: `.B key`, `.BR a ", " b`
    (the bold words of .BR are its odd arguments), `.B x = 1` and `type = "unit", unit = ...`
    (the names before each `=`); the heads of its .TP items only, or every such line (the
    check keys and the VRRPv3 keys are partly written in paragraphs)."""
    keys: set[str] = set()
    previous = ""
    for line in section.splitlines():
        head, previous = previous == ".TP", line
        if not line.startswith((".B ", ".BR ")) or (item_heads_only and not head):
            continue
        macro, body = line.split(" ", 1)
        words = shlex.split(body)
        bold = " ".join(words if macro == ".B" else words[0::2])
        assigned = re.findall(r"([a-z_]+)\s*=", bold)
        keys.update(assigned or (w for w in bold.split() if KEY.fullmatch(w) and w != "or"))
    return keys


def man_page() -> dict[str, set[str]]:
    text = (REPO / "docs" / "man" / "carpd.toml.5").read_text()
    return {"carpd": _man_keys(_section(text, "\n.SH [carpd]", "\n.SH ")),
            "vip": _man_keys(_section(text, "\n.SH PER-VIP KEYS", "\n.SH "))
            | _man_keys(_section(text, "\n.SH VRRPV3 VIPS", "\n.SH "), item_heads_only=False),
            "check": _man_keys(_section(text, "\n.SH HEALTH CHECKS", "\n.SH "),
                               item_heads_only=False)}


def example_file() -> dict[str, set[str]]:
    """The keys of etc/carpd.toml.example per kind of table, commented-out ones included
    (`# key = value` lines under a `[table]` or a commented `# [table]` header)."""
    return _toml_keys((REPO / "etc" / "carpd.toml.example").read_text())


def toml_blocks() -> dict[str, set[str]]:
    """The keys of every ```toml block of README.md and docs/*.md (a block without a header
    is a VIP's keys, as the docs write fragments of [vip.NAME])."""
    found: dict[str, set[str]] = {"carpd": set(), "vip": set(), "check": set()}
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for block in re.findall(r"```toml\n(.*?)```", doc.read_text(), re.S):
            for kind, keys in _toml_keys(block, start="vip").items():
                found[kind] |= keys
    return found


def _table_kind(name: str) -> str | None:
    """Which keys a [table] holds: "carpd", "vip" ([defaults], [vip.NAME]), "check", or None
    for a table of per-node values ([vip.NAME.KEY], [defaults.KEY]: its keys are nodes)."""
    parts = name.split(".")
    if parts[-1] == "check":
        return "check"
    if parts == ["carpd"]:
        return "carpd"
    per_node = len(parts) == (3 if parts[0] == "vip" else 2)
    return None if per_node else "vip"


def _toml_keys(text: str, start: str | None = None) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {"carpd": set(), "vip": set(), "check": set()}
    kind = start
    for raw in text.splitlines():
        line = re.sub(r"^#\s*", "", raw).strip()
        header = re.fullmatch(r"(\[\[?)([a-z0-9_.]+)\]\]?", line.split("#")[0].strip())
        if header:
            kind = _table_kind(header.group(2))
            continue
        key = re.match(r"([a-z][a-z0-9_]*)\s*=\s*\S", line)
        if key and kind is not None:
            found[kind].add(key.group(1))
    return found


SOURCES = {"docs/configuration.md": configuration_md, "carpd.toml(5)": man_page,
           "etc/carpd.toml.example": example_file, "toml blocks of the docs": toml_blocks}


@pytest.mark.parametrize("source", SOURCES)
def test_documented_keys_are_known_to_the_loader(source: str) -> None:
    documented = SOURCES[source]()
    unknown = {kind: sorted(keys - LOADER[kind]) for kind, keys in documented.items()
               if keys - LOADER[kind]}
    assert unknown == {}, f"{source} documents keys the loader does not know"


@pytest.mark.parametrize("source", ["docs/configuration.md", "carpd.toml(5)"])
def test_every_loader_key_is_documented(source: str) -> None:
    documented = SOURCES[source]()
    missing = {kind: sorted(LOADER[kind] - documented[kind]) for kind in LOADER
               if LOADER[kind] - documented[kind]}
    assert missing == {}, f"{source} does not document these keys"


def test_the_parsers_see_the_documentation() -> None:
    """The three readers above find keys at all (so an emptied parse cannot pass)."""
    for source, read in SOURCES.items():
        found = read()
        assert {"vhid", "advskew"} <= found["vip"], source
    assert "control_socket" in example_file()["carpd"]
    assert {"type", "unit", "weight"} <= example_file()["check"]
    assert {"peers", "vhid"} <= toml_blocks()["vip"]
