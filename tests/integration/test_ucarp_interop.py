"""Wire interoperability with a real ucarp (CARP.md section 8, scenarios 2-14).

Topology (conftest `lab`): host a (172.16.90.101, MAC ..:01) runs carpd, host b
(172.16.90.102, MAC ..:02) runs Debian's /usr/sbin/ucarp (tests/integration/ucarp_peer.py),
host c (172.16.90.50) is the client that watches ARP and injects hand-built packets. The
assertions are on ucarp's own log lines, on carpd's status document, on who holds the VIP
(`ip addr` in each namespace) and on captured frames.

Timing: ucarp processes received packets up to ~1 s late (CARP.md 3.9) and examines its
master-down timer only when poll() returns (up to one interval late, 3.2), so every bound
here is the protocol bound + 1.5 s when carpd reacts and + 2.5 s when ucarp must react. The
measured times are printed (`pytest -s`). Durations the design gives are shortened where the
scenario allows; each docstring says by how much.
"""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.carpd_host import PASSWORD, Carpd, Vip
from tests.integration.netns import Lab, start_arp_capture, wait_until
from tests.integration.ucarp_peer import (
    BAD_DIGEST,
    BAD_TTL,
    GOING_TO_TIME_OUT,
    PREEMPTION,
    PREFERRED_MASTER,
    REASSERT,
    TO_BACKUP,
    TO_MASTER,
    UcarpPeer,
    holders,
    inject_adverts,
    set_carrier,
)

pytestmark = pytest.mark.integration

VIP = "172.16.90.200"
VIP2 = "172.16.90.201"
UCARP_SRC = "172.16.90.102"
CARPD_MARGIN = 1.5  # carpd reacting (no receive lag)
UCARP_MARGIN = 2.5  # ucarp reacting (~1 s receive lag + poll slack)


def master_down(advbase: int = 1, advskew: int = 0, deadratio: int = 3) -> float:
    return advbase * deadratio + advskew / 256


def interval(advbase: int = 1, advskew: int = 0) -> float:
    return advbase + advskew / 256


def timing(scenario: str, what: str, seconds: float, bound: str) -> None:
    print(f"\n[timing] {scenario}: {what}: {seconds:.3f} s ({bound})", flush=True)


# ----------------------------------------------------------------------------- carpd side

def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return f'"{value}"'


@dataclass
class InteropCarpd(Carpd):
    """carpd_host.Carpd with its own password and [defaults] settings (garp_count...)."""

    password: str = PASSWORD
    settings: dict[str, object] = field(default_factory=dict)

    def write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        key = self.workdir / f"{self.host}-carpd.key"
        key.write_text(self.password + "\n")
        key.chmod(0o600)
        defaults: dict[str, object] = {"interface": "eth0", "password_file": str(key),
                                       "garp_count": 2, "garp_interval": 0.5}
        defaults.update(self.settings)
        lines = ["[carpd]", f'control_socket = "{self.socket}"',
                 f'state_directory = "{self.workdir / (self.host + "-state")}"', "",
                 "[defaults]", "master_units = []"]
        lines += [f"{k} = {_toml(v)}" for k, v in defaults.items()]
        for v in self.vips:
            lines += ["", f"[vip.{v.name}]", f"vhid = {v.vhid}", f'address = "{v.address}"',
                      f"advskew = {v.advskew}"]
        self.config.write_text("\n".join(lines) + "\n")

    def vip(self, name: str = "web") -> dict[str, Any]:
        doc = self.status()
        assert doc is not None, f"carpd not reachable:\n{self.log_text()}"
        for v in doc["vips"]:  # type: ignore[attr-defined]
            if v["name"] == name:
                return v  # type: ignore[no-any-return]
        raise AssertionError(f"no vip {name} in {doc}")

    def wait(self, name: str, state: str, timeout: float) -> float | None:
        """Wall-clock time at which the status first showed `state` (polled), else None."""
        deadline = time.monotonic() + timeout
        while True:
            if self.states().get(name) == state:
                return time.time()
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def wait_advert_sent(self, name: str = "web", timeout: float = 6.0) -> float:
        """Block until carpd's adverts_sent counter moves; the wall-clock time it did."""
        before = self.vip(name)["counters"]["adverts_sent"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.vip(name)["counters"]["adverts_sent"] > before:
                return time.time()
            time.sleep(0.005)
        raise AssertionError(f"carpd sent no advert within {timeout} s")

    def kill(self) -> float:
        assert self.proc is not None
        t = time.time()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=5)
        return t

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=15)


def start_carpd(lab: Lab, tmp_path: Path, vips: list[Vip], *, password: str = PASSWORD,
                **settings: object) -> InteropCarpd:
    node = InteropCarpd(lab, "a", tmp_path, vips, password=password, settings=settings)
    node.start()
    return node


def one_vip(advskew: int, name: str = "web", vhid: int = 10, address: str = VIP) -> list[Vip]:
    return [Vip(name, vhid, f"{address}/24", advskew)]


def ucarp(lab: Lab, tmp_path: Path, *, vhid: int = 10, vip: str = VIP,
          **kw: Any) -> UcarpPeer:
    return UcarpPeer(lab, "b", tmp_path, vhid=vhid, vip=vip, **kw).start()


def why(node: InteropCarpd | None, *peers: UcarpPeer) -> str:
    parts = [p.report() for p in peers]
    if node is not None:
        parts.append(f"--- carpd log ---\n{node.log_text()}")
    return "\n".join(parts)


def wait_holders(lab: Lab, vip: str, expected: list[str], timeout: float = 2.0) -> bool:
    return wait_until(lambda: holders(lab, vip) == expected, timeout)


def _garps(frames: object, mac: str, vip: str) -> list[dict[str, Any]]:
    assert isinstance(frames, list)
    return [f for f in frames if f["src"] == mac and f["spa"] == vip]


def _drops(doc: dict[str, Any]) -> dict[str, int]:
    """Per-interface drop counts of a status document, own packets left out."""
    per_if: dict[str, dict[str, int]] = doc["interface_drops"]
    return {r: n for d in per_if.values() for r, n in d.items() if r != "own_packet"}


def later(t_wall: float) -> None:
    """Sleep until wall-clock time `t_wall` (no-op if it has passed)."""
    delay = t_wall - time.time()
    if delay > 0:
        time.sleep(delay)


# ----------------------------------------------------------------------------- scenario 2

def test_s2_carpd_master_ucarp_backup(lab: Lab, tmp_path: Path) -> None:
    """Scenario 2: carpd MASTER (advskew 0), ucarp BACKUP (-k 100, no -P). ucarp stays
    BACKUP without a single WARNING beyond its two start-up lines for 8 s (the design's 60 s,
    shortened: ucarp hears ~8 adverts, every one would have to fail for a warning). Then
    carpd is SIGKILLed: ucarp takes over after its master-down (3 + 100/256 s, minus the age
    of the last advert, + poll/receive slack), runs the upscript with `$1 $2` = `eth0 VIP`,
    and sends two gratuitous ARPs two of its advert intervals apart."""
    node = start_carpd(lab, tmp_path, one_vip(0))
    assert node.wait("web", "MASTER", master_down() + 3), node.log_text()
    peer = ucarp(lab, tmp_path, advskew=100)
    start = peer.wait_script("down", 3)
    assert start is not None and start.args == ("eth0", VIP), why(node, peer)
    time.sleep(8)
    assert peer.state() == "BACKUP", why(node, peer)
    warnings = [w.text for w in peer.warnings()]
    assert warnings == [TO_BACKUP, f"Spawning [{peer.workdir / (peer.tag + '-down.sh')} "
                                   f"eth0 {VIP}]"], why(node, peer)
    st = node.vip()
    assert st["state"] == "MASTER" and st["counters"]["drops"] == {}, st
    assert st["counters"]["adverts_received"] == 0  # a ucarp BACKUP is silent
    assert holders(lab, VIP) == ["a"]

    b_mac = lab.hosts["b"].mac
    cap = start_arp_capture(lab, "c", duration=12, stop_src=b_mac, stop_count=2, extra=0.5)
    t_kill = node.kill()
    bound = master_down(advskew=100) + UCARP_MARGIN
    up = peer.wait_script("up", bound + 0.5, after=t_kill)
    assert up is not None, why(node, peer)
    took = up.t - t_kill
    timing("scenario 2", "ucarp takeover after SIGKILL of carpd (upscript start)", took,
           f"master-down {master_down(advskew=100):.3f} s, bound {bound:.2f} s")
    assert up.args == ("eth0", VIP)
    assert master_down(advskew=100) - interval() - 0.2 <= took <= bound
    assert peer.find(TO_MASTER, after=t_kill), why(node, peer)
    assert lab.holds("b", VIP)
    assert lab.holds("a", VIP)  # a SIGKILLed daemon cannot release (as a killed ucarp)

    frames = lab.collect(cap, timeout=20)
    assert isinstance(frames, list)
    garps = [f for f in frames if f["src"] == b_mac and f["spa"] == VIP]
    assert len(garps) == 2, frames
    for f in garps:
        assert f["op"] == 1 and f["dst"] == "ff:ff:ff:ff:ff:ff", f
        assert f["sha"] == f["tha"] == b_mac and f["tpa"] == VIP, f
    assert 0 <= garps[0]["t"] - up.t < 0.5  # upscript first, then GARP #1 (CARP.md 3.5)
    gap = garps[1]["t"] - garps[0]["t"]
    timing("scenario 2", "ucarp GARP #1 -> #2", gap, f"2 adverts = {2 * interval(1, 100):.3f} s")
    assert abs(gap - 2 * interval(1, 100)) < 0.5


# ----------------------------------------------------------------------------- scenario 3

_PROTO112_CAPTURE = r"""
import json, os, socket, struct, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind(("eth0", 0x0800))
print("ready", flush=True)
out, deadline = [], time.monotonic() + float(os.environ["DURATION"])
while time.monotonic() < deadline:
    s.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        f = s.recv(2048)
    except socket.timeout:
        break
    ip = f[14:]
    if len(ip) >= 56 and ip[9] == 112:
        carp = ip[(ip[0] & 15) * 4:]
        out.append({"src": socket.inet_ntoa(ip[12:16]), "ttl": ip[8], "vhid": carp[1],
                    "counter": struct.unpack_from("!Q", carp, 8)[0]})
print(json.dumps(out))
"""


def test_s3_ucarp_master_carpd_backup(lab: Lab, tmp_path: Path) -> None:
    """Scenario 3: a lone ucarp becomes MASTER first (-k 0), then carpd starts with advskew
    100. carpd accepts every advert for 4 s (no drop of any kind, the master is ucarp) even
    though a lone ucarp draws a fresh random counter for every advert, and never promotes.
    ucarp is SIGKILLed: carpd promotes after its master-down (3 + 100/256 s after the last
    advert)."""
    peer = ucarp(lab, tmp_path, advskew=0)
    assert peer.wait_state("MASTER", master_down() + UCARP_MARGIN), why(None, peer)
    node = start_carpd(lab, tmp_path, one_vip(100))
    assert node.wait("web", "BACKUP", 5), node.log_text()
    cap = lab.python_bg("c", _PROTO112_CAPTURE, env={"DURATION": "4"})
    assert cap.stdout is not None and cap.stdout.readline().strip() == b"ready"
    t0 = time.time()
    adverts = lab.collect(cap, timeout=15)
    watched = time.time() - t0
    assert isinstance(adverts, list)
    counters = [a["counter"] for a in adverts if a["src"] == UCARP_SRC]
    assert len(counters) >= 4, adverts
    consecutive = sum(1 for x, y in itertools.pairwise(counters) if y == x + 1)
    print(f"\n[info] scenario 3: lone ucarp counters {[hex(c) for c in counters]}; "
          f"{consecutive} of {len(counters) - 1} steps are +1")
    st = node.vip()
    assert st["state"] == "BACKUP" and st["master"] == UCARP_SRC, st
    assert st["counters"]["drops"] == {} and st["counters"]["auth_failures"] == 0, st
    assert st["counters"]["adverts_received"] >= int(watched) - 1, st
    assert st["counters"]["transitions"] == 1, st  # INIT -> BACKUP only
    doc = node.status()
    assert doc is not None
    bad = _drops(doc)
    assert bad == {}, doc["interface_drops"]
    assert peer.state() == "MASTER" and not peer.find(BAD_DIGEST), why(node, peer)
    assert holders(lab, VIP) == ["b"]

    t_kill = peer.kill()
    bound = master_down(advskew=100) + CARPD_MARGIN
    t_master = node.wait("web", "MASTER", bound + 0.5)
    assert t_master is not None, why(node, peer)
    took = t_master - t_kill
    timing("scenario 3", "carpd takeover after SIGKILL of ucarp", took,
           f"master-down {master_down(advskew=100):.3f} s, bound {bound:.2f} s")
    assert master_down(advskew=100) - interval() - 0.2 <= took <= bound
    assert node.vip()["reason"] == "master_down_timer"
    assert wait_until(lambda: lab.holds("a", VIP), 2)
    assert lab.holds("b", VIP)  # a killed ucarp leaves its VIP configured (CARP.md 7)


# ----------------------------------------------------------------------------- scenario 5

def test_s5a_carpd_preempts_slower_ucarp(lab: Lab, tmp_path: Path) -> None:
    """Scenario 5a: ucarp `-k 100` is MASTER alone; carpd starts with advskew 0 and preempt:
    it promotes on the first ucarp advert it hears (within one ucarp interval, 1.39 s, not
    after its 3 s master-down) and ucarp, hearing carpd's faster advert, logs "Preferred
    master advertised" and steps down. Then 2 s without any further change."""
    peer = ucarp(lab, tmp_path, advskew=100)
    assert peer.wait_state("MASTER", master_down(advskew=100) + UCARP_MARGIN), why(None, peer)
    a_mac, b_mac = lab.hosts["a"].mac, lab.hosts["b"].mac
    lab.run("c", "ip", "neigh", "replace", VIP, "lladdr", b_mac, "dev", "eth0", "nud", "stale")
    cap = start_arp_capture(lab, "c", duration=4.5)
    node = start_carpd(lab, tmp_path, one_vip(0), preempt=True, garp_count=3,
                       garp_interval=0.8)
    t_backup = node.wait("web", "BACKUP", 5)
    assert t_backup is not None, node.log_text()
    bound = interval(1, 100) + CARPD_MARGIN
    t_master = node.wait("web", "MASTER", bound + 0.5)
    assert t_master is not None, why(node, peer)
    took = t_master - t_backup
    timing("scenario 5a", "carpd BACKUP -> MASTER by preemption", took,
           f"<= one ucarp interval {interval(1, 100):.3f} s, bound {bound:.2f} s")
    assert took <= bound
    assert node.vip()["reason"] == "preempted_slower_master"
    line = peer.wait_line(PREFERRED_MASTER, UCARP_MARGIN + 0.5, after=t_master - 0.1)
    assert line is not None, why(node, peer)
    timing("scenario 5a", "ucarp logs 'Preferred master advertised' after carpd promoted",
           line.t - t_master, f"bound {UCARP_MARGIN} s")
    assert line.t - t_master <= UCARP_MARGIN
    assert peer.wait_state("BACKUP", 1), why(node, peer)
    assert peer.wait_script("down", 1, after=line.t - 0.01) is not None
    assert wait_holders(lab, VIP, ["a"]), lab.addresses("b")
    transitions = node.vip()["counters"]["transitions"]
    time.sleep(2)
    assert not peer.find(TO_MASTER, after=t_master), why(node, peer)
    st = node.vip()
    assert st["state"] == "MASTER" and st["counters"]["transitions"] == transitions, st
    assert st["counters"]["drops"] == {}, st
    assert holders(lab, VIP) == ["a"]
    frames = lab.collect(cap, timeout=10)
    mine = _garps(frames, a_mac, VIP)
    for f in mine:
        assert f["op"] == 1 and f["dst"] == "ff:ff:ff:ff:ff:ff", f
        assert f["sha"] == f["tha"] == a_mac and f["spa"] == f["tpa"] == VIP, f
    assert mine and abs(mine[0]["t"] - t_master) < 0.5, frames
    theirs = [round(f["t"] - t_master, 3) for f in _garps(frames, b_mac, VIP)]
    print(f"\n[info] scenario 5a: carpd GARPs (garp_count 3, garp_interval 0.8) at "
          f"{[round(f['t'] - t_master, 3) for f in mine]} s after the promotion; ucarp GARPs "
          f"(stepping down) at {theirs} s")
    assert lab.neighbour("c", VIP) == a_mac


def test_s5b_ucarp_preempts_slower_carpd(lab: Lab, tmp_path: Path) -> None:
    """Scenario 5b: carpd (advskew 100) is MASTER alone; `ucarp -P -k 0` starts, hears
    carpd's slower advert, logs "Putting MASTER down - preemption" and becomes MASTER; carpd
    steps down on ucarp's first (faster) advert. Then 2 s without any further change."""
    node = start_carpd(lab, tmp_path, one_vip(100))
    assert node.wait("web", "MASTER", master_down(advskew=100) + 3), node.log_text()
    peer = ucarp(lab, tmp_path, advskew=0, preempt=True)
    bound = interval(1, 100) + UCARP_MARGIN
    line = peer.wait_line(PREEMPTION, bound + 0.5, after=peer.started_at)
    assert line is not None, why(node, peer)
    timing("scenario 5b", "ucarp start -> 'Putting MASTER down - preemption'",
           line.t - peer.started_at,
           f"<= one carpd interval {interval(1, 100):.3f} s + lag, bound {bound:.2f} s")
    assert peer.wait_state("MASTER", 1), why(node, peer)
    t_backup = node.wait("web", "BACKUP", CARPD_MARGIN + 0.5)
    assert t_backup is not None, why(node, peer)
    timing("scenario 5b", "carpd steps down after ucarp's preemption line",
           t_backup - line.t, f"bound {CARPD_MARGIN} s")
    assert t_backup - line.t <= CARPD_MARGIN
    st = node.vip()
    assert st["reason"] == "preferred_master_heard" and st["master"] == UCARP_SRC, st
    assert wait_holders(lab, VIP, ["b"]), lab.addresses("a")
    reassert = peer.wait_line(REASSERT, UCARP_MARGIN, after=line.t)
    print(f"\n[info] scenario 5b: ucarp reasserted after carpd's last advert: "
          f"{reassert.text if reassert else 'no'}")
    transitions = node.vip()["counters"]["transitions"]
    time.sleep(2)
    assert len(peer.find(TO_MASTER)) == 1 and peer.state() == "MASTER", why(node, peer)
    st = node.vip()
    assert st["state"] == "BACKUP" and st["counters"]["transitions"] == transitions, st
    assert st["counters"]["drops"] == {}, st
    assert holders(lab, VIP) == ["b"]


# ----------------------------------------------------------------------------- scenario 6

def test_s6_bow_out_on_graceful_stop(lab: Lab, tmp_path: Path) -> None:
    """Scenario 6: carpd MASTER, ucarp BACKUP (-k 100). A graceful stop of carpd (SIGTERM,
    what `systemctl stop` sends) puts one 255/255 advert on the wire: ucarp logs "Putting
    MASTER DOWN (going to time out)" and takes over at once (bound: its ~1 s receive lag +
    margin, well under its 3.39 s master-down); carpd released the VIP before exiting."""
    node = start_carpd(lab, tmp_path, one_vip(0))
    assert node.wait("web", "MASTER", master_down() + 3), node.log_text()
    peer = ucarp(lab, tmp_path, advskew=100)
    assert peer.wait_line(TO_BACKUP, 3), why(node, peer)
    time.sleep(1.5)
    t_stop = time.time()
    assert node.stop() == 0, node.log_text()
    assert not lab.holds("a", VIP)
    line = peer.wait_line(GOING_TO_TIME_OUT, UCARP_MARGIN + 0.5, after=t_stop)
    assert line is not None, why(node, peer)
    up = peer.wait_script("up", 1, after=t_stop)
    assert up is not None, why(node, peer)
    took = up.t - t_stop
    timing("scenario 6", "ucarp takeover after carpd's graceful stop (bow-out)", took,
           f"bound {UCARP_MARGIN} s; without bow-out it would be >= "
           f"{master_down(advskew=100) - interval():.2f} s")
    assert took <= UCARP_MARGIN < master_down(advskew=100)
    assert peer.state() == "MASTER"
    assert wait_holders(lab, VIP, ["b"])


# ----------------------------------------------------------------------------- scenario 7

def test_s7_slow_master_rule_without_preempt(lab: Lab, tmp_path: Path) -> None:
    """Scenario 7: carpd advertises advbase 4 (deadratio 1, so it is master after 4 s alone)
    against `ucarp -b 1 -r 3` without -P. ucarp is started 0.8 s before a carpd advert is
    due, so the first thing it hears is carpd's 4 s interval, longer than ucarp's own 3 s
    master-down: ucarp logs "Putting MASTER DOWN (going to time out)" and takes over at once;
    carpd steps down on ucarp's faster adverts; then 3 s without flapping."""
    node = start_carpd(lab, tmp_path, one_vip(0), advbase=4, deadratio=1)
    t_adv = node.wait("web", "MASTER", 4 + 3)  # the promotion sends the first advert
    assert t_adv is not None, node.log_text()
    later(t_adv + 4.0 - 0.8)
    peer = ucarp(lab, tmp_path, advskew=0)
    bound = 0.8 + UCARP_MARGIN
    line = peer.wait_line(GOING_TO_TIME_OUT, bound + 0.5, after=peer.started_at)
    assert line is not None, why(node, peer)
    timing("scenario 7", "ucarp 'going to time out' after carpd's advert was due",
           line.t - (t_adv + 4.0), f"bound {UCARP_MARGIN} s")
    assert peer.wait_state("MASTER", 1), why(node, peer)
    t_backup = node.wait("web", "BACKUP", interval() + CARPD_MARGIN)
    assert t_backup is not None, why(node, peer)
    timing("scenario 7", "carpd steps down after ucarp's takeover", t_backup - line.t,
           f"bound {interval() + CARPD_MARGIN} s")
    assert node.vip()["reason"] == "preferred_master_heard"
    assert wait_holders(lab, VIP, ["b"])
    transitions = node.vip()["counters"]["transitions"]
    time.sleep(3)
    assert len(peer.find(TO_MASTER)) == 1 and peer.state() == "MASTER", why(node, peer)
    assert len(peer.find(TO_BACKUP)) == 1, why(node, peer)  # only the start-up one
    st = node.vip()
    assert st["state"] == "BACKUP" and st["counters"]["transitions"] == transitions, st
    assert st["counters"]["drops"] == {}, st
    assert holders(lab, VIP) == ["b"]


# ----------------------------------------------------------------------------- scenario 8

def test_s8_dead_ratio_and_skew(lab: Lab, tmp_path: Path) -> None:
    """Scenario 8: `ucarp -r 2 -k 50` BACKUP behind carpd; carpd is SIGKILLed right after it
    sent an advert. ucarp promotes 2 * 1 + 50/256 = 2.195 s after that advert plus its
    receive lag and poll slack (design: + <= 1.2 s; bound here + 2.5 s)."""
    node = start_carpd(lab, tmp_path, one_vip(0))
    assert node.wait("web", "MASTER", master_down() + 3), node.log_text()
    peer = ucarp(lab, tmp_path, advskew=50, deadratio=2)
    assert peer.wait_line(TO_BACKUP, 3), why(node, peer)
    time.sleep(1.2)
    node.wait_advert_sent()
    t_kill = node.kill()
    expected = master_down(advskew=50, deadratio=2)
    up = peer.wait_script("up", expected + UCARP_MARGIN + 0.5, after=t_kill)
    assert up is not None, why(node, peer)
    took = up.t - t_kill
    timing("scenario 8", "ucarp -r 2 -k 50 takeover after the last carpd advert", took,
           f"expected {expected:.3f} s + <= 1.2 s, bound {expected + UCARP_MARGIN:.2f} s")
    assert expected - 0.1 <= took <= expected + UCARP_MARGIN
    assert peer.find(TO_MASTER, after=t_kill) and not peer.find(GOING_TO_TIME_OUT)


# ----------------------------------------------------------------------------- scenario 11

def _check_config(lab: Lab, tmp_path: Path, name: str, password: bytes
                  ) -> subprocess.CompletedProcess[str]:
    key = tmp_path / f"{name}.key"
    key.write_bytes(password + b"\n")
    key.chmod(0o600)
    cfg = tmp_path / f"{name}.toml"
    cfg.write_text(f'[defaults]\ninterface = "eth0"\npassword_file = "{key}"\n\n'
                   f'[vip.web]\nvhid = 10\naddress = "{VIP}/24"\n')
    return lab.run("c", sys.executable, "-m", "carpd", "--config", str(cfg), "--check",
                   check=False, timeout=30)


def test_s11_negative_cases(lab: Lab, tmp_path: Path) -> None:
    """Scenario 11, four negative cases against one ucarp MASTER (-k 100):
    (a) carpd with another password (advskew 0, which would win if accepted): ucarp logs
        "Bad digest" and stays MASTER; carpd counts bad_hmac drops, accepts nothing and
        promotes only by its master-down timer (both hold the VIP: a split brain is what a
        password mismatch gives);
    (b) a valid, faster advert with TTL 64 (built with carpd.core.carp.wire/auth, sent with
        IP_HDRINCL from the client): ucarp logs "Bad TTL: [64]" and stays MASTER;
    (c) the same advert with TTL 255 and demote byte 5: ucarp behaves as for demote 0 (an
        OpenBSD master would ignore a more-demoted peer): "Preferred master advertised",
        BACKUP, and stays BACKUP while such adverts keep coming (4 s);
    (d) a 20-byte password: `carpd --check` exits 2 naming the length (19 bytes pass), just
        as ucarp refuses it ("Password too long", exit 2)."""
    peer = ucarp(lab, tmp_path, advskew=100)
    assert peer.wait_state("MASTER", master_down(advskew=100) + UCARP_MARGIN), why(None, peer)
    t_ucarp_master = peer.find(TO_MASTER)[0].t

    # (a) wrong password
    node = start_carpd(lab, tmp_path, one_vip(0), password="other-password-19")
    t_backup = node.wait("web", "BACKUP", 5)
    assert t_backup is not None, node.log_text()
    t_master = node.wait("web", "MASTER", master_down() + CARPD_MARGIN)
    assert t_master is not None, why(node, peer)
    timing("scenario 11a", "carpd (wrong password) BACKUP -> MASTER", t_master - t_backup,
           f"by its master-down {master_down():.2f} s, not by preemption")
    assert t_master - t_backup >= master_down() - 0.3
    assert node.vip()["reason"] == "master_down_timer"
    bad = peer.wait_line(BAD_DIGEST, UCARP_MARGIN + 0.5, after=t_master - 0.2)
    assert bad is not None, why(node, peer)
    assert "Check vhid, password and virtual IP address" in bad.text
    time.sleep(1.5)
    st = node.vip()
    assert st["counters"]["drops"].get("bad_hmac", 0) >= 3, st
    assert st["counters"]["auth_failures"] == st["counters"]["drops"]["bad_hmac"]
    assert st["counters"]["adverts_received"] == 0, st
    assert [ln for ln in node.log_text().splitlines() if "WARNING" in ln and UCARP_SRC in ln
            and ("HMAC" in ln or "bad_hmac" in ln)], node.log_text()
    assert not peer.find(TO_BACKUP, after=t_ucarp_master), why(node, peer)
    assert not peer.find(PREFERRED_MASTER), why(node, peer)
    assert holders(lab, VIP) == ["a", "b"]
    assert node.stop() == 0
    assert peer.state() == "MASTER"

    # (b) TTL 64
    passfile = peer.passfile
    sent = inject_adverts(lab, "c", passfile=passfile, vhid=10, vip=VIP,
                          packets=[{"ttl": 64}])
    line = peer.wait_line(BAD_TTL, UCARP_MARGIN, after=sent[0] - 0.05)
    assert line is not None, why(None, peer)
    assert "[64]" in line.text, line
    time.sleep(0.3)
    assert peer.state() == "MASTER" and not peer.find(PREFERRED_MASTER), why(None, peer)

    # (c) demote byte 5, otherwise valid and faster than ucarp
    sent = inject_adverts(lab, "c", passfile=passfile, vhid=10, vip=VIP,
                          packets=[{"demote": 5, "gap": 1.0}] * 5)
    step = peer.find(PREFERRED_MASTER, after=sent[0] - 0.05)
    assert step, why(None, peer)
    timing("scenario 11c", "ucarp steps down on a demote-5 advert", step[0].t - sent[0],
           f"bound {UCARP_MARGIN} s")
    assert step[0].t - sent[0] <= UCARP_MARGIN
    assert peer.state() == "BACKUP", why(None, peer)
    assert not peer.find(TO_MASTER, after=step[0].t), why(None, peer)
    assert not peer.find(BAD_TTL, after=sent[0] - 0.05)
    assert not peer.find(BAD_DIGEST, after=sent[0] - 0.05)
    assert wait_holders(lab, VIP, [])

    # (d) 20-byte password
    too_long = _check_config(lab, tmp_path, "p20", b"x" * 20)
    assert too_long.returncode == 2, too_long
    assert "password is 20 bytes" in too_long.stderr and "x" * 20 not in too_long.stderr
    fits = _check_config(lab, tmp_path, "p19", b"x" * 19)
    assert fits.returncode == 0, fits
    key20 = tmp_path / "p20.key"
    refused = lab.run("c", "/usr/sbin/ucarp", "-i", "eth0", "-s", "172.16.90.50", "-v", "10",
                      "-o", str(key20), "-a", VIP, "-n", "-f", "none", "-u", "/bin/true",
                      "-d", "/bin/true", check=False, timeout=10)
    assert refused.returncode == 2 and "Password too long" in refused.stderr, refused


# ----------------------------------------------------------------------------- scenario 12

def test_s12_multi_vhid(lab: Lab, tmp_path: Path) -> None:
    """Scenario 12: one carpd with vhids 10, 11, 12 (advskew 0, 100, 0) against three ucarp
    processes on one peer (-k 100, -k 0 -P, -k 100): each vhid elects independently (carpd
    masters 10 and 12, ucarp 11), no process reports a packet of another vhid ("Bad
    digest" would show cross-talk), then killing ucarp 11 moves only vhid 11."""
    vips = {10: "172.16.90.210", 11: "172.16.90.211", 12: "172.16.90.212"}
    carp_skew = {10: 0, 11: 100, 12: 0}
    peers = {v: ucarp(lab, tmp_path, vhid=v, vip=vips[v], advskew=100 - carp_skew[v],
                      preempt=(v == 11)) for v in vips}
    node = start_carpd(lab, tmp_path, [Vip(f"v{v}", v, f"{vips[v]}/24", carp_skew[v])
                                       for v in vips])
    want = {"v10": "MASTER", "v11": "BACKUP", "v12": "MASTER"}
    bound = master_down(advskew=100) + UCARP_MARGIN + interval(1, 100)
    assert wait_until(lambda: node.states() == want
                      and [p.state() for p in peers.values()] == ["BACKUP", "MASTER", "BACKUP"]
                      and all(holders(lab, vips[v]) == (["b"] if v == 11 else ["a"])
                              for v in vips), bound, 0.05), why(node, *peers.values())
    time.sleep(1)
    assert node.states() == want
    for v, p in peers.items():
        assert not p.find("Bad"), why(node, p)
        assert p.state() == ("MASTER" if v == 11 else "BACKUP")
    doc = node.status()
    assert doc is not None
    for v in doc["vips"]:  # type: ignore[attr-defined]
        assert v["counters"]["drops"] == {}, v
    bad = _drops(doc)
    assert bad == {}, doc["interface_drops"]
    before = {n: node.vip(n)["counters"]["transitions"] for n in want}
    lines = {v: len(p.lines()) for v, p in peers.items()}

    t_kill = peers[11].kill()
    t_master = node.wait("v11", "MASTER", master_down(advskew=100) + CARPD_MARGIN + 0.5)
    assert t_master is not None, why(node, peers[11])
    timing("scenario 12", "carpd takes vhid 11 after SIGKILL of its ucarp", t_master - t_kill,
           f"bound {master_down(advskew=100) + CARPD_MARGIN:.2f} s")
    assert t_master - t_kill <= master_down(advskew=100) + CARPD_MARGIN
    time.sleep(0.5)
    assert node.states() == {"v10": "MASTER", "v11": "MASTER", "v12": "MASTER"}
    for n in ("v10", "v12"):
        assert node.vip(n)["counters"]["transitions"] == before[n]
    for v in (10, 12):
        assert len(peers[v].lines()) == lines[v], why(node, peers[v])


# ----------------------------------------------------------------------------- scenario 13

def test_s13_link_loss(lab: Lab, tmp_path: Path) -> None:
    """Scenario 13 for both ucarp variants at once (two vhids on one peer): ucarp A (vhid 10,
    -k 0) and ucarp B (vhid 11, -k 0 -P) are MASTER, carpd (advskew 100 for both) BACKUP. The
    ucarp host's carrier goes away (the switch-side veth goes down; taking its own eth0 down
    makes ucarp's pcap fail and ucarp exit instead): both ucarps run the downscript, carpd
    promotes both after its master-down. The carrier returns 4.5 s later; ucarp sleeps 10 s
    after a link loss, then comes back as BACKUP: B (-P, faster) preempts carpd at once, A
    stays BACKUP (checked 2.5 s after it is back; then it answers SIGUSR1 with its state:
    sending it earlier would cut its sleep short, CARP.md 3.7)."""
    a = ucarp(lab, tmp_path, vhid=10, vip=VIP, advskew=0)
    b = ucarp(lab, tmp_path, vhid=11, vip=VIP2, advskew=0, preempt=True)
    time.sleep(1.5)  # carpd's 3.39 s start-up master-down then ends after ucarp's 3 s (+1 s)
    node = start_carpd(lab, tmp_path, [Vip("v10", 10, f"{VIP}/24", 100),
                                       Vip("v11", 11, f"{VIP2}/24", 100)])
    assert wait_until(lambda: a.state() == b.state() == "MASTER"
                      and node.states() == {"v10": "BACKUP", "v11": "BACKUP"}, 6, 0.05), \
        why(node, a, b)
    assert holders(lab, VIP) == ["b"] and holders(lab, VIP2) == ["b"]
    time.sleep(0.5)

    t_down = set_carrier(lab, "b", False)
    for peer, vip in ((a, VIP), (b, VIP2)):
        down = peer.wait_script("down", 2.5, after=t_down)
        assert down is not None and down.args == ("eth0", vip), why(node, peer)
        assert peer.find(TO_BACKUP, after=t_down), why(node, peer)
    detected = {p.vhid: p.find(TO_BACKUP, after=t_down)[0].t for p in (a, b)}
    bound = master_down(advskew=100) + CARPD_MARGIN
    for name in ("v10", "v11"):
        t_master = node.wait(name, "MASTER", bound + 0.5)
        assert t_master is not None, why(node, a, b)
        timing("scenario 13", f"carpd {name} takeover after the ucarp host lost its carrier",
               t_master - t_down, f"bound {bound:.2f} s")
        assert t_master - t_down <= bound
    assert wait_holders(lab, VIP, ["a"]) and wait_holders(lab, VIP2, ["a"])
    later(t_down + 4.5)
    t_up = set_carrier(lab, "b", True)

    bound = 10 + interval() + UCARP_MARGIN
    line = b.wait_line(PREEMPTION, detected[11] + bound + 0.5 - time.time(), after=t_up)
    assert line is not None, why(node, b)
    timing("scenario 13", "ucarp -P: link loss detected -> preempts carpd again",
           line.t - detected[11], f"10 s sleep + <= one carpd interval, bound {bound:.2f} s")
    assert 10 - 0.5 <= line.t - detected[11] <= bound
    assert node.wait("v11", "BACKUP", CARPD_MARGIN) is not None, why(node, b)
    assert wait_holders(lab, VIP2, ["b"])

    later(detected[10] + 10 + 2.5)
    assert not a.find(TO_MASTER, after=t_down), why(node, a)
    assert node.states()["v10"] == "MASTER" and holders(lab, VIP) == ["a"]
    t_usr1 = a.send(signal.SIGUSR1)
    answer = a.wait_line("on eth0 id 10", 2, after=t_usr1 - 0.05)
    assert answer is not None and answer.text.startswith("BACKUP"), why(node, a)
    assert a.alive() and b.alive()


# ----------------------------------------------------------------------------- scenario 14

def _check_burst(garps: list[dict[str, Any]], mac: str, count: int, spacing: float,
                 t_promoted: float, label: str) -> None:
    for f in garps:
        assert f["op"] == 1 and f["dst"] == "ff:ff:ff:ff:ff:ff", f
        assert f["sha"] == f["tha"] == mac and f["spa"] == f["tpa"], f
        assert f["len"] >= 42
    times = [f["t"] for f in garps]
    gaps = [round(y - x, 3) for x, y in itertools.pairwise(times)]
    print(f"\n[info] scenario 14 {label}: {len(garps)} GARPs, first "
          f"{times[0] - t_promoted:+.3f} s from the promotion seen in status, gaps {gaps}")
    assert len(garps) == count, garps
    assert abs(times[0] - t_promoted) < 0.5
    assert all(abs(g - spacing) < 0.15 for g in gaps), gaps


def test_s14_garp_conformance(lab: Lab, tmp_path: Path) -> None:
    """Scenario 14: carpd (advskew 100, garp_count 3, garp_interval 0.4) is promoted twice
    by its master-down timer: (1) alone at start-up; (2) after `ucarp -P -k 0` had preempted
    it and then lost its carrier. Each time the client captures carpd's ARP frames: op 1
    (request), sender IP = target IP = VIP, sender MAC = target MAC = a's MAC, broadcast
    destination, exactly garp_count of them garp_interval apart, the first at the promotion;
    and the client's neighbour entry for the VIP (seeded with a wrong MAC, since Linux does
    not create entries from gratuitous ARP) points at the new master. In between, ucarp's
    takeover moves the client's entry to b."""
    a_mac, b_mac = lab.hosts["a"].mac, lab.hosts["b"].mac
    lab.run("c", "ip", "neigh", "replace", VIP, "lladdr", b_mac, "dev", "eth0", "nud", "stale")
    cap = start_arp_capture(lab, "c", duration=10, stop_src=a_mac, stop_count=3, extra=0.8)
    node = start_carpd(lab, tmp_path, one_vip(100), garp_count=3, garp_interval=0.4)
    t1 = node.wait("web", "MASTER", master_down(advskew=100) + 3)
    assert t1 is not None, node.log_text()
    _check_burst(_garps(lab.collect(cap, timeout=15), a_mac, VIP), a_mac, 3, 0.4, t1,
                 "promotion 1 (start-up)")
    assert lab.neighbour("c", VIP) == a_mac

    peer = ucarp(lab, tmp_path, advskew=0, preempt=True)
    up = peer.wait_script("up", interval(1, 100) + UCARP_MARGIN + 0.5, after=peer.started_at)
    # ucarp normally preempts on carpd's first advert (its own scenario checks that
    # path, s5b); once in CI it went MASTER ~2 s after its start without logging the preemption.
    # Either way this scenario only needs ucarp as master so that carpd is promoted again.
    assert up is not None, why(node, peer)
    if not peer.find(PREEMPTION):
        print("scenario 14: ucarp became MASTER without logging a preemption")
    assert node.wait("web", "BACKUP", CARPD_MARGIN) is not None, why(node, peer)
    assert wait_until(lambda: lab.neighbour("c", VIP) == b_mac, 1.5), lab.neighbour("c", VIP)
    later(up.t + 2 * interval() + 0.5)  # ucarp's delayed GARP #2 is out (CARP.md 3.5)

    cap = start_arp_capture(lab, "c", duration=10, stop_src=a_mac, stop_count=3, extra=0.8)
    t_down = set_carrier(lab, "b", False)
    bound = master_down(advskew=100) + CARPD_MARGIN
    t2 = node.wait("web", "MASTER", bound + 0.5)
    assert t2 is not None, why(node, peer)
    timing("scenario 14", "carpd takeover after the ucarp master lost its carrier",
           t2 - t_down, f"bound {bound:.2f} s")
    assert t2 - t_down <= bound
    assert node.vip()["reason"] == "master_down_timer"
    _check_burst(_garps(lab.collect(cap, timeout=15), a_mac, VIP), a_mac, 3, 0.4, t2,
                 "promotion 2 (master-down after ucarp lost its carrier)")
    assert lab.neighbour("c", VIP) == a_mac
    assert wait_holders(lab, VIP, ["a"])


class GarpBurstMismatch(AssertionError):
    """carpd's promotion burst is not garp_count frames garp_interval apart."""


def test_s14b_garp_burst_when_preempting(lab: Lab, tmp_path: Path) -> None:
    """Scenario 14 for a promotion by preemption, made deterministic: carpd (advskew 0,
    preempt, garp_count 3, garp_interval 1.0) is BACKUP; the client injects what a `ucarp
    -k 100` master puts on the wire when it is preempted: one valid advert with advskew 100
    (carpd preempts at once), and 0.3 s later that master's one last advert (ucarp sends it
    when it steps down, CARP.md 3.4; test_s5a sees the same with a real ucarp, up to ~1 s
    later). carpd, now MASTER, reasserts with one extra GARP (docs/protocol.md: "1 more when
    reasserting"). Expected: conforming GARPs at +0, +1, +2 s plus the extra one at ~+0.3 s."""
    a_mac = lab.hosts["a"].mac
    cap = start_arp_capture(lab, "c", duration=4.5, stop_src=a_mac, stop_count=4, extra=0.3)
    node = start_carpd(lab, tmp_path, one_vip(0), preempt=True, garp_count=3,
                       garp_interval=1.0)
    assert node.wait("web", "BACKUP", 5) is not None, node.log_text()
    sent = inject_adverts(lab, "c", passfile=tmp_path / "a-carpd.key", vhid=10, vip=VIP,
                          packets=[{"advskew": 100, "gap": 0.3}, {"advskew": 100}])
    st = node.vip()
    assert st["state"] == "MASTER" and st["reason"] == "preempted_slower_master", st
    assert st["counters"]["adverts_received"] == 2 and st["counters"]["drops"] == {}, st
    garps = _garps(lab.collect(cap, timeout=15), a_mac, VIP)
    assert garps
    for f in garps:
        assert f["op"] == 1 and f["dst"] == "ff:ff:ff:ff:ff:ff", f
        assert f["sha"] == f["tha"] == a_mac and f["spa"] == f["tpa"] == VIP, f
    t0 = garps[0]["t"]
    assert abs(t0 - sent[0]) < 0.5
    offsets = [round(f["t"] - t0, 3) for f in garps]
    print(f"\n[info] scenario 14b: carpd GARPs at {offsets} s (expected 0, 1, 2 from the "
          f"burst + 1 reassert at ~{sent[1] - sent[0]:.1f})")
    missing = [k for k in range(3) if not any(abs(o - k) < 0.15 for o in offsets)]
    if missing or len(garps) != 4:
        raise GarpBurstMismatch(f"burst GARPs missing at {missing} s; got {offsets}")
