"""The import graph of a Python package, read from its source with `ast` (nothing is imported).

Owns: finding a package's modules, extracting every import a module makes, resolving each one
to the module it loads, the module-level graph and its cycles. `tests/test_layering.py` (the
dependency rules) and `scripts/codemetrics.py` (the cycle report) both build on it, so the two
always see the same graph. Standard library only; it must not import the package it reads.

What counts as an import: every `import` and `from ... import` statement anywhere in the
module (top level, inside functions and classes, under `if TYPE_CHECKING:` or a version test),
and `importlib.import_module("x")` / `__import__("x")` called with a literal name. Relative
imports are resolved against the importing module (a package's `__init__` is its own anchor).

How a name resolves to a module: `from a.b import c` loads `a.b.c` when that is a module of the
package, otherwise `a.b` (c is an attribute); `import a.b.c` loads its longest prefix that is a
module of the package. Names outside the package are kept as written (`os.path`, `pyroute2`).
A package's `__init__` that Python runs implicitly on the way to a submodule is not an edge, and
a module naming itself is not an edge either.
"""

from __future__ import annotations

import ast
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

Graph = Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class Import:
    """One import as written: `base` is the (absolute) module of the statement, `member` the
    name imported from it (`from base import member`), None for `import base`."""

    base: str
    member: str | None
    line: int


def module_files(package_dir: Path) -> dict[str, Path]:
    """Every module of the package rooted at `package_dir` (sub-packages included), by dotted
    name: `carpd/core/__init__.py` is `carpd.core`, `carpd/core/node.py` is `carpd.core.node`."""
    root = package_dir.resolve()
    modules = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        modules[".".join(parts)] = path
    return modules


def _anchor(module: str, is_package: bool, level: int, line: int) -> str:
    parts = module.split(".") if is_package else module.split(".")[:-1]
    if level - 1 >= len(parts):
        raise ValueError(f"{module}:{line}: relative import beyond the top-level package")
    return ".".join(parts[: len(parts) - (level - 1)])


def _literal_import_call(node: ast.Call) -> str | None:
    func = node.func
    named = (isinstance(func, ast.Name) and func.id == "__import__") or (
        isinstance(func, ast.Attribute) and func.attr == "import_module"
        and isinstance(func.value, ast.Name) and func.value.id == "importlib")
    if named and node.args and isinstance(node.args[0], ast.Constant):
        value = node.args[0].value
        return value if isinstance(value, str) and not value.startswith(".") else None
    return None


def extract_imports(source: str, module: str, *, is_package: bool = False) -> list[Import]:
    """Every import `module` makes, in source order, relative ones made absolute."""
    found: list[Import] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, None, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = _anchor(module, is_package, node.level, node.lineno)
                base = f"{anchor}.{base}" if base else anchor
            found.extend(Import(base, None if alias.name == "*" else alias.name, node.lineno)
                         for alias in node.names)
        elif isinstance(node, ast.Call) and (name := _literal_import_call(node)):
            found.append(Import(name, None, node.lineno))
    return sorted(found, key=lambda imp: imp.line)


def resolve(imp: Import, known: Container[str]) -> str:
    """The module `imp` loads, given the package's module names `known` (see the docstring)."""
    if imp.member is not None and f"{imp.base}.{imp.member}" in known:
        return f"{imp.base}.{imp.member}"
    parts = imp.base.split(".")
    for cut in range(len(parts), 0, -1):
        if ".".join(parts[:cut]) in known:
            return ".".join(parts[:cut])
    return imp.base


@dataclass(frozen=True)
class Edge:
    """`importer` loads `imported` at `line` (one per import; a module pair may repeat)."""

    importer: str
    imported: str
    line: int


def module_imports(modules: Mapping[str, Path]) -> dict[str, list[Edge]]:
    """For each module, every import it makes, resolved (inside or outside the package)."""
    result = {}
    for name, path in modules.items():
        imports = extract_imports(path.read_text(encoding="utf-8"), name,
                                  is_package=path.name == "__init__.py")
        result[name] = [Edge(name, resolve(imp, modules), imp.line) for imp in imports]
    return result


def build_graph(imports: Mapping[str, Iterable[Edge]]) -> dict[str, frozenset[str]]:
    """The module-level graph inside the package: module -> the package modules it imports."""
    return {name: frozenset(e.imported for e in edges
                            if e.imported in imports and e.imported != name)
            for name, edges in imports.items()}


def strongly_connected(graph: Graph) -> list[list[str]]:
    """The graph's strongly connected components with more than one module, each sorted, in
    order of their first module. Tarjan's algorithm with an explicit stack (no recursion
    limit), kept in one function because every step shares its index/low/stack state."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph.get(succ, ())))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    return sorted(components)


def shortest_cycle(graph: Graph, start: str) -> list[str]:
    """A shortest path start -> ... -> start (breadth first), [] when start is on no cycle."""
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for succ in sorted(graph.get(node, ())):
                if succ == start:
                    chain = [node]
                    while chain[-1] != start:
                        chain.append(parents[chain[-1]])
                    return [*reversed(chain), start]
                if succ not in parents:
                    parents[succ] = node
                    following.append(succ)
        frontier = following
    return []


def cycles(graph: Graph) -> list[list[str]]:
    """One shortest cycle per strongly connected component, e.g. [a, b, a]: empty when the
    graph is acyclic. A component may hold more cycles; fixing each printed one reveals them."""
    return [shortest_cycle(graph, component[0]) for component in strongly_connected(graph)]
