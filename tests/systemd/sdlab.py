"""Real systemd "servers" for tests: systemd-nspawn --boot on an overlay of the machine's /.

Owns: booting, driving and removing isolated systemd servers on one bridge, the technique of
shared/lab/sysd (README there) rebuilt for carpd's pytest fixtures. The mount-namespace part is
`lab/inner.sh`; this module does the network, the process bookkeeping and the cleanup.

Safety (hard rules, see shared/lab/README.md):
- systemd never runs against the machine's /, /tmp, /run or /var: inner.sh checks it is in a
  private mount namespace, puts tmpfs over /run and /tmp and boots an overlay whose lower
  layer (the machine's /) is never written.
- The machine's own network namespace is never touched: every interface is created inside
  the lab's switch namespace and one end moved straight into the server's namespace.
- Every name carries FAMILY + the creating process id: netns `cds<pid>-sw`, `cds<pid>-a`,
  state `/var/tmp/carpd-sdlab/<pid>/a`, cgroups `carpd-sdlab/<pid>-a`. `remove_stale()`
  removes the leftovers of runs whose process is gone, and never touches a live run.
- Processes are only ever killed by PID after checking they are in this server's cgroup.
- Every wait is bounded.

Usage: `with SdLab() as lab: a = lab.add("a"); a.boot(); a.run("systemctl", "is-active", ...)`.
`python -m tests.systemd.sdlab stale` removes leftovers by hand.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from tests.integration.netns import configure_switch

FAMILY = "cds"
STATE_ROOT = Path("/var/tmp/carpd-sdlab")
CGROUP_NAME = "carpd-sdlab"
INNER = Path(__file__).resolve().parent / "lab" / "inner.sh"
SUBNET = "192.0.2"  # TEST-NET-1: exists only inside the lab's namespaces
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BOOT_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
NAME_RE = re.compile(r"[a-z][a-z0-9-]{0,7}")


class LabError(Exception):
    pass


def prerequisites() -> str | None:
    """None when servers can boot here, else why not (the tests skip with that reason)."""
    if os.geteuid() != 0:
        return "systemd server tests need root"
    for tool in ("systemd-nspawn", "unshare", "nsenter", "ip", "findmnt"):
        if shutil.which(tool) is None:
            return f"systemd server tests need {tool} (scripts/setup.sh installs it)"
    if not Path("/lib/systemd/systemd").exists():
        return "systemd server tests need systemd installed (/lib/systemd/systemd)"
    if "overlay" not in Path("/proc/filesystems").read_text():
        return "systemd server tests need overlayfs"
    return None


def _ip(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *argv], check=check, capture_output=True, text=True,
                          timeout=15)


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (a killed run whose parent has not reaped it
    is gone for our purposes)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _cgroup_roots() -> list[Path]:
    roots = [Path(d) for d in ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified")
             if Path(d, "cgroup.procs").exists()]
    if Path("/sys/fs/cgroup/cgroup.controllers").exists():
        roots.append(Path("/sys/fs/cgroup"))
    return roots


def _cgroup_pids(dirs: list[Path]) -> list[int]:
    """Every PID in these cgroup trees (which may be changing: errors are skipped)."""
    pids: set[int] = set()
    for d in dirs:
        for root, _dirs, files in os.walk(d):  # os.walk ignores vanishing directories
            if "cgroup.procs" in files:
                with contextlib.suppress(OSError):
                    pids.update(int(p) for p in Path(root, "cgroup.procs").read_text().split())
    return sorted(pids)


def _rmdir_tree(d: Path) -> None:
    """Remove an (empty) cgroup directory tree, deepest first; never files."""
    for root, _dirs, _files in os.walk(d, topdown=False):
        with contextlib.suppress(OSError):
            os.rmdir(root)


def _rmtree_state(path: Path) -> None:
    """Delete a state dir of ours; refuses anything outside STATE_ROOT/<digits>."""
    path = path.resolve()
    if path.parent != STATE_ROOT or not path.name.isdigit():
        raise LabError(f"refusing to delete {path}")
    shutil.rmtree(path, ignore_errors=True)


def remove_stale() -> list[str]:
    """Remove leftovers (processes, cgroups, netns, state) of runs whose process is gone."""
    removed: list[str] = []
    owners: set[int] = set()
    if STATE_ROOT.is_dir():
        owners.update(int(p.name) for p in STATE_ROOT.iterdir() if p.name.isdigit())
    for root in _cgroup_roots():
        base = root / CGROUP_NAME
        if base.is_dir():
            owners.update(int(p.name.split("-")[0]) for p in base.iterdir()
                          if p.is_dir() and p.name.split("-")[0].isdigit())
    netns = [line.split()[0] for line in _ip("netns", "list").stdout.splitlines() if line]
    for ns in netns:
        m = re.fullmatch(rf"{FAMILY}(\d+)-[a-z0-9-]+", ns)
        if m:
            owners.add(int(m.group(1)))
    for owner in sorted(owners):
        if owner == os.getpid() or _alive(owner):
            continue
        dirs = [root / CGROUP_NAME / d.name for root in _cgroup_roots()
                if (root / CGROUP_NAME).is_dir()
                for d in (root / CGROUP_NAME).iterdir() if d.name.startswith(f"{owner}-")]
        for pid in _cgroup_pids(dirs):  # only processes inside our own cgroups
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while _cgroup_pids(dirs) and time.monotonic() < deadline:
            time.sleep(0.05)
        for d in dirs:
            _rmdir_tree(d)
        for ns in netns:
            if ns.startswith(f"{FAMILY}{owner}-"):
                _ip("netns", "del", ns, check=False)
        if (STATE_ROOT / str(owner)).exists():
            _rmtree_state(STATE_ROOT / str(owner))
        removed.append(str(owner))
    for root in _cgroup_roots():
        with contextlib.suppress(OSError):
            (root / CGROUP_NAME).rmdir()  # only when empty
    return removed


class Server:
    """One isolated systemd machine: its netns and veth outlive power-offs, like hardware."""

    def __init__(self, lab: SdLab, name: str, ip: str) -> None:
        self.lab, self.name, self.ip = lab, name, ip
        self.netns = f"{lab.prefix}-{name}"
        self.state = lab.state / name
        self.cgroups = [root / CGROUP_NAME / f"{lab.run_id}-{name}" for root in _cgroup_roots()]
        self._unshare: subprocess.Popen[bytes] | None = None
        self._leader: int | None = None
        self.boot_seconds = 0.0

    # -- lifecycle ------------------------------------------------------------------------

    def boot(self, timeout: float = BOOT_TIMEOUT) -> float:
        """Power on and wait until systemd reports running (or degraded); returns seconds."""
        if self.running:
            raise LabError(f"{self.name} is already running")
        self.state.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        env = {"PATH": PATH, "SDLAB_NSPAWN_EXTRA": " ".join(self.lab.nspawn_extra)}
        with open(self.state / "console.log", "ab") as console:
            self._unshare = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "--fork", "--", str(INNER),
                 self.name, str(self.state), f"/run/netns/{self.netns}",
                 ":".join(map(str, self.cgroups))],
                stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                start_new_session=True, env=env)
        self._leader = None
        deadline = t0 + timeout
        while self._find_leader() is None:
            if self._unshare.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise LabError(f"{self.name} did not boot:\n{self.console()[-3000:]}")
            time.sleep(0.02)
        state = ""
        while time.monotonic() < deadline:
            proc = self.run("systemctl", "is-system-running", "--wait", check=False,
                            timeout=max(1.0, deadline - time.monotonic()))
            state = proc.stdout.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(0.05)
        if state not in ("running", "degraded"):
            self.kill()
            raise LabError(f"{self.name} did not reach running (state {state!r}):\n"
                           f"{self.console()[-3000:]}")
        self.boot_seconds = time.monotonic() - t0
        return self.boot_seconds

    def poweroff(self, timeout: float = STOP_TIMEOUT) -> None:
        """Clean power-off (SIGRTMIN+4 to its systemd); SIGKILL when it does not finish."""
        leader = self._find_leader()
        if leader is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(leader, signal.SIGRTMIN + 4)
        self._wait_gone(timeout)
        self.kill()

    def kill(self) -> None:
        """Pull the plug: SIGKILL every process of this server (by cgroup), then wait."""
        for _ in range(3):
            pids = _cgroup_pids(self.cgroups)
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self._wait_gone(5)
        if self._unshare is not None:
            try:
                self._unshare.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._unshare.kill()  # our own child, by PID
                self._unshare.wait(timeout=10)
            self._unshare = None
        self._leader = None
        for d in self.cgroups:
            _rmdir_tree(d)

    def _wait_gone(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _cgroup_pids(self.cgroups) and (
                    self._unshare is None or self._unshare.poll() is not None):
                return
            time.sleep(0.05)

    @property
    def running(self) -> bool:
        return self._find_leader() is not None

    def _find_leader(self) -> int | None:
        """Host PID of the server's systemd: the process of our cgroup whose innermost PID
        is 1 (re-discovered after an in-server reboot)."""
        if self._leader is not None and self._is_leader(self._leader):
            return self._leader
        self._leader = next((p for p in _cgroup_pids(self.cgroups) if self._is_leader(p)), None)
        return self._leader

    def _is_leader(self, pid: int) -> bool:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cgroup = Path(f"/proc/{pid}/cgroup").read_text()
        except OSError:
            return False
        nspid = next((line.split()[-1] for line in status.splitlines()
                      if line.startswith("NSpid:")), "")
        return nspid == "1" and f"/{CGROUP_NAME}/{self.lab.run_id}-{self.name}" in cgroup

    # -- inside ---------------------------------------------------------------------------

    def run(self, *argv: str, check: bool = True, timeout: float = 30.0,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run a command inside the server (all its namespaces, clean environment)."""
        leader = self._find_leader()
        if leader is None:
            raise LabError(f"server {self.name} is not running")
        cmd = ["nsenter", "--target", str(leader), "--mount", "--uts", "--ipc", "--net",
               "--pid", "--cgroup", "--root", "--wd", "--", "/usr/bin/env", "-i",
               f"PATH={PATH}", "HOME=/root", "LANG=C.UTF-8", "SYSTEMD_PAGER=cat",
               "SYSTEMD_COLORS=0", *argv]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              input=input, check=False)
        if check and proc.returncode != 0:
            raise LabError(f"{self.name}: {' '.join(argv)} exited {proc.returncode}:\n"
                           f"{proc.stdout}{proc.stderr}")
        return proc

    def sh(self, script: str, check: bool = True, timeout: float = 30.0
           ) -> subprocess.CompletedProcess[str]:
        return self.run("/bin/sh", "-ec", script, check=check, timeout=timeout)

    def write(self, path: str, text: str, mode: int = 0o644) -> None:
        self.run("/bin/sh", "-ec", f'umask 077; cat > "$0"; chmod {mode:o} "$0"', path,
                 input=text)

    def console(self) -> str:
        try:
            return (self.state / "console.log").read_text(errors="replace")
        except OSError:
            return ""


class SdLab:
    """A switch (bridge in its own netns) and servers on it. Context manager."""

    def __init__(self, nspawn_extra: tuple[str, ...] = ()) -> None:
        self.run_id = str(os.getpid())
        self.prefix = f"{FAMILY}{self.run_id}"
        self.switch = f"{self.prefix}-sw"
        self.state = STATE_ROOT / self.run_id
        self.nspawn_extra = nspawn_extra
        self.servers: dict[str, Server] = {}
        self._namespaces: list[str] = []

    def __enter__(self) -> SdLab:
        remove_stale()
        try:
            self.state.mkdir(parents=True, exist_ok=True)
            self._add_ns(self.switch)
            configure_switch(self.switch)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _add_ns(self, ns: str) -> None:
        _ip("netns", "add", ns)
        self._namespaces.append(ns)

    def add(self, name: str) -> Server:
        """A server on the bridge: a -> .11, b -> .12, ... (hostname = name)."""
        if not NAME_RE.fullmatch(name) or name in self.servers:
            raise LabError(f"bad or duplicate server name {name!r}")
        ip = f"{SUBNET}.{11 + len(self.servers)}"
        server = Server(self, name, ip)
        self._add_ns(server.netns)
        sw, h = ("-n", self.switch), ("-n", server.netns)
        port = f"p-{name}"
        _ip(*sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns",
            server.netns)
        _ip(*sw, "link", "set", port, "master", "br0", "up")
        _ip(*h, "link", "set", "lo", "up")
        _ip(*h, "link", "set", "eth0", "address", f"02:00:00:00:c0:{len(self.servers) + 1:02x}")
        _ip(*h, "addr", "add", f"{ip}/24", "dev", "eth0")
        _ip(*h, "link", "set", "eth0", "up")
        self.servers[name] = server
        return server

    def addresses(self, name: str) -> list[str]:
        """IPv4 addresses on the server's eth0, seen from outside (works while it is off)."""
        out = _ip("-n", self.servers[name].netns, "-o", "-4", "addr", "show", "dev",
                  "eth0").stdout
        return [line.split()[3] for line in out.splitlines()]

    def close(self) -> None:
        for server in self.servers.values():
            with contextlib.suppress(Exception):
                server.poweroff(timeout=5)
            server.kill()
        for ns in reversed(self._namespaces):
            _ip("netns", "del", ns, check=False)
        self._namespaces.clear()
        if self.state.exists():
            _rmtree_state(self.state)
        for root in _cgroup_roots():
            with contextlib.suppress(OSError):
                (root / CGROUP_NAME).rmdir()


def main(argv: list[str]) -> int:
    if argv[:1] == ["stale"]:
        print("removed:", " ".join(remove_stale()) or "nothing")
        return 0
    print("usage: python -m tests.systemd.sdlab stale", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
