"""The VRRPv3 bench's trials: one pair of routers, crash and graceful faults, CPU windows.

A `Pair` is one implementation's two routers (a preferred, b backup) for one `Router` (VRID,
VIP, interval), watched by bench/vrrp_watch.py (`WatchLog` tails its file). A trial:
1. steady state: a's adverts arriving, b silent for max(3 intervals, 2 s), the VIP on a only,
   the client's recent ARP replies from a only;
2. wait for one of a's adverts and inject the fault `phase` (min(10 ms, interval/10)) after
   one of a's adverts (the next one due, if the record came too late): right after an
   advert, the worst case, where the whole Master_Down_Interval must run;
3. `crash`: SIGKILL (keepalived's VRRP child first); `graceful`: SIGTERM (priority 0);
4. wait for b's first advert, b's RTM_NEWADDR of the VIP and the client's first ARP reply
   from b (bounded), hold a little to see the GARPs, then undo: wait for a's exit, remove the
   VIP a crashed daemon left on a (what the unit's `carpd --cleanup` would do), forget
   carpd's resume record (every trial restarts cold), start a again, wait for steady state.
Every event time is stored relative to the fault in `Trial.events` (seconds, CLOCK_MONOTONIC
on both sides: the bench's fault stamp and the watcher's kernel packet stamps); the report
derives the figures (bench/vrrp3_report.py). Nothing is read from the daemons' logs here.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import procstat, vrrp3_perf
from bench.vrrp3_servers import Router, Vrrp, make, master_down_interval, skew_time
from tests.integration.netns import REPO, Lab

FAULTS = ("crash", "graceful")
SETTLE_S = 5.0  # before a CPU window, after the steady state
START_TIMEOUT = 30.0


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] vrrp3: {text}", file=sys.stderr, flush=True)


@dataclass
class Adv:
    t: float
    host: str
    vrid: int
    prio: int
    interval_cs: int


class Series(list[Any]):
    """Items in time order (item[0] or item.t) with a parallel list of times for bisect."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def add(self, t: float, item: Any) -> None:
        self.append(item)
        self.times.append(t)

    def after(self, t: float) -> list[Any]:
        return self[bisect.bisect_right(self.times, t):]

    def first(self, after: float, pred: Any = None) -> float | None:
        """The time of the first item after `after` that satisfies `pred`."""
        for i in range(bisect.bisect_right(self.times, after), len(self)):
            if pred is None or pred(self[i]):
                return self.times[i]
        return None


@dataclass
class WatchLog:
    """Tails bench/vrrp_watch.py's output; `poll()` parses what was appended since."""

    path: Path
    adverts: dict[tuple[str, int], Series] = field(default_factory=dict)  # (host, vrid)
    garps: dict[tuple[str, str], Series] = field(default_factory=dict)    # (host, vip)
    addrs: list[tuple[float, str, str, str]] = field(default_factory=list)  # t, host, +/-, ip
    replies: dict[tuple[str, str], Series] = field(default_factory=dict)  # (mac, vip)
    offset: float = 0.0
    period: float = 0.0
    _pos: int = 0
    _partial: str = ""

    @staticmethod
    def _series(d: dict[Any, Series], key: Any) -> Series:
        return d.setdefault(key, Series())

    def poll(self) -> None:
        try:
            with self.path.open("r") as f:
                f.seek(self._pos)
                chunk = f.read()
                self._pos = f.tell()
        except FileNotFoundError:
            return
        lines = (self._partial + chunk).split("\n")
        self._partial = lines.pop()
        for line in lines:
            p = line.split()
            if not p:
                continue
            if p[0] == "A":
                self._series(self.replies, (p[2], p[3])).add(float(p[1]), None)
            elif p[0] == "V":
                a = Adv(float(p[1]), p[2], int(p[5]), int(p[6]), int(p[7]))
                self._series(self.adverts, (a.host, a.vrid)).add(a.t, a)
            elif p[0] == "G":
                self._series(self.garps, (p[2], p[4])).add(float(p[1]), None)
            elif p[0] == "N":
                self.addrs.append((float(p[1]), p[2], p[3], p[4]))
            elif p[0] == "H":
                self.offset, self.period = float(p[2]), float(p[3])

    def adverts_of(self, host: str, vrid: int) -> Series:
        return self._series(self.adverts, (host, vrid))

    def replies_of(self, mac: str, vip: str) -> Series:
        return self._series(self.replies, (mac, vip))

    def garps_of(self, host: str, vip: str) -> Series:
        return self._series(self.garps, (host, vip))

    def holders(self, vip: str) -> set[str]:
        """Hosts whose interfaces hold `vip` according to the address events seen so far."""
        held: set[str] = set()
        for _t, host, sign, ip in self.addrs:
            if ip == vip:
                (held.add if sign == "+" else held.discard)(host)
        return held

    def addr_event(self, after: float, host: str, sign: str, vip: str) -> float | None:
        return next((t for t, h, s, ip in self.addrs
                     if t > after and h == host and s == sign and ip == vip), None)


@dataclass
class Trial:
    impl: str
    interval: float
    fault: str
    n: int
    ok: bool = False
    events: dict[str, float | None] = field(default_factory=dict)  # relative to the fault
    stamps: dict[str, float | None] = field(default_factory=dict)  # the same, CLOCK_MONOTONIC
    perf: dict[str, float | None] | None = None  # bench/vrrp3_perf.py's split, with --perf
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class TrialError(Exception):
    pass


class Pair:
    """One implementation's routers a (priority 150) and b (100) for `router`."""

    def __init__(self, lab: Lab, impl: str, router: Router, watch: WatchLog, workdir: Path
                 ) -> None:
        self.lab, self.impl, self.router, self.watch = lab, impl, router, watch
        self.a: Vrrp = make(impl, lab, "a", workdir, router)
        self.b: Vrrp = make(impl, lab, "b", workdir, router)
        self.mac = {h: lab.hosts[h].mac for h in ("a", "b")}
        self.mdi = master_down_interval(router.interval)
        self.skew = skew_time(router.interval)
        self.perf_dir: Path | None = None  # --perf: b runs under perf record, files here
        self.perf_runs: list[tuple[Path, dict[tuple[int, int], str]]] = []

    def perf_split(self, trials: list[dict[str, Any]]) -> None:
        """After close(): bench/vrrp3_perf.py's split of b's takeovers, into `trials`."""
        records: list[Any] = []
        kinds: dict[tuple[int, int], str] = {}
        for data, k in self.perf_runs:
            records += vrrp3_perf.parse(data)
            kinds.update(k)
        records.sort()
        vrrp3_perf.attach(trials, records, kinds, self.mdi, self.skew)

    def start(self) -> None:
        if self.perf_dir is not None:
            self.perf_runs.append((self.perf_dir / f"perf-b-{len(self.perf_runs)}.data", {}))
            self.b.wrap = vrrp3_perf.wrap(self.perf_runs[-1][0])
        self.b.start()
        self.a.start()
        if not self.wait_steady(START_TIMEOUT):
            raise TrialError(f"{self.impl} at {self.router.interval} s: a never became the "
                             "only master")

    def close(self) -> None:
        if self.perf_runs and self.b.running():
            self.perf_runs[-1][1].update(vrrp3_perf.socket_kinds(self.b.pids()))
            for pid in self.b.main_pids():  # the daemon under perf, so that perf can finish
                for child in children(pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(child, signal.SIGTERM)
            self.b.wait_exit(15.0)
        for s in (self.a, self.b):
            s.shutdown()
        for h in ("a", "b"):
            self.lab.run(h, "ip", "addr", "del", self.router.cidr, "dev", "eth0", check=False)

    def _adverts(self, host: str) -> Series:
        return self.watch.adverts_of(host, self.router.vrid)

    def wait_steady(self, timeout: float) -> bool:
        """Until a advertises, b has been silent for `quiet` (so a has been master that
        long: a fault never hits a daemon still busy with its start), only a holds the VIP
        and the client's replies of the last `quiet` came from a only."""
        quiet = max(3 * self.router.interval, 2.0)
        deadline = time.monotonic() + timeout
        vip, w = self.router.ip, self.watch
        while time.monotonic() < deadline:
            time.sleep(0.02)
            w.poll()
            now = time.monotonic()
            adv_a, adv_b = self._adverts("a"), self._adverts("b")
            if not adv_a or now - adv_a.times[-1] > 1.5 * self.router.interval + 0.05:
                continue
            if adv_b and now - adv_b.times[-1] < quiet:
                continue
            if w.holders(vip) != {"a"}:
                continue
            if (w.replies_of(self.mac["a"], vip).first(now - quiet) is not None
                    and w.replies_of(self.mac["b"], vip).first(now - quiet) is None):
                return True
        return False

    def wait_advert(self) -> float:
        """The tap time of a's next advert (bounded)."""
        adv = self._adverts("a")
        seen = len(adv)
        deadline = time.monotonic() + 3 * self.router.interval + 1
        while time.monotonic() < deadline:
            time.sleep(0.0005)
            self.watch.poll()
            if len(adv) > seen:
                return float(adv.times[-1])
        raise TrialError("no advert of a seen")

    def inject(self, victims: list[int], sig: int, t_adv: float) -> float:
        """Send `sig` to `victims` `phase` after one of a's adverts: a's adverts come every
        interval, so the moment is the first t_adv + k x interval + phase still ahead (the
        watcher's record reaches us a few ms late, more than a 10 ms interval allows).
        Returns the stamp taken right before the first kill(2)."""
        iv = self.router.interval
        phase = min(0.01, iv / 10)
        at = t_adv + phase
        while at < time.monotonic() + 0.0005:
            at += iv
        time.sleep(max(0.0, at - time.monotonic()))
        t = time.monotonic()
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        return t

    def cpu_window(self, seconds: float) -> dict[str, dict[str, float]]:
        """CPU use of a (master) and b (backup) over `seconds` of steady state, SETTLE_S
        after it began (the start-up's last work and the backup's release): schedstat
        nanoseconds and /proc/PID/stat ticks, as % of one core; every process (keepalived's
        VRRP child too)."""
        time.sleep(SETTLE_S)  # past the start-up work (the backup was master a moment ago)
        pids = {h: [p for p in s.pids() if comm(p) != "perf"]  # --perf: not perf itself
                for h, s in (("a", self.a), ("b", self.b))}
        t0 = time.monotonic()
        ns0 = {h: sum(procstat.cpu_snapshot(p).values()) for h, p in pids.items()}
        tk0 = {h: sum(ticks(x) for x in p) for h, p in pids.items()}
        time.sleep(seconds)
        wall = time.monotonic() - t0
        out = {}
        for h, p in pids.items():
            ns1 = sum(procstat.cpu_snapshot(p).values())
            tk1 = sum(ticks(x) for x in p)
            out[h] = {"schedstat_pct": 100 * (ns1 - ns0[h]) / wall,
                      "stat_pct": 100 * (tk1 - tk0[h]) / procstat.CLK_TCK / wall,
                      "seconds": wall, "pids": [(x, comm(x)) for x in p]}
        return out

    def trial(self, fault: str, n: int) -> Trial:
        r = self.router
        tr = Trial(self.impl, r.interval, fault, n)
        if not (self.a.running() and self.b.running()) or not self.wait_steady(
                START_TIMEOUT):
            raise TrialError("not in steady state before the fault")
        victims = self.a._crash_order() if fault == "crash" else self.a.main_pids()
        sig = signal.SIGKILL if fault == "crash" else signal.SIGTERM
        t0 = self.inject(victims, sig, self.wait_advert())
        self.wait_takeover(t0, tr)
        self.collect(t0, tr)
        self.recover(fault, tr)
        tr.ok = tr.events.get("b_advert") is not None and tr.events.get("b_reply") is not None
        return tr

    def wait_takeover(self, t0: float, tr: Trial) -> None:
        limit = 2 * self.mdi + 3.0
        vip, w = self.router.ip, self.watch
        replies_b = w.replies_of(self.mac["b"], vip)
        while time.monotonic() < t0 + limit:
            time.sleep(0.002)
            w.poll()
            if (self._adverts("b").first(t0) is not None and replies_b.first(t0) is not None
                    and "b" in w.holders(vip)):
                break
        else:
            tr.notes.append(f"takeover incomplete after {limit:.1f} s")
        time.sleep(0.1 + self.router.interval)  # the GARPs and a's exit
        w.poll()

    def collect(self, t0: float, tr: Trial) -> None:
        w, vip = self.watch, self.router.ip
        adv_a, adv_b = self._adverts("a"), self._adverts("b")
        i = bisect.bisect_right(adv_a.times, t0)
        last_a = next((a.t for a in reversed(adv_a[:i]) if a.prio > 0), None)
        ev: dict[str, float | None] = {
            "last_a_advert": last_a,
            "a_prio0": adv_a.first(t0, lambda a: a.prio == 0),
            "a_del": w.addr_event(t0, "a", "-", vip),
            "b_advert": adv_b.first(t0, lambda a: a.prio > 0),
            "b_add": w.addr_event(t0, "b", "+", vip),
            "b_garp": w.garps_of("b", vip).first(t0),
            "b_reply": w.replies_of(self.mac["b"], vip).first(t0),
        }
        tr.events = {k: (None if v is None else round(v - t0, 6)) for k, v in ev.items()}
        tr.stamps = ev
        later = adv_b.after(t0)
        if later:
            tr.events["b_interval_cs"] = later[-1].interval_cs

    def recover(self, fault: str, tr: Trial) -> None:
        if not self.a.wait_exit(10.0):
            tr.notes.append("a did not exit within 10 s of the signal; killed")
            self.a.shutdown(grace=1.0)
        if fault == "crash":  # the crashed daemon's VIP (the unit's cleanup would remove it)
            self.lab.run("a", "ip", "addr", "del", self.router.cidr, "dev", "eth0",
                         check=False)
        self.a.forget()
        self.a.start()
        if not self.wait_steady(START_TIMEOUT + 3 * self.mdi):
            tr.notes.append("no steady state (a the only master) after the restart")


def comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def ticks(pid: int) -> int:
    """utime + stime of `pid` from /proc/PID/stat (clock ticks; 0 if gone)."""
    fields = procstat._stat_fields(pid)  # the same parser as procstat's
    return 0 if fields is None else int(fields[11]) + int(fields[12])


def start_watch(lab: Lab, vips: list[str], out: Path, period: float) -> Any:
    """bench/vrrp_watch.py in the client, tapping a's and b's bridge ports and watching
    a's and b's addresses."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    ports = ",".join(f"{lab.hosts[h].port}={h}" for h in ("a", "b"))
    hosts = ",".join(f"{lab.ns(h)}={h}" for h in ("a", "b"))
    argv = [sys.executable, "-m", "bench.vrrp_watch", "--vips", ",".join(vips),
            "--src", lab.hosts["client"].ip, "--period", str(period), "--switch",
            lab.switch, "--ports", ports, "--hosts", hosts, "--out", str(out)]
    proc = lab.popen("client", argv, env=env)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (out.exists() and out.stat().st_size):
        time.sleep(0.02)
    if proc.poll() is not None or not out.exists():
        raise RuntimeError(f"bench/vrrp_watch.py did not start (exit {proc.poll()})")
    return proc


def stop_watch(proc: Any) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except Exception:
            proc.kill()
