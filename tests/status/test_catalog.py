"""The journal catalog (packaging/carpd.catalog) explains every MESSAGE_ID carpd emits, so
`journalctl -x` has a text for each record; and it has no entry for an id nobody emits.
The ids are found in the source itself: every 32-hex-digit string constant in carpd/, and
every MESSAGE_ID= keyword (or "MESSAGE_ID" dict key) must name one of them."""

from __future__ import annotations

import ast
import functools
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from carpd.core.states import Reason, VhidState
from carpd.status.messages import STATE_CHANGED

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "packaging" / "carpd.catalog"
_ID = re.compile(r"[0-9a-f]{32}")


@functools.cache
def _trees(root: Path) -> tuple[tuple[Path, tuple[ast.AST, ...]], ...]:
    """Every node of every module under `root` (parsed once per test run)."""
    return tuple((path, tuple(ast.walk(ast.parse(path.read_text(), str(path)))))
                 for path in sorted(root.rglob("*.py")))


def source_ids(root: Path) -> dict[str, str]:
    """Each 32-hex constant bound to a name in `root`'s modules: name -> id."""
    ids: dict[str, str] = {}
    for _path, nodes in _trees(root):
        for node in nodes:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) \
                    and isinstance(node.value.value, str) and _ID.fullmatch(node.value.value):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        ids[target.id] = node.value.value
    return ids


def message_id_uses(root: Path) -> list[tuple[str, str]]:
    """(where, the name or literal given) of every MESSAGE_ID a record is made with."""
    uses = []
    for path, nodes in _trees(root):
        for node in nodes:
            values: list[ast.expr] = []
            if isinstance(node, ast.Call):
                values = [k.value for k in node.keywords if k.arg == "MESSAGE_ID"]
            elif isinstance(node, ast.Dict):
                values = [v for k, v in zip(node.keys, node.values, strict=True)
                          if isinstance(k, ast.Constant) and k.value == "MESSAGE_ID"]
            uses += [(f"{path.relative_to(root.parent)}:{v.lineno}", _name(v)) for v in values]
    return uses


def _name(v: ast.expr) -> str:
    if isinstance(v, ast.Attribute):
        return v.attr
    if isinstance(v, ast.Name):
        return v.id
    if isinstance(v, ast.Constant):
        return str(v.value)
    return ast.dump(v)


def catalog_entries(text: str) -> dict[str, str]:
    """id -> the entry's text (up to the next entry)."""
    parts = re.split(r"^-- ([0-9a-f]{32})\s*$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def missing_entries(root: Path, catalog: str) -> list[str]:
    ids, entries = source_ids(root), catalog_entries(catalog)
    problems = [f"{name} = {mid} has no catalog entry" for name, mid in ids.items()
                if mid not in entries]
    problems += [f"{where}: MESSAGE_ID={given} is not a known id constant"
                 for where, given in message_id_uses(root)
                 if given not in ids and given not in ids.values()]
    return problems


def test_every_message_id_carpd_emits_has_a_catalog_entry() -> None:
    assert missing_entries(REPO / "carpd", CATALOG.read_text()) == []


def test_the_catalog_has_no_entry_for_an_id_nobody_emits() -> None:
    emitted = set(source_ids(REPO / "carpd").values())
    assert set(catalog_entries(CATALOG.read_text())) - emitted == set()


def test_every_entry_has_a_subject_and_says_it_is_carpds() -> None:
    for mid, body in catalog_entries(CATALOG.read_text()).items():
        assert re.search(r"^Subject: \S", body, re.MULTILINE), mid
        assert re.search(r"^Defined-By: carpd$", body, re.MULTILINE), mid
        assert len(body.strip().splitlines()) > 4, f"{mid}: an entry needs an explanation"


def test_the_ids_found_include_the_known_ones() -> None:
    """The scan finds what it must (so an empty scan cannot pass the tests above)."""
    ids = source_ids(REPO / "carpd")
    assert {"STATE_CHANGED", "ANOMALY", "CHECK_CHANGED", "OPERATOR_ACTION", "RELOADED",
            "RELOAD_REFUSED"} <= set(ids)
    assert len(message_id_uses(REPO / "carpd")) > 30


def test_an_id_without_an_entry_or_an_unknown_name_is_reported(tmp_path: Path) -> None:
    pkg = tmp_path / "carpd"
    pkg.mkdir()
    (pkg / "ids.py").write_text('A = "0123456789abcdef0123456789abcdef"\n'
                                'B = "fedcba9876543210fedcba9876543210"\n')
    (pkg / "use.py").write_text("log(1, 'x', MESSAGE_ID=ids.A)\nlog(1, 'y', MESSAGE_ID=ids.C)\n"
                                "f = {'MESSAGE_ID': ids.B}\n")
    catalog = "-- 0123456789abcdef0123456789abcdef\nSubject: a\nDefined-By: carpd\n"
    assert missing_entries(pkg, catalog) == [
        "B = fedcba9876543210fedcba9876543210 has no catalog entry",
        "carpd/use.py:2: MESSAGE_ID=C is not a known id constant"]


def test_the_package_installs_the_catalog_where_journald_reads_it() -> None:
    install = (REPO / "packaging" / "debian" / "carpd.install").read_text()
    assert "packaging/carpd.catalog usr/lib/systemd/catalog/" in install


@pytest.mark.skipif(shutil.which("journalctl") is None, reason="no journalctl here")
def test_journalctl_compiles_the_catalog_with_every_entry(tmp_path: Path) -> None:
    """What `journalctl --update-catalog` makes of the file, in a scratch root (never the
    host's /var): every entry parses, with its subject."""
    catalog_dir = tmp_path / "usr" / "lib" / "systemd" / "catalog"
    catalog_dir.mkdir(parents=True)
    (tmp_path / "var" / "lib" / "systemd" / "catalog").mkdir(parents=True)
    shutil.copy(CATALOG, catalog_dir / "carpd.catalog")
    update = subprocess.run(["journalctl", "--root", str(tmp_path), "--update-catalog"],
                            capture_output=True, text=True, timeout=30, check=False)
    assert (update.returncode, update.stderr) == (0, "")
    listed = subprocess.run(["journalctl", "--root", str(tmp_path), "--list-catalog"],
                            capture_output=True, text=True, timeout=30, check=True).stdout
    ids = {line.split()[0] for line in listed.splitlines() if line.strip()}
    assert ids == set(catalog_entries(CATALOG.read_text()))


def test_state_change_entry_names_every_state_and_reason() -> None:
    """The state-change entry lists every state (FAULT was missing) and every reason the
    record can carry, so a new Reason needs its words here."""
    text = catalog_entries(CATALOG.read_text())[STATE_CHANGED]
    words = set(re.findall(r"[a-z0-9_]+", text))
    assert {s.value for s in VhidState} <= set(re.findall(r"[A-Z]+", text))
    missing = []
    for reason in Reason:
        value = reason.value
        written = value in words or f"{value}_" in text or (  # demotion_*, fault_*
            value.endswith(("_lost", "_won")) and value.rsplit("_", 1)[0] in text)
        if not written:
            missing.append(value)
    assert missing == []
