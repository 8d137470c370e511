"""`python -m bench soak --duration 600 --seed N --vips 8`: carpd under a random schedule of
faults, judged from the outside.

Lab (tests/integration/netns.py, tag "soak"): a switch namespace with a bridge, carpd hosts
a (.101), b (.102) and c (.103), a client (.10). Every host runs one carpd with all VIPs
(172.16.90.31 and up, VHID 1..N, advbase 1), advskews crossed so each host is preferred for
some: VIP i prefers host i mod 3 (advskew 0), then the next (60), then the last (120).
The client runs bench/soak_prober.py (ARP + ICMP to every VIP every 20 ms); a thread here
polls every host's eth0 addresses. Faults come from bench/soak_faults.py (seeded), the
verdict from bench/soak_checker.py. Results in bench/results/<timestamp>-soak/: report.md,
results.json and the daemons' logs. Exit 1 if there was a violation or a daemon exited on
its own.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import report, soak_checker, soak_faults, topology
from bench.impls import CarpdServer, VipSpec
from bench.soak_checker import AddrPolls, Bounds, Probes
from bench.soak_faults import Fault, Injector
from tests.integration.netns import REPO, Lab

TAG = "soak"
HOSTS = {"a": ("172.16.90.101/24", 0x01), "b": ("172.16.90.102/24", 0x02),
         "c": ("172.16.90.103/24", 0x03)}
CLIENT = ("client", "172.16.90.10/24", 0x10)
SKEWS = (0, 60, 120)
DEMOTED_SKEW = 180  # a reload moves a host's preferred VIPs here (worse than the others)
START_TIMEOUT = 40.0
POLL_S = 0.2
TAIL_S = 6.0


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] soak: {text}", file=sys.stderr, flush=True)


def vip_cidr(i: int) -> str:
    return f"172.16.90.{31 + i}/24"


def skew_for(host_index: int, vip_index: int, n_hosts: int) -> int:
    return SKEWS[(host_index - vip_index) % n_hosts]


@dataclass
class SoakServer(CarpdServer):
    """carpd on one soak host: per-VIP advskews (bench.impls.CarpdServer has one role)."""

    skews: dict[int, int] = field(default_factory=dict)

    def config_text(self) -> str:
        lines = ["[carpd]", f'control_socket = "{self.base / "control.sock"}"',
                 f'state_directory = "{self.base / "state"}"', "",
                 "[defaults]", 'interface = "eth0"', f'password_file = "{self.base / "key"}"',
                 "advbase = 1", "preempt = true", "master_units = []"]
        for v in self.vips:
            lines += ["", f"[vip.v{v.vhid}]", f"vhid = {v.vhid}", f'address = "{v.cidr}"',
                      f"advskew = {self.skews[v.vhid]}"]
        return "\n".join(lines) + "\n"


class Fleet:
    """The three daemons, as the injector sees them."""

    def __init__(self, lab: Lab, work: Path, vips: list[VipSpec]) -> None:
        self.servers: dict[str, SoakServer] = {}
        self.base_skews: dict[str, dict[int, int]] = {}
        names = list(HOSTS)
        for hi, h in enumerate(names):
            skews = {v.vhid: skew_for(hi, v.vhid - 1, len(names)) for v in vips}
            self.base_skews[h] = skews
            self.servers[h] = SoakServer(impl="carpd", lab=lab, host=h, workdir=work,
                                         vips=vips, role="soak", skews=dict(skews))
        self.expected_down: set[str] = set()  # killed by us, not yet restarted
        self.unexpected: list[dict[str, Any]] = []

    def start_all(self) -> None:
        for s in self.servers.values():
            s.start()

    def pid(self, host: str) -> int | None:
        pids = self.servers[host].main_pids()
        return pids[0] if pids else None

    def crash(self, host: str) -> float:
        self.expected_down.add(host)
        return self.servers[host].crash()

    def restart(self, host: str) -> float:
        s = self.servers[host]
        if not s.wait_exit(10.0):
            s.shutdown(grace=1.0)
        t = time.monotonic()
        s.start()
        self.expected_down.discard(host)
        return t

    def reload(self, host: str, demote: bool) -> float:
        s = self.servers[host]
        base = self.base_skews[host]
        s.skews = {vh: (DEMOTED_SKEW if demote and sk == 0 else sk) for vh, sk in base.items()}
        (s.base / "carpd.toml").write_text(s.config_text())
        pid = self.pid(host)
        t = time.monotonic()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGHUP)
        return t

    def check_alive(self, t0: float) -> None:
        """A daemon that exited without being killed by us is a finding: note, restart."""
        for h, s in self.servers.items():
            if h in self.expected_down:
                continue
            for p in list(s.procs):
                rc = p.poll()
                if rc is not None:
                    t = time.monotonic()
                    self.unexpected.append({"host": h, "t": round(t - t0, 3), "rc": rc})
                    log(f"carpd on {h} exited on its own (status {rc}); restarting it")
                    s.procs = []
                    s.start()
                    break

    def stop_all(self) -> None:
        for h, s in self.servers.items():
            pid = self.pid(h)
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
            s.shutdown(grace=5.0)


class AddressPoller(threading.Thread):
    """Polls `ip -j addr show dev eth0` in every host namespace every POLL_S seconds."""

    def __init__(self, lab: Lab, vips: set[str]) -> None:
        super().__init__(daemon=True)
        self.lab, self.vips = lab, vips
        self.polls = AddrPolls()
        self.stop = threading.Event()

    def one(self, host: str) -> frozenset[str]:
        try:
            out = subprocess.run(["ip", "-n", self.lab.ns(host), "-j", "addr", "show", "dev",
                                  "eth0"], capture_output=True, text=True, timeout=5,
                                 check=False).stdout
            data = json.loads(out or "[]")
        except (subprocess.TimeoutExpired, ValueError):
            return frozenset()
        return frozenset(a["local"] for link in data for a in link.get("addr_info", [])
                         if a.get("family") == "inet" and a.get("local") in self.vips)

    def run(self) -> None:
        while not self.stop.is_set():
            t = time.monotonic()
            cycle = {h: self.one(h) for h in HOSTS}
            self.polls.cycles.append(((t + time.monotonic()) / 2, cycle))
            self.stop.wait(max(0.0, POLL_S - (time.monotonic() - t)))


def settled(polls: AddrPolls, vips: list[VipSpec], since: float) -> bool:
    """Every VIP on exactly its preferred host in every poll since `since`."""
    cycles = [c for t, c in polls.cycles if t >= since]
    names = list(HOSTS)
    if len(cycles) < 3:
        return False
    for c in cycles:
        for v in vips:
            holders = [h for h, s in c.items() if v.ip in s]
            if holders != [names[(v.vhid - 1) % len(names)]]:
                return False
    return True


def run(args: argparse.Namespace) -> int:  # noqa: PLR0915
    if args.rejudge:
        return rejudge(args.rejudge)
    if not 1 <= args.vips <= 60:
        print("bench: soak --vips must be 1..60", file=sys.stderr)
        return 2
    kinds = tuple(k.strip() for k in args.faults.split(",") if k.strip())
    bad = [k for k in kinds if k not in soak_faults.KINDS]
    if bad:
        print(f"bench: unknown soak fault(s) {bad} (of {soak_faults.KINDS})", file=sys.stderr)
        return 2
    started = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    outdir = args.results or REPO / "bench" / "results" / f"{started}-soak"
    outdir.mkdir(parents=True, exist_ok=True)
    vips = [VipSpec(i + 1, vip_cidr(i)) for i in range(args.vips)]
    faults = soak_faults.schedule(args.seed, args.duration, list(HOSTS),
                                  recovery=args.recovery, overlap=args.overlap, kinds=kinds)
    bd = Bounds(max_skew=max(*SKEWS, DEMOTED_SKEW) if "reload" in kinds else max(SKEWS),
                margin=args.margin)
    log(f"seed {args.seed}, {args.duration:.0f} s, {len(vips)} VIPs, {len(faults)} faults; "
        f"bounds: no holder {bd.takeover:.2f} s after a silencing edge, "
        f"{bd.graceful:.2f} s after a graceful one; two holders {bd.adv + bd.margin:.2f} s "
        "after an event")
    meta: dict[str, Any] = {"kind": "soak", "started": started, "seed": args.seed,
                            "duration": args.duration, "vips": [v.cidr for v in vips],
                            "recovery": args.recovery, "overlap": args.overlap,
                            "kinds": list(kinds), "machine": report.machine(),
                            "command": "python -m bench " + " ".join(args.argv),
                            "bounds": {**vars(bd), "md": bd.md, "adv": bd.adv,
                                       "takeover": bd.takeover},
                            "skews": {"preferred": SKEWS[0], "second": SKEWS[1],
                                      "third": SKEWS[2], "demoted_by_reload": DEMOTED_SKEW}}
    topology.cleanup_stale(TAG)
    t_begin = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="carpd-soak-") as tmp:
        work = Path(tmp)
        probe_file = work / "probe-soak.txt"
        fleet: Fleet | None = None
        poller: AddressPoller | None = None
        t0 = t_stop = 0.0
        try:
            with Lab(TAG) as lab:
                for name, (cidr, mac) in HOSTS.items():
                    lab.add_host(name, cidr, mac)
                lab.add_host(*CLIENT)
                for x, y in (("a", "b"), ("b", "c"), ("c", "a")):
                    if not lab.multicast_crosses(x, y):
                        raise RuntimeError(f"protocol-112 multicast does not cross {x} -> {y}")
                env = {**os.environ, "PYTHONPATH": str(REPO)}
                prober = lab.popen("client", [
                    sys.executable, "-m", "bench.soak_prober",
                    "--vips", ",".join(v.ip for v in vips), "--src", CLIENT[1].split("/")[0],
                    "--out", str(probe_file), "--max-seconds", str(args.duration + 300)],
                    env=env)
                poller = AddressPoller(lab, {v.ip for v in vips})
                poller.start()
                fleet = Fleet(lab, work, vips)
                fleet.start_all()
                t_ready = time.monotonic()
                while not settled(poller.polls, vips, time.monotonic() - 1.0):
                    if time.monotonic() - t_ready > START_TIMEOUT:
                        raise RuntimeError("the VIPs never settled on their preferred hosts")
                    time.sleep(0.2)
                meta["settle_s"] = round(time.monotonic() - t_ready, 2)
                log(f"settled after {meta['settle_s']} s; faults begin")
                t0 = time.monotonic()
                execute(Injector(lab, fleet), fleet, faults, t0, args.duration)
                tail = t0 + args.duration + TAIL_S
                while time.monotonic() < tail:
                    fleet.check_alive(t0)
                    time.sleep(0.2)
                poller.stop.set()
                poller.join(timeout=10)
                meta["end_settled"] = settled(poller.polls, vips, time.monotonic() - 3.0)
                t_stop = time.monotonic()
                fleet.stop_all()
                with contextlib.suppress(ProcessLookupError):
                    prober.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    prober.wait(timeout=5)
        finally:
            if poller is not None:
                poller.stop.set()
            keep_logs(work, outdir, args.keep_raw)
        meta["wall_s"] = round(time.monotonic() - t_begin, 1)
        meta["t0_monotonic"], meta["t_stop_monotonic"] = t0, t_stop
        assert fleet is not None and poller is not None
        (outdir / "addresses.json").write_text(json.dumps(
            [[round(t - t0, 3), {h: sorted(s) for h, s in c.items()}]
             for t, c in poller.polls.cycles]) + "\n")
        return finish(outdir, meta, faults, Probes.read(probe_file), poller.polls,
                      fleet.unexpected)


def finish(outdir: Path, meta: dict[str, Any], faults: list[Fault],  # noqa: PLR0917
           probes: Probes, polls: AddrPolls, unexpected: list[dict[str, Any]]) -> int:
    """Judge, write results.json and report.md; 1 if anything was wrong."""
    t0, t_stop = meta["t0_monotonic"], meta["t_stop_monotonic"]
    bd = Bounds(**{k: v for k, v in meta["bounds"].items()
                   if k in Bounds.__dataclass_fields__})
    names = {}
    for h, (cidr, mac) in HOSTS.items():
        names[f"02:00:00:00:90:{mac:02x}"] = h
        names[cidr.split("/")[0]] = h
    vips = [c.split("/")[0] for c in meta["vips"]]
    verdict = soak_checker.judge(vips, probes, polls, faults, bd, t0, t_stop, names)
    verdict["by_kind"] = soak_checker.by_kind(verdict["per_fault"])
    verdict["unexpected_exits"] = unexpected
    verdict["log_findings"] = log_findings(outdir)
    meta["rounds"] = len(probes.round_t)
    results = {"meta": meta, "faults": [f.to_json() for f in faults], **verdict}
    for f in results["faults"]:
        for k in ("t_start", "t_end"):
            if f[k] is not None:
                f[k] = round(f[k] - t0, 3)
    (outdir / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    path = outdir / "report.md"
    path.write_text(report_md(results))
    print(path.read_text())
    print(f"\nbench: soak report in {outdir} ({meta['wall_s']} s)")
    bad_run = results["violations"] or unexpected or not meta.get("end_settled")
    return 1 if bad_run else 0


def rejudge(folder: Path) -> int:
    """`python -m bench soak --rejudge FOLDER`: the checker again over a kept run (needs
    --keep-raw for the probe file), e.g. after a change to the checker."""
    old = json.loads((folder / "results.json").read_text())
    meta = old["meta"]
    t0 = meta["t0_monotonic"]
    faults = []
    for d in old["faults"]:
        f = Fault(**d)
        f.t_start = None if f.t_start is None else f.t_start + t0
        f.t_end = None if f.t_end is None else f.t_end + t0
        faults.append(f)
    polls = AddrPolls([(t + t0, {h: frozenset(s) for h, s in c.items()})
                       for t, c in json.loads((folder / "addresses.json").read_text())])
    probes = Probes.read(folder / "logs" / "probe-soak.txt")
    return finish(folder, meta, faults, probes, polls, old["unexpected_exits"])


def execute(inj: Injector, fleet: Fleet, faults: list[Fault], t0: float,
            duration: float) -> None:
    """Do and undo every fault at its time (edges in time order), watching the daemons."""
    edges = sorted([(f.start, 0, f) for f in faults] + [(f.end, 1, f) for f in faults],
                   key=lambda e: (e[0], e[1]))
    for at, is_end, f in edges:
        while time.monotonic() < t0 + at:
            fleet.check_alive(t0)
            time.sleep(min(0.1, max(0.0, t0 + at - time.monotonic())))
        try:
            if is_end:
                f.t_end = inj.undo(f)
            else:
                f.t_start = inj.do(f)
        except (OSError, subprocess.SubprocessError) as exc:
            f.notes.append(f"{'undo' if is_end else 'do'} failed: {exc}")
            log(f"fault #{f.n} {f.kind}: {exc}")
            if is_end:
                f.t_end = time.monotonic()
            else:
                f.t_start = time.monotonic()
        log(f"{'end  ' if is_end else 'start'} #{f.n} {f.kind} "
            f"{f.host or f.params} at {time.monotonic() - t0:.1f} s")
    inj.cleanup()
    del duration


def keep_logs(work: Path, outdir: Path, raw: bool) -> None:
    logs = outdir / "logs"
    for f in work.rglob("*"):
        if f.is_file() and (f.suffix == ".log" or (raw and f.name.startswith("probe-"))):
            dest = logs / f.relative_to(work)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dest)


def log_findings(outdir: Path) -> dict[str, dict[str, int]]:
    """Per daemon log: tracebacks and ERROR/CRITICAL lines (each one is worth a look)."""
    out: dict[str, dict[str, int]] = {}
    for f in sorted((outdir / "logs").rglob("daemon.log")):
        text = f.read_text(errors="replace")
        out[f.parent.name] = {"tracebacks": text.count("Traceback (most recent call last)"),
                              "error_lines": sum(1 for line in text.splitlines()
                                                 if " ERROR " in line or "CRITICAL" in line
                                                 or "error:" in line.lower()),
                              "starts": text.count("=== start #")}
    return out


def report_md(r: dict[str, Any]) -> str:
    m = r["meta"]
    b = m["bounds"]
    out = [f"# carpd soak {m['started']}", "",
           f"`{m['command']}`: seed {m['seed']}, {m['duration']:.0f} s of faults, "
           f"{len(m['vips'])} VIPs on 3 hosts (advbase 1; advskews {m['skews']}), "
           f"recovery {m['recovery']} s between faults, overlap probability {m['overlap']}. "
           f"Machine: {report.machine_md(m['machine'])}. Wall time {m['wall_s']} s, "
           f"{m['rounds']} probe rounds.", "",
           f"Bounds: no holder at most {b['takeover']:.2f} s after an edge that can silence "
           f"a master (master-down {b['md']:.2f} + advert {b['adv']:.2f} + margin "
           f"{b['margin']}), +{b['startup']} s after a restart, {b['graceful']} s after a "
           f"graceful edge; two holders at most {b['adv'] + b['margin']:.2f} s after an "
           f"event settles. Unanswered runs under {b['min_gap']} s are lost probes.", "",
           "## Faults by type", "",
           "| fault | count | with outage | longest outage median | max | max after the "
           "undo | two holders (client, VIP·s) max | two holders after the undo max |",
           "|---|---|---|---|---|---|---|---|"]
    for kind, k in r["by_kind"].items():
        out.append(f"| {kind} | {k['count']} | {k['with_outage']} | "
                   f"{k['longest_outage_median_s']:.2f} s | {k['longest_outage_max_s']:.2f} s "
                   f"| {k['outage_after_undo_max_s']:.2f} s | {k['dual_client_vip_s_max']:.2f} "
                   f"| {k['dual_after_undo_max_s']:.2f} s |")
    out += ["", "## Per VIP", "",
            "| VIP | outage | beyond bound | two holders (client) | beyond | two holders "
            "(addresses) | beyond |", "|---|---|---|---|---|---|---|"]
    for vip, s in r["per_vip"].items():
        out.append(f"| {vip} | {s['outage_s']:.2f} s | {s['outage_over_bound_s']:.2f} s | "
                   f"{s['dual_client_s']:.2f} s | {s['dual_client_over_bound_s']:.2f} s | "
                   f"{s['dual_addr_s']:.2f} s | {s['dual_addr_over_bound_s']:.2f} s |")
    out += ["", f"## Violations: {len(r['violations'])}", ""]
    for v in r["violations"]:
        out += [f"### {v['vip']}: {v['kind']} {v['start']:.2f}-{v['end']:.2f} s "
                f"({v['over_s']:.2f} s beyond the bound, from {v['first_over']:.2f} s; "
                f"{', '.join(v['who']) or 'nobody'})", "", "```", *v["timeline"], "```", ""]
    out += ["## Daemons", "",
            f"Exits not caused by the soak: {r['unexpected_exits'] or 'none'}. "
            f"Logs: {r['log_findings']}. Settled at the end: {m.get('end_settled')}.", "",
            "## Schedule", "", "| # | fault | target | start | lasted | overlaps | longest "
            "outage | after the undo | VIPs hit |", "|---|---|---|---|---|---|---|---|---|"]
    for f in r["per_fault"]:
        out.append(f"| {f['n']} | {f['kind']} | {f['host'] or f['params']} | "
                   f"{f['start']:.1f} s | {f['duration']:.1f} s | "
                   f"{'' if f['overlaps'] is None else '#' + str(f['overlaps'])} | "
                   f"{f['longest_outage_s']:.2f} s | {f['outage_after_undo_s']:.2f} s | "
                   f"{len(f['vips_with_outage'])} |")
    return "\n".join(out) + "\n"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("soak", help="three carpd hosts, many VIPs, seeded random faults, "
                       "an outside-only checker")
    p.add_argument("--duration", type=float, default=600.0, help="seconds of faults")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--vips", type=int, default=8)
    p.add_argument("--recovery", type=float, default=6.0,
                   help="quiet seconds between faults")
    p.add_argument("--overlap", type=float, default=0.15,
                   help="probability that a second fault overlaps a single-host one")
    p.add_argument("--faults", default=",".join(soak_faults.KINDS))
    p.add_argument("--margin", type=float, default=1.0, help="added to every bound")
    p.add_argument("--results", type=Path)
    p.add_argument("--keep-raw", action="store_true", help="also keep the probe file")
    p.add_argument("--rejudge", type=Path, metavar="FOLDER",
                   help="run the checker again over a kept run (--keep-raw) and rewrite "
                   "its report")
