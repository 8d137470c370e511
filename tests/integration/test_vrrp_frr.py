"""VRRPv3 interop with the real FRR 8.4.4 vrrpd (IPV6-UNICAST-VRRP3.md 4.3, 4.6 items 2-7).

One lab for the module (vrrp_peers.vrrp_lab): carpd .1, keepalived .2, FRR .3 and the
observer .4, VRID 51 with 10.99.0.100 and fd00:99::100 (carpd: two VRRP VIPs, one per
family, as RFC 5798 wants). FRR runs once for the module in its own pathspace; the tests
change its priority, interval and preempt live through vtysh (`FrrRouter.configure`) and
read its own view back with `show vrrp 51 json`. Intervals are 100 ms (masterDownInterval
360 ms at priority 100), so every takeover takes well under a second; the bounds asserted
are the protocol's plus a generous margin, the measured figures are printed (pytest -s).
The first test runs keepalived against FRR without carpd: it proves the harness itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.carpd_host import stop
from tests.integration.frr_peer import FrrRouter
from tests.integration.netns import Lab, wait_until
from tests.integration.vrrp_peers import (
    FAMILIES,
    FAST,
    MARGIN,
    NAMES,
    VIP4,
    VIP6,
    KaInstance,
    Keepalived,
    VrrpCarpd,
    dual_vips,
    master_down,
    skew,
    timings,
    vrrp_lab,
)
from tests.integration.vrrp_wire import (
    Frame,
    first_advert,
    frames,
    start_capture,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from vrrp_lab("vifrr", ("carpd", "ka", "frr", "obs"))


@pytest.fixture(scope="module")
def frr_router(lab: Lab) -> Iterator[FrrRouter]:
    router = FrrRouter(lab, priority=100, advert_ms=100)
    try:
        router.start()
        yield router
    finally:
        router.close()


@pytest.fixture
def frr(frr_router: FrrRouter, tmp_path: Path) -> Iterator[FrrRouter]:
    """FRR running at priority 100, 100 ms, preempt on (restarted if a test stopped it)."""
    if not frr_router.pids().get("vrrpd"):
        frr_router.stop()
        frr_router.start()
    frr_router.configure("vrrp 51 priority 100", "vrrp 51 advertisement-interval 100",
                         "vrrp 51 preempt")
    yield frr_router


@pytest.fixture
def carpd_nodes(lab: Lab, tmp_path: Path) -> Iterator[list[VrrpCarpd]]:
    started: list[VrrpCarpd] = []
    yield started
    for node in started:
        stop(node)


def start_carpd(lab: Lab, nodes: list[VrrpCarpd], workdir: Path, priority: int,
                interval: float = FAST, **keys: object) -> VrrpCarpd:
    node = VrrpCarpd(lab, "carpd", workdir, [], vrrp=dual_vips(priority, interval, **keys))
    nodes.append(node)
    node.start()
    return node


def why(node: VrrpCarpd | None, frr: FrrRouter | None = None,
        ka: Keepalived | None = None) -> str:
    parts = [] if node is None else [f"--- carpd ---\n{node.status()}\n{node.log_text()[-3000:]}"]
    parts += [] if frr is None else [frr.report()]
    return "\n".join(parts + ([] if ka is None else [ka.report()]))


def both(node: VrrpCarpd, state: str, timeout: float) -> bool:
    return wait_until(lambda: node.states() == {"v4": state, "v6": state}, timeout, 0.01)


def frr_both(frr: FrrRouter, status: str, timeout: float) -> bool:
    return wait_until(lambda: all(frr.status(f) == status for f in FAMILIES), timeout, 0.05)


# ---------------------------------------------------------------------------- the harness

def test_keepalived_and_frr_elect_one_master_and_hand_over(lab: Lab, frr: FrrRouter,
                                                            tmp_path: Path) -> None:
    """keepalived (100) joins FRR (raised to 200): FRR stays Master, keepalived BACKUP in
    both families; stopping FRR (priority 0 in both families, seen on the wire) makes
    keepalived MASTER after about Skew_Time(100) = 61 ms instead of its 361 ms MDI."""
    frr.configure("vrrp 51 priority 200")
    assert frr_both(frr, "Master", 5), frr.report()
    ka = Keepalived(lab, tmp_path, [KaInstance("VI4", (f"{VIP4}/24",), advert_int=FAST),
                                    KaInstance("VI6", (f"{VIP6}/64",), advert_int=FAST)])
    try:
        ka.start()
        assert ka.wait_state("VI4", "BACKUP", 5) and ka.wait_state("VI6", "BACKUP", 5)
        time.sleep(1.0)  # ten adverts
        assert [e for e in ka.events() if e.state != "BACKUP"] == [], ka.report()
        assert all(frr.status(f) == "Master" for f in FAMILIES), frr.report()
        frr.stop_watchfrr()  # it can take seconds; vrrpd goes on meanwhile
        cap = start_capture(lab, "obs", 1.5)
        t_stop = frr.stop(wait_all=False)
        took = {f: ka.wait_state(f"VI{f}", "MASTER", 3, after=t_stop) for f in FAMILIES}
        seen = frames(cap)
        resign = {f.family: f.t for f in seen if f.priority == 0 and f.mac.startswith(
            "00:00:5e:00:0")}
        timings("FRR stop -> keepalived MASTER (s after FRR's priority 0)",
                **{f"IPv{f}": (t - resign[f]) if t and f in resign else None
                   for f, t in took.items()})
        assert set(resign) == {4, 6}, (t_stop, seen, ka.report(), frr.report())
        for f in FAMILIES:
            t = took[f]
            assert t is not None, ka.report()
            assert t - resign[f] < master_down(100, FAST) - FAST, (f, t - resign[f])
        assert "Backup received priority 0 advertisement" in ka.log_text()
    finally:
        ka.stop()


# ------------------------------------------------------------------------------ with carpd

CARPD_MAC = "02:00:00:00:90:01"
VMAC = {4: "00:00:5e:00:01:33", 6: "00:00:5e:00:02:33"}


def check_carpd_adverts(lab: Lab, seen: list[Frame], priority: int, interval_cs: int
                        ) -> None:
    """Section 4.5: carpd's adverts as the observer saw them."""
    host = lab.hosts["carpd"]
    mine = [f for f in seen if f.src in (host.ip, host.link_local)]
    assert {f.family for f in mine} == {4, 6}, seen
    for f in mine:
        assert (f.version, f.vrid, f.priority, f.interval_cs, f.ttl) == (
            3, 51, priority, interval_cs, 255), f
        assert f.dst == ("224.0.0.18" if f.family == 4 else "ff02::12"), f
        assert f.vrrp[8:] == (bytes([10, 99, 0, 100]) if f.family == 4
                              else bytes.fromhex("fd000099000000000000000000000100")), f
    print(f"\ncarpd adverts seen by the observer: {len(mine)}, Ethernet sources "
          f"{sorted({f.mac for f in mine})}, TOS/class {sorted({f.tos for f in mine})}")


def test_carpd_preempts_frr_stays_master_and_frr_takes_over_after_sigkill(
        lab: Lab, frr: FrrRouter, carpd_nodes: list[VrrpCarpd], tmp_path: Path) -> None:
    """FRR (100) is Master alone; carpd (150) starts: it must first listen (BACKUP), then
    take over when its own Master_Down_Timer runs out (preemption after MDI, not at once);
    FRR goes Backup on carpd's first advert. Steady state: FRR learns 100 ms, counts carpd's
    adverts, logs no invalid datagram. SIGKILL carpd: FRR is Master again after about its
    Master_Down_Interval (360 ms at priority 100)."""
    assert frr_both(frr, "Master", 5), frr.report()
    cap = start_capture(lab, "obs", 4.0)
    t0 = time.time()
    node = start_carpd(lab, carpd_nodes, tmp_path, 150)
    assert both(node, "MASTER", 10), why(node, frr)
    assert frr_both(frr, "Backup", 3), why(node, frr)
    for f in FAMILIES:
        since = node.since(NAMES[f])
        timings(f"carpd 150 preempts FRR 100, IPv{f}", start_to_master=(since or 0) - t0,
                own_mdi=master_down(150, FAST))
        print("carpd's view:", node.vip(NAMES[f]))
    rx0 = {f: frr.family(f)["stats"]["adverRx"] for f in FAMILIES}  # type: ignore[index]
    time.sleep(1.0)
    for f in FAMILIES:
        view = frr.family(f)
        rx = view["stats"]["adverRx"] - rx0[f]  # type: ignore[index]
        print(f"FRR's view IPv{f}: {view}")
        assert view["status"] == "Backup" and view["masterAdverInterval"] == 100, view
        assert rx >= 5, (f, rx, view)  # ten adverts a second from carpd
    assert "Datagram invalid" not in frr.log_text(), frr.report()
    seen = frames(cap)
    check_carpd_adverts(lab, seen, 150, 10)
    # carpd listened before it took over: it heard FRR's lower-priority adverts for about
    # its MDI (3-4 of them) and then preempted (as MASTER it hears nothing more from FRR)
    for f in FAMILIES:
        heard = node.vip(NAMES[f])["counters"]["adverts_received"]  # type: ignore[index]
        assert heard >= 2, (f, heard, why(node, frr))

    t_kill = node.kill()
    took = {f: frr.wait_change(f, "Master", master_down(100, FAST) + MARGIN, after=t_kill)
            for f in FAMILIES}
    timings("SIGKILL carpd -> FRR Master (s, FRR's log)",
            **{f"IPv{f}": None if t is None else t - t_kill for f, t in took.items()},
            mdi=master_down(100, FAST))
    for f, t in took.items():
        assert t is not None, why(node, frr)
        assert t - t_kill > master_down(100, FAST) - FAST - 0.02, (f, t - t_kill)
    assert frr_both(frr, "Master", 2), frr.report()


def test_carpd_backup_adopts_frr_interval_and_takes_over_after_skew_on_frr_stop(
        lab: Lab, frr: FrrRouter, carpd_nodes: list[VrrpCarpd], tmp_path: Path) -> None:
    """FRR (200, 100 ms) is Master; carpd (100) is configured for 1 s adverts. carpd must
    stay BACKUP and learn Master_Adver_Interval = 10 cs from FRR's adverts. FRR stops
    (vrrpd sends priority 0): carpd takes over after Skew_Time(100) of FRR's interval
    (61 ms), far below its MDI (361 ms) and its own-interval MDI (3.6 s)."""
    frr.configure("vrrp 51 priority 200")
    assert frr_both(frr, "Master", 5), frr.report()
    node = start_carpd(lab, carpd_nodes, tmp_path, 100, interval=1.0)
    assert both(node, "BACKUP", 10), why(node, frr)
    assert wait_until(lambda: all(node.vip(NAMES[f]).get("master_adver_interval_cs") == 10
                                  for f in FAMILIES), 3), why(node, frr)
    time.sleep(0.5)
    for f in FAMILIES:
        doc = node.vip(NAMES[f])
        print(f"carpd's view IPv{f}: {doc}")
        assert doc["state"] == "BACKUP" and doc["master_priority"] == 200, doc
        assert doc["advert_interval_cs"] == 100, doc
    assert node.vip("v4")["master"] == "10.99.0.3", node.vip("v4")
    assert node.vip("v6")["master"] == frr.family(6)["primaryAddress"], (
        node.vip("v6"), frr.family(6))
    frr.stop_watchfrr()
    cap = start_capture(lab, "obs", 2.0)
    t_stop = frr.stop(wait_all=False)
    assert both(node, "MASTER", 2.0), why(node, frr)
    seen = frames(cap)
    resign = {f.family: f.t for f in seen if f.priority == 0 and f.mac == VMAC[f.family]}
    assert set(resign) == {4, 6}, seen
    took = {}
    for f in FAMILIES:
        adv = first_advert(seen, CARPD_MAC, f, resign[f])
        assert adv is not None, seen
        took[f] = adv.t - resign[f]
    timings("FRR priority 0 -> carpd's first advert (s)", IPv4=took[4], IPv6=took[6],
            skew=skew(100, FAST), mdi=master_down(100, FAST), sigint_at=t_stop)
    for f in FAMILIES:
        assert took[f] < master_down(100, FAST) - FAST, (f, took[f], why(node, frr))
        assert node.vip(NAMES[f])["advert_interval_cs"] == 100


def test_frr_preempts_carpd_and_carpd_preempts_back(
        lab: Lab, frr: FrrRouter, carpd_nodes: list[VrrpCarpd], tmp_path: Path) -> None:
    """carpd (150) Master, FRR (100) Backup. FRR's priority raised to 200 live: FRR
    discards carpd's adverts and takes over at its MDI; carpd goes BACKUP on FRR's first
    advert. FRR lowered to 50: carpd (preempt on) takes over again at its own MDI. Then a
    graceful carpd stop: priority 0 in both families, FRR (50) Master after Skew_Time(50)
    = 80 ms (FRR truncates to whole centiseconds), below its 380 ms MDI."""
    node = start_carpd(lab, carpd_nodes, tmp_path, 150)
    assert both(node, "MASTER", 10) and frr_both(frr, "Backup", 3), why(node, frr)
    t_up = time.time()
    frr.configure("vrrp 51 priority 200")
    assert frr_both(frr, "Master", master_down(200, FAST) + MARGIN), why(node, frr)
    assert both(node, "BACKUP", 2), why(node, frr)
    up = {f: frr.wait_change(f, "Master", 1, after=t_up) for f in FAMILIES}
    timings("FRR raised to 200 -> FRR Master (s)",
            **{f"IPv{f}": None if t is None else t - t_up for f, t in up.items()},
            frr_mdi=master_down(200, FAST))
    for f in FAMILIES:
        assert node.vip(NAMES[f])["master_priority"] == 200, node.vip(NAMES[f])
    t_down = time.time()
    frr.configure("vrrp 51 priority 50")
    assert both(node, "MASTER", master_down(150, FAST) + MARGIN), why(node, frr)
    assert frr_both(frr, "Backup", 2), why(node, frr)
    back = {f: node.since(NAMES[f]) for f in FAMILIES}
    timings("FRR lowered to 50 -> carpd MASTER (s, carpd's since)",
            **{f"IPv{f}": None if t is None else t - t_down for f, t in back.items()},
            carpd_mdi=master_down(150, FAST))
    for f in FAMILIES:
        print(f"carpd's view IPv{f}: {node.vip(NAMES[f])}")
    cap = start_capture(lab, "obs", 2.0)
    node.terminate()
    assert frr_both(frr, "Master", 2), why(node, frr)
    seen = frames(cap)
    resign = {f.family: f.t for f in seen if f.mac == CARPD_MAC and f.priority == 0}
    assert set(resign) == {4, 6}, seen
    took, advert = {}, {}
    for f in FAMILIES:
        change = frr.wait_change(f, "Master", 1, after=resign[f])
        adv = first_advert(seen, VMAC[f], f, resign[f])
        assert change is not None and adv is not None, (seen, frr.report())
        took[f], advert[f] = change - resign[f], adv.t - resign[f]
    timings("carpd SIGTERM, priority 0 -> FRR Backup -> Master (s, FRR's log)", IPv4=took[4],
            IPv6=took[6], skew=skew(50, FAST), mdi=master_down(50, FAST))
    timings("carpd SIGTERM, priority 0 -> FRR's first advert (s, observer)", IPv4=advert[4],
            IPv6=advert[6])
    for f in FAMILIES:
        assert took[f] < master_down(50, FAST) - FAST, (f, took[f], frr.report())


def test_sigkill_carpd_with_keepalived_and_frr_backups_leaves_one_master_per_family(
        lab: Lab, frr: FrrRouter, carpd_nodes: list[VrrpCarpd], tmp_path: Path) -> None:
    """Section 4.6 item 3: carpd (150) MASTER, keepalived and FRR both BACKUP at 100.
    SIGKILL carpd: their timers (FRR 360 ms truncated, keepalived 360.9 ms) race. The RFC
    lets the greater primary address win when both promote (IPv4: FRR's 10.99.0.3), but
    FRR 8.4.4 sends its first advert only once its macvlan is out of protodown, and was seen
    to yield to keepalived's equal-priority advert in those milliseconds. What must hold:
    afterwards keepalived and FRR agree, exactly one master per family (who is printed)."""
    node = start_carpd(lab, carpd_nodes, tmp_path, 150)
    assert both(node, "MASTER", 10) and frr_both(frr, "Backup", 3), why(node, frr)
    ka = Keepalived(lab, tmp_path / "ka", [
        KaInstance("VI4", (f"{VIP4}/24",), advert_int=FAST),
        KaInstance("VI6", (f"{VIP6}/64",), advert_int=FAST)])
    try:
        ka.start()
        assert ka.wait_state("VI4", "BACKUP", 5) and ka.wait_state("VI6", "BACKUP", 5)
        time.sleep(0.5)
        t_kill = node.kill()
        time.sleep(master_down(100, FAST) + 1.0)  # the race and any tie-break are over
        ka_changes = [(e.name, e.state, round(e.t - t_kill, 3)) for e in ka.events(t_kill)]
        frr_changes = [(e.name, e.state, round(e.t - t_kill, 3)) for e in frr.changes(t_kill)]
        ll = frr.family(6).get("primaryAddress") or frr.family(6).get("interface")
        print(f"\nafter SIGKILL carpd: keepalived {ka_changes}\nFRR {frr_changes} "
              f"(FRR's IPv6 link-local {ll}, keepalived's {lab.hosts['ka'].link_local})")
        winners = {}
        for f in FAMILIES:
            masters = [frr.status(f) == "Master", ka.state(f"VI{f}") == "MASTER"]
            assert masters.count(True) == 1, (f, ka_changes, frr_changes, ka.report(),
                                              frr.report())
            assert frr.status(f) in ("Master", "Backup"), frr.family(f)
            winners[f"IPv{f}"] = "FRR" if masters[0] else "keepalived"
        print(f"masters: {winners}")
    finally:
        ka.stop()
