"""VRRPv3 interop with the real keepalived 2.2.7 (IPV6-UNICAST-VRRP3.md 4.2, 4.6 items 2-8).

One lab for the module (vrrp_peers.vrrp_lab): carpd .1, keepalived .2 and an observer .4;
VRID 51 with 10.99.0.100 and fd00:99::100 (carpd: one VRRP VIP per family), VRID 52 for
unicast (10.99.0.101, fd00:99::101). keepalived runs per test from the test's temp dir and
reports through its notify script (`date +%s.%N` per change) and its console log; carpd
through `status --json`; the observer captures every protocol-112 frame. Intervals are
100 ms except the graceful-stop case (1 s, where Skew_Time 0.61 s and the 2.6 s lower
bound of a timeout are far apart). Bounds are the protocol's plus a generous margin;
measured figures are printed (pytest -s).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.carpd_host import drops, stop
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
    VrrpVip,
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
    inject,
    start_capture,
    vrrp3_message,
)

pytestmark = pytest.mark.integration

CARPD_MAC, KA_MAC = "02:00:00:00:90:01", "02:00:00:00:90:02"
UNI4, UNI6 = "10.99.0.101", "fd00:99::101"
# keepalived lines that would mean it rejected carpd's adverts (section 4.5)
KA_COMPLAINTS = ("checksum", "unexpected ip number", "wrong version", "not present in",
                 "not a unicast peer", "too short", "ttl")


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from vrrp_lab("vika", ("carpd", "ka", "obs"))


@pytest.fixture
def carpd_nodes() -> Iterator[list[VrrpCarpd]]:
    started: list[VrrpCarpd] = []
    yield started
    for node in started:
        stop(node)


@pytest.fixture
def kas() -> Iterator[list[Keepalived]]:
    started: list[Keepalived] = []
    yield started
    for ka in started:
        ka.stop()


Starter = Callable[..., VrrpCarpd]


@pytest.fixture
def carpd(lab: Lab, carpd_nodes: list[VrrpCarpd], tmp_path: Path) -> Starter:
    """start(priority, interval=FAST, vips=None, **keys): carpd with v4 and v6 (VRID 51)."""
    def start(priority: int, interval: float = FAST, vips: list[VrrpVip] | None = None,
              **keys: object) -> VrrpCarpd:
        vips = vips or dual_vips(priority, interval, **keys)
        node = VrrpCarpd(lab, "carpd", tmp_path / f"carpd{len(carpd_nodes)}", [], vrrp=vips)
        carpd_nodes.append(node)
        node.start()
        return node
    return start


@pytest.fixture
def keepalived(lab: Lab, kas: list[Keepalived], tmp_path: Path) -> Callable[..., Keepalived]:
    """start(priority, interval=FAST, instances=None, preempt=True): VI4 and VI6."""
    def start(priority: int = 100, interval: float = FAST,
              instances: list[KaInstance] | None = None, preempt: bool = True) -> Keepalived:
        instances = instances or [
            KaInstance("VI4", (f"{VIP4}/24",), priority=priority, advert_int=interval,
                       preempt=preempt),
            KaInstance("VI6", (f"{VIP6}/64",), priority=priority, advert_int=interval,
                       preempt=preempt)]
        ka = Keepalived(lab, tmp_path / f"ka{len(kas)}", instances)
        kas.append(ka)
        return ka.start()
    return start


def both(node: VrrpCarpd, state: str, timeout: float, names: tuple[str, ...] = ("v4", "v6")
         ) -> bool:
    return wait_until(lambda: all(node.states().get(n) == state for n in names), timeout,
                      0.01)


def ka_both(ka: Keepalived, state: str, timeout: float, after: float = 0.0) -> bool:
    return all(ka.wait_state(f"VI{f}", state, timeout, after) for f in FAMILIES)


def why(node: VrrpCarpd | None, ka: Keepalived | None) -> str:
    parts = [] if node is None else [f"--- carpd ---\n{node.status()}\n{node.log_text()[-3000:]}"]
    return "\n".join(parts + ([] if ka is None else [ka.report()]))


def complaints(ka: Keepalived) -> list[str]:
    return [ln for ln in ka.log_text().splitlines()
            if any(c in ln.lower() for c in KA_COMPLAINTS)]


def check_carpd_frames(lab: Lab, seen: list[Frame], priority: int, interval_cs: int) -> None:
    """Section 4.5 and 4.6 item 7: carpd's multicast adverts byte for byte (the message is
    what our own RFC 5798 encoder makes for the same fields), TTL/hop limit 255, IPv6 source
    the link-local."""
    host = lab.hosts["carpd"]
    mine = [f for f in seen if f.mac == CARPD_MAC and f.vrid == 51]
    assert {f.family for f in mine} == {4, 6}, seen
    for f in mine:
        src, dst, vip = ((host.ip, "224.0.0.18", VIP4) if f.family == 4
                         else (host.link_local, "ff02::12", VIP6))
        assert (f.src, f.dst, f.ttl) == (src, dst, 255), f
        assert f.vrrp == vrrp3_message(src, dst, 51, priority, interval_cs, [vip]), f
    print(f"\ncarpd adverts seen: {len(mine)}, TOS/class {sorted({f.tos for f in mine})}")


# ------------------------------------------------------------------ carpd master / backup

def test_carpd_master_keepalived_backup_then_sigkill(
        lab: Lab, carpd: Starter, keepalived: Callable[..., Keepalived]) -> None:
    """carpd (150) MASTER first, keepalived (100) joins and stays BACKUP in both families
    with no complaint; the observer's neighbour entries point at carpd. SIGKILL carpd:
    keepalived MASTER after about its MDI (361 ms), the observer's entries move to it."""
    node = carpd(150)
    assert both(node, "MASTER", master_down(150, FAST) + 5), why(node, None)
    ka = keepalived(100)
    cap = start_capture(lab, "obs", 1.5)
    assert ka_both(ka, "BACKUP", 5), why(node, ka)
    for vip in (VIP4, VIP6):
        assert lab.ping("obs", vip, wait=2.0), vip
        assert lab.neighbour("obs", vip) == CARPD_MAC, vip
    seen = frames(cap)
    check_carpd_frames(lab, seen, 150, 10)
    assert [e for e in ka.events() if e.state != "BACKUP"] == [], why(node, ka)
    assert complaints(ka) == [], complaints(ka)

    t_kill = node.kill()
    took = {f: ka.wait_state(f"VI{f}", "MASTER", master_down(100, FAST) + MARGIN, t_kill)
            for f in FAMILIES}
    timings("SIGKILL carpd -> keepalived MASTER (s, notify)",
            **{f"IPv{f}": None if t is None else t - t_kill for f, t in took.items()},
            mdi=master_down(100, FAST))
    for f, t in took.items():
        assert t is not None, why(node, ka)
        assert t - t_kill > master_down(100, FAST) - FAST - 0.02, (f, t - t_kill)
    for vip in (VIP4, VIP6):
        assert wait_until(lambda vip=vip: lab.neighbour("obs", vip) == KA_MAC, 3), (
            vip, lab.neighbour("obs", vip))


def test_carpd_backup_adopts_keepalived_interval_and_takes_over_after_sigkill(
        lab: Lab, carpd: Starter, keepalived: Callable[..., Keepalived]) -> None:
    """keepalived (100, advert_int 0.1) MASTER; carpd (50) configured for 1 s stays BACKUP
    and learns Master_Adver_Interval 10 cs. SIGKILL keepalived: carpd takes over after
    3 x 0.1 + Skew_Time(50) = 0.38 s, not after the 3.8 s of its own interval, and the
    observer's neighbour entries for both VIPs move from keepalived's MAC to carpd's."""
    ka = keepalived(100)
    assert ka_both(ka, "MASTER", master_down(100, FAST) + 5), ka.report()
    node = carpd(50, interval=1.0)
    assert both(node, "BACKUP", 10), why(node, ka)
    assert wait_until(lambda: all(node.vip(NAMES[f]).get("master_adver_interval_cs") == 10
                                  for f in FAMILIES), 3), why(node, ka)
    for f in FAMILIES:
        doc = node.vip(NAMES[f])
        print(f"carpd's view IPv{f}: {doc}")
        assert doc["master_priority"] == 100 and doc["advert_interval_cs"] == 100, doc
    assert node.vip("v4")["master"] == "10.99.0.2"
    assert node.vip("v6")["master"] == lab.hosts["ka"].link_local
    for vip in (VIP4, VIP6):
        assert lab.ping("obs", vip, wait=2.0) and lab.neighbour("obs", vip) == KA_MAC, vip
    cap = start_capture(lab, "obs", 3.0)
    time.sleep(0.3)  # a few of keepalived's adverts first
    t_kill = ka.kill()
    assert both(node, "MASTER", master_down(50, FAST) + MARGIN), why(node, ka)
    for vip in (VIP4, VIP6):  # carpd's gratuitous ARP and unsolicited NA
        assert wait_until(lambda vip=vip: lab.neighbour("obs", vip) == CARPD_MAC, 3), (
            vip, lab.neighbour("obs", vip))
    seen = frames(cap)
    took = {}
    for f in FAMILIES:
        last = max(x.t for x in seen if x.mac == KA_MAC and x.family == f)
        adv = first_advert(seen, CARPD_MAC, f, t_kill)
        assert adv is not None, seen
        took[f] = adv.t - last
    timings("SIGKILL keepalived -> carpd's first advert (s after keepalived's last)",
            IPv4=took[4], IPv6=took[6], mdi=master_down(50, FAST),
            own_interval_mdi=master_down(50, 1.0))
    for f in FAMILIES:
        assert took[f] < master_down(50, 1.0) - 1.0, (f, took[f])  # it did adopt 10 cs


def test_graceful_carpd_stop_hands_over_after_skew_time_1s(
        lab: Lab, carpd: Starter, keepalived: Callable[..., Keepalived]) -> None:
    """The 1 s case. carpd (150, 1 s) MASTER, keepalived (100, 1 s) BACKUP. SIGTERM carpd:
    it sends priority 0 in both families (the V3 form byte for byte), keepalived logs
    "Backup received priority 0 advertisement" and is MASTER after Skew_Time(100) = 0.61 s,
    long before the 2.6 s a silent master would need at the least."""
    node = carpd(150, interval=1.0)
    assert both(node, "MASTER", master_down(150, 1.0) + 5), why(node, None)
    ka = keepalived(100, interval=1.0)
    assert ka_both(ka, "BACKUP", 5), why(node, ka)
    cap = start_capture(lab, "obs", 3.0)
    time.sleep(1.1)  # one advert of each family for the byte check
    t_term = node.terminate()
    took = {f: ka.wait_state(f"VI{f}", "MASTER", master_down(100, 1.0) + MARGIN, t_term)
            for f in FAMILIES}
    seen = frames(cap)
    check_carpd_frames(lab, [f for f in seen if f.priority], 150, 100)
    resign = {f.family: f for f in seen if f.mac == CARPD_MAC and f.priority == 0}
    assert set(resign) == {4, 6}, seen
    host = lab.hosts["carpd"]
    assert resign[4].vrrp == vrrp3_message(host.ip, "224.0.0.18", 51, 0, 100, [VIP4])
    assert resign[6].vrrp == vrrp3_message(host.link_local, "ff02::12", 51, 0, 100, [VIP6])
    timings("SIGTERM carpd -> keepalived MASTER (s after carpd's priority 0)",
            **{f"IPv{f}": None if t is None else t - resign[f].t for f, t in took.items()},
            skew=skew(100, 1.0), sigterm_to_priority0=resign[4].t - t_term)
    for f, t in took.items():
        assert t is not None, why(node, ka)
        assert t - resign[f].t < master_down(100, 1.0) - 1.0, (f, t - resign[f].t)
    assert [e.state for e in ka.events() if e.t < t_term] == ["BACKUP", "BACKUP"], ka.report()
    assert ka.log_text().count("Backup received priority 0 advertisement") >= 2, ka.report()


# ------------------------------------------------------------------------------ preemption

def test_preemption_both_ways(lab: Lab, carpd: Starter,
                              keepalived: Callable[..., Keepalived]) -> None:
    """keepalived (100) MASTER; carpd (150) starts, listens, discards the lower-priority
    adverts and takes over at its own MDI; keepalived goes BACKUP on carpd's first advert
    ("Master received advert ... with higher priority 150"). Then keepalived restarted at
    200 preempts carpd the same way ("received lower priority (150) advert - discarding"
    first); carpd BACKUP with master_priority 200."""
    ka = keepalived(100)
    assert ka_both(ka, "MASTER", master_down(100, FAST) + 5), ka.report()
    t0 = time.time()
    node = carpd(150)
    assert both(node, "MASTER", 10), why(node, ka)
    assert ka_both(ka, "BACKUP", 3, after=t0), why(node, ka)
    timings("carpd 150 preempts keepalived 100 (s from carpd's start)",
            IPv4=(node.since("v4") or 0) - t0, IPv6=(node.since("v6") or 0) - t0,
            carpd_mdi=master_down(150, FAST))
    print("carpd reasons:", {n: node.vip(n).get("reason") for n in ("v4", "v6")})
    assert "with higher priority 150, ours 100" in ka.log_text(), ka.report()
    ka.stop()

    t1 = time.time()
    ka2 = keepalived(200)
    assert ka_both(ka2, "MASTER", master_down(200, FAST) + 5, after=t1), why(node, ka2)
    assert both(node, "BACKUP", 2), why(node, ka2)
    timings("keepalived 200 preempts carpd 150 (s from keepalived's start)",
            **{f"IPv{f}": (ka2.wait_state(f"VI{f}", "MASTER", 0, t1) or 0) - t1
               for f in FAMILIES}, ka_mdi=master_down(200, FAST))
    assert "received lower priority (150) advert" in ka2.log_text(), ka2.report()
    for f in FAMILIES:
        assert node.vip(NAMES[f])["master_priority"] == 200, node.vip(NAMES[f])
    assert complaints(ka2) == [], complaints(ka2)


def test_preempt_false_never_takes_over(lab: Lab, carpd: Starter,
                                        keepalived: Callable[..., Keepalived]) -> None:
    """keepalived (100) MASTER; carpd (150, preempt = false) stays BACKUP for 2 s (over
    five of its MDIs) and keepalived stays MASTER without a single change."""
    ka = keepalived(100)
    assert ka_both(ka, "MASTER", master_down(100, FAST) + 5), ka.report()
    node = carpd(150, preempt=False)
    assert both(node, "BACKUP", 10), why(node, ka)
    t0 = time.time()
    held = wait_until(lambda: any(s != "BACKUP" for s in node.states().values()), 2.0, 0.02)
    assert not held, why(node, ka)
    assert ka.events(after=t0) == [] and ka.state("VI4") == ka.state("VI6") == "MASTER"
    for f in FAMILIES:
        doc = node.vip(NAMES[f])
        assert doc["state"] == "BACKUP" and doc["master_priority"] == 100, doc


# --------------------------------------------------------------------------------- unicast

def uni4(priority: int, **keys: object) -> VrrpVip:
    return VrrpVip("u4", f"{UNI4}/24", vrid=52, priority=priority, advert_interval=FAST,
                   peers=("10.99.0.2",), **keys)  # type: ignore[arg-type]


def uni6(priority: int, **keys: object) -> VrrpVip:
    return VrrpVip("u6", f"{UNI6}/64", vrid=52, priority=priority, advert_interval=FAST,
                   peers=("fd00:99::2",), **keys)  # type: ignore[arg-type]


def test_unicast_ipv4_with_keepalived_and_a_rejected_stranger(
        lab: Lab, carpd: Starter, keepalived: Callable[..., Keepalived]) -> None:
    """VRID 52, carpd `peers = ["10.99.0.2"]` (150) and keepalived `unicast_src_ip` +
    `unicast_peer { 10.99.0.1 min_ttl 255 }` (100): no carpd advert to 224.0.0.18, its
    unicast adverts carry TTL 255 and keepalived (checking the source and the TTL) stays
    BACKUP without complaint. A stranger 10.99.0.9 sends priority-254 adverts to carpd: all
    dropped as unknown_peer, carpd stays MASTER. SIGKILL carpd: keepalived MASTER."""
    node = carpd(150, vips=[uni4(150)])
    assert both(node, "MASTER", 10, ("u4",)), why(node, None)
    ka = keepalived(instances=[KaInstance(
        "VU4", (f"{UNI4}/24",), vrid=52, priority=100, advert_int=FAST,
        unicast_src="10.99.0.2", unicast_peers=("10.99.0.1",), peer_min_ttl=255)])
    at_ka = start_capture(lab, "ka", 1.0)
    at_obs = start_capture(lab, "obs", 1.0)
    assert ka.wait_state("VU4", "BACKUP", 5), why(node, ka)
    got, multicast = frames(at_ka), frames(at_obs)
    mine = [f for f in got if f.mac == CARPD_MAC and f.vrid == 52]
    assert mine and all((f.dst, f.ttl) == ("10.99.0.2", 255) for f in mine), got
    assert mine[-1].vrrp == vrrp3_message("10.99.0.1", "10.99.0.2", 52, 150, 10, [UNI4])
    assert not [f for f in multicast if f.mac == CARPD_MAC and f.vrid == 52], multicast
    assert [e.state for e in ka.events()] == ["BACKUP"], why(node, ka)
    assert complaints(ka) == [], complaints(ka)
    print(f"\nunicast: {len(mine)} carpd adverts at keepalived, none multicast")

    before = drops(node).get("unknown_peer", 0)
    sent = inject(lab, "obs", src="10.99.0.9", dst="10.99.0.1", vrid=52, priority=254,
                  vips=[UNI4], interval_cs=10, count=20, gap=0.02)
    assert wait_until(lambda: drops(node).get("unknown_peer", 0) - before >= len(sent), 3), (
        drops(node), why(node, ka))
    print(f"stranger: {len(sent)} adverts, carpd's drops {drops(node)}")
    assert node.states()["u4"] == "MASTER"

    t_kill = node.kill()
    t = ka.wait_state("VU4", "MASTER", master_down(100, FAST) + MARGIN, t_kill)
    timings("unicast SIGKILL carpd -> keepalived MASTER", took=None if t is None else t - t_kill,
            mdi=master_down(100, FAST))
    assert t is not None, why(node, ka)


def test_unicast_ipv6_hop_limit_64_needs_accept_ttl(
        lab: Lab, carpd: Starter, keepalived: Callable[..., Keepalived]) -> None:
    """keepalived's IPv6 unicast adverts leave with the kernel's hop limit 64 unless
    `unicast_ttl 255`. carpd (50) with the default accept_ttl 255 drops them (bad_ttl) and
    goes MASTER beside keepalived's MASTER; with accept_ttl = 64 it stays BACKUP; with
    keepalived's `unicast_ttl 255` the default accepts them too."""
    def ka_uni(ttl: int | None) -> Keepalived:
        return keepalived(instances=[KaInstance(
            "VU6", (f"{UNI6}/64",), vrid=52, priority=100, advert_int=FAST,
            unicast_src="fd00:99::2", unicast_peers=("fd00:99::1",), unicast_ttl=ttl)])

    ka = ka_uni(None)
    assert ka.wait_state("VU6", "MASTER", master_down(100, FAST) + 5), ka.report()
    cap = start_capture(lab, "carpd", 1.0)
    strict = carpd(50, vips=[uni6(50)])
    assert both(strict, "MASTER", 10, ("u6",)), why(strict, ka)
    assert wait_until(lambda: drops(strict).get("bad_ttl", 0) >= 3, 3), drops(strict)
    hops = {f.ttl for f in frames(cap) if f.mac == KA_MAC and f.vrid == 52}
    print(f"\nkeepalived's IPv6 unicast hop limit {hops}; carpd accept_ttl 255: MASTER, "
          f"drops {drops(strict)}")
    assert hops == {64}, hops
    stop(strict)

    lenient = carpd(50, vips=[uni6(50, accept_ttl=64)])
    assert both(lenient, "BACKUP", 10, ("u6",)), why(lenient, ka)
    time.sleep(0.5)
    doc = lenient.vip("u6")
    assert doc["state"] == "BACKUP" and doc["master_priority"] == 100, doc
    assert not drops(lenient).get("bad_ttl"), drops(lenient)
    stop(lenient)
    ka.stop()

    ka255 = ka_uni(255)
    assert ka255.wait_state("VU6", "MASTER", master_down(100, FAST) + 5), ka255.report()
    default = carpd(50, vips=[uni6(50)])
    assert both(default, "BACKUP", 10, ("u6",)), why(default, ka255)
    time.sleep(0.5)
    assert default.vip("u6")["state"] == "BACKUP" and not drops(default).get("bad_ttl")
    print(f"keepalived unicast_ttl 255: carpd BACKUP, drops {drops(default)}")
