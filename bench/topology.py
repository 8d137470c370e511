"""The bench lab: a switch namespace with a bridge, servers a and b, and a client.

Built on tests/integration/netns.py (Lab). With `ipv6=True` every host also gets its IPv6
address (bench/variants.py HOST6, added with nodad), and inside each host namespace (never
the machine's own) eth0 gets `accept_dad=0` and `keep_addr_on_down=1`, so a pulled cable
neither drops the static address nor leaves a tentative link-local behind; before the first
IPv6 trial `ensure_ipv6` waits until no address is tentative and checks that protocol 112
to ff02::12 with hop limit 255 crosses the bridge. Names carry the tag "bench" and the bench's PID;
processes left running in namespaces of an earlier bench run whose owner is gone are stopped
by PID (from `ip netns pids`) before those namespaces are removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time

from bench.variants import HOST6
from tests.integration.netns import FAMILY, Lab, _owner_alive, list_namespaces

TAG = "bench"
SERVERS = {"a": ("172.16.90.101/24", 0x01), "b": ("172.16.90.102/24", 0x02)}
CLIENT = ("client", "172.16.90.10/24", 0x10)
FAILOVER_VIP = "172.16.90.31/24"  # = variants.VIP4


def scale_vip_cidr(i: int) -> str:
    """The i-th (0-based) VIP of the scale run: /32s in 172.16.91.1-250, 172.16.92.1-250."""
    return f"172.16.{91 + i // 250}.{i % 250 + 1}/32"


def cleanup_stale(tag: str = TAG) -> list[str]:
    """Stop processes inside namespaces of dead bench runs (by PID) and delete those
    namespaces. Only names of this family and `tag` whose creating process is gone."""
    removed = []
    for name in list_namespaces():
        if not (name.startswith(FAMILY) and f"-{tag}-" in name) or _owner_alive(name):
            continue
        pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True,
                              timeout=10, check=False).stdout.split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10,
                       check=False)
        removed.append(name)
    return removed


def build(lab: Lab, ipv6: bool = False) -> None:
    for name, (cidr, mac) in SERVERS.items():
        lab.add_host(name, cidr, mac)
    lab.add_host(*CLIENT)
    # The client must not answer anything on its own (no forwarding; it is a plain host).
    if not lab.multicast_crosses("a", "b") or not lab.multicast_crosses("b", "a"):
        raise RuntimeError("protocol-112 multicast to 224.0.0.18 (TTL 255) does not cross "
                           "the lab bridge; results would be meaningless")
    if ipv6:
        add_ipv6(lab)


_IPV6_READY: set[str] = set()


def add_ipv6(lab: Lab) -> None:
    """The hosts' IPv6 addresses and sysctls; `ensure_ipv6` waits for them to be usable
    (the link-locals' DAD runs meanwhile, e.g. during the IPv4 trials)."""
    for host in ("a", "b", "client"):
        lab.sysctl(host, "net.ipv6.conf.eth0.accept_dad", "0")
        lab.sysctl(host, "net.ipv6.conf.eth0.keep_addr_on_down", "1")
        lab.run(host, "ip", "-6", "addr", "add", HOST6[host], "dev", "eth0", "nodad")


def ensure_ipv6(lab: Lab, timeout: float = 10.0) -> None:
    """Before the first IPv6 trial: no address tentative, and protocol 112 to ff02::12 with
    hop limit 255 crosses the bridge both ways (once per lab)."""
    if lab.prefix in _IPV6_READY:
        return
    lab.wait_ipv6_ready(timeout)
    for sender, receiver in (("a", "b"), ("b", "a")):
        if not lab.multicast6_crosses(sender, receiver):
            raise RuntimeError("protocol-112 multicast to ff02::12 (hop limit 255) does not "
                               "cross the lab bridge; IPv6 results would be meaningless")
    _IPV6_READY.add(lab.prefix)


def vip_holders(lab: Lab, host: str, ips: set[str]) -> set[str]:
    """Which of `ips` (IPv4 or IPv6) are configured on `host`'s eth0."""
    out = subprocess.run(["ip", "-n", lab.ns(host), "-j", "addr", "show", "dev", "eth0"],
                         capture_output=True, text=True, timeout=10, check=True).stdout
    present = {a["local"] for link in json.loads(out) for a in link.get("addr_info", [])
               if a.get("family") in ("inet", "inet6")}
    return present & ips


def wait_addresses(lab: Lab, want: dict[str, int], ips: set[str], timeout: float
                   ) -> float | None:
    """Wait until each host in `want` holds exactly that many of `ips`; seconds or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if all(len(vip_holders(lab, h, ips)) == n for h, n in want.items()):
            return time.monotonic() - t0
        time.sleep(0.25)
    return None
