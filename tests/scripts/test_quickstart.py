"""The README quick start as a newcomer types it: as root on a bare Debian 12 (no sudo).

The commands are read from the README itself, so the test follows the text; setup.sh's refusal
for a non-root user is run with a PATH that has (or lacks) a `sudo`, as the user's machine would.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def quick_start_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None, "the quick start has no bash block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()
            if line.split("#", 1)[0].strip()]


def test_quick_start_is_two_commands_without_sudo() -> None:
    commands = quick_start_commands()
    assert commands == ["./scripts/demo.sh", "./scripts/test.sh"]
    section = (REPO / "README.md").read_text().split("## Quick start", 1)[1].split("\n## ")[0]
    assert "sudo ./" not in section


@pytest.mark.parametrize("command", quick_start_commands())
def test_quick_start_command_runs_as_typed(command: str) -> None:
    """Typed from the checkout as `./scripts/x.sh`: a tracked executable with a shebang,
    which installs its needs through setup.sh before anything else."""
    path = REPO / command
    assert os.access(path, os.X_OK), f"{command} is not executable"
    staged = subprocess.run(["git", "ls-files", "-s", command.removeprefix("./")], cwd=REPO,
                            capture_output=True, text=True, check=False).stdout
    if staged:  # in a git checkout the mode is what a clone gets
        assert staged.startswith("100755 "), staged
    lines = path.read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    body = [line for line in lines if line and not line.startswith("#")]
    assert body[:3] == ["set -euo pipefail", 'cd "$(dirname "$0")/.."', "bash scripts/setup.sh"]


@pytest.fixture
def bindir() -> Iterator[Path]:
    """A PATH directory the unprivileged user can read (pytest's tmp_path is root's 0700)."""
    with tempfile.TemporaryDirectory(prefix="dn-path-") as d:
        Path(d).chmod(0o755)
        yield Path(d)


def _setup_as_non_root(bindir: Path, with_sudo: bool) -> subprocess.CompletedProcess[str]:
    """scripts/setup.sh run by an unprivileged user whose PATH has only what the refusal
    needs (and a `sudo` when asked)."""
    for tool in ("id", "dirname"):
        found = shutil.which(tool)
        assert found is not None
        (bindir / tool).symlink_to(found)
    if with_sudo:
        (bindir / "sudo").write_text("#!/bin/sh\nexit 1\n")
        (bindir / "sudo").chmod(0o755)
    bash = shutil.which("bash")
    assert bash is not None
    argv = [bash, str(REPO / "scripts" / "setup.sh")]
    if os.geteuid() == 0:  # become nobody, as a newcomer's own account would be
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("needs setpriv (util-linux) to run setup.sh as a non-root user")
        argv = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False,
                          env={"PATH": str(bindir), "LANG": "C"})


def test_setup_refusal_does_not_suggest_a_missing_sudo(bindir: Path) -> None:
    proc = _setup_as_non_root(bindir, with_sudo=False)
    assert proc.returncode == 1
    assert "setup.sh: run as root" in proc.stderr
    assert "sudo" not in proc.stderr
    assert "su -" in proc.stderr


def test_setup_refusal_suggests_sudo_where_it_exists(bindir: Path) -> None:
    proc = _setup_as_non_root(bindir, with_sudo=True)
    assert proc.returncode == 1
    assert "sudo " in proc.stderr and "setup.sh" in proc.stderr
