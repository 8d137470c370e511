"""The VRRPv3 bench's pure parts: the watcher's frame and netlink decoding, the record
parser, the RFC 5798 timers, the derived figures, the soak count and the target verdicts.
Synthetic frames and records only; nothing here opens a socket or reads the clock."""

from __future__ import annotations

import argparse
import socket
import struct
from pathlib import Path
from typing import Any

import pytest

from bench import vrrp3, vrrp3_report
from bench.vrrp3_servers import Router, master_down_interval, skew_time
from bench.vrrp3_trials import WatchLog
from bench.vrrp_watch import RTM_DELADDR, RTM_NEWADDR, addr_lines, tap_line

MAC_A = bytes.fromhex("020000009001")
VIP = socket.inet_aton("172.16.90.32")


def vrrp3_frame(vrid: int, prio: int, interval_cs: int) -> bytes:
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0xC0, 20 + 12, 0, 0, 255, 112, 0,
                     socket.inet_aton("172.16.90.101"), socket.inet_aton("224.0.0.18"))
    body = struct.pack("!BBBBH2x4s", 0x31, vrid, prio, 1, interval_cs & 0x0FFF, VIP)
    return b"\x01\x00\x5e\x00\x00\x12" + MAC_A + b"\x08\x00" + ip + body


def arp_frame(op: int, spa: bytes, tpa: bytes) -> bytes:
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, MAC_A, spa, b"\0" * 6, tpa)
    return b"\xff" * 6 + MAC_A + b"\x08\x06" + arp


def test_an_advert_gives_its_vrid_priority_and_12_bit_interval() -> None:
    line = tap_line(1.5, "a", vrrp3_frame(52, 150, 1), {VIP})
    assert line == "V 1.500000 a 02:00:00:00:90:01 3 52 150 1 172.16.90.101\n"
    assert tap_line(2.0, "b", vrrp3_frame(51, 0, 4095), {VIP}).split()[5:8] == ["51", "0",
                                                                               "4095"]


def test_only_a_gratuitous_arp_for_a_watched_vip_is_recorded() -> None:
    assert tap_line(3.0, "b", arp_frame(1, VIP, VIP), {VIP}) == \
        "G 3.000000 b 02:00:00:00:90:01 172.16.90.32\n"
    other = socket.inet_aton("172.16.90.99")
    assert tap_line(3.0, "b", arp_frame(1, other, other), {VIP}) is None
    assert tap_line(3.0, "b", arp_frame(2, VIP, socket.inet_aton("172.16.90.10")),
                    {VIP}) is None


def rtm_addr(kind: int, addr: bytes) -> bytes:
    ifa = struct.pack("=BBBBI", socket.AF_INET, 24, 0, 0, 2)
    attrs = struct.pack("=HH4s", 8, 2, addr) + struct.pack("=HH4s", 8, 1, addr)
    return struct.pack("=IHHII", 16 + len(ifa) + len(attrs), kind, 0, 0, 0) + ifa + attrs


def test_netlink_address_events_of_the_vip_only() -> None:
    data = rtm_addr(RTM_NEWADDR, VIP) + rtm_addr(RTM_DELADDR, socket.inet_aton("10.0.0.1")) \
        + rtm_addr(RTM_DELADDR, VIP)
    assert addr_lines(4.0, "b", data, {VIP}) == ["N 4.000000 b + 172.16.90.32\n",
                                                 "N 4.000000 b - 172.16.90.32\n"]


def test_the_watch_log_is_parsed_incrementally_across_a_partial_line(tmp_path: Path) -> None:
    f = tmp_path / "watch.txt"
    f.write_text("H 0.0 1700000000.5 0.001 172.16.90.32\nV 1.0 a m 3 52 150 10 x\nN 1.1 a + "
                 "172.16.90.32\nA 1.2 02:00:00:00:90:01 172.16.90.32\nV 2.0 b m 3 5")
    w = WatchLog(f)
    w.poll()
    assert w.offset == 1700000000.5 and w.period == 0.001
    assert len(w.adverts_of("a", 52)) == 1 and len(w.adverts_of("b", 52)) == 0
    with f.open("a") as out:
        out.write("2 100 10 x\nN 2.1 b + 172.16.90.32\nN 2.2 a - 172.16.90.32\n")
    w.poll()
    assert [a.prio for a in w.adverts_of("b", 52)] == [100]
    assert w.holders("172.16.90.32") == {"b"}
    assert w.replies_of("02:00:00:00:90:01", "172.16.90.32").first(1.0) == 1.2
    assert w.adverts_of("a", 52).first(1.0) is None
    assert w.addr_event(1.0, "a", "-", "172.16.90.32") == 2.2


def test_rfc5798_timers_for_the_backup() -> None:
    assert skew_time(0.1) == pytest.approx(0.0609375)
    assert master_down_interval(0.01) == pytest.approx(0.036094, abs=1e-6)
    assert master_down_interval(1.0, priority=150) == pytest.approx(3.4140625)


def crash(interval: float, reply: float, last: float = -0.001) -> dict[str, Any]:
    mdi = master_down_interval(interval)
    return {"impl": "carpd", "interval": interval, "fault": "crash", "n": 0, "ok": True,
            "notes": [], "events": {"last_a_advert": last, "b_advert": last + mdi + 0.001,
                                    "b_add": last + mdi + 0.003, "b_garp": None,
                                    "b_reply": reply, "a_prio0": None, "a_del": None}}


def graceful(interval: float, reply: float) -> dict[str, Any]:
    skew = skew_time(interval)
    return {"impl": "carpd", "interval": interval, "fault": "graceful", "n": 0, "ok": True,
            "notes": [], "events": {"last_a_advert": -0.01, "a_prio0": 0.001,
                                    "a_del": 0.0005, "b_advert": 0.001 + skew + 0.002,
                                    "b_add": 0.004 + skew, "b_garp": 0.005 + skew,
                                    "b_reply": reply}}


def test_crash_figures_are_taken_from_the_last_advert() -> None:
    f = vrrp3_report.figures(crash(0.1, 0.365))
    assert f["phase"] == pytest.approx(0.001)
    assert f["advert"] == pytest.approx(master_down_interval(0.1) + 0.001)
    assert f["timer"] == pytest.approx(0.001)
    assert f["add"] == pytest.approx(0.002)
    assert f["client"] == pytest.approx(0.366) and f["from_fault"] == 0.365
    assert f["garp"] is None and f["garp_after"] is None


def test_graceful_figures_split_the_skew_wait() -> None:
    f = vrrp3_report.figures(graceful(0.01, 0.012))
    assert f["skew_wait"] == pytest.approx(skew_time(0.01) + 0.002)
    assert f["timer"] == pytest.approx(0.002)
    assert f["release"] == pytest.approx(-0.0005)
    assert f["gap"] == pytest.approx(0.0035 + skew_time(0.01))


def data(trials: list[dict[str, Any]], soak: dict[str, Any] | None = None) -> dict[str, Any]:
    intervals = sorted({t["interval"] for t in trials}, reverse=True)
    return {"meta": {"impls": ["carpd"], "intervals": intervals,
                     "faults": ["crash", "graceful"]},
            "blocks": [{"impl": "carpd", "interval": iv, "error": None, "cpu": None,
                        "trials": [t for t in trials if t["interval"] == iv]}
                       for iv in intervals], "soak": soak}


def test_targets_are_met_or_missed_from_the_figures() -> None:
    mdi = master_down_interval(0.1)
    good = data([crash(0.1, mdi), crash(0.01, 0.038), graceful(0.1, 0.062)])
    text = vrrp3_report.targets(good)
    assert text.count("met") == 3 and "missed" not in text
    late = data([crash(0.1, mdi), crash(0.1, mdi + 0.006), crash(0.01, 0.041),
                 graceful(0.1, 0.070)])
    text = vrrp3_report.targets(late)
    assert text.count("**missed**") == 3


def test_a_trial_without_a_takeover_does_not_count() -> None:
    t = crash(0.1, 0.36)
    t["ok"] = False
    assert vrrp3_report.values(data([t]), "carpd", 0.1, "crash", "client") == []


class FakeWatch:
    def __init__(self, a: list[float], b: list[float]) -> None:
        from bench.vrrp3_trials import Adv, Series

        self.series = {}
        for host, times in (("a", a), ("b", b)):
            s = Series()
            for t in times:
                s.add(t, Adv(t, host, 52, 150 if host == "a" else 100, 10))
            self.series[host] = s
        self.addrs = [(5.05, "b", "+", "172.16.90.32")]

    def adverts_of(self, host: str, _vrid: int) -> Any:
        return self.series[host]

    def replies_of(self, _mac: str, _vip: str) -> Any:
        return self.series["b"]


def test_the_soak_counts_runs_of_backup_adverts_as_takeovers() -> None:
    pair = argparse.Namespace(router=Router(52, "172.16.90.32/24", 0.1),
                              mac={"a": "ma", "b": "mb"})
    a = [i * 0.1 for i in range(100)]
    b = [5.0, 5.1, 5.2, 8.0]  # two runs: 5.0-5.2 and 8.0
    f = vrrp3_report.soak_figures(FakeWatch(a, b), pair, 0.0, 10.0)
    assert f["spurious_takeovers"] == 2 and f["b_adverts"] == 4 and f["b_adds"] == 1
    assert f["a_adverts"] == 100 and f["late_adverts"] == 0
    assert f["gap_max_s"] == pytest.approx(0.1)
    quiet = vrrp3_report.soak_figures(FakeWatch(a, []), pair, 0.0, 10.0)
    assert quiet["spurious_takeovers"] == 0


@pytest.mark.parametrize(("argv", "error"), [
    (["--intervals", "0.005"], "0.01..40.95"),
    (["--intervals", "fast"], "not a list of numbers"),
    (["--impl", "ucarp"], "unknown ['ucarp']"),
    (["--faults", "link"], "--faults"),
    (["--repeats", "-1"], "must not be negative"),
])
def test_bad_arguments_get_a_specific_error(argv: list[str], error: str) -> None:
    import argparse as ap

    parser = ap.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd")
    vrrp3.add_parser(sub)
    args = parser.parse_args(["vrrp3", "--impl", "carpd", *argv])
    why = vrrp3.check_args(args)
    assert why is not None and error in why
