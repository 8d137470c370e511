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

Variants (bench/variants.py): the IPv6 variants probe with Neighbour Solicitations and ICMPv6
echoes instead of ARP and ICMP (prober --family 6); in the unicast variants the adverts never
reach the client, so the prober also taps the two servers' bridge ports in the switch
namespace and records the adverts there (same process, same clock). Adverts are attributed to
a server by their Ethernet source, which works for every family and source address.
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
from bench.topology import CLIENT, ensure_ipv6
from bench.variants import HOST6, VARIANTS, Variant
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
SMOKE_STEADY_S = 1.0  # the smoke run only (its figures are not results)
SMOKE_HOLD_S = 1.0
START_TIMEOUT = 25.0
TAKEOVER_TIMEOUT = 15.0
HANDBACK_TIMEOUT = 30.0
ADVERT_WAIT = 3.0


@dataclass
class Trial:
    impl: str
    fault: str
    n: int
    variant: str = "ipv4"
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
    advert_path: str | None = None        # how the master's adverts went (version, src, dst)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class TrialError(Exception):
    pass


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


class Bench:
    """One implementation's pair of servers, the prober, and the link controllers."""

    def __init__(self, lab: Lab, impl: str, workdir: Path,
                 variant: Variant | None = None, vhid: int = 1) -> None:
        self.variant = v = variant or VARIANTS["ipv4"]
        self.lab, self.impl, self.workdir = lab, impl, workdir
        workdir.mkdir(parents=True, exist_ok=True)
        vip = VipSpec(vhid, v.vip)
        self.a: Server = make_server(impl, lab, "a", workdir, [vip], "master", v)
        self.b: Server = make_server(impl, lab, "b", workdir, [vip], "backup", v)
        self.mac_a = lab.hosts["a"].mac
        self.mac_b = lab.hosts["b"].mac
        self.bound = master_down_interval(impl, "backup", v)
        self.probe_file = workdir / f"probe-{impl}.txt"
        self.probe = ProbeLog(self.probe_file)
        self.ctl_a = LinkControl(lab.ns("a"))
        self.ctl_sw = LinkControl(lab.switch)
        self.port_a = lab.hosts["a"].port
        self.prober = None
        self.path: str | None = None
        self.steady_s, self.hold_s = STEADY_S, HOLD_S

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the prober and both servers (b first; both start as BACKUP and elect)."""
        import os

        env = {**os.environ, "PYTHONPATH": str(REPO)}
        v = self.variant
        src = (HOST6["client"] if v.family == 6 else CLIENT[1]).split("/")[0]
        argv = [sys.executable, "-m", "bench.prober", "--family", str(v.family),
                "--vip", v.vip_ip, "--src", src, "--out", str(self.probe_file),
                "--max-seconds", "7200"]
        if v.unicast:  # the adverts go from server to server: watch them on the switch
            argv += ["--tap-netns", self.lab.switch, "--tap-ports",
                     f"{self.lab.hosts['a'].port},{self.lab.hosts['b'].port}"]
        self.prober = self.lab.popen("client", argv, env=env)
        self.b.start()
        self.a.start()

    def wait_ready(self) -> None:
        if not self.wait_steady(START_TIMEOUT):
            raise TrialError(f"{self.impl}: server a never became the only answering master")
        self.wait_advert()
        self.check_advert_path()

    def check_advert_path(self) -> None:
        """The master's adverts really go where the variant says (group or the peer)."""
        adv = self.probe.last_advert_from(self.mac_a, time.monotonic())
        if adv is None:
            raise TrialError("no advert of server a recorded")
        v = self.variant
        group = "ff02::12" if v.family == 6 else "224.0.0.18"
        want = self.a.peer_address() if v.unicast else group
        self.path = (f"{'CARP' if self.impl != 'keepalived' else 'VRRP'}v{adv.version} "
                     f"{adv.src} → {adv.dst}, TTL/hop limit {adv.ttl}")
        if adv.dst != want:
            raise TrialError(f"{self.impl} {v.name}: server a's adverts go to {adv.dst}, "
                             f"not {want}")
        log(f"failover: {v.name} {self.impl}: adverts {self.path}")

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
        """Until only a has answered every round of the last `steady_s` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.05)
            self.probe.poll()
            now = time.monotonic()
            if self.probe.round_t and self.probe.round_t[0] < now - self.steady_s - 0.1 \
                    and self.probe.answered_only_by(self.mac_a, now - self.steady_s):
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
                if adv.mac == self.mac_a:
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
        tr = Trial(self.impl, fault, n, self.variant.name, advert_path=self.path)
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
        hold_until = (t_take if t_take is not None else time.monotonic()) + self.hold_s
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
                self.lab.run(h, "ip", "addr", "del", self.variant.vip, "dev", "eth0",
                             check=False)
        self.b.start()
        self.a.start()

    def measure(self, tr: Trial, t_adv: float, t_fault: float,  # noqa: PLR0917
                t_take: float | None, t_rec: float, t_end: float) -> None:
        p = self.probe
        last = p.last_advert_from(self.mac_a, t_fault)
        ref = last.t if last is not None else t_adv
        tr.phase_s = t_fault - ref
        if t_take is not None:
            tr.takeover_s = t_take - t_fault
            tr.over_bound_s = t_take - (ref + self.bound)
        # Split the time over the bound: when did the backup start advertising (its timer or
        # the bow-out), and how long after that did the VIP answer (address configuration)?
        first_b = next((a for a in p.adverts if a.t > t_fault and a.mac == self.mac_b), None)
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


Plan = list[tuple[str, str, list[str]]]  # (variant, impl, faults), in order


def make_plan(variants: list[str], impls: list[str], faults: list[str]
              ) -> tuple[Plan, list[str]]:
    """Every supported (variant, impl) with `faults`; and the skipped ones, with reasons."""
    from bench.variants import unsupported

    plan: Plan = []
    skipped: list[str] = []
    for name in variants:
        for impl in impls:
            why = unsupported(impl, VARIANTS[name])
            if why:
                skipped.append(f"{impl} skipped for {name}: {why}")
            else:
                plan.append((name, impl, list(faults)))
    return plan, skipped


def run(lab: Lab, plan: Plan, trials: int, workdir: Path, smoke: bool = False
        ) -> list[Trial]:
    """The trials of `plan`, one (variant, impl) pair of servers at a time. With `smoke`
    (CI size; it saves a start-up per pair and some waiting) every pair is started first,
    each with its own VHID, and idles beside the pair under test, and the steady-state and
    hold times are 1 s instead of 2 s: its figures show that everything works, they are not
    comparable with a normal run."""
    overlap = smoke
    results: list[Trial] = []
    benches: dict[int, Bench] = {}
    try:
        if overlap:
            if any(VARIANTS[v].family == 6 for v, _i, _f in plan):
                ensure_ipv6(lab)
            for k, (vname, impl, _f) in enumerate(plan):
                benches[k] = Bench(lab, impl, workdir / vname, VARIANTS[vname], vhid=k + 1)
                benches[k].steady_s, benches[k].hold_s = SMOKE_STEADY_S, SMOKE_HOLD_S
                benches[k].launch()
        for k, (vname, impl, faults) in enumerate(plan):
            variant = VARIANTS[vname]
            if variant.family == 6:
                ensure_ipv6(lab)
            log(f"failover: {vname}: {impl}: starting servers a (preferred) and b, prober in "
                "the client")
            bench = benches.get(k) or Bench(lab, impl, workdir / vname, variant)
            benches[k] = bench
            try:
                if overlap:
                    bench.wait_ready()
                else:
                    bench.start()
                for fault in faults:
                    for n in range(trials):
                        try:
                            tr = bench.trial(fault, n)
                        except TrialError as exc:
                            tr = Trial(impl, fault, n, vname, notes=[str(exc)])
                            log(f"failover: {vname} {impl} {fault} #{n + 1}: {exc}; "
                                "restarting the pair")
                            bench.restart_pair()
                        results.append(tr)
                        log(f"failover: {vname} {impl} {fault} #{n + 1}: " + describe(tr))
            except TrialError as exc:  # the pair never came up: record it, go on
                log(f"failover: {vname} {impl}: {exc}")
                results += [Trial(impl, f, n, vname, notes=[str(exc)]) for f in faults
                            for n in range(trials)]
            finally:
                _close(lab, benches.pop(k))
    finally:
        for bench in benches.values():
            _close(lab, bench)
    return results


def _close(lab: Lab, bench: Bench) -> None:
    bench.close()
    for h in ("a", "b"):  # never leave a VIP behind for the next implementation
        lab.run(h, "ip", "addr", "del", bench.variant.vip, "dev", "eth0", check=False)


def describe(tr: Trial) -> str:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v * 1000:.0f} ms"

    return (f"takeover {ms(tr.takeover_s)} (over bound {ms(tr.over_bound_s)}), "
            f"outage {ms(tr.outage_s)}, both {ms(tr.dual_s)}, hand-back {ms(tr.handback_s)} "
            f"(outage {ms(tr.handback_outage_s)}, both {ms(tr.handback_dual_s)})"
            + (f" [{'; '.join(tr.notes)}]" if tr.notes else ""))
