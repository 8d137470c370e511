"""Failover trials: inject a fault on the master, watch the VIP from the client, put it back.

Per implementation: start the backup (b) and the master (a) with one VIP, start the prober in
the client, wait until only a answers. Then for each fault, N times:
1. steady state: only a has answered the client for 2 s;
2. wait for one of a's adverts to reach the client and inject the fault FAULT_PHASE s later
   (so every implementation is hit at the same point of its advert cycle: right after an
   advert, the worst case for takeover time);
3. wait for b's first answer (bounded), keep watching HOLD s more, then undo the fault
   (restart the daemon, plug the cable, re-enable the switch port);
4. wait until only a has answered for 2 s again (bounded).
Every figure comes from the client's receive timestamps (prober) and the fault stamps taken
here, both CLOCK_MONOTONIC; nothing is read from the daemons' logs.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.analysis import ProbeLog, both_time, handback_point, longest_gap
from bench.impls import Server, VipSpec, make_server, master_down_interval
from bench.netctl import LinkControl
from bench.topology import CLIENT, FAILOVER_VIP
from tests.integration.netns import REPO, Lab

FAULTS = ("sigkill", "sigterm", "link", "bridge")
FAULT_TITLE = {
    "sigkill": "master process SIGKILL",
    "sigterm": "graceful stop (SIGTERM)",
    "link": "master's link down (cable)",
    "bridge": "master's switch port down",
}
FAULT_PHASE = 0.010  # inject this long after an advert of the master reached the client
STEADY_S = 2.0
HOLD_S = 2.0
START_TIMEOUT = 25.0
TAKEOVER_TIMEOUT = 15.0
HANDBACK_TIMEOUT = 30.0
ADVERT_WAIT = 3.0


@dataclass
class Trial:
    impl: str
    fault: str
    n: int
    ok: bool = False
    phase_s: float | None = None          # fault time - the master's last advert
    takeover_s: float | None = None       # fault -> first answer from the backup
    over_bound_s: float | None = None     # first backup answer - (last advert + master-down)
    backup_advert_s: float | None = None  # backup's first advert - (last advert + master-down)
    vip_after_advert_s: float | None = None  # backup's first advert -> its first ARP answer
    outage_s: float | None = None         # longest unanswered stretch, fault -> recovery
    icmp_outage_s: float | None = None
    dual_s: float | None = None           # both answering, fault -> recovery
    handback_s: float | None = None       # recovery -> client sees only the master again
    handback_outage_s: float | None = None
    handback_dual_s: float | None = None
    notes: list[str] = field(default_factory=list)
    # (start, end, code) runs relative to the fault for plots; code 0 none, 1 a, 2 b, 3 both
    timeline: list[tuple[float, float, int]] = field(default_factory=list)
    recover_at: float | None = None       # relative to the fault

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class TrialError(Exception):
    pass


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


class Bench:
    """One implementation's pair of servers, the prober, and the link controllers."""

    def __init__(self, lab: Lab, impl: str, workdir: Path) -> None:
        self.lab, self.impl, self.workdir = lab, impl, workdir
        vip = VipSpec(1, FAILOVER_VIP)
        self.a: Server = make_server(impl, lab, "a", workdir, [vip], "master")
        self.b: Server = make_server(impl, lab, "b", workdir, [vip], "backup")
        self.mac_a = lab.hosts["a"].mac
        self.mac_b = lab.hosts["b"].mac
        self.ip_a = lab.hosts["a"].ip
        self.bound = master_down_interval(impl)
        self.probe_file = workdir / f"probe-{impl}.txt"
        self.probe = ProbeLog(self.probe_file)
        self.ctl_a = LinkControl(lab.ns("a"))
        self.ctl_sw = LinkControl(lab.switch)
        self.port_a = lab.hosts["a"].port
        self.prober = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        import os

        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.prober = self.lab.popen(
            "client", [sys.executable, "-m", "bench.prober", "--vip", FAILOVER_VIP.split("/")[0],
                       "--src", CLIENT[1].split("/")[0], "--out", str(self.probe_file),
                       "--max-seconds", "7200"], env=env)
        self.b.start()
        self.a.start()
        if not self.wait_steady(START_TIMEOUT):
            raise TrialError(f"{self.impl}: server a never became the only answering master")

    def close(self) -> None:
        for s in (self.a, self.b):
            s.shutdown()
        if self.prober is not None and self.prober.poll() is None:
            self.prober.terminate()
            try:
                self.prober.wait(timeout=5)
            except Exception:
                self.prober.kill()
        self.probe.poll()
        self.ctl_a.close()
        self.ctl_sw.close()

    # -- waiting --------------------------------------------------------------------------

    def wait_steady(self, timeout: float) -> bool:
        """Until only a has answered every round of the last STEADY_S seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.05)
            self.probe.poll()
            now = time.monotonic()
            if self.probe.round_t and self.probe.round_t[0] < now - STEADY_S - 0.1 \
                    and self.probe.answered_only_by(self.mac_a, now - STEADY_S):
                return True
        return False

    def wait_advert(self) -> float:
        """The client time of the next advert of a (bounded)."""
        self.probe.poll()
        seen = len(self.probe.adverts)
        deadline = time.monotonic() + ADVERT_WAIT
        while time.monotonic() < deadline:
            time.sleep(0.001)
            self.probe.poll()
            for adv in self.probe.adverts[seen:]:
                if adv.src == self.ip_a:
                    return adv.t
            seen = len(self.probe.adverts)
        raise TrialError("no advert from server a reached the client")

    def wait_takeover(self, t_fault: float) -> float | None:
        deadline = t_fault + TAKEOVER_TIMEOUT
        while time.monotonic() < deadline:
            time.sleep(0.005)
            self.probe.poll()
            t = self.probe.first_arp_from(self.mac_b, t_fault)
            if t is not None:
                return t
        return None

    # -- one trial ------------------------------------------------------------------------

    def inject(self, fault: str) -> float:
        if fault == "sigkill":
            return self.a.crash()
        if fault == "sigterm":
            return self.a.terminate()
        if fault == "link":
            return self.ctl_a.set_link("eth0", False)
        if fault == "bridge":
            return self.ctl_sw.set_bridge_port(self.port_a, False)
        raise ValueError(fault)

    def recover(self, fault: str, trial: Trial) -> float:
        if fault in ("sigkill", "sigterm"):
            if not self.a.wait_exit(10.0):
                trial.notes.append("master did not exit within 10 s of the signal")
                self.a.shutdown(grace=1.0)
            t = time.monotonic()
            self.a.start()
            return t
        if fault == "link":
            t = self.ctl_a.set_link("eth0", True)
        else:
            t = self.ctl_sw.set_bridge_port(self.port_a, True)
        if not self.a.running():
            trial.notes.append(f"the master's daemon had exited during the fault ({fault}); "
                               "restarted it")
            self.a.wait_exit(1.0)
            self.a.start()
        return t

    def trial(self, fault: str, n: int) -> Trial:
        tr = Trial(self.impl, fault, n)
        if not self.a.running() or not self.b.running():
            tr.notes.append("a daemon was not running before the trial; restarted the pair")
            self.restart_pair()
        if not self.wait_steady(HANDBACK_TIMEOUT):
            raise TrialError("not in steady state (only a answering) before the fault")
        t_adv = self.wait_advert()
        delay = t_adv + FAULT_PHASE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        t_fault = self.inject(fault)
        t_take = self.wait_takeover(t_fault)
        if t_take is None:
            tr.notes.append(f"no answer from the backup within {TAKEOVER_TIMEOUT:.0f} s")
        hold_until = (t_take if t_take is not None else time.monotonic()) + HOLD_S
        while time.monotonic() < hold_until:
            time.sleep(0.05)
        t_rec = self.recover(fault, tr)
        steady = self.wait_steady(HANDBACK_TIMEOUT)
        t_end = time.monotonic()
        self.probe.poll()
        if not steady:
            tr.notes.append(f"no clean hand-back within {HANDBACK_TIMEOUT:.0f} s")
        self.measure(tr, t_adv, t_fault, t_take, t_rec, t_end)
        tr.ok = t_take is not None and steady
        return tr

    def restart_pair(self) -> None:
        for s in (self.a, self.b):
            s.shutdown()
        if self.a.impl != "carpd":
            for h in ("a", "b"):  # a crashed ucarp/keepalived leaves its VIP behind
                self.lab.run(h, "ip", "addr", "del", FAILOVER_VIP, "dev", "eth0", check=False)
        self.b.start()
        self.a.start()

    def measure(self, tr: Trial, t_adv: float, t_fault: float,  # noqa: PLR0917
                t_take: float | None, t_rec: float, t_end: float) -> None:
        p = self.probe
        last = p.last_advert_from(self.ip_a, t_fault)
        ref = last.t if last is not None else t_adv
        tr.phase_s = t_fault - ref
        if t_take is not None:
            tr.takeover_s = t_take - t_fault
            tr.over_bound_s = t_take - (ref + self.bound)
        # Split the time over the bound: when did the backup start advertising (its timer or
        # the bow-out), and how long after that did the VIP answer (address configuration)?
        ip_b = self.lab.hosts["b"].ip
        first_b = next((a for a in p.adverts if a.t > t_fault and a.src == ip_b), None)
        if first_b is not None:
            tr.backup_advert_s = first_b.t - (ref + self.bound)
            if t_take is not None:
                tr.vip_after_advert_s = t_take - first_b.t
        fail = p.views(t_fault, t_rec)
        tr.outage_s = longest_gap(fail, t_rec)
        tr.icmp_outage_s = longest_gap(p.views(t_fault, t_rec, kind="icmp"), t_rec)
        tr.dual_s = both_time(fail, (self.mac_a, self.mac_b), t_rec)
        back = p.views(t_rec, t_end)
        hb = handback_point(back, self.mac_a, self.mac_b)
        tr.handback_s = None if hb is None else hb - t_rec
        tr.handback_outage_s = longest_gap(back, t_end)
        tr.handback_dual_s = both_time(back, (self.mac_a, self.mac_b), t_end)
        tr.recover_at = t_rec - t_fault
        code = {self.mac_a: 1, self.mac_b: 2}
        runs: list[tuple[float, float, int]] = []
        for t, who in p.views(t_fault - 1.0, t_end):
            c = 0
            for mac in who:
                c |= code.get(mac, 0)
            rel = round(t - t_fault, 6)
            if runs and runs[-1][2] == c:
                runs[-1] = (runs[-1][0], rel, c)
            else:
                if runs:
                    runs[-1] = (runs[-1][0], rel, runs[-1][2])
                runs.append((rel, rel, c))
        if runs:
            runs[-1] = (runs[-1][0], round(t_end - t_fault, 6), runs[-1][2])
        tr.timeline = runs


def run(lab: Lab, impls: list[str], faults: list[str], trials: int, workdir: Path
        ) -> list[Trial]:
    results: list[Trial] = []
    for impl in impls:
        log(f"failover: {impl}: starting servers a (preferred) and b, prober in the client")
        bench = Bench(lab, impl, workdir)
        try:
            bench.start()
            for fault in faults:
                for n in range(trials):
                    try:
                        tr = bench.trial(fault, n)
                    except TrialError as exc:
                        tr = Trial(impl, fault, n, notes=[str(exc)])
                        log(f"failover: {impl} {fault} #{n + 1}: {exc}; restarting the pair")
                        bench.restart_pair()
                    results.append(tr)
                    log(f"failover: {impl} {fault} #{n + 1}: "
                        + describe(tr))
        finally:
            bench.close()
            for h in ("a", "b"):  # never leave a VIP behind for the next implementation
                lab.run(h, "ip", "addr", "del", FAILOVER_VIP, "dev", "eth0", check=False)
    return results


def describe(tr: Trial) -> str:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v * 1000:.0f} ms"

    return (f"takeover {ms(tr.takeover_s)} (over bound {ms(tr.over_bound_s)}), "
            f"outage {ms(tr.outage_s)}, both {ms(tr.dual_s)}, hand-back {ms(tr.handback_s)} "
            f"(outage {ms(tr.handback_outage_s)}, both {ms(tr.handback_dual_s)})"
            + (f" [{'; '.join(tr.notes)}]" if tr.notes else ""))
