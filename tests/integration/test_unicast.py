"""Unicast peers between real carpd daemons: no multicast needed, strangers and routers.

1. `uni_lab` (module): a, b, client c and a stranger d, dual-stack. The switch drops EVERY
   multicast or broadcast protocol-112 frame (IPv4 and IPv6) with nftables in the bridge
   family, from before the daemons start (a cold start, KA#2643). A dual-stack VIP with
   `peers` in both families still elects, fails over on SIGKILL and is preempted back, and
   c's neighbour entries follow. d knows the password but is nobody's peer: its unicast
   adverts (better rank than a's) are dropped as `unknown_peer` and a stays MASTER.
2. `routed_lab` (module): a and b in two subnets behind a router namespace. Adverts arrive
   with TTL 254, so they count with `accept_ttl = 254` (one MASTER, one BACKUP, failover
   on SIGKILL) and are dropped as `bad_ttl` with the default 255 (both MASTER): why the
   option exists.
Times are printed (pytest -s) and checked only against protocol bounds plus a margin.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.carpd_host import Carpd, Vip, drops, stop, vip_status, wait_for
from tests.integration.conftest import IP6, ROUTED
from tests.integration.netns import Lab

UNI4, UNI6 = "172.16.90.41", "fd00:90::41"
SKEW = {"a": 10, "b": 40}
MASTER_DOWN_B = 3 + SKEW["b"] / 256
MARGIN = 1.5
TABLE = "nomcast"
NO_MULTICAST_CARP = f"""
table bridge {TABLE} {{
  chain l2 {{
    type filter hook forward priority 0; policy accept;
    ether daddr & 01:00:00:00:00:00 == 01:00:00:00:00:00 ip protocol 112 counter drop \\
        comment "mcast4"
    ether daddr & 01:00:00:00:00:00 == 01:00:00:00:00:00 ip6 nexthdr 112 counter drop \\
        comment "mcast6"
  }}
}}
"""


def _ip(host: str) -> tuple[str, str]:
    return {"a": ("172.16.90.101", IP6["a"].split("/")[0]),
            "b": ("172.16.90.102", IP6["b"].split("/")[0])}[host]


def _uni_vip(host: str) -> Vip:
    other = "b" if host == "a" else "a"
    return Vip("uni", 41, addresses=(f"{UNI4}/24", f"{UNI6}/64"), advskew=SKEW[host],
               peers=_ip(other))


@pytest.fixture(scope="module")
def uni_pair(uni_lab: Lab, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[dict[str, Carpd]]:
    lab = uni_lab
    lab.nft("switch", NO_MULTICAST_CARP)
    assert not lab.multicast_crosses("a", "b", wait=1.0), "IPv4 multicast CARP crosses"
    assert not lab.multicast6_crosses("a", "b", wait=1.0), "IPv6 multicast CARP crosses"
    counted = lab.nft_counters("switch", "bridge", TABLE)
    assert counted["mcast4"] > 0 and counted["mcast6"] > 0, counted
    workdir = tmp_path_factory.mktemp("uni")
    nodes = {h: Carpd(lab, h, workdir, [_uni_vip(h)]) for h in ("a", "b")}
    for node in nodes.values():
        node.start()
    yield nodes
    for node in nodes.values():
        stop(node)


def _settled(nodes: dict[str, Carpd]) -> bool:
    return (nodes["a"].states().get("uni") == "MASTER"
            and nodes["b"].states().get("uni") == "BACKUP")


@pytest.fixture
def pair(uni_lab: Lab, uni_pair: dict[str, Carpd]) -> dict[str, Carpd]:
    """Both daemons running, a MASTER and b BACKUP, c's neighbour entries on a."""
    for node in uni_pair.values():
        if node.proc is None or node.proc.poll() is not None:
            node.start()
    settled = wait_for(lambda: _settled(uni_pair), 3 * MASTER_DOWN_B + 5, interval=0.05)
    assert settled is not None, (uni_pair["a"].log_text()[-2000:],
                                 uni_pair["b"].log_text()[-2000:])
    for ip in (UNI4, UNI6):
        assert wait_for(lambda ip=ip: uni_lab.holds("a", ip), 3), ip
        assert uni_lab.ping("c", ip, count=1, wait=2.0), ip
        assert uni_lab.neighbour("c", ip) == uni_lab.hosts["a"].mac
    return uni_pair


def _neighbours_follow(lab: Lab, to: str, t_take: float, what: str) -> None:
    mac, seen = lab.hosts[to].mac, {}

    def follow() -> bool:
        for ip in (UNI4, UNI6):
            if ip not in seen and lab.neighbour("c", ip) == mac:
                seen[ip] = time.monotonic() - t_take
        return len(seen) == 2

    wait_for(follow, 3.0, interval=0.005)
    print(f"\n{what}: c's neighbour entries followed {to} after "
          + ", ".join(f"{ip} {s:.2f} s" for ip, s in seen.items()))
    assert len(seen) == 2, (what, {ip: lab.neighbour("c", ip) for ip in (UNI4, UNI6)})


def test_unicast_pair_fails_over_and_back_with_every_multicast_carp_frame_dropped(
        uni_lab: Lab, pair: dict[str, Carpd]) -> None:
    lab, a, b = uni_lab, pair["a"], pair["b"]
    doc_b = vip_status(b, "uni")
    assert sorted(doc_b["peers"]) == sorted(_ip("a")), doc_b  # type: ignore[arg-type]
    counters = doc_b["counters"]
    assert counters["adverts_received"] > 0, counters  # type: ignore[index]
    assert not drops(b).get("multicast_in_unicast_mode"), drops(b)
    before = lab.nft_counters("switch", "bridge", TABLE)

    t0 = time.monotonic()
    a.signal(signal.SIGKILL)
    a.wait_exit()
    took = wait_for(lambda: lab.holds("b", UNI4) and lab.holds("b", UNI6),
                    MASTER_DOWN_B + MARGIN, interval=0.005)
    t_take = time.monotonic()
    print(f"\nunicast SIGKILL a: b took uni after {took} s (bound {MASTER_DOWN_B:.2f} s)")
    assert took is not None, b.log_text()[-2000:]
    assert time.monotonic() - t0 >= MASTER_DOWN_B - 1.2
    assert vip_status(b, "uni").get("reason") in {"master_down_timer",
                                                  "master_down_timer_inet6"}
    _neighbours_follow(lab, "b", t_take, "unicast SIGKILL a")

    t1 = time.monotonic()
    a.start()
    back = wait_for(lambda: lab.holds("a", UNI4) and lab.holds("a", UNI6)
                    and not lab.holds("b", UNI4) and not lab.holds("b", UNI6), 6,
                    interval=0.005)
    t_back = time.monotonic()
    print(f"unicast restart a: a preempted uni back after {back} s (from the restart "
          f"{t_back - t1:.2f} s)")
    assert back is not None, a.log_text()[-2000:]
    _neighbours_follow(lab, "a", t_back, "unicast preempt back")
    assert wait_for(lambda: _settled(pair), 3) is not None
    assert vip_status(a, "uni").get("reason") == "preempted_slower_master"
    # nothing multicast went out: the filter saw no CARP adverts of the daemons
    after = lab.nft_counters("switch", "bridge", TABLE)
    assert after == before, (before, after)
    for host in lab.hosts:
        assert not lab.dad_problems(host), lab.dad_problems(host)


STRANGER = r"""
import ipaddress, json, socket, time
from carpd.core.carp import auth, wire
N, VHID, PW = 30, 41, b"demo-pass-19b"
vips = [ipaddress.ip_address(x) for x in ("172.16.90.41", "fd00:90::41")]
def carp(counter):
    h = wire.CarpHeader(version=2, vhid=VHID, advbase=1, advskew=0, authlen=7, counter=counter,
                        digest=auth.compute_digest(PW, VHID, vips, counter))
    return wire.encode_carp_header(h)
s4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
s4.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
s6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 112)
s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
for i in range(N):
    s4.sendto(carp(1000 + i), ("172.16.90.101", 0))
    s6.sendto(carp(2000 + i), ("fd00:90::101", 0))
    time.sleep(0.02)
print(json.dumps(N))
"""


def test_stranger_with_the_password_is_dropped_as_unknown_peer(uni_lab: Lab,
                                                               pair: dict[str, Carpd]) -> None:
    """d sends valid, better-ranked (advskew 0) unicast adverts to a in both families; it is
    not among a's peers, so every one is dropped before the HMAC and a stays MASTER."""
    a = pair["a"]
    before = drops(a).get("unknown_peer", 0)
    mark = len(a.log_text())
    sent = uni_lab.python("d", STRANGER)
    assert isinstance(sent, int)
    got = wait_for(lambda: drops(a).get("unknown_peer", 0) - before >= 2 * sent, 5)
    counts = drops(a)
    print(f"\nstranger d: {2 * sent} unicast adverts, a's drops {counts}")
    assert got is not None, counts
    assert a.states() == {"uni": "MASTER"}
    assert vip_status(a, "uni")["counters"]["auth_failures"] == 0  # type: ignore[index]
    log = a.log_text()[mark:]
    assert log.count(": unknown_peer (") <= 1, log
    assert "unknown_peer" in a.log_text() and "172.16.90.103" in a.log_text() + log


# -- behind a router ----------------------------------------------------------------------

DR_IP = "10.90.99.1"
DR = f"{DR_IP}/32"  # in neither subnet: moving it is a master_units job in real life


def _routed(lab: Lab, workdir: Path, accept_ttl: int | None) -> dict[str, Carpd]:
    peer = {"a": ROUTED["b"].split("/")[0], "b": ROUTED["a"].split("/")[0]}
    return {h: Carpd(lab, h, workdir, [Vip("dr", 51, DR, SKEW[h], peers=(peer[h],),
                                           peer_ttl=255, accept_ttl=accept_ttl)])
            for h in ("a", "b")}


@pytest.fixture
def routed_nodes(routed_lab: Lab, tmp_path: Path) -> Iterator[list[dict[str, Carpd]]]:
    started: list[dict[str, Carpd]] = []
    yield started
    for nodes in started:
        for node in nodes.values():
            stop(node)


def test_peers_behind_a_router_elect_with_accept_ttl_254_and_not_with_255(
        routed_lab: Lab, routed_nodes: list[dict[str, Carpd]], tmp_path: Path) -> None:
    lab = routed_lab
    nodes = _routed(lab, tmp_path / "ttl254", 254)
    routed_nodes.append(nodes)
    for node in nodes.values():
        node.start()
    settled = wait_for(lambda: nodes["a"].states().get("dr") == "MASTER"
                       and nodes["b"].states().get("dr") == "BACKUP", 3 * MASTER_DOWN_B + 3)
    assert settled is not None, (nodes["a"].log_text()[-2000:], nodes["b"].log_text()[-2000:])
    assert not drops(nodes["b"]).get("bad_ttl"), drops(nodes["b"])
    assert vip_status(nodes["b"], "dr")["counters"]["adverts_received"] > 0  # type: ignore[index]
    t0 = time.monotonic()
    nodes["a"].signal(signal.SIGKILL)
    nodes["a"].wait_exit()
    took = wait_for(lambda: nodes["b"].states().get("dr") == "MASTER", MASTER_DOWN_B + MARGIN)
    print(f"\nbehind a router, accept_ttl 254: settled in {settled:.2f} s; SIGKILL a: b MASTER "
          f"after {took} s (bound {MASTER_DOWN_B:.2f} s)")
    assert took is not None and time.monotonic() - t0 >= MASTER_DOWN_B - 1.2
    assert lab.holds("b", DR_IP)
    stop(nodes["b"])

    strict = _routed(lab, tmp_path / "ttl255", None)  # the default: 255, on-link only
    routed_nodes.append(strict)
    for node in strict.values():
        node.start()
    both = wait_for(lambda: all(n.states().get("dr") == "MASTER" for n in strict.values())
                    and all(drops(n).get("bad_ttl", 0) >= 2 for n in strict.values()),
                    3 * MASTER_DOWN_B + 3)
    counts = {h: drops(n) for h, n in strict.items()}
    print(f"behind a router, accept_ttl 255: both MASTER after {both} s; drops {counts}")
    assert both is not None, counts
    for node in strict.values():
        assert vip_status(node, "dr")["counters"]["adverts_received"] == 0  # type: ignore[index]
        assert "bad_ttl" in node.log_text() and "TTL 254" in node.log_text()
