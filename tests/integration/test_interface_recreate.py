"""An interface deleted and re-created under the same name, between real daemons.

Hosts a (.101) and b (.102) run carpd with crossed priorities (web preferred on a, mail on
b). b's eth0 is deleted (`ip link del`: its veth peer, the switch port, goes with it) and a
new veth pair is made from the switch side, its host end moved into b as eth0 again: a new
device, under the same name, with the address added afterwards, as an operator or a
provisioning tool would. Before carpd followed the device, b's sockets stayed bound to the
deleted one: every advert failed with ENODEV, nothing was received, and both hosts held
both VIPs for good. Now b's VIPs go INIT on the deletion (releasing quietly: the kernel took
their addresses), and on the new eth0 b re-opens its sockets, the VIPs come back as BACKUP,
and the election settles again (b preempts mail back). Timings are printed (pytest -s);
bounds are generous, never tight wall-clock thresholds.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.carpd_host import Carpd, Vip, wait_for
from tests.integration.netns import Lab

WEB, MAIL = "172.16.90.31", "172.16.90.32"
MASTER_DOWN_B = 3 + 100 / 256
SETTLE_BOUND = 2 * MASTER_DOWN_B + 3.0  # master-down plus a few advert intervals, generous


def delete_eth0(lab: Lab, host: str) -> None:
    lab.run(host, "ip", "link", "del", "eth0")


def create_eth0(lab: Lab, host: str) -> None:
    """A new veth pair from the switch side, the host end moved into `host` as eth0 (what
    netns.Lab.add_host does), then the same MAC, address and rp_filter as before, then up."""
    h = lab.hosts[host]
    lab.run("switch", "ip", "link", "add", h.port, "type", "veth", "peer", "name", "eth0",
            "netns", h.ns)
    lab.run("switch", "ip", "link", "set", h.port, "master", "br0")
    lab.run("switch", "ip", "link", "set", h.port, "up")
    lab.run(host, "ip", "link", "set", "eth0", "address", h.mac)
    lab.sysctl(host, "net.ipv4.conf.eth0.rp_filter", "0")
    lab.run(host, "ip", "addr", "add", h.ip_cidr, "dev", "eth0")
    lab.run(host, "ip", "link", "set", "eth0", "up")


def counters(node: Carpd, name: str) -> dict[str, int]:
    doc = node.status()
    assert doc is not None, node.log_text()
    vip = next(v for v in doc["vips"] if v["name"] == name)  # type: ignore[attr-defined]
    return dict(vip["counters"])


def settled(a: Carpd, b: Carpd) -> bool:
    return (a.states() == {"web": "MASTER", "mail": "BACKUP"}
            and b.states() == {"web": "BACKUP", "mail": "MASTER"})


@pytest.fixture
def pair(lab: Lab, tmp_path: Path) -> Iterator[tuple[Carpd, Carpd]]:
    a = Carpd(lab, "a", tmp_path, [Vip("web", 1, WEB + "/24", 0),
                                   Vip("mail", 2, MAIL + "/24", 100)])
    b = Carpd(lab, "b", tmp_path, [Vip("web", 1, WEB + "/24", 100),
                                   Vip("mail", 2, MAIL + "/24", 0)])
    a.start()
    b.start()
    took = wait_for(lambda: settled(a, b), 10)
    assert took is not None, a.log_text() + b.log_text()
    print(f"\nsettled in {took:.2f} s")
    yield a, b
    for node in (a, b):
        if node.proc is not None and node.proc.poll() is None:
            node.signal(signal.SIGTERM)
            node.wait_exit()


def _recreate_and_settle(lab: Lab, a: Carpd, b: Carpd, gone_for: float) -> None:
    delete_eth0(lab, "b")
    took = wait_for(lambda: lab.holds("a", MAIL), MASTER_DOWN_B + 1 + 1.0)
    print(f"eth0 deleted on b: a took mail after {took} s")
    assert took is not None, a.log_text()
    assert wait_for(lambda: b.states() == {"web": "INIT", "mail": "INIT"}, 2) is not None, \
        b.log_text()
    time.sleep(gone_for)
    assert b.states() == {"web": "INIT", "mail": "INIT"}
    b_web = counters(b, "web")["adverts_received"]
    a_mail = counters(a, "mail")["adverts_received"]

    t0 = time.monotonic()
    create_eth0(lab, "b")
    created = time.monotonic() - t0
    backup = b.wait_state("web", "BACKUP", SETTLE_BOUND)
    print(f"eth0 re-created on b (took {created:.2f} s): b web BACKUP after {backup} s")
    again = wait_for(lambda: settled(a, b) and lab.holds("b", MAIL)
                     and not lab.holds("a", MAIL), SETTLE_BOUND)
    print(f"  one MASTER and one BACKUP per VIP again after {again} s "
          f"(+{created:.2f} s to build the interface; master-down {MASTER_DOWN_B:.2f} s)")
    assert again is not None, a.log_text() + b.log_text()
    assert not lab.holds("b", WEB) and lab.holds("a", WEB)

    flowing = wait_for(lambda: counters(b, "web")["adverts_received"] >= b_web + 2
                       and counters(a, "mail")["adverts_received"] >= a_mail + 2, 4)
    print(f"  adverts flowing both ways after {flowing} s more")
    assert flowing is not None, a.log_text() + b.log_text()
    assert lab.ping("c", MAIL) and lab.ping("c", WEB)


def test_interface_deleted_and_recreated_heals(lab: Lab, pair: tuple[Carpd, Carpd]) -> None:
    a, b = pair
    _recreate_and_settle(lab, a, b, gone_for=2.0)  # gone for a while
    _recreate_and_settle(lab, a, b, gone_for=0.0)  # back as soon as a took over
    log = b.log_text()
    assert "interface eth0 was deleted" in log and "re-opened the sockets on eth0" in log
    assert "does not exist" not in log, log  # the releases on the gone interface are quiet
    assert "No such device" not in log, log  # no advert ever went to the dead device
    assert a.states() == {"web": "MASTER", "mail": "BACKUP"}
    assert lab.neighbour("c", MAIL) in (lab.hosts["b"].mac, None)
