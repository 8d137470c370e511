"""The dependency rules of ARCHITECTURE.md ("Dependency direction", house rule 1), checked on
the source of every module of carpd/, sub-packages included, with `ast` (scripts/importgraph.py:
nothing is imported). Every import counts: top level, inside functions, under
`if TYPE_CHECKING:`, and `importlib.import_module`/`__import__` with a literal name; relative
imports are resolved, and `from a import b` means the module a.b when b is one.

A module belongs to the layer of its package (recursively); a module in no layer fails. From
carpd, each layer imports only:
- core (carpd/core/**): carpd.core. Outside carpd only the standard library, and never asyncio,
  socket, select, time, os, random, logging, pyroute2 or systemd (house rule 1);
  within core the protocol profiles carpd.core.carp and carpd.core.vrrp3 never import each
  other, and carpd.core.policy imports neither (election policy is protocol-free);
- driver: carpd.core, carpd.driver (its own modules, the ports among them), carpd.status,
  carpd.control; never carpd.io, carpd.config, carpd.app (adapters are injected) nor carpd.ops;
- ops: carpd.core, carpd.driver.ports (the port protocols, not the daemon), carpd.status,
  carpd.control and carpd.ops; never carpd.io, carpd.config, carpd.app, carpd.driver.daemon;
- status: the same as ops without carpd.ops (the renderings know nothing of operator commands);
- io: carpd.core (value types and wire constants), carpd.driver.ports, carpd.control (the
  control server speaks its protocol) and carpd.io; not carpd.status: no adapter uses it today,
  and the journald MESSAGE_IDs are chosen by the callers and arrive as fields of
  `EventLog.record`; never carpd.driver (beyond ports), carpd.ops, carpd.config, carpd.app;
- config: carpd.core (the parameter types of carpd.core.params) and carpd.config;
- control: carpd.control and the standard library only (carpctl loads it without the daemon);
- doctor (carpd/doctor/**, the host checks of `carpctl doctor`): carpd.control, carpd.doctor
  and the standard library only;
- carpctl: carpd.control, carpd.doctor and the standard library only; it never imports the
  daemon;
- the root package `carpd/__init__.py`: nothing from carpd, standard library only, because
  Python runs it before any carpd module, carpctl's included;
- app (carpd/app/**, carpd/__main__.py): everything.
There is no import cycle among carpd modules (module graph, every import above an edge); a
failure prints one cycle per strongly connected component.

KNOWN_VIOLATIONS lists the module pairs that break a rule today, each with the reason it is
still there. It may only shrink: a listed pair that no longer breaks its rule fails the test
(delete the entry in the change that fixes it), and any unlisted violation fails as usual. The
cycle check runs without these edges. Today the list is empty.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.importgraph import (
    Edge,
    Import,
    build_graph,
    cycles,
    extract_imports,
    module_files,
    module_imports,
    resolve,
)

CARPD = Path(__file__).resolve().parent.parent / "carpd"
MODULES = module_files(CARPD)
IMPORTS = module_imports(MODULES)

FORBIDDEN_IN_CORE = frozenset({"asyncio", "socket", "select", "time", "os", "random", "logging",
                               "pyroute2", "systemd"})

# (importer, imported): the daemon <-> operations circle, being removed (ARCHITECTURE.md, "Where
# the code stands"): Daemon builds Operations and delegates commands to it; Operations reads the
# Daemon it is given (imported under TYPE_CHECKING for its annotations).
KNOWN_VIOLATIONS: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Layer:
    name: str
    packages: tuple[str, ...] = ()  # its modules: these packages, recursively ...
    modules: tuple[str, ...] = ()  # ... and these single modules
    may_import: tuple[str, ...] = ()  # from carpd: these packages or modules, recursively
    stdlib_only: bool = False  # outside carpd: the standard library only
    never: frozenset[str] = frozenset()  # outside carpd: never these top-level modules

    def owns(self, module: str) -> bool:
        return module in self.modules or any(in_package(module, p) for p in self.packages)


CORE, DRIVER, STATUS, CONTROL = "carpd.core", "carpd.driver", "carpd.status", "carpd.control"
PORTS = "carpd.driver.ports"
DOCTOR = "carpd.doctor"
LAYERS = (
    Layer("core", packages=(CORE,), may_import=(CORE,), stdlib_only=True,
          never=FORBIDDEN_IN_CORE),
    Layer("driver", packages=(DRIVER,), may_import=(CORE, DRIVER, STATUS, CONTROL)),
    Layer("ops", packages=("carpd.ops",), may_import=(CORE, PORTS, STATUS, CONTROL, "carpd.ops")),
    Layer("status", packages=(STATUS,), may_import=(CORE, PORTS, STATUS, CONTROL)),
    Layer("io", packages=("carpd.io",), may_import=(CORE, PORTS, CONTROL, "carpd.io")),
    Layer("config", packages=("carpd.config",), may_import=(CORE, "carpd.config")),
    Layer("control", packages=(CONTROL,), may_import=(CONTROL,), stdlib_only=True),
    Layer("doctor", packages=(DOCTOR,), may_import=(CONTROL, DOCTOR), stdlib_only=True),
    Layer("carpctl", modules=("carpd.carpctl",), may_import=(CONTROL, DOCTOR),
          stdlib_only=True),
    Layer("root", modules=("carpd",), stdlib_only=True),
    Layer("app", packages=("carpd.app",), modules=("carpd.__main__",), may_import=("carpd",)),
)

# (importer package, imported package, why): forbidden although the layer allows the import
SEPARATIONS = (
    ("carpd.core.carp", "carpd.core.vrrp3", "the protocol profiles never import each other"),
    ("carpd.core.vrrp3", "carpd.core.carp", "the protocol profiles never import each other"),
    ("carpd.core.policy", "carpd.core.carp", "election policy is protocol-free"),
    ("carpd.core.policy", "carpd.core.vrrp3", "election policy is protocol-free"),
)


def in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def layer_of(module: str) -> Layer | None:
    return next((layer for layer in LAYERS if layer.owns(module)), None)


def broken_rule(importer: str, imported: str) -> str | None:
    """The rule `importer` breaks by importing `imported`, None when the import is allowed."""
    layer = layer_of(importer)
    if layer is None:
        return f"{importer} belongs to no layer"
    top = imported.split(".", maxsplit=1)[0]
    if top == "carpd":
        if not any(in_package(imported, p) for p in layer.may_import):
            allowed = ", ".join(layer.may_import) or "nothing"
            return f"{layer.name} imports from carpd only {allowed}"
        return next((why for src, dst, why in SEPARATIONS
                     if in_package(importer, src) and in_package(imported, dst)), None)
    if top in layer.never:
        return f"{layer.name} never imports {top} (house rule 1)"
    if layer.stdlib_only and top not in sys.stdlib_module_names:
        return f"{layer.name} imports nothing outside carpd but the standard library"
    return None


def violations(edges: Iterable[Edge]) -> list[str]:
    return [f"{e.importer}:{e.line} imports {e.imported}: {rule}" for e in edges
            if (rule := broken_rule(e.importer, e.imported))]


def new_violations(edges: Iterable[Edge]) -> list[str]:
    return violations(e for e in edges if (e.importer, e.imported) not in KNOWN_VIOLATIONS)


# -- the checker itself, on synthetic sources ---------------------------------------------------

# the real modules and a protocol package that does not exist yet
KNOWN = frozenset(MODULES) | {"carpd.core.vrrp3", "carpd.core.vrrp3.wire"}


def edges_of(source: str, module: str, *, is_package: bool = False) -> list[Edge]:
    return [Edge(module, resolve(imp, KNOWN), imp.line)
            for imp in extract_imports(source, module, is_package=is_package)]


def imported(source: str, module: str, *, is_package: bool = False) -> set[str]:
    return {e.imported for e in edges_of(source, module, is_package=is_package)}


def test_checker_sees_every_import_and_resolves_relative_ones() -> None:
    src = ("import os.path\nfrom . import events\nfrom .carp.auth import Auth\n"
           "from ..io import rawsock\nfrom .. import __version__\n"
           "def f():\n    import socket\n"
           "class C:\n    def m(self):\n        from carpd.status import messages\n"
           "if TYPE_CHECKING:\n    from carpd.driver.daemon import Daemon\n"
           "else:\n    importlib.import_module('select')\n    __import__('random')\n")
    assert imported(src, "carpd.core.node") == {
        "os.path", "carpd.core.events", "carpd.core.carp.auth", "carpd.io.rawsock", "carpd",
        "socket", "carpd.status.messages", "carpd.driver.daemon", "select", "random"}


def test_checker_resolves_relative_imports_in_a_package_init() -> None:
    assert imported("from . import wire\nfrom .. import params",
                    "carpd.core.carp", is_package=True) == {
        "carpd.core.carp.wire", "carpd.core.params"}


def test_checker_keeps_the_line_and_refuses_imports_beyond_the_top() -> None:
    assert [e.line for e in edges_of("\n\nimport time\n", "carpd.core.node")] == [3]
    with pytest.raises(ValueError, match="beyond the top-level package"):
        extract_imports("from ... import x", "carpd.core")


@pytest.mark.parametrize(("imp", "module"), [
    (Import("carpd", "control", 1), "carpd.control"),  # a submodule
    (Import("carpd", "__version__", 1), "carpd"),  # an attribute
    (Import("carpd.core.params", "VipParams", 1), "carpd.core.params"),
    (Import("carpd.core.carp.wire.CARP_TTL", None, 1), "carpd.core.carp.wire"),
    (Import("carpd.core", None, 1), "carpd.core"),
    (Import("os", "path", 1), "os"),
    (Import("pyroute2.netlink", None, 1), "pyroute2.netlink"),
])
def test_checker_resolves_names_to_modules(imp: Import, module: str) -> None:
    assert resolve(imp, KNOWN) == module


@pytest.mark.parametrize(("module", "src", "ok"), [
    # core
    ("carpd.core.node", "import hmac\nfrom dataclasses import dataclass\nfrom . import events",
     True),
    ("carpd.core.machine", "from carpd.core.carp import wire", True),
    *[("carpd.core.node", src, False) for src in (
        "import socket", "import time", "from os import path", "import os.path",
        "import pyroute2", "from systemd import journal", "import asyncio", "import select",
        "from random import getrandbits", "import logging.handlers", "import attr",
        "import carpd.io.rawsock", "from carpd import driver", "from ..io import netlink",
        "from .. import __version__", "def f():\n    import time",
        "if TYPE_CHECKING:\n    from carpd.driver.ports import Ports")],
    ("carpd.core.carp.wire", "import socket", False),  # sub-packages are core too
    ("carpd.core.policy.checks", "from carpd.core.events import SetFault", True),
    # the protocol profiles and policy
    ("carpd.core.carp.election", "from carpd.core.vrrp3 import wire", False),
    ("carpd.core.vrrp3.wire", "from ..carp import auth", False),
    ("carpd.core.vrrp3.wire", "from carpd.core.params import VipParams", True),
    ("carpd.core.policy.checks", "from carpd.core.carp.election import VhidInput", False),
    ("carpd.core.policy.checks", "from ..vrrp3 import wire", False),
    # driver
    ("carpd.driver.daemon", "from carpd.core.node import Node\nfrom .ports import Ports\n"
     "from carpd.status import messages\nfrom carpd.control.protocol import Request", True),
    *[("carpd.driver.lanes", src, False) for src in (
        "from carpd.io.rawsock import RawSocketTransport", "from carpd import io",
        "from ..io import netlink", "import carpd.io", "from carpd.config import loader",
        "from carpd.app.wiring import run", "from carpd.ops.operations import Operations",
        "if TYPE_CHECKING:\n    from carpd.ops import operations")],
    # ops and status
    ("carpd.ops.operations", "from carpd.driver.ports import Ports\nfrom carpd.status import "
     "explain\nfrom carpd.core.node import NodeStatistics\nfrom carpd.control import protocol",
     True),
    *[(module, src, False) for module in ("carpd.ops.operations", "carpd.status.metrics")
      for src in ("if TYPE_CHECKING:\n    from carpd.driver.daemon import Daemon",
                  "from carpd.driver import lanes", "from carpd.io.health import HealthChecks",
                  "from carpd.config.loader import Config", "from carpd.app import wiring")],
    ("carpd.status.explain", "from carpd.driver.ports import Ports\nfrom . import messages",
     True),
    ("carpd.status.explain", "from carpd.ops import operations", False),
    # io
    ("carpd.io.rawsock", "from carpd.core.carp.wire import CARP_TTL\nfrom .packet import x\n"
     "from carpd.driver.ports import Ports\nfrom carpd.control.protocol import Request\n"
     "import pyroute2", True),
    *[("carpd.io.netlink", src, False) for src in (
        "from carpd.driver.daemon import Daemon", "from carpd.driver import lanes",
        "from carpd.ops import operations", "from carpd.status import messages",
        "from carpd.config.loader import Config", "from carpd.app import cli")],
    # config
    ("carpd.config.loader", "from carpd.core.params import VipParams\nfrom . import values\n"
     "import tomli", True),
    *[("carpd.config.checks", src, False) for src in (
        "from carpd.driver.ports import Ports", "from carpd.io import units",
        "from carpd.status import messages", "from carpd.control import protocol")],
    # control and carpctl
    ("carpd.control.protocol", "import json\nfrom . import x", True),
    *[("carpd.control.protocol", src, False) for src in (
        "from carpd.core.params import VipParams", "import pyroute2", "import carpd")],
    ("carpd.doctor.checks", "import json\nfrom carpd.doctor import firewall\n"
     "from carpd.control import protocol", True),
    *[("carpd.doctor.host", src, False) for src in (
        "from carpd.core.params import VipParams", "from carpd.status import document",
        "from carpd.io import netlink", "import pyroute2")],
    *[("carpd.carpctl", src, True) for src in (
        "from carpd.control.protocol import Request", "from carpd import control",
        "from carpd.doctor import run",
        "import carpd.control", "import json, socket")],
    *[("carpd.carpctl", src, False) for src in (
        "from carpd.core.node import Node", "from carpd import config", "import carpd",
        "from carpd import __version__", "from carpd.control import protocol\n"
        "from carpd.driver import daemon", "import yaml")],
    # the root package, app, and modules in no layer
    ("carpd", "__version__ = '1'\nimport sys", True),
    ("carpd", "from carpd.control import protocol", False),
    ("carpd.app.wiring", "import pyroute2\nfrom carpd import __version__\n"
     "from carpd.io.rawsock import x\nfrom carpd.driver.daemon import Daemon", True),
    ("carpd.__main__", "from carpd.app.cli import main", True),
    ("carpd.runner", "import sys", False),
])
def test_checker_rules(module: str, src: str, ok: bool) -> None:
    is_package = MODULES.get(module, CARPD / "x.py").name == "__init__.py"
    assert (violations(edges_of(src, module, is_package=is_package)) == []) is ok


def test_checker_finds_cycles() -> None:
    graph = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a", "d"}),
             "d": frozenset(), "e": frozenset({"f"}), "f": frozenset({"e"})}
    assert cycles(graph) == [["a", "b", "c", "a"], ["e", "f", "e"]]
    assert cycles({"a": frozenset({"b"}), "b": frozenset()}) == []


def test_checker_builds_the_graph_from_a_tree(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from . import b\n")
    (pkg / "a.py").write_text("import os\nfrom pkg.sub import b\nfrom . import a\n")
    (pkg / "sub" / "b.py").write_text("if TYPE_CHECKING:\n    from ..a import A\n")
    graph = build_graph(module_imports(module_files(pkg)))
    assert graph == {"pkg": frozenset(), "pkg.a": frozenset({"pkg.sub.b"}),
                     "pkg.sub": frozenset({"pkg.sub.b"}), "pkg.sub.b": frozenset({"pkg.a"})}
    assert cycles(graph) == [["pkg.a", "pkg.sub.b", "pkg.a"]]


def test_checker_reads_the_real_tree() -> None:
    assert {"carpd.core.events", "carpd.core.carp.wire", "carpd.core.policy.checks",
            "carpd.driver.ports", "carpd.carpctl", "carpd"} <= set(MODULES)
    edges = {(e.importer, e.imported) for edges in IMPORTS.values() for e in edges}
    assert {("carpd.core.carp.profile", "carpd.core.carp.wire"), ("carpd.core.carp.auth", "hmac"),
            ("carpd.app.cli", "carpd"), ("carpd.app.cli", "carpd.app.wiring")} <= edges


# -- the rules, on carpd/ -----------------------------------------------------------------------

def test_every_module_belongs_to_a_layer() -> None:
    assert [m for m in MODULES if layer_of(m) is None] == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_imports_follow_the_dependency_rules(module: str) -> None:
    assert new_violations(IMPORTS[module]) == []


@pytest.mark.parametrize(("importer", "imported"), sorted(KNOWN_VIOLATIONS))
def test_known_violation_still_exists(importer: str, imported: str) -> None:
    """Shrink-only: when this fails, the violation is fixed; delete it from KNOWN_VIOLATIONS."""
    assert any(e.imported == imported for e in IMPORTS.get(importer, ())), (
        f"{importer} no longer imports {imported}: remove the pair from KNOWN_VIOLATIONS")
    assert broken_rule(importer, imported), (
        f"{importer} -> {imported} is allowed now: remove the pair from KNOWN_VIOLATIONS")


def test_no_import_cycles() -> None:
    graph = build_graph({name: [e for e in edges if (name, e.imported) not in KNOWN_VIOLATIONS]
                         for name, edges in IMPORTS.items()})
    found = cycles(graph)
    assert found == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)
