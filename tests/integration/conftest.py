"""Fixtures for the namespace lab (tests/integration/netns.py).

Every test here is skipped unless running as root with iproute2; the `lab` fixture builds a
fresh lab per test, checks that protocol-112 multicast with TTL 255 crosses the bridge, and
tears everything down on every path.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.netns import Lab, have_lab_prerequisites

HOST_A = ("a", "172.16.90.101/24", 0x01)
HOST_B = ("b", "172.16.90.102/24", 0x02)
CLIENT = ("c", "172.16.90.50/24", 0x50)


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
