"""Running real carpd daemons inside lab hosts: config files, processes, status, timing.

Owns: writing a carpd.toml per host (password in a 0600 key file, control socket and state
directory in a per-test folder), starting `python -m carpd` in a host namespace with its
stderr in a log file, asking it for `status --json` through carpctl, and waiting for a VIP
to reach a state. Used by the integration tests and by the README demo.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from carpd import carpctl
from carpd.control.protocol import ProtocolError, Request
from tests.integration.netns import REPO, Lab

PASSWORD = "demo-pass-19b"


@dataclass(frozen=True)
class Vip:
    name: str
    vhid: int
    address: str
    advskew: int


@dataclass
class Carpd:
    lab: Lab
    host: str
    workdir: Path
    vips: list[Vip]
    extra: dict[str, str] = field(default_factory=dict)
    vip_toml: dict[str, str] = field(default_factory=dict)  # raw TOML after [vip.NAME]
    proc: subprocess.Popen[bytes] | None = None

    @property
    def config(self) -> Path:
        return self.workdir / f"{self.host}.toml"

    @property
    def socket(self) -> str:
        return str(self.workdir / f"{self.host}.sock")

    @property
    def log(self) -> Path:
        return self.workdir / f"{self.host}.log"

    def write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        key = self.workdir / "carp.key"
        key.write_text(PASSWORD + "\n")
        key.chmod(0o600)
        lines = ["[carpd]", f'control_socket = "{self.socket}"',
                 f'state_directory = "{self.workdir / (self.host + "-state")}"', "",
                 "[defaults]", 'interface = "eth0"', f'password_file = "{key}"',
                 "garp_count = 2", "garp_interval = 0.5", "master_units = []"]
        lines += [f"{k} = {v}" for k, v in self.extra.items()]
        for v in self.vips:
            lines += ["", f"[vip.{v.name}]", f"vhid = {v.vhid}", f'address = "{v.address}"',
                      f"advskew = {v.advskew}"]
            if v.name in self.vip_toml:  # e.g. sync_group, [[vip.NAME.check]] tables
                lines += [self.vip_toml[v.name]]
        self.config.write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        self.write_config()
        env = {**os.environ, "PYTHONPATH": str(REPO), "CARPD_LOG_STDERR": "1"}
        env.pop("NOTIFY_SOCKET", None)
        with self.log.open("ab") as log:
            self.proc = self.lab.popen(self.host, [sys.executable, "-m", "carpd", "--config",
                                                   str(self.config)],
                                       stdout=log, stderr=subprocess.STDOUT, env=env)

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait_exit(self, timeout: float = 15.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def status(self) -> dict[str, object] | None:
        """`carpctl status --json`'s document (in-process round trip), None if unreachable."""
        try:
            return carpctl.request(self.socket, Request(cmd="status"), timeout=2.0)
        except (carpctl.Unreachable, ProtocolError):
            return None

    def ctl(self, *argv: str, timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
        """Run `carpctl --socket SOCK ARGV...` as a separate process (exit code, stdout)."""
        return subprocess.run([sys.executable, "-m", "carpd.carpctl", "--socket", self.socket,
                               *argv], capture_output=True, text=True, timeout=timeout,
                              cwd=REPO, check=False)

    def states(self) -> dict[str, str]:
        doc = self.status()
        if doc is None:
            return {}
        return {v["name"]: v["state"] for v in doc["vips"]}  # type: ignore[attr-defined, index]

    def wait_state(self, name: str, state: str, timeout: float) -> float | None:
        """Seconds until VIP `name` is in `state` (polled every 20 ms), or None."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.states().get(name) == state:
                return time.monotonic() - t0
            time.sleep(0.02)
        return None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def wait_for(predicate: object, timeout: float, interval: float = 0.01) -> float | None:
    """Seconds until predicate() is true, or None on timeout."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if predicate():  # type: ignore[operator]
            return time.monotonic() - t0
        time.sleep(interval)
    return None
