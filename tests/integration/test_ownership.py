"""carpd never removes an address it did not add, on a real kernel (issue 13, items 1 and 2).

One lab host `a` (eth0 172.16.90.101/24) running real daemons:
- the issue's reproduction: a VIP equal to the host's own primary address: `carpd --check`
  says so (exit 2), the daemon refuses to start (exit 6) and the address stays, also through
  `carpd --cleanup`;
- an operator's copy of a VIP address (no carpd mark) that appears while carpd is MASTER makes
  the VIP FAULT; the reconcile pass, the release, the exit and `--cleanup` leave it in place;
- carpd's own copies (IFA_PROTO 0xCA, both families) that a SIGKILLed daemon left are still
  marked in the kernel and are removed by the next start, and by `--cleanup`, which leaves an
  operator's IPv4 and IPv6 copies alone.
Every wait is bounded; only processes started here are stopped, by PID.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.carpd_host import Carpd, Vip, wait_for
from tests.integration.netns import Lab

WEB4, WEB6 = "172.16.90.31/24", "2001:db8:90::31/64"
PRIMARY = "172.16.90.101/24"

LISTING = r'''
import asyncio, json
from carpd.io.netlink import NetlinkAddresses
async def main():
    nl = NetlinkAddresses()
    try:
        states = await nl.address_states("eth0")
    finally:
        await nl.close()
    print(json.dumps([[str(s.address), s.proto, s.label] for s in states
                      if not s.address.ip.is_link_local]))
asyncio.run(main())
'''

ADD_MARKED = r'''
import asyncio, ipaddress, json
from carpd.io.netlink import NetlinkAddresses
async def main():
    nl = NetlinkAddresses()
    try:
        await nl.add("eth0", (ipaddress.ip_interface({address!r}),), {label!r})
    finally:
        await nl.close()
    print(json.dumps(True))
asyncio.run(main())
'''


class DualCarpd(Carpd):
    """Writes `addresses = [...]` for VIPs whose address is "IPv4,IPv6"."""

    def write_config(self) -> None:
        super().write_config()
        text = self.config.read_text()
        for v in self.vips:
            if "," in v.address:
                listed = ", ".join(f'"{a}"' for a in v.address.split(","))
                text = text.replace(f'address = "{v.address}"', f"addresses = [{listed}]")
        self.config.write_text(text)


@pytest.fixture
def host() -> Iterator[Lab]:
    """A lab with host `a` only: nothing here crosses the bridge."""
    with Lab() as lab:
        lab.add_host("a", PRIMARY, 0x01)
        yield lab


def listing(lab: Lab) -> dict[str, int]:
    """eth0's global addresses -> their IFA_PROTO, as the kernel reports them."""
    entries = lab.python("a", LISTING)
    assert isinstance(entries, list)
    return {address: proto for address, proto, _label in entries}


def carpd_cli(lab: Lab, *argv: str) -> subprocess.CompletedProcess[str]:
    return lab.run("a", sys.executable, "-m", "carpd", *argv, check=False, timeout=30)


def stop(node: Carpd) -> int:
    assert node.proc is not None
    if node.proc.poll() is None:
        node.signal(signal.SIGTERM)
    return node.wait_exit()


def test_a_vip_equal_to_the_hosts_primary_address_is_refused_and_the_address_stays(
        host: Lab, tmp_path: Path) -> None:
    node = Carpd(host, "a", tmp_path, [Vip("web", 1, PRIMARY, 0)])
    node.write_config()
    check = carpd_cli(host, "--check", "--config", str(node.config))
    assert check.returncode == 2, check.stderr
    words = ("172.16.90.101/24 is already on eth0 and was not added by carpd (it has no carpd "
             "mark); carpd never takes or removes an address it did not add: use another VIP "
             "address or remove 172.16.90.101/24 from eth0")
    assert f"vip.web.address: {words}" in check.stderr and check.stdout == ""

    node.start()
    assert node.wait_exit(timeout=20) == 6, node.log_text()
    assert f"carpd cannot start: vip web: {words}" in node.log_text()
    assert "removed stale VIP" not in node.log_text()
    assert listing(host) == {PRIMARY: 0}  # still there, unmarked

    cleanup = carpd_cli(host, "--cleanup", "--config", str(node.config))
    assert cleanup.returncode == 0, cleanup.stderr
    assert "left in place" in cleanup.stderr
    assert listing(host) == {PRIMARY: 0}
    assert host.run("a", "ping", "-c", "1", "-W", "1", "172.16.90.101").returncode == 0


def test_an_operators_copy_while_master_is_never_removed(host: Lab, tmp_path: Path) -> None:
    node = Carpd(host, "a", tmp_path, [Vip("web", 1, WEB4, 0)])
    node.start()
    try:
        assert node.wait_state("web", "MASTER", 10) is not None, node.log_text()
        assert listing(host) == {PRIMARY: 0, WEB4: 0xCA}
        host.run("a", "ip", "addr", "add", "172.16.90.31/32", "dev", "eth0")  # the operator
        assert node.wait_state("web", "FAULT", 5) is not None, node.log_text()
        assert wait_for(lambda: WEB4 not in listing(host), 5) is not None
        assert listing(host) == {PRIMARY: 0, "172.16.90.31/32": 0}
        assert "the VIP is FAULT (not served by this host) until it is gone" in node.log_text()
        doc = node.status()
        assert doc is not None
        assert doc["vips"][0]["reason"] == "fault_foreign_address"  # type: ignore[index]
    finally:
        assert stop(node) == 0, node.log_text()
    assert listing(host) == {PRIMARY: 0, "172.16.90.31/32": 0}  # the exit left it too
    cleanup = carpd_cli(host, "--cleanup", "--config", str(node.config))
    assert cleanup.returncode == 0 and "172.16.90.31/32" in cleanup.stderr
    assert listing(host) == {PRIMARY: 0, "172.16.90.31/32": 0}


def test_carpds_own_copies_left_by_a_crash_are_marked_and_removed_at_start(
        host: Lab, tmp_path: Path) -> None:
    node = DualCarpd(host, "a", tmp_path, [Vip("web", 1, f"{WEB4},{WEB6}", 0)])
    node.start()
    assert node.wait_state("web", "MASTER", 10) is not None, node.log_text()
    assert wait_for(lambda: len(listing(host)) == 3, 5) is not None  # the lane added both
    node.signal(signal.SIGKILL)
    node.wait_exit()
    assert listing(host) == {PRIMARY: 0, WEB4: 0xCA, WEB6: 0xCA}, node.log_text()  # marked
    # without a resume record (a crash long ago, or another boot) the restart removes them;
    # a restart right after the crash would resume them instead (tests/integration/test_resume)
    (node.workdir / "a-state" / "resume.json").unlink()

    node.start()
    try:
        assert wait_for(lambda: "removed stale VIP" in node.log_text(), 10) is not None, \
            node.log_text()
        assert (f"vip web: removed stale VIP {WEB4}, {WEB6} from eth0 (carpd's, left by an "
                "earlier run that did not exit cleanly)") in node.log_text()
    finally:
        assert stop(node) == 0, node.log_text()
    assert listing(host) == {PRIMARY: 0}


def test_cleanup_removes_carpds_copies_and_leaves_the_operators(host: Lab,
                                                                 tmp_path: Path) -> None:
    node = DualCarpd(host, "a", tmp_path, [Vip("web", 1, f"{WEB4},{WEB6}", 0),
                                           Vip("mail", 2, "172.16.90.32/24", 0)])
    node.write_config()
    added = host.python("a", ADD_MARKED.format(address=WEB4, label="eth0:web"))
    assert added is True
    host.run("a", "ip", "addr", "add", "172.16.90.31/32", "dev", "eth0")
    host.run("a", "ip", "-6", "addr", "add", WEB6, "dev", "eth0", "nodad")
    host.run("a", "ip", "addr", "add", "172.16.90.32/24", "dev", "eth0", "label", "eth0:mail")
    before = listing(host)
    assert before == {PRIMARY: 0, WEB4: 0xCA, "172.16.90.31/32": 0, WEB6: 0,
                      "172.16.90.32/24": 0}
    cleanup = carpd_cli(host, "--cleanup", "--config", str(node.config))
    assert cleanup.returncode == 0, cleanup.stderr
    # carpd's: the marked one, and the IPv4 one with mail's label (an older carpd's)
    assert listing(host) == {PRIMARY: 0, "172.16.90.31/32": 0, WEB6: 0}
    assert "left in place" in cleanup.stderr
    check = carpd_cli(host, "--check", "--config", str(node.config))
    assert check.returncode == 2
    assert check.stderr.count("was not added by carpd") == 2, check.stderr
