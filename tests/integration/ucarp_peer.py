"""A real ucarp (Debian /usr/sbin/ucarp) as a peer inside a lab host, plus wire-level helpers.

Owns: starting ucarp in a host namespace the way its users do (password in a 0600 file via
`-o`, never `-p`; `-z`; up/down scripts that log `date +%s.%N` and their arguments to a file
and really add/remove the VIP), reading its log lines back with their timestamps, and three
snippets the interop tests need: injecting hand-built CARP packets (carpd.core.carp.wire/auth) from
any lab host, capturing ARP frames in a lab host, and cutting a host's carrier from the switch
side (the host keeps its interface administratively up but loses IFF_RUNNING).
Invariants: every process is started through `Lab.popen` (stopped by PID at teardown) and every
wait is bounded. ucarp runs under `stdbuf -oL -eL` so its INFO lines (stdout) are not lost.
Timestamps are wall-clock seconds (`time.time()` scale): ucarp prints local time with
microseconds, the scripts log `date +%s.%N`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import textwrap
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tests.integration.carpd_host import PASSWORD
from tests.integration.netns import Lab

UCARP = "/usr/sbin/ucarp"
_LINE_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+): \[(\w+)\] (.*)$")

# Log lines ucarp prints (observed text, CARP.md 8).
TO_MASTER = "Switching to state: MASTER"
TO_BACKUP = "Switching to state: BACKUP"
PREEMPTION = "Putting MASTER down - preemption"
GOING_TO_TIME_OUT = "Putting MASTER DOWN (going to time out)"
PREFERRED_MASTER = "Preferred master advertised: going back to BACKUP state"
REASSERT = "Non-preferred master advertising: reasserting control of VIP"
BAD_DIGEST = "Bad digest"
BAD_TTL = "Bad TTL"


@dataclass(frozen=True)
class UcarpLine:
    t: float  # wall clock
    level: str  # INFO, WARNING, ERROR, NOTICE, DEBUG
    text: str


@dataclass(frozen=True)
class ScriptCall:
    t: float  # wall clock, from `date +%s.%N` at the start of the script
    kind: str  # "up" or "down"
    args: tuple[str, ...]


@dataclass
class UcarpPeer:
    """One ucarp process for one VHID in lab host `host`."""

    lab: Lab
    host: str
    workdir: Path
    vhid: int
    vip: str  # bare address, as typed after -a (and $2 of the scripts)
    advskew: int = 0
    advbase: int | None = None  # -b (ucarp's default is 1)
    deadratio: int | None = None  # -r (ucarp's default is 3)
    preempt: bool = False  # -P
    nomcast: bool = False  # -M
    password: str = PASSWORD
    prefix: int = 24  # prefix length the scripts configure the VIP with
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    extra: list[str] = field(default_factory=list)

    @property
    def tag(self) -> str:
        return f"ucarp-{self.host}-{self.vhid}"

    @property
    def log(self) -> Path:
        return self.workdir / f"{self.tag}.log"

    @property
    def events(self) -> Path:
        return self.workdir / f"{self.tag}.events"

    @property
    def passfile(self) -> Path:
        return self.workdir / f"{self.tag}.pass"

    @property
    def source(self) -> str:
        return self.lab.hosts[self.host].ip

    def _script(self, kind: str) -> str:
        path = self.workdir / f"{self.tag}-{kind}.sh"
        change = "add" if kind == "up" else "del"
        path.write_text(textwrap.dedent(f"""\
            #!/bin/sh
            echo "$(date +%s.%N) {kind} $*" >> {self.events}
            ip addr {change} "$2/{self.prefix}" dev "$1" 2>/dev/null || true
            """))
        path.chmod(0o755)
        return str(path)

    def argv(self) -> list[str]:
        argv = ["stdbuf", "-oL", "-eL", UCARP, "-i", "eth0", "-s", self.source,
                "-v", str(self.vhid), "-o", str(self.passfile), "-a", self.vip, "-z",
                "-u", self._script("up"), "-d", self._script("down"), "-f", "none",
                "-k", str(self.advskew)]
        if self.advbase is not None:
            argv += ["-b", str(self.advbase)]
        if self.deadratio is not None:
            argv += ["-r", str(self.deadratio)]
        if self.preempt:
            argv.append("-P")
        if self.nomcast:
            argv.append("-M")
        return argv + self.extra

    def start(self) -> UcarpPeer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.passfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(self.password + "\n")
        os.chmod(self.passfile, 0o600)
        self.events.touch()
        env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
        with self.log.open("ab") as log:
            self.started_at = time.time()
            self.proc = self.lab.popen(self.host, self.argv(), stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       env=env)
        return self

    # -- process control -----------------------------------------------------------------

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def send(self, sig: signal.Signals) -> float:
        """Send `sig` to this ucarp (by PID; `ip netns exec` and stdbuf exec into it)."""
        assert self.proc is not None
        t = time.time()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, sig)
        return t

    def kill(self) -> float:
        """SIGKILL; returns the wall-clock time it was sent."""
        t = self.send(signal.SIGKILL)
        assert self.proc is not None
        self.proc.wait(timeout=5)
        return t

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM (-z: downscript if not BACKUP, exit 0), SIGKILL after `timeout`."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        assert self.proc is not None
        self.send(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.send(signal.SIGKILL)
            self.proc.wait(timeout=5)
            return None

    # -- observation ---------------------------------------------------------------------

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def lines(self) -> list[UcarpLine]:
        out = []
        for raw in self.text().splitlines():
            m = _LINE_RE.match(raw)
            if m:
                t = datetime.fromisoformat(m.group(1)).timestamp()
                out.append(UcarpLine(t, m.group(2), m.group(3)))
        return out

    def find(self, text: str, after: float = 0.0) -> list[UcarpLine]:
        return [ln for ln in self.lines() if text in ln.text and ln.t >= after]

    def wait_line(self, text: str, timeout: float, after: float = 0.0) -> UcarpLine | None:
        deadline = time.monotonic() + timeout
        while True:
            found = self.find(text, after)
            if found:
                return found[0]
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def warnings(self, after: float = 0.0) -> list[UcarpLine]:
        return [ln for ln in self.lines() if ln.level in ("WARNING", "ERROR")
                and ln.t >= after]

    def state(self) -> str | None:
        """The state of the last "Switching to state" line (None before the first)."""
        states = [ln.text.rsplit(" ", 1)[1] for ln in self.lines()
                  if ln.text.startswith("Switching to state: ")]
        return states[-1] if states else None

    def wait_state(self, state: str, timeout: float) -> float | None:
        """Wall-clock time of the log line once ucarp's last state is `state`, else None."""
        deadline = time.monotonic() + timeout
        while True:
            if self.state() == state:
                return self.find(f"Switching to state: {state}")[-1].t
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def scripts(self, after: float = 0.0) -> list[ScriptCall]:
        calls = []
        text = self.events.read_text() if self.events.exists() else ""
        for raw in text.splitlines():
            parts = raw.split()
            if len(parts) >= 2:
                call = ScriptCall(float(parts[0]), parts[1], tuple(parts[2:]))
                if call.t >= after:
                    calls.append(call)
        return calls

    def wait_script(self, kind: str, timeout: float, after: float = 0.0) -> ScriptCall | None:
        deadline = time.monotonic() + timeout
        while True:
            calls = [c for c in self.scripts(after) if c.kind == kind]
            if calls:
                return calls[0]
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def report(self) -> str:
        """Everything ucarp said, for assertion messages."""
        events = self.events.read_text() if self.events.exists() else ""
        return f"--- {self.tag} log ---\n{self.text()}--- {self.tag} scripts ---\n{events}"


# ----------------------------------------------------------------------------- lab helpers

def set_carrier(lab: Lab, host: str, up: bool) -> float:
    """Take the switch-side end of `host`'s veth down/up: the host keeps eth0 administratively
    UP but loses the carrier (IFF_RUNNING), like an unplugged cable seen by ucarp's link check.
    (Setting the host's own eth0 down instead makes ucarp's pcap fd fail and ucarp exit.)"""
    t = time.time()
    subprocess.run(["ip", "-n", lab.switch, "link", "set", lab.hosts[host].port,
                    "up" if up else "down"], check=True, capture_output=True, text=True,
                   timeout=10)
    return t


def holders(lab: Lab, vip: str, hosts: tuple[str, ...] = ("a", "b")) -> list[str]:
    return [h for h in hosts if lab.holds(h, vip)]


_INJECT = textwrap.dedent(r"""
    import ipaddress, json, os, secrets, socket, time
    from carpd.core.carp import auth, wire
    from carpd.io.ipv4 import encode_ipv4_header

    password = open(os.environ["PASSFILE"], "rb").read().split(b"\n", 1)[0]
    vhid = int(os.environ["VHID"])
    vip = ipaddress.IPv4Address(os.environ["VIP"])
    src = ipaddress.IPv4Address(os.environ["SOURCE"])
    dst = ipaddress.IPv4Address(os.environ.get("GROUP", "224.0.0.18"))
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)  # IP_HDRINCL
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
    sent = []
    for p in json.loads(os.environ["PACKETS"]):
        counter = secrets.randbits(64)
        digest = auth.ucarp_digest(password, vhid, vip, counter)
        carp = wire.encode_carp_header(wire.CarpHeader(
            vhid=vhid, advbase=p["advbase"], advskew=p["advskew"], demote=p["demote"],
            counter=counter, digest=digest))
        ip = encode_ipv4_header(source=src, destination=dst, payload_length=len(carp),
                                     ttl=p["ttl"], ident=secrets.randbits(16))
        sent.append(time.time())
        s.sendto(ip + carp, (str(dst), 0))
        time.sleep(p.get("gap", 0.0))
    print(json.dumps(sent))
""")


def inject_adverts(lab: Lab, host: str, *, passfile: Path, vhid: int, vip: str,
                   packets: list[dict[str, float]], timeout: float = 20.0) -> list[float]:
    """Send hand-built CARP adverts (TTL, demote byte, advbase/advskew per packet, then sleep
    `gap` s) from `host`'s address with a valid ucarp HMAC; the wall-clock send times."""
    full = [{"advbase": 1, "advskew": 0, "demote": 0, "ttl": 255, "gap": 0.0, **p}
            for p in packets]
    sent = lab.python(host, _INJECT, timeout=timeout, env={
        "PASSFILE": str(passfile), "VHID": str(vhid), "VIP": vip,
        "SOURCE": lab.hosts[host].ip, "PACKETS": json.dumps(full)})
    assert isinstance(sent, list)
    return [float(t) for t in sent]


