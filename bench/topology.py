"""The bench lab: a switch namespace with a bridge, servers a and b, and a client.

Built on tests/integration/netns.py (Lab). Names carry the tag "bench" and the bench's PID;
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

from tests.integration.netns import FAMILY, Lab, _owner_alive, list_namespaces

TAG = "bench"
SERVERS = {"a": ("172.16.90.101/24", 0x01), "b": ("172.16.90.102/24", 0x02)}
CLIENT = ("client", "172.16.90.10/24", 0x10)
FAILOVER_VIP = "172.16.90.31/24"


def scale_vip_cidr(i: int) -> str:
    """The i-th (0-based) VIP of the scale run: /32s in 172.16.91.1-250, 172.16.92.1-250."""
    return f"172.16.{91 + i // 250}.{i % 250 + 1}/32"


def cleanup_stale() -> list[str]:
    """Stop processes inside namespaces of dead bench runs (by PID) and delete those
    namespaces. Only names of this family and tag whose creating process is gone."""
    removed = []
    for name in list_namespaces():
        if not (name.startswith(FAMILY) and f"-{TAG}-" in name) or _owner_alive(name):
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


def build(lab: Lab) -> None:
    for name, (cidr, mac) in SERVERS.items():
        lab.add_host(name, cidr, mac)
    lab.add_host(*CLIENT)
    # The client must not answer anything on its own (no forwarding; it is a plain host).
    if not lab.multicast_crosses("a", "b") or not lab.multicast_crosses("b", "a"):
        raise RuntimeError("protocol-112 multicast to 224.0.0.18 (TTL 255) does not cross "
                           "the lab bridge; results would be meaningless")


def vip_holders(lab: Lab, host: str, ips: set[str]) -> set[str]:
    """Which of `ips` are configured on `host`'s eth0."""
    out = subprocess.run(["ip", "-n", lab.ns(host), "-j", "addr", "show", "dev", "eth0"],
                         capture_output=True, text=True, timeout=10, check=True).stdout
    present = {a["local"] for link in json.loads(out) for a in link.get("addr_info", [])
               if a.get("family") == "inet"}
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
