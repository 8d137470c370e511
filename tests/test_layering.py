"""The dependency direction of ARCHITECTURE.md, checked on the source with `ast`.

- carpd/core imports only the standard library and carpd.core, and none of the modules that
  would let it do I/O, read the clock, draw randomness or log (house rule 1);
- carpctl imports nothing from carpd but carpd.control (it must run without the daemon);
- carpd/driver never imports carpd.io, carpd.ops, carpd.config or carpd.app (adapters and
  the operator side are injected);
- carpd/ops and carpd/status import from carpd only the core, carpd.driver.ports,
  carpd.status, carpd.control (and ops itself): never io, config, app or the daemon;
- no module of carpd imports itself back through others (no import cycles).
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


DRIVER_FORBIDDEN = ("carpd.io", "carpd.ops", "carpd.config", "carpd.app")
OPS_STATUS_ALLOWED = ("carpd.core", "carpd.driver.ports", "carpd.status", "carpd.control",
                      "carpd.ops")


def driver_violations(names: set[str]) -> set[str]:
    return {n for n in names if any(in_package(n, p) for p in DRIVER_FORBIDDEN)}


def ops_status_violations(names: set[str]) -> set[str]:
    """carpd names outside the allowed packages; `from carpd.driver import ports` yields
    "carpd.driver" too, which is fine only next to carpd.driver.ports."""
    bad = {n for n in names if top(n) == "carpd" and n not in ("carpd", "carpd.driver")
           and not any(in_package(n, p) for p in OPS_STATUS_ALLOWED)}
    if "carpd.driver" in names and not any(in_package(n, "carpd.driver.ports") for n in names):
        bad.add("carpd.driver")
    return bad


ALL_MODULES = sorted(CARPD.rglob("*.py"))


def import_graph() -> dict[str, set[str]]:
    """carpd module -> the carpd modules it imports (a name resolves to its longest prefix
    that is a module: `from carpd.core.actions import Action` is carpd.core.actions)."""
    modules = {module_name(p): p for p in ALL_MODULES}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in names_of(path):
            parts = imported.split(".")
            for end in range(len(parts), 0, -1):
                candidate = ".".join(parts[:end])
                if candidate in modules:
                    targets.add(candidate)
                    break
        graph[name] = targets - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


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


@pytest.mark.parametrize(("src", "ok"), [
    ("from carpd.core.node import Node\nfrom carpd.driver.ports import Ports", True),
    ("from carpd.status.document import build_document", True),
    ("from carpd.ops.operations import Operations", False),
    ("from carpd.config import loader", False),
    ("import carpd.app.wiring", False),
])
def test_checker_driver_rule(src: str, ok: bool) -> None:
    assert (driver_violations(imported_names(src, "carpd.driver.daemon")) == set()) is ok


@pytest.mark.parametrize(("src", "ok"), [
    ("from carpd.driver.ports import HealthPort", True),
    ("from carpd.driver import ports", True),
    ("from carpd.core.events import Event\nfrom carpd.control.protocol import Request", True),
    ("from carpd.status import messages as msg", True),
    ("from carpd.driver.daemon import Daemon", False),
    ("from carpd.driver import daemon", False),
    ("from carpd.io.health import HealthChecks", False),
    ("from carpd.config.loader import Config", False),
    ("from carpd.app import wiring", False),
])
def test_checker_ops_status_rule(src: str, ok: bool) -> None:
    assert (ops_status_violations(imported_names(src, "carpd.ops.checks")) == set()) is ok


def test_cycle_finder() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


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


@pytest.mark.parametrize("path", sorted((CARPD / "driver").rglob("*.py")), ids=lambda p: p.name)
def test_driver_imports_neither_adapters_nor_ops_config_or_app(path: Path) -> None:
    assert driver_violations(names_of(path)) == set()


@pytest.mark.parametrize("path", sorted((CARPD / "ops").rglob("*.py"))
                         + sorted((CARPD / "status").rglob("*.py")), ids=lambda p: p.name)
def test_ops_and_status_import_only_core_ports_status_and_control(path: Path) -> None:
    assert ops_status_violations(names_of(path)) == set()


def test_no_import_cycles() -> None:
    graph = import_graph()
    assert "carpd.core.actions" in graph["carpd.core.node"]  # the graph sees imports
    assert cycles(graph) == []
