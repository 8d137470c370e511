"""The adapters when carpd has run out of file descriptors (a real EMFILE, in a child
process with a low RLIMIT_NOFILE and every descriptor taken): a health check that cannot be
spawned or connected is an error (None), never "the service is down"; an interface that
cannot be looked up is never "the interface does not exist"."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

CHILD = r'''
import asyncio, errno, json, os, resource, socket
from pathlib import Path
from pyroute2 import IPRoute
from carpd.core.params import CheckParams
from carpd.io import health, netlink

loop = asyncio.new_event_loop()
ipr = IPRoute()
addrs = netlink.NetlinkAddresses()
addrs._ipr = ipr  # the worker's IPRoute, opened before the descriptors ran out
resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))
taken = []
try:
    while True:
        taken.append(os.open("/dev/null", os.O_RDONLY))
except OSError as exc:
    assert exc.errno == errno.EMFILE

def lookup(name):
    try:
        return addrs._index(name)
    except OSError as exc:
        return [exc.errno, str(exc)]

exec_check = CheckParams(name="x", type="exec", command=("/bin/true",), timeout=2.0)
tcp_check = CheckParams(name="t", type="tcp", host="127.0.0.1", port=9, timeout=2.0)
print(json.dumps({
    "exec": loop.run_until_complete(health.run_exec(exec_check)),
    "tcp": loop.run_until_complete(health.run_tcp(tcp_check)),
    "interface": health.interface_state(Path("/sys/class/net"), "lo"),
    "lo": lookup("lo"),
    "missing": lookup("nope-carpd0"),
}))
'''


def _child() -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                          timeout=30, check=True, cwd=Path(__file__).parents[2])
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_checks_without_descriptors_are_errors_and_lookups_stay_true() -> None:
    r = _child()
    assert r["exec"][0] is None and r["exec"][1].startswith(
        "carpd could not run the check: Too many open files")
    assert r["tcp"][0] is None and "Too many open files" in r["tcp"][1]
    assert r["interface"][0] is None and "Too many open files" in r["interface"][1]
    assert r["lo"] == 1  # through the open netlink socket, not "does not exist"
    assert r["missing"] == [19, "[Errno 19] interface nope-carpd0 does not exist"]  # ENODEV
