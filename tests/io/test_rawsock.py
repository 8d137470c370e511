"""The raw transport's socket setup and group bookkeeping, against fake sockets that record
every option (the real kernel behaviour is in tests/integration/test_adapters.py)."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from carpd.core.actions import SendAdvert
from carpd.core.addresses import Family
from carpd.core.events import DatagramMalformed, PacketReceived
from carpd.io import ipv6
from carpd.io.rawsock import IP_MULTICAST_ALL, RawSocketTransport, ip_mreqn

IP4, IP6 = ipaddress.IPv4Address, ipaddress.IPv6Address
V6 = socket.IPPROTO_IPV6
LL_A, GROUP6, GROUP6B = IP6("fe80::1"), IP6("ff02::12"), IP6("ff02::99")
SRC4, GROUP4 = IP4("192.0.2.1"), IP4("224.0.0.18")
IFINDEX = 7
PAYLOAD = bytes(range(36))


class FakeSocket:
    """Records setsockopt/bind/sendto; its fileno is a real descriptor for add_reader."""

    def __init__(self, family: int, kind: int, proto: int, log: list[FakeSocket]) -> None:
        self.family, self.kind, self.proto = family, kind, proto
        self.options: list[tuple[int, int, Any]] = []
        self.bound: Any = None
        self.sent: list[tuple[bytes, Any]] = []
        self.fail_on: set[tuple[int, int, Any]] = set()
        self.inbox: list[tuple[bytes, list[tuple[int, int, bytes]], int, Any]] = []
        self._pair = socket.socketpair()
        self.closed = False
        log.append(self)

    def setsockopt(self, level: int, option: int, value: Any) -> None:
        if (level, option, value) in self.fail_on:
            raise OSError(errno.EADDRINUSE, "Address already in use")
        self.options.append((level, option, value))

    def option(self, level: int, option: int) -> list[Any]:
        return [v for lv, op, v in self.options if (lv, op) == (level, option)]

    def bind(self, address: Any) -> None:
        self.bound = address

    def setblocking(self, flag: bool) -> None:
        return

    def fileno(self) -> int:
        return self._pair[0].fileno()

    def sendto(self, data: bytes, address: Any) -> int:
        self.sent.append((data, address))
        return len(data)

    def recvmsg(self, size: int, ancsize: int) -> tuple[bytes, Any, int, Any]:
        if not self.inbox:
            raise BlockingIOError
        return self.inbox.pop(0)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            for s in self._pair:
                s.close()


@pytest.fixture
def env() -> Iterator[tuple[RawSocketTransport, list[FakeSocket]]]:
    made: list[FakeSocket] = []
    loop = asyncio.new_event_loop()
    tr = RawSocketTransport(loop, new_socket=lambda f, k, p: FakeSocket(f, k, p, made),  # type: ignore[arg-type,return-value]
                            ifindex=lambda name: IFINDEX)
    yield tr, made
    tr.close()
    loop.close()


def _receiver(made: list[FakeSocket], family: int) -> FakeSocket:
    return next(s for s in made if s.family == family and s.bound is None)


def _sender(made: list[FakeSocket], family: int) -> FakeSocket:
    return next(s for s in made if s.family == family and s.bound is not None)


def test_ipv6_receive_and_send_sockets(env: tuple[RawSocketTransport, list[FakeSocket]]) -> None:
    tr, made = env
    tr.open("eth0", LL_A, frozenset({GROUP6}), lambda ev: None)
    rx, tx = _receiver(made, socket.AF_INET6), _sender(made, socket.AF_INET6)
    assert (rx.kind, rx.proto) == (socket.SOCK_RAW, 112)
    assert rx.option(socket.SOL_SOCKET, 25) == [b"eth0"]
    assert rx.option(V6, socket.IPV6_RECVHOPLIMIT) == [1]
    assert rx.option(V6, socket.IPV6_RECVPKTINFO) == [1]
    assert rx.option(V6, ipv6.IPV6_MULTICAST_ALL) == [0]
    assert rx.option(V6, socket.IPV6_JOIN_GROUP) == [ipv6.ipv6_mreq(GROUP6, IFINDEX)]
    assert tx.bound == ("fe80::1", 0, 0, IFINDEX)
    assert tx.option(V6, socket.IPV6_MULTICAST_IF) == [IFINDEX]
    assert tx.option(V6, socket.IPV6_MULTICAST_HOPS) == [255]
    assert tx.option(V6, socket.IPV6_UNICAST_HOPS) == [255]
    assert tx.option(V6, socket.IPV6_MULTICAST_LOOP) == [0]
    for sock in made:
        assert sock.option(V6, socket.IPV6_CHECKSUM) == [], "IPV6_CHECKSUM must stay off"
    assert tr.joined("eth0", Family.IPV6) == {GROUP6}
    assert tr.joined("eth0", Family.IPV4) == set()


def test_ipv4_receive_socket_only_gets_its_groups(
        env: tuple[RawSocketTransport, list[FakeSocket]]) -> None:
    tr, made = env
    tr.open("eth0", SRC4, frozenset({GROUP4}), lambda ev: None)
    rx, tx = _receiver(made, socket.AF_INET), _sender(made, socket.AF_INET)
    assert rx.option(socket.IPPROTO_IP, IP_MULTICAST_ALL) == [0]
    assert rx.option(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP) == [ip_mreqn(GROUP4, IFINDEX)]
    assert tx.bound == ("192.0.2.1", 0)
    assert tx.option(socket.IPPROTO_IP, socket.IP_TTL) == [255]
    assert tx.option(socket.IPPROTO_IP, IP_MULTICAST_ALL) == []


def test_reopen_makes_the_groups_exactly_the_given_set(
        env: tuple[RawSocketTransport, list[FakeSocket]]) -> None:
    tr, made = env
    tr.open("eth0", LL_A, frozenset({GROUP6}), lambda ev: None)
    tr.open("eth0", LL_A, frozenset({GROUP6, GROUP6B}), lambda ev: None)
    tr.open("eth0", LL_A, frozenset(), lambda ev: None)  # unicast mode: still receiving
    rx = _receiver(made, socket.AF_INET6)
    assert rx.option(V6, socket.IPV6_JOIN_GROUP) == [ipv6.ipv6_mreq(g, IFINDEX)
                                                      for g in (GROUP6, GROUP6B)]
    assert sorted(rx.option(V6, socket.IPV6_LEAVE_GROUP)) == sorted(
        ipv6.ipv6_mreq(g, IFINDEX) for g in (GROUP6, GROUP6B))
    assert tr.joined("eth0", Family.IPV6) == set() and not rx.closed
    assert len([s for s in made if s.family == socket.AF_INET6]) == 2  # nothing re-created
    tr.open("eth0", IP4("192.0.2.1"), frozenset({GROUP4}), lambda ev: None)
    assert tr.joined("eth0", Family.IPV4) == {GROUP4}, "families are separate receivers"


def test_a_failed_join_leaves_the_set_as_it_was(
        env: tuple[RawSocketTransport, list[FakeSocket]]) -> None:
    tr, made = env
    tr.open("eth0", LL_A, frozenset({GROUP6}), lambda ev: None)
    rx = _receiver(made, socket.AF_INET6)
    rx.fail_on.add((V6, socket.IPV6_JOIN_GROUP, ipv6.ipv6_mreq(GROUP6B, IFINDEX)))
    third = IP6("ff02::7")
    with pytest.raises(OSError, match="cannot join ff02::99 on eth0"):
        tr.open("eth0", LL_A, frozenset({third, GROUP6B}), lambda ev: None)
    assert tr.joined("eth0", Family.IPV6) == {GROUP6}
    assert rx.option(V6, socket.IPV6_LEAVE_GROUP) == [ipv6.ipv6_mreq(third, IFINDEX)]


def test_groups_must_be_of_the_source_family(
        env: tuple[RawSocketTransport, list[FakeSocket]]) -> None:
    tr, made = env
    with pytest.raises(OSError) as err:
        tr.open("eth0", LL_A, frozenset({GROUP4}), lambda ev: None)
    assert err.value.errno == errno.EAFNOSUPPORT and made == []


def _advert(**kw: Any) -> SendAdvert:
    fields: dict[str, Any] = {"name": "web", "interface": "eth0", "family": Family.IPV6,
                              "source": LL_A, "destinations": (GROUP6,), "payload": PAYLOAD}
    return SendAdvert(**{**fields, **kw})


def test_ipv6_send_scope_hop_limit_and_traffic_class(
        env: tuple[RawSocketTransport, list[FakeSocket]]) -> None:
    tr, made = env
    tr.open("eth0", LL_A, frozenset({GROUP6}), lambda ev: None)
    tx = _sender(made, socket.AF_INET6)
    tr.send(_advert(traffic_class=0xE0))
    tr.send(_advert(traffic_class=0xE0))
    peers = (IP6("fe80::2"), IP6("2001:db8::2"))
    tr.send(_advert(destinations=peers, hop_limit=64, traffic_class=0xE0))
    assert tx.sent == [(PAYLOAD, ("ff02::12", 0, 0, IFINDEX))] * 2 + [
        (PAYLOAD, ("fe80::2", 0, 0, IFINDEX)), (PAYLOAD, ("2001:db8::2", 0, 0, IFINDEX))]
    assert tx.option(V6, socket.IPV6_TCLASS) == [0xE0], "set once, when it changes"
    assert tx.option(V6, socket.IPV6_UNICAST_HOPS) == [255, 64]
    assert tx.option(V6, socket.IPV6_MULTICAST_HOPS) == [255, 64]


def test_a_global_source_gets_its_own_socket(
        env: tuple[RawSocketTransport, list[FakeSocket]]) -> None:
    tr, made = env
    tr.send(_advert(source=IP6("2001:db8::1"), destinations=(IP6("2001:db8::2"),)))
    assert _sender(made, socket.AF_INET6).bound == ("2001:db8::1", 0, 0, IFINDEX)


def test_ipv4_hop_limit_is_cached_like_tos(
        env: tuple[RawSocketTransport, list[FakeSocket]]) -> None:
    tr, made = env
    v4 = {"family": Family.IPV4, "source": SRC4, "destinations": (GROUP4,)}
    for hop in (255, 255, 64, 64, 255):
        tr.send(_advert(**v4, hop_limit=hop, traffic_class=0x10))
    tx = _sender(made, socket.AF_INET)
    assert tx.option(socket.IPPROTO_IP, socket.IP_TTL) == [255, 64, 255]
    assert tx.option(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL) == [255, 64, 255]
    assert tx.option(socket.IPPROTO_IP, socket.IP_TOS) == [0x10]
    assert tx.sent == [(PAYLOAD, ("224.0.0.18", 0))] * 5


def test_refusals(env: tuple[RawSocketTransport, list[FakeSocket]]) -> None:
    tr, made = env
    with pytest.raises(OSError, match="IPv4 only") as err:
        tr.send(_advert(l2_broadcast=True))
    assert err.value.errno == errno.EAFNOSUPPORT
    with pytest.raises(OSError, match="not an IPv6 address") as err:
        tr.send(_advert(destinations=(GROUP4,)))
    assert err.value.errno == errno.EAFNOSUPPORT and made == []


def test_ipv6_datagrams_reach_the_callback(
        env: tuple[RawSocketTransport, list[FakeSocket]]) -> None:
    tr, made = env
    got: list[PacketReceived | DatagramMalformed] = []
    tr.open("eth0", LL_A, frozenset({GROUP6}), got.append)
    rx = _receiver(made, socket.AF_INET6)
    peer = ("fe80::2%eth0", 0, 0, IFINDEX)
    rx.inbox = [(PAYLOAD, ipv6.encode_ancillary(hop_limit=64, destination=GROUP6), 0, peer),
                (PAYLOAD, [], 0, peer)]
    tr._readable(("eth0", Family.IPV6))
    assert got[0] == PacketReceived(interface="eth0", family=Family.IPV6,
                                    source=IP6("fe80::2"), destination=GROUP6, hop_limit=64,
                                    payload=PAYLOAD)
    assert isinstance(got[1], DatagramMalformed)


def test_ipv6_datagrams_to_groups_not_joined_are_discarded(
        env: tuple[RawSocketTransport, list[FakeSocket]]) -> None:
    tr, made = env
    got: list[PacketReceived | DatagramMalformed] = []
    tr.open("eth0", IP6("2001:db8::1"), frozenset(), got.append)  # unicast mode
    rx = _receiver(made, socket.AF_INET6)
    peer = ("2001:db8::2", 0, 0, IFINDEX)
    rx.inbox = [(PAYLOAD, ipv6.encode_ancillary(hop_limit=255, destination=dst), 0, peer)
                for dst in (GROUP6, IP6("2001:db8::1"))]
    tr._readable(("eth0", Family.IPV6))
    assert [ev.destination for ev in got if isinstance(ev, PacketReceived)] == [
        IP6("2001:db8::1")]
