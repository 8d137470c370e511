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
    """One `[vip.NAME]` table. `address` is the single (ucarp-style) address; `addresses`,
    when given, replaces it (IPv4 and IPv6 mixed). The other fields are the IPv6/unicast keys,
    written only when set (None = the daemon's default)."""

    name: str
    vhid: int
    address: str = ""
    advskew: int = 0
    addresses: tuple[str, ...] = ()
    peers: tuple[str, ...] | None = None
    source6: str | None = None
    peer_ttl: int | None = None
    accept_ttl: int | None = None
    accept_source: str | None = None
    accept_multicast: bool | None = None
    na_count: int | None = None
    na_interval: float | None = None
    na_router: bool | str | None = None
    deprecate_ipv6_vip: bool | None = None

    _OPTIONAL = ("peers", "source6", "peer_ttl", "accept_ttl", "accept_source",
                 "accept_multicast", "na_count", "na_interval", "na_router",
                 "deprecate_ipv6_vip")

    @property
    def all_addresses(self) -> tuple[str, ...]:
        return self.addresses or ((self.address,) if self.address else ())

    def toml_lines(self) -> list[str]:
        if (self.address != "") == bool(self.addresses):
            raise ValueError(f"vip {self.name}: give exactly one of address and addresses")
        lines = [f"[vip.{self.name}]", f"vhid = {self.vhid}"]
        lines.append(f'address = "{self.address}"' if self.address
                     else f"addresses = {toml_value(list(self.addresses))}")
        lines.append(f"advskew = {self.advskew}")
        for key in self._OPTIONAL:
            value = getattr(self, key)
            if value is not None:
                lines.append(f"{key} = {toml_value(value)}")
        return lines


def toml_value(value: object) -> str:
    """A TOML literal for the few types the lab writes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


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
            lines += ["", *v.toml_lines()]
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
        return {v["name"]: v["state"] for v in doc["vips"]}  # type: ignore[attr-defined]

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


def drops(node: Carpd, interface: str = "eth0") -> dict[str, int]:
    """`status --json`'s interface_drops for `interface` ({} if the daemon is unreachable)."""
    doc = node.status() or {}
    return dict(doc.get("interface_drops", {}).get(interface, {}))  # type: ignore[attr-defined]


def vip_status(node: Carpd, name: str) -> dict[str, object]:
    """One VIP's entry of `status --json` ({} if unreachable or unknown)."""
    doc = node.status() or {}
    for v in doc.get("vips", []):  # type: ignore[attr-defined]
        if v["name"] == name:
            return dict(v)
    return {}


def stop(node: Carpd) -> None:
    """SIGTERM the daemon if it still runs and wait for it (bounded)."""
    if node.proc is not None and node.proc.poll() is None:
        node.signal(signal.SIGTERM)
        try:
            node.wait_exit()
        except subprocess.TimeoutExpired:
            node.signal(signal.SIGKILL)
            node.wait_exit()
