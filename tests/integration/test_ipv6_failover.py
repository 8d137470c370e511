"""IPv6 VIPs between real carpd daemons: an IPv6-only and a dual-stack VIP fail over and back.

Lab (`lab6`, one for the module): a (172.16.90.101, fd00:90::101), b (.102, ::102) and the
client c (.50, ::50), each with its EUI-64 link-local (DAD finished before any daemon starts).
Crossed priorities: `web6` (fd00:90::31/64) prefers a, `dual` (172.16.90.32/24 +
fd00:90::32/64) prefers b. Each scenario fails the node that is master of one VIP (a: web6,
b: dual) in one way (SIGKILL, SIGTERM, cable pull, switch port down), checks that the other
node takes over, that c's neighbour entries (`ip -6 neigh`, and ARP for dual's IPv4 address)
follow to the new master's MAC, then restores the node and checks that the VIP comes back
(preemption) and c's entries follow again. After each: no address on any host is tentative
or dadfailed. Times are printed (pytest -s) and checked only against protocol bounds plus a
generous margin. The last test filters IPv6 multicast CARP on the bridge only and shows the
per-family master-down timer (design 1.6): the dual-stack backup promotes with
master_down_timer_inet6 although IPv4 adverts still arrive.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.carpd_host import Carpd, Vip, stop, vip_status, wait_for
from tests.integration.netns import Lab

WEB6 = "fd00:90::31"
DUAL4, DUAL6 = "172.16.90.32", "fd00:90::32"
SKEW = 20
MASTER_DOWN = 3 + SKEW / 256  # the backup's master-down interval (advbase 1, deadratio 3)
MARGIN = 1.5  # for one advert interval of phase and a loaded 2-core machine
PREEMPT_BOUND = 3.0 + 1.0 + MARGIN  # start-up or re-DAD, one advert interval
NA_BOUND = 3.0  # the first NA goes out at takeover; c must follow well within the burst

VIPS = {  # name: (the node that prefers it, its addresses)
    "web6": ("a", (f"{WEB6}/64",)),
    "dual": ("b", (f"{DUAL4}/24", f"{DUAL6}/64")),
}
OTHER = {"a": "b", "b": "a"}
FILTER_TABLE = "v6filter"
FIGURES: list[str] = []


def _vips_for(host: str) -> list[Vip]:
    return [Vip(name, vhid, addresses=addrs, advskew=0 if home == host else SKEW)
            for vhid, (name, (home, addrs)) in enumerate(VIPS.items(), start=31)]


def _bare(addresses: tuple[str, ...]) -> list[str]:
    return [a.split("/")[0] for a in addresses]


@pytest.fixture(scope="module")
def nodes(lab6: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Carpd]]:
    workdir = tmp_path_factory.mktemp("v6")
    pair = {h: Carpd(lab6, h, workdir, _vips_for(h)) for h in ("a", "b")}
    for node in pair.values():
        node.start()
    yield pair
    for node in pair.values():
        stop(node)
    print("\n" + "\n".join(FIGURES))


def _baseline(lab: Lab, nodes: dict[str, Carpd]) -> bool:
    for name, (home, _) in VIPS.items():
        if nodes[home].states().get(name) != "MASTER":
            return False
        if nodes[OTHER[home]].states().get(name) != "BACKUP":
            return False
    return True


@pytest.fixture
def pair(lab6: Lab, nodes: dict[str, Carpd]) -> Iterator[dict[str, Carpd]]:
    """Before each scenario: both daemons up, cables in, ports forwarding, no filter, each
    VIP on its preferred node, c's neighbour entries created by pinging every address."""
    lab = lab6
    for host in ("a", "b"):
        lab.link(host, True)
        lab.bridge_port(host, True)
    lab.run("switch", "nft", "delete", "table", "bridge", FILTER_TABLE, check=False)
    for node in nodes.values():
        if node.proc is None or node.proc.poll() is not None:
            node.start()
    lab.wait_ipv6_ready()
    if wait_for(lambda: _baseline(lab, nodes), MASTER_DOWN + MARGIN, interval=0.05) is None:
        # a VIP stuck on its other node (after a failed scenario): restart that node; its
        # bow-out hands the VIP to the preferred node
        strays = {OTHER[home] for name, (home, _) in VIPS.items()
                  if nodes[OTHER[home]].states().get(name) == "MASTER"}
        for host in sorted(strays):
            stop(nodes[host])
            nodes[host].start()
    settled = wait_for(lambda: _baseline(lab, nodes), 3 * MASTER_DOWN + 5, interval=0.05)
    assert settled is not None, (nodes["a"].states(), nodes["b"].states(),
                                 nodes["a"].log_text()[-3000:], nodes["b"].log_text()[-3000:])
    for name, (home, addrs) in VIPS.items():
        for ip in _bare(addrs):
            assert wait_for(lambda ip=ip, home=home: lab.holds(home, ip), 3), (name, ip)
            # a fresh (REACHABLE) entry: an old STALE one would be probed during the next
            # scenario, and Linux ignores NAs for an entry whose probes FAILED
            lab.run("c", "ip", "neigh", "flush", "to", ip, "dev", "eth0", check=False)
            assert lab.ping("c", ip, count=1, wait=2.0), f"c cannot ping {ip}"
            assert lab.neighbour("c", ip) == lab.hosts[home].mac, (ip, lab.neighbour("c", ip))
    yield nodes
    _no_dad_trouble(lab)


def _no_dad_trouble(lab: Lab) -> None:
    """No address on any host is dadfailed, and none stays tentative (the link-local of a
    host whose cable was pulled redoes DAD once: give it its bounded time)."""
    for host in lab.hosts:
        assert not any("dadfailed" in p for p in lab.dad_problems(host)), lab.dad_problems(host)
    lab.wait_ipv6_ready(timeout=10)


def _vip_flags_ok(lab: Lab, host: str, addrs: tuple[str, ...]) -> None:
    """The master's IPv6 VIPs were added without DAD: usable at once, never dadfailed."""
    flags = lab.addresses6(host)
    for cidr in addrs:
        if ":" in cidr:
            assert cidr in flags, (host, cidr, flags)
            assert "nodad" in flags[cidr], (host, cidr, flags[cidr])
            assert not flags[cidr] & {"tentative", "dadfailed"}, (host, cidr, flags[cidr])


def _follow(lab: Lab, addrs: tuple[str, ...], to: str, t0: float, bound: float,
            what: str, na_bound: float = NA_BOUND) -> tuple[float, dict[str, float]]:
    """Wait until `to` holds every address of the VIP (the takeover) and c's neighbour entry
    of every address shows `to`'s MAC. Returns (takeover s after t0, {address: neighbour
    update s after the takeover}); prints both."""
    ips, mac = _bare(addrs), lab.hosts[to].mac
    took = wait_for(lambda: all(lab.holds(to, ip) for ip in ips), bound, interval=0.005)
    assert took is not None, f"{what}: {to} did not take {ips} within {bound:.1f} s"
    t_take = time.monotonic()
    take_s = t_take - t0
    neigh: dict[str, float] = {}

    def updated() -> bool:
        for ip in ips:
            if ip not in neigh and lab.neighbour("c", ip) == mac:
                neigh[ip] = time.monotonic() - t_take
        return len(neigh) == len(ips)

    wait_for(updated, na_bound, interval=0.005)
    line = (f"{what}: {to} holds {'+'.join(ips)} {take_s:.2f} s after the event; c's neighbour "
            "entry followed after " + ", ".join(f"{ip} {neigh[ip]:.2f} s" if ip in neigh
                                                else f"{ip} NOT" for ip in ips))
    print("\n" + line)
    FIGURES.append(line)
    assert len(neigh) == len(ips), (what, mac, lab.run("c", "ip", "neigh", "show").stdout)
    _vip_flags_ok(lab, to, addrs)
    return take_s, neigh




def _victims() -> list[object]:
    """(victim, VIP) per VIP's home node."""
    return [pytest.param(home, name, id=f"{home}-{name}") for name, (home, _) in VIPS.items()]


def _expect_reason(node: Carpd, name: str, reasons: set[str]) -> None:
    got = vip_status(node, name).get("reason")
    assert got in reasons, (node.host, name, got, reasons)


def _timer_reason(name: str) -> set[str]:
    """An IPv6-only VIP has only the IPv6 timer; a dual-stack one loses both adverts at once,
    so either family's timer may expire first."""
    return ({"master_down_timer_inet6"} if name == "web6"
            else {"master_down_timer", "master_down_timer_inet6"})


def _preempt_back(lab: Lab, nodes: dict[str, Carpd], victim: str, name: str, t0: float,
                  what: str) -> None:
    addrs = VIPS[name][1]
    assert wait_for(lambda: nodes[victim].status() is not None, 10), "daemon not answering"
    held = wait_for(lambda: vip_status(nodes[victim], name).get("hold_down") is False, 2.5)
    assert held is not None, ("boot hold-down not released",
                              vip_status(nodes[victim], name).get("waiting_for"))
    # start-up (or carrier, plus link-local DAD) and the first advert heard from the slower
    # master, which a preferred backup preempts at once
    _follow(lab, addrs, victim, t0, PREEMPT_BOUND, f"{what}, preempt back")
    other = OTHER[victim]
    gone = wait_for(lambda: not any(lab.holds(other, ip) for ip in _bare(addrs)), 3)
    assert gone is not None, f"{other} kept {name} after the preferred node took it back"
    assert wait_for(lambda: _baseline(lab, nodes), 3) is not None, (
        nodes["a"].states(), nodes["b"].states())
    _expect_reason(nodes[victim], name, {"preempted_slower_master"})


@pytest.mark.parametrize(("victim", "name"), _victims())
def test_sigkill_master_then_restart_preempts_back(lab6: Lab, pair: dict[str, Carpd],
                                                   victim: str, name: str) -> None:
    lab, nodes, addrs = lab6, pair, VIPS[name][1]
    other = OTHER[victim]
    t0 = time.monotonic()
    nodes[victim].signal(signal.SIGKILL)
    nodes[victim].wait_exit()
    take, _ = _follow(lab, addrs, other, t0, MASTER_DOWN + MARGIN, f"SIGKILL {victim}")
    assert take >= MASTER_DOWN - 1.0 - 0.2, "took over before the master could time out"
    _expect_reason(nodes[other], name, _timer_reason(name))
    assert all(lab.holds(victim, ip) for ip in _bare(addrs)), "a killed daemon leaves its VIP"
    t1 = time.monotonic()
    nodes[victim].start()
    assert wait_for(lambda: not any(lab.holds(victim, ip) for ip in _bare(addrs)), 5), (
        "the restarted daemon did not remove its stale VIPs")
    _preempt_back(lab, nodes, victim, name, t1, f"SIGKILL {victim}, restart")


@pytest.mark.parametrize(("victim", "name"), _victims())
def test_sigterm_bows_out_in_every_family_and_backup_takes_over_at_once(
        lab6: Lab, pair: dict[str, Carpd], victim: str, name: str) -> None:
    lab, nodes, addrs = lab6, pair, VIPS[name][1]
    other = OTHER[victim]
    t0 = time.monotonic()
    nodes[victim].signal(signal.SIGTERM)
    take, _ = _follow(lab, addrs, other, t0, MASTER_DOWN, f"SIGTERM {victim}")
    assert take < 1.0 + MARGIN, "a bow-out must beat the master-down timer by far"
    assert nodes[victim].wait_exit() == 0
    assert not any(lab.holds(victim, ip) for ip in _bare(addrs))
    _expect_reason(nodes[other], name, {"peer_bowed_out"})
    t1 = time.monotonic()
    nodes[victim].start()
    _preempt_back(lab, nodes, victim, name, t1, f"SIGTERM {victim}, restart")


@pytest.mark.parametrize(("victim", "name"), _victims())
def test_cable_pull_then_plug_in_preempts_back(lab6: Lab, pair: dict[str, Carpd],
                                               victim: str, name: str) -> None:
    lab, nodes, addrs = lab6, pair, VIPS[name][1]
    other = OTHER[victim]
    t0 = time.monotonic()
    lab.link(victim, False)
    _follow(lab, addrs, other, t0, MASTER_DOWN + MARGIN, f"cable pull {victim}")
    _expect_reason(nodes[other], name, _timer_reason(name))
    assert wait_for(lambda: set(nodes[victim].states().values()) == {"INIT"}, 3), (
        nodes[victim].states())
    assert not any(lab.holds(victim, ip) for ip in _bare(addrs))
    t1 = time.monotonic()
    lab.link(victim, True)
    _preempt_back(lab, nodes, victim, name, t1, f"cable pull {victim}, plug in")


@pytest.mark.parametrize(("victim", "name"), _victims())
def test_switch_port_down_split_brain_then_port_up_resolves(
        lab6: Lab, pair: dict[str, Carpd], victim: str, name: str) -> None:
    lab, nodes, addrs = lab6, pair, VIPS[name][1]
    other = OTHER[victim]
    t0 = time.monotonic()
    lab.bridge_port(victim, False)
    _follow(lab, addrs, other, t0, MASTER_DOWN + MARGIN, f"switch port down {victim}")
    _expect_reason(nodes[other], name, _timer_reason(name))
    # the victim keeps its carrier and hears nobody: it stays MASTER (a split brain)
    assert nodes[victim].states().get(name) == "MASTER"
    t1 = time.monotonic()
    lab.bridge_port(victim, True)
    # both masters meet; the slower steps down, the preferred re-announces (NA/GARP once)
    # (the victim held the VIP all along: its re-announcement follows the first advert it
    # hears from the slower master, up to one interval later)
    _follow(lab, addrs, victim, t1, 1 + MARGIN, f"switch port up {victim}",
            na_bound=1 + NA_BOUND)
    assert wait_for(lambda: _baseline(lab, nodes), 3) is not None, (
        nodes["a"].states(), nodes["b"].states())
    assert wait_for(lambda: not any(lab.holds(other, ip) for ip in _bare(addrs)), 3)
    _expect_reason(nodes[other], name, {"preferred_master_heard"})


def test_ipv6_multicast_filtered_dual_stack_backup_promotes_on_the_inet6_timer(
        lab6: Lab, pair: dict[str, Carpd]) -> None:
    """Only IPv6 CARP to ff02::12 is dropped on the bridge; IPv4 adverts still cross. The
    dual-stack backup (a) takes over on its IPv6 master-down timer alone (design 1.6)."""
    lab, nodes = lab6, pair
    a = nodes["a"]
    mark = len(a.log_text())
    lab.nft("switch", f"""
table bridge {FILTER_TABLE} {{
  chain l2 {{
    type filter hook forward priority 0; policy accept;
    ip6 daddr ff02::12 ip6 nexthdr 112 counter drop comment "carp6"
  }}
}}
""")
    line = "vip dual: BACKUP -> MASTER (master_down_timer_inet6)"
    took = wait_for(lambda: line in a.log_text()[mark:], MASTER_DOWN + MARGIN, interval=0.02)
    dropped = lab.nft_counters("switch", "bridge", FILTER_TABLE)["carp6"]
    FIGURES.append(f"IPv6 multicast filtered: a promoted dual on the IPv6 timer after "
                   f"{took} s; the bridge dropped {dropped} IPv6 adverts")
    print("\n" + FIGURES[-1])
    assert took is not None, a.log_text()[mark:]
    assert took >= MASTER_DOWN - 1.2
    assert dropped > 0
    lab.run("switch", "nft", "delete", "table", "bridge", FILTER_TABLE)


def test_boot_hold_down_of_an_ipv6_only_vip_is_released(fresh_lab6: Lab, tmp_path: Path
                                                        ) -> None:
    """One daemon, one IPv6-only VIP (its link-local present and past DAD) beside a
    dual-stack one: both hold-downs are released (the IPv6-only one used to wait for an IPv4
    source it does not have, for ever)."""
    a = Carpd(fresh_lab6, "a", tmp_path, _vips_for("a"))
    a.start()
    try:
        assert a.wait_state("web6", "MASTER", MASTER_DOWN + MARGIN) is not None, a.log_text()
        assert wait_for(lambda: vip_status(a, "dual").get("hold_down") is False, 3)
        released = wait_for(lambda: vip_status(a, "web6").get("hold_down") is False, 3)
        assert released is not None, (vip_status(a, "web6").get("waiting_for"),
                                      fresh_lab6.addresses6("a"))
    finally:
        stop(a)
