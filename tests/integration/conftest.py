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

_MCAST_SEND = r"""
import socket, json, time
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
for _ in range(20):
    s.sendto(b"\x21" + b"\0" * 35, ("224.0.0.18", 0))
    time.sleep(0.05)
print(json.dumps(True))
"""

_MCAST_RECV = r"""
import socket, struct, json, time
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
idx = socket.if_nametoindex("eth0")
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
             socket.inet_aton("224.0.0.18") + b"\0" * 4 + struct.pack("=i", idx))
s.settimeout(3.0)
print("ready", flush=True)
try:
    data = s.recv(2048)
    print(json.dumps({"ttl": data[8], "dst": socket.inet_ntoa(data[16:20])}))
except socket.timeout:
    print(json.dumps(None))
"""


def multicast_crosses(lab: Lab, sender: str, receiver: str) -> bool:
    """A protocol-112 packet to 224.0.0.18 with TTL 255 from `sender` reaches `receiver`."""
    rx = lab.python_bg(receiver, _MCAST_RECV)
    assert rx.stdout is not None
    rx.stdout.readline()  # "ready": the receiver has joined
    lab.python(sender, _MCAST_SEND)
    got = lab.collect(rx, timeout=10)
    return isinstance(got, dict) and got.get("ttl") == 255 and got.get("dst") == "224.0.0.18"


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
        if not multicast_crosses(the_lab, "a", "b"):
            pytest.fail("protocol-112 multicast to 224.0.0.18 does not cross the lab bridge")
        yield the_lab
