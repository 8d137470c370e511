"""scripts/codemetrics.py on a synthetic package under tmp_path, run as the command it is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "codemetrics.py"

BIG = "def big(x):\n" + "    x += 1\n" * 448 + "    return x\n"  # 450-line function, 451 lines
SMALL = '''"""Doc."""

import functools

from . import big


class C:
    @functools.cache
    def method(self):
        return 1

    async def run(self):
        def inner():
            return 2

        return inner()


def top():
    return [lambda: 3]
'''


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          check=False)


@pytest.fixture
def package(tmp_path: Path) -> Path:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "big.py").write_text("\nfrom pkg.sub import small\n" + BIG)
    (pkg / "sub" / "__init__.py").write_text('"""Sub."""\n')
    (pkg / "sub" / "small.py").write_text(SMALL.replace("from . import big", "from .. import big"))
    return pkg


def figures(package: Path) -> dict[str, Any]:
    done = run(str(package), "--json")
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_module_sizes_largest_first_with_the_limit_flagged(package: Path) -> None:
    result = figures(package)
    assert result["module_count"] == 4
    assert result["modules"] == [
        {"module": "pkg.big", "lines": 452, "over_limit": True},
        {"module": "pkg.sub.small", "lines": 21, "over_limit": False},
        {"module": "pkg.sub", "lines": 1, "over_limit": False},
        {"module": "pkg", "lines": 0, "over_limit": False}]
    assert result["total_lines"] == 474


def test_function_lengths_count_def_to_last_line_each_function_apart(package: Path) -> None:
    result = figures(package)
    # big 450; C.method 2 (decorator excluded); C.run 5 (with inner); inner 2; top 2
    assert result["function_count"] == 5
    assert result["function_lines_median"] == 2
    assert result["function_lines_p90"] == 450
    assert [(f["module"], f["name"], f["lines"]) for f in result["longest_functions"]] == [
        ("pkg.big", "big", 450), ("pkg.sub.small", "C.run", 5),
        ("pkg.sub.small", "C.method", 2), ("pkg.sub.small", "C.run.<locals>.inner", 2),
        ("pkg.sub.small", "top", 2)]


def test_import_cycles(package: Path) -> None:
    assert figures(package)["import_cycles"] == [["pkg.big", "pkg.sub.small", "pkg.big"]]
    (package / "big.py").write_text(BIG)
    assert figures(package)["import_cycles"] == []


def test_text_report(package: Path) -> None:
    done = run(str(package))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "pkg: 4 modules, 474 lines"
    assert "    452 ! pkg.big" in lines
    assert "     21   pkg.sub.small" in lines
    assert "Functions: 5, length median 2, 90th percentile 450 lines" in lines
    assert "    450   pkg.big:big" in lines
    assert lines[-2:] == ["Import cycles: 1", "  pkg.big -> pkg.sub.small -> pkg.big"]


def test_refuses_a_directory_that_is_not_a_package(tmp_path: Path) -> None:
    done = run(str(tmp_path))
    assert done.returncode == 2
    assert "not a package directory" in done.stderr
