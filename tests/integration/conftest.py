"""Fixtures for the namespace lab (tests/integration/netns.py).

Every test here is skipped unless running as root with iproute2; the `lab` fixture builds a
fresh lab per test, checks that protocol-112 multicast with TTL 255 crosses the bridge, and
tears everything down on every path. The IPv6 labs (`lab6`, module-scoped, and `fresh_lab6`)
give every host a global IPv6 address (added with nodad) besides IPv4, wait until the
kernel's DAD on the link-locals has finished, and check multicast in both families; the
unicast lab (`uni_lab`, module-scoped) adds a stranger d; `routed_lab` puts a and b in two
subnets behind a router namespace.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.netns import Lab, have_lab_prerequisites

HOST_A = ("a", "172.16.90.101/24", 0x01)
HOST_B = ("b", "172.16.90.102/24", 0x02)
CLIENT = ("c", "172.16.90.50/24", 0x50)
STRANGER = ("d", "172.16.90.103/24", 0x03)
IP6 = {"a": "fd00:90::101/64", "b": "fd00:90::102/64", "c": "fd00:90::50/64",
       "d": "fd00:90::103/64"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = have_lab_prerequisites()
    for item in items:
        if "tests/integration" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.integration)
            if reason is not None:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def lab() -> Iterator[Lab]:
    """Switch + hosts a (.101), b (.102) and client c (.50), multicast verified."""
    with Lab() as the_lab:
        for name, cidr, mac in (HOST_A, HOST_B, CLIENT):
            the_lab.add_host(name, cidr, mac)
        if not the_lab.multicast_crosses("a", "b"):
            pytest.fail("protocol-112 multicast to 224.0.0.18 does not cross the lab bridge")
        yield the_lab


def _dual_stack_lab(tag: str, hosts: tuple[tuple[str, str, int], ...]) -> Iterator[Lab]:
    with Lab(tag) as the_lab:
        for name, cidr, mac in hosts:
            the_lab.add_host(name, cidr, mac, ip6_cidr=IP6[name])
        dad = the_lab.wait_ipv6_ready()
        print(f"\nlab {the_lab.prefix}: link-local DAD done after {dad:.2f} s")
        if not the_lab.multicast_crosses("a", "b"):
            pytest.fail("protocol-112 multicast to 224.0.0.18 does not cross the lab bridge")
        if not the_lab.multicast6_crosses("a", "b"):
            pytest.fail("protocol-112 multicast to ff02::12 does not cross the lab bridge")
        yield the_lab


@pytest.fixture(scope="module")
def lab6() -> Iterator[Lab]:
    """Dual-stack a, b and client c (fd00:90::101, ::102, ::50), shared by a module."""
    yield from _dual_stack_lab("v6", (HOST_A, HOST_B, CLIENT))


@pytest.fixture
def fresh_lab6() -> Iterator[Lab]:
    """The same as `lab6`, for one test."""
    yield from _dual_stack_lab("v6x", (HOST_A, HOST_B, CLIENT))


@pytest.fixture(scope="module")
def uni_lab() -> Iterator[Lab]:
    """Dual-stack a, b, c and d (a stranger, .103 / fd00:90::103), shared by a module."""
    yield from _dual_stack_lab("uni", (HOST_A, HOST_B, CLIENT, STRANGER))


ROUTED = {"a": "10.90.1.11/24", "b": "10.90.2.12/24",
          "r1": "10.90.1.1/24", "r2": "10.90.2.1/24"}


@pytest.fixture(scope="module")
def routed_lab() -> Iterator[Lab]:
    """a on br0 (10.90.1.11/24) and b on br1 (10.90.2.12/24), default routes via router r
    (10.90.1.1 / 10.90.2.1, forwarding on in r's namespace only); unicast checked both ways."""
    with Lab("rt") as the_lab:
        the_lab.add_bridge("br1")
        the_lab.add_router("r", [("br0", ROUTED["r1"]), ("br1", ROUTED["r2"])], 0x01)
        the_lab.add_host("a", ROUTED["a"], 0x11, gateway=ROUTED["r1"].split("/")[0])
        the_lab.add_host("b", ROUTED["b"], 0x12, bridge="br1",
                         gateway=ROUTED["r2"].split("/")[0])
        if not the_lab.ping("a", the_lab.hosts["b"].ip, count=1, wait=2.0):
            pytest.fail("a cannot reach b through the router")
        yield the_lab
