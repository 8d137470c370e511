"""Size and shape figures for a Python package: `python3 scripts/codemetrics.py [PACKAGE_DIR]
[--json]` (PACKAGE_DIR defaults to this repository's carpd/). Standard library only; it reads the
source with `ast` and never imports the package.

It prints:
- every module's line count, largest first, flagged when over the 450-line limit of the house
  rules (ARCHITECTURE.md rule 8); a module's lines are its physical lines (blank lines,
  comments and docstrings included; `wc -l` for a file that ends in a newline), and a
  package's `__init__.py` is listed under the package's name;
- the number of modules and their total lines;
- the median and 90th-percentile function length over every function of the package: the
  length of a `def` (or `async def`) is its physical lines from the `def` line to the last line
  of its body, blank lines, comments and docstring included, decorators excluded. Methods and
  nested functions are functions of their own (named by qualified name, `Class.method`,
  `outer.<locals>.inner`); a nested function's lines count both for itself and inside its
  enclosing function. Lambdas are not functions here. The 90th percentile is the nearest-rank
  one: the smallest length that at least 90% of the functions do not exceed;
- the 10 longest functions as `module:qualname`;
- the import cycles among the package's modules: the graph of `scripts/importgraph.py`, the
  same one `tests/test_layering.py` checks (every import counts, `if TYPE_CHECKING:` and
  function-level ones included), one shortest cycle per strongly connected component; unlike
  the test, this report excuses no edge (the test's KNOWN_VIOLATIONS included).
`--json` prints the same figures as one JSON document.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import statistics
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import importgraph

LINE_LIMIT = 450
LONGEST_SHOWN = 10
DEFAULT_PACKAGE = Path(__file__).resolve().parent.parent / "carpd"


@dataclass(frozen=True)
class Function:
    module: str
    name: str  # qualified name inside the module
    line: int
    lines: int


def functions(tree: ast.AST, module: str, prefix: str = "") -> Iterator[Function]:
    """Every function under `tree`, nested ones included, by qualified name."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name = prefix + node.name
            end = node.end_lineno if node.end_lineno is not None else node.lineno
            yield Function(module, name, node.lineno, end - node.lineno + 1)
            yield from functions(node, module, f"{name}.<locals>.")
        elif isinstance(node, ast.ClassDef):
            yield from functions(node, module, f"{prefix}{node.name}.")
        else:
            yield from functions(node, module, prefix)


def percentile(values: Sequence[int], fraction: float) -> int:
    """Nearest-rank percentile of a non-empty sequence."""
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)), 1) - 1]


def _whole(value: float) -> float | int:
    return int(value) if value == int(value) else value


def measure(package_dir: Path) -> dict[str, Any]:
    """All the figures for the package rooted at `package_dir`, as plain JSON-able values."""
    files = importgraph.module_files(package_dir)
    sizes: list[dict[str, Any]] = []
    funcs: list[Function] = []
    for name, path in files.items():
        source = path.read_text(encoding="utf-8")
        lines = len(source.splitlines())
        sizes.append({"module": name, "lines": lines, "over_limit": lines > LINE_LIMIT})
        funcs.extend(functions(ast.parse(source), name))
    sizes.sort(key=lambda s: (-s["lines"], s["module"]))
    lengths = [f.lines for f in funcs]
    longest = sorted(funcs, key=lambda f: (-f.lines, f.module, f.name))[:LONGEST_SHOWN]
    graph = importgraph.build_graph(importgraph.module_imports(files))
    return {
        "package": package_dir.resolve().name,
        "line_limit": LINE_LIMIT,
        "module_count": len(files),
        "total_lines": sum(s["lines"] for s in sizes),
        "modules": sizes,
        "function_count": len(funcs),
        "function_lines_median": _whole(statistics.median(lengths)) if lengths else None,
        "function_lines_p90": percentile(lengths, 0.9) if lengths else None,
        "longest_functions": [asdict(f) for f in longest],
        "import_cycles": importgraph.cycles(graph),
    }


def render(figures: Mapping[str, Any]) -> str:
    out = [f"{figures['package']}: {figures['module_count']} modules, "
           f"{figures['total_lines']} lines",
           "", f"Modules by lines ('!' = over {figures['line_limit']}):"]
    out += [f"  {s['lines']:5} {'!' if s['over_limit'] else ' '} {s['module']}"
            for s in figures["modules"]]
    out += ["", f"Functions: {figures['function_count']}, length median "
                f"{figures['function_lines_median']}, 90th percentile "
                f"{figures['function_lines_p90']} lines",
            "", f"Longest {len(figures['longest_functions'])} functions (lines):"]
    out += [f"  {f['lines']:5}   {f['module']}:{f['name']}"
            for f in figures["longest_functions"]]
    cycles = figures["import_cycles"]
    out += ["", f"Import cycles: {len(cycles) or 'none'}"]
    out += [f"  {' -> '.join(cycle)}" for cycle in cycles]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("package", nargs="?", type=Path, default=DEFAULT_PACKAGE,
                        help="the package directory (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    if not (args.package / "__init__.py").is_file():
        parser.error(f"{args.package} is not a package directory (no __init__.py)")
    figures = measure(args.package)
    print(json.dumps(figures, indent=2) if args.json else render(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
