"""The announcer dispatches by family (GARP for IPv4, NA for IPv6) through one packet socket
per interface; the R flag follows `router`, else the interface's forwarding setting."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

import pytest

from carpd.io import announce, ndisc

MAC = bytes.fromhex("020000009001")
V4 = ipaddress.IPv4Address("192.0.2.10")
V6 = ipaddress.IPv6Address("2001:db8::10")


class FakePacketSocket:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = False

    def send(self, frame: bytes) -> int:
        self.sent.append(frame)
        return len(frame)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    state: dict[str, Any] = {"sockets": [], "forwarding": False}

    def open_packet_socket(interface: str) -> FakePacketSocket:
        sock = FakePacketSocket()
        state["sockets"].append(sock)
        return sock

    monkeypatch.setattr(announce, "open_packet_socket", open_packet_socket)
    monkeypatch.setattr(announce, "interface_mac", lambda sock, interface: MAC)
    monkeypatch.setattr(announce, "forwarding", lambda interface: state["forwarding"])
    return state


def _run(ann: announce.AddressAnnouncer, *addresses: Any, count: int = 2,
         router: bool | None = None) -> None:
    asyncio.run(ann.announce("eth0", addresses, count, 0.0, router=router))


def test_each_family_gets_its_frame_in_order(fake: dict[str, Any]) -> None:
    ann = announce.AddressAnnouncer()
    _run(ann, V4, V6)
    (sock,) = fake["sockets"]
    assert sock.sent == [announce.build_garp_frame(MAC, V4),
                         ndisc.build_na_frame(MAC, V6, router=False)] * 2
    _run(ann, V6, count=1)
    assert len(fake["sockets"]) == 1, "the socket is kept between bursts"
    ann.close()
    assert sock.closed


@pytest.mark.parametrize(("router", "forwarding", "r_flag"), [
    (None, False, False), (None, True, True), (True, False, True), (False, True, False)])
def test_r_flag(fake: dict[str, Any], router: bool | None, forwarding: bool,
                r_flag: bool) -> None:
    fake["forwarding"] = forwarding
    _run(announce.AddressAnnouncer(), V6, count=1, router=router)
    frame = fake["sockets"][0].sent[0]
    assert frame == ndisc.build_na_frame(MAC, V6, router=r_flag)
    assert bool(frame[54 + 4] & 0x80) is r_flag


def test_nothing_to_announce(fake: dict[str, Any]) -> None:
    ann = announce.AddressAnnouncer()
    _run(ann)
    _run(ann, V4, count=0)
    assert fake["sockets"] == []


def test_a_failed_round_names_the_kind_and_drops_the_socket(fake: dict[str, Any]) -> None:
    ann = announce.AddressAnnouncer()
    _run(ann, V6, count=1)
    (sock,) = fake["sockets"]

    def fail(frame: bytes) -> int:
        raise OSError(100, "Network is down")

    sock.send = fail
    with pytest.raises(OSError, match="neighbour advertisement on eth0 failed"):
        _run(ann, V6, count=1)
    assert sock.closed
    _run(ann, V4, count=1)
    assert len(fake["sockets"]) == 2 and isinstance(fake["sockets"][1].sent[0], bytes)
