"""The bash completion of carpctl (packaging/completion/carpctl) as bash runs it on TAB.

Each case sources the script in a fresh bash, sets COMP_WORDS/COMP_CWORD as readline would
and prints COMPREPLY. The commands and options come from the real carpctl's --help (the venv's,
first on PATH); VIP names from a control server that answers `status` with two VIPs.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from carpd import carpctl
from tests.io.clocks import SAFETY_S
from tests.io.test_control import Server

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "packaging" / "completion" / "carpctl"
BIN = Path(sys.executable).parent


def complete(*words: str, socket: str = "/nonexistent/carpd.sock") -> list[str]:
    if not (BIN / "carpctl").exists():
        pytest.skip("needs carpctl installed beside this python (scripts/setup.sh)")
    script = (f"source {shlex.quote(str(SCRIPT))}\n"
              f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})\n"
              "COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n"
              "_carpctl_bash\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
    env = {"PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}", "CARPD_SOCKET": socket,
           "LANG": "C.UTF-8", "CARPCTL_COMPLETION_TIMEOUT": str(int(SAFETY_S))}  # a hang guard
    proc = subprocess.run(["bash", "--norc", "-c", script], capture_output=True, text=True,
                          timeout=SAFETY_S * 2, env=env, check=True)
    return sorted(line for line in proc.stdout.splitlines() if line)


def carpctl_commands() -> list[str]:
    sub = next(a for a in carpctl._parser()._actions
               if isinstance(a, argparse._SubParsersAction))
    return sorted(sub.choices)


def test_commands_and_global_options() -> None:
    """Every command carpctl has (a new one included, with no edit of the script)."""
    assert {"status", "explain", "demote", "maintenance"} <= set(carpctl_commands())
    assert complete("carpctl", "") == carpctl_commands()
    assert complete("carpctl", "de") == ["demote"]
    assert complete("carpctl", "--") == ["--help", "--socket", "--version"]
    assert complete("carpctl", "--socket", "/run/x.sock", "ma") == ["maintenance"]


def test_options_and_choices_of_a_command() -> None:
    assert complete("carpctl", "demote", "--") == ["--all", "--by", "--for"]
    assert complete("carpctl", "demote", "web", "--for", "") == ["1d", "1h", "30s", "5m"]
    assert complete("carpctl", "maintenance", "") == ["off", "on"]
    assert complete("carpctl", "status", "--j") == ["--json"]


def test_vip_names_from_the_running_daemon(tmp_path: Path) -> None:
    with Server(str(tmp_path / "c.sock")) as srv:
        srv.vips = [{"name": "web"}, {"name": "mail"}]
        assert complete("carpctl", "explain", "", socket=srv.path) == ["mail", "web"]
        assert complete("carpctl", "demote", "w", socket=srv.path) == ["web"]
    assert complete("carpctl", "explain", "") == []  # no daemon: no names, no error
