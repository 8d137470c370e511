"""The dependency direction of ARCHITECTURE.md, checked on the source with `ast`.

- carpd/core imports only the standard library and carpd.core, and none of the modules that
  would let it do I/O, read the clock, draw randomness or log (house rule 1);
- carpctl imports nothing from carpd but carpd.control (it must run without the daemon);
- daemon.py never imports carpd.io (adapters are injected).
Every import statement counts, including those inside functions and `if TYPE_CHECKING:`.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CARPD = ROOT / "carpd"
CORE_MODULES = sorted((CARPD / "core").rglob("*.py"))
FORBIDDEN_IN_CORE = frozenset({"asyncio", "socket", "select", "time", "os", "random", "logging",
                               "pyroute2", "systemd"})


def imported_names(source: str, module: str) -> set[str]:
    """Fully qualified names a module imports. `from a import b` yields both `a` and `a.b`
    (b may be a submodule); relative imports are resolved against `module`."""
    package = module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - (node.level - 1)])
                base = f"{anchor}.{base}" if base else anchor
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def names_of(path: Path) -> set[str]:
    return imported_names(path.read_text(encoding="utf-8"), module_name(path))


def top(name: str) -> str:
    return name.split(".", maxsplit=1)[0]


def core_violations(names: set[str]) -> set[str]:
    bad = set()
    for name in names:
        if name == "carpd.core" or name.startswith("carpd.core."):
            continue
        if top(name) in FORBIDDEN_IN_CORE or top(name) not in sys.stdlib_module_names:
            bad.add(name)
    return bad


def in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def carpctl_violations(names: set[str]) -> set[str]:
    """Anything from carpd other than carpd.control. `from carpd import control` yields
    "carpd" and "carpd.control": the bare parent is fine only together with carpd.control."""
    carpd_names = {n for n in names if top(n) == "carpd"}
    bad = {n for n in carpd_names if n != "carpd" and not in_package(n, "carpd.control")}
    if "carpd" in carpd_names and not any(in_package(n, "carpd.control") for n in names):
        bad.add("carpd")
    return bad


def daemon_violations(names: set[str]) -> set[str]:
    return {n for n in names if in_package(n, "carpd.io")}


# -- the checker itself ------------------------------------------------------------------------

def test_checker_sees_imports_and_resolves_relative_ones() -> None:
    src = ("import os.path\nfrom . import wire\nfrom .auth import x\nfrom ..io import rawsock\n"
           "def f():\n    import socket\n")
    assert imported_names(src, "carpd.core.node") == {
        "os.path", "carpd.core", "carpd.core.wire", "carpd.core.auth", "carpd.core.auth.x",
        "carpd.io", "carpd.io.rawsock", "socket"}


@pytest.mark.parametrize("src", ["import socket", "import time", "from os import path",
                                 "import pyroute2", "import carpd.io.rawsock",
                                 "from carpd import daemon", "from ..io import netlink",
                                 "import attr", "from random import getrandbits",
                                 "import logging.handlers"])
def test_checker_flags_bad_core_imports(src: str) -> None:
    assert core_violations(imported_names(src, "carpd.core.node"))


@pytest.mark.parametrize(("src", "ok"), [
    ("from carpd.control.protocol import Request", True),
    ("from carpd import control", True),
    ("import carpd.control", True),
    ("import json, socket", True),
    ("from carpd.core.node import Node", False),
    ("from carpd import config", False),
    ("import carpd", False),
    ("from carpd.control import protocol\nfrom carpd import daemon", False),
])
def test_checker_carpctl_rule(src: str, ok: bool) -> None:
    assert (carpctl_violations(imported_names(src, "carpd.carpctl")) == set()) is ok


@pytest.mark.parametrize(("src", "ok"), [
    ("from carpd.core.node import Node\nfrom carpd.ports import AddressPort", True),
    ("from carpd.io.rawsock import RawSocket", False),
    ("from carpd import io", False),
    ("from .io import netlink", False),
    ("import carpd.io", False),
])
def test_checker_daemon_rule(src: str, ok: bool) -> None:
    assert (daemon_violations(imported_names(src, "carpd.daemon")) == set()) is ok


def test_checker_accepts_stdlib_and_core() -> None:
    src = "import hmac\nfrom dataclasses import dataclass\nfrom carpd.core import wire\n"
    assert not core_violations(imported_names(src, "carpd.core.node"))


def test_core_modules_are_found() -> None:
    names = {p.stem for p in CORE_MODULES}
    assert {"wire", "auth", "election", "events", "actions", "machine", "node", "params"} <= names
    assert "carpd.core.carp.wire" in names_of(CARPD / "core" / "machine.py")
    assert "hmac" in names_of(CARPD / "core" / "carp" / "auth.py")


# -- the rules ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", CORE_MODULES, ids=lambda p: p.name)
def test_core_imports_only_stdlib_and_itself(path: Path) -> None:
    assert core_violations(names_of(path)) == set()


def test_carpctl_imports_only_the_control_package_from_carpd() -> None:
    path = CARPD / "carpctl.py"
    if not path.exists():
        pytest.skip("carpd/carpctl.py not written yet")
    assert carpctl_violations(names_of(path)) == set()


def test_daemon_does_not_import_io() -> None:
    assert daemon_violations(names_of(CARPD / "driver" / "daemon.py")) == set()
