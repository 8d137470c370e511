"""The carpd.io adapters against real kernels, inside the namespace lab.

Each asyncio part runs in a host namespace as a Python snippet (Lab.python) that prints one
JSON result; the assertions are made here. Every wait is bounded.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from tests.integration.netns import Lab

pytestmark = pytest.mark.integration

VIP = "172.16.90.200"


def snippet(code: str) -> str:
    return textwrap.dedent(code)


# --------------------------------------------------------------------------- netlink

_NETLINK = snippet(r"""
import asyncio, errno, ipaddress, json, os, subprocess, time
import pyroute2
from carpd.io.netlink import NetlinkAddresses

I = ipaddress.IPv4Interface
SWITCH, PORT = os.environ["LAB_SWITCH"], os.environ["LAB_PORT"]

async def wait_for(pred, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not pred():
        await asyncio.sleep(0.02)
    return pred()

async def main():
    links, addrs, out = [], [], {"module": pyroute2.__file__}
    nl = NetlinkAddresses()
    await nl.start(lambda n, up: links.append([n, up]), addrs.append)
    vip, other = I("172.16.90.200/24"), I("10.9.9.9/32")
    await nl.add("eth0", (vip, other), "eth0:web")
    await nl.add("eth0", (vip,), "eth0:web")  # EEXIST is fine
    out["addresses"] = sorted(map(str, await nl.addresses("eth0")))
    show = json.loads(subprocess.run(["ip", "-j", "addr", "show", "dev", "eth0"],
                                     capture_output=True, text=True).stdout)
    out["labels"] = {a["local"]: a.get("label") for a in show[0]["addr_info"]
                     if a["family"] == "inet"}
    out["primary"] = str(await nl.primary_ipv4("eth0"))
    out["primary_excl"] = str(await nl.primary_ipv4(
        "eth0", exclude=frozenset({ipaddress.IPv4Address("172.16.90.101")})))
    out["addr_event"] = await wait_for(lambda: "eth0" in addrs)
    await nl.remove("eth0", (vip, other))
    await nl.remove("eth0", (vip,))  # absent is fine
    out["after_remove"] = sorted(map(str, await nl.addresses("eth0")))
    out["exists"] = [await nl.exists("eth0"), await nl.exists("nosuch0")]
    try:
        await nl.add("nosuch0", (vip,), "x")
    except OSError as exc:
        out["missing_if"] = [exc.errno, str(exc)]
    out["up0"] = await nl.link_up("eth0")
    links.clear()
    subprocess.run(["ip", "-n", SWITCH, "link", "set", PORT, "down"], check=True)
    out["down_event"] = await wait_for(lambda: ["eth0", False] in links)
    out["up1"] = await nl.link_up("eth0")
    subprocess.run(["ip", "-n", SWITCH, "link", "set", PORT, "up"], check=True)
    out["up_event"] = await wait_for(lambda: ["eth0", True] in links)
    out["up2"] = await nl.link_up("eth0")
    out["links"] = links
    t = time.monotonic()
    await nl.close()
    out["close_s"] = time.monotonic() - t
    print(json.dumps(out))

asyncio.run(main())
""")


def _pyroute2_paths() -> list[object]:
    """The venv's pyroute2 and, when CARPD_PYROUTE2_072 names an unpacked Debian
    python3-pyroute2 0.7.2 (…/usr/lib/python3/dist-packages), that one too."""
    params: list[object] = [pytest.param(None, id="pyroute2-venv")]
    old = os.environ.get("CARPD_PYROUTE2_072")
    params.append(pytest.param(old, id="pyroute2-0.7.2", marks=pytest.mark.skipif(
        not old or not Path(old, "pyroute2").is_dir(),
        reason="set CARPD_PYROUTE2_072 to an unpacked python3-pyroute2 0.7.2")))
    return params


@pytest.mark.parametrize("pyroute2_path", _pyroute2_paths())
def test_netlink_addresses(lab: Lab, pyroute2_path: str | None) -> None:
    env = {"LAB_SWITCH": lab.switch, "LAB_PORT": lab.hosts["a"].port}
    if pyroute2_path:
        env["PYTHONPATH"] = f"{pyroute2_path}:{Path(__file__).resolve().parents[2]}"
    out = lab.python("a", _NETLINK, env=env)
    assert isinstance(out, dict), out
    if pyroute2_path:
        assert out["module"].startswith(pyroute2_path)
    assert out["addresses"] == ["10.9.9.9/32", "172.16.90.101/24", "172.16.90.200/24"]
    assert out["labels"]["172.16.90.200"] == "eth0:web"
    assert out["labels"]["10.9.9.9"] == "eth0:web"
    assert out["primary"] == "172.16.90.101"
    assert out["primary_excl"] == "10.9.9.9"  # .200 is secondary in .101's subnet
    assert out["addr_event"]
    assert out["after_remove"] == ["172.16.90.101/24"]
    assert out["exists"] == [True, False]
    assert out["missing_if"][0] == 19 and "nosuch0" in out["missing_if"][1]
    assert out["up0"] is True
    assert out["down_event"] and out["up1"] is False
    assert out["up_event"] and out["up2"] is True
    assert out["links"] == [["eth0", False], ["eth0", True]]
    assert out["close_s"] < 1.5
    assert lab.addresses("a") == ["172.16.90.101/24"]


def test_netlink_error_translation() -> None:
    from pyroute2.netlink.exceptions import NetlinkError

    from carpd.io.netlink import _oserror

    exc = _oserror(NetlinkError(1, "Operation not permitted"), "cannot add 1.2.3.4/24 to eth0")
    assert isinstance(exc, PermissionError)
    assert str(exc).endswith("cannot add 1.2.3.4/24 to eth0: Operation not permitted")
