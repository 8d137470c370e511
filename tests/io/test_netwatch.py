"""The netlink watcher's parsing of link messages: carrier, and interfaces deleted, created,
renamed and lost in an ENOBUFS gap (fed crafted rtnetlink datagrams; no thread, no kernel)."""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from carpd.io.netwatch import (
    IFF_LOWER_UP,
    IFF_UP,
    IFLA_IFNAME,
    NLMSG_DONE,
    RTM_DELLINK,
    RTM_NEWLINK,
    NetlinkWatcher,
)

UP = IFF_UP | IFF_LOWER_UP


class StubLoop:
    """What the watcher needs of a loop: callbacks are recorded and run at once."""

    def create_future(self) -> Any:
        class Done:
            def done(self) -> bool:
                return True
        return Done()

    def call_soon_threadsafe(self, fn: Callable[..., None], *args: object) -> None:
        fn(*args)


def link(kind: int, index: int, name: str | None, flags: int, seq: int = 0) -> bytes:
    attrs = b""
    if name is not None:
        value = name.encode() + b"\0"
        attr = struct.pack("=HH", 4 + len(value), IFLA_IFNAME) + value
        attrs = attr + b"\0" * (-len(attr) % 4)
    body = struct.pack("=BxHiII", socket.AF_UNSPEC, 1, index, flags, 0) + attrs
    return struct.pack("=IHHII", 16 + len(body), kind, 0, seq, 0) + body


def done(seq: int) -> bytes:
    return struct.pack("=IHHII", 20, NLMSG_DONE, 0, seq, 0) + b"\0" * 4


@pytest.fixture
def watched() -> Iterator[tuple[NetlinkWatcher, list[tuple[str, str, bool]]]]:
    events: list[tuple[str, str, bool]] = []
    w = NetlinkWatcher(StubLoop(), lambda n, up: events.append(("link", n, up)),  # type: ignore[arg-type]
                       lambda n: None, lambda n, p: events.append(("presence", n, p)))
    w._dump_seq = 1
    w._parse(link(RTM_NEWLINK, 5, "eth0", UP, seq=1) + done(1))  # the first dump
    yield w, events
    w._sock.close()


def test_the_first_dump_reports_nothing(watched: tuple[NetlinkWatcher, list[Any]]) -> None:
    assert watched[1] == []


def test_carrier_changes_are_links_only(watched: tuple[NetlinkWatcher, list[Any]]) -> None:
    w, events = watched
    w._parse(link(RTM_NEWLINK, 5, "eth0", IFF_UP))
    w._parse(link(RTM_NEWLINK, 5, "eth0", IFF_UP))  # no change: nothing
    assert events == [("link", "eth0", False)]


def test_deleted_and_recreated_under_the_same_name(
        watched: tuple[NetlinkWatcher, list[Any]]) -> None:
    w, events = watched
    w._parse(link(RTM_DELLINK, 5, "eth0", 0))
    w._parse(link(RTM_NEWLINK, 9, "eth0", 0))
    w._parse(link(RTM_NEWLINK, 9, "eth0", UP))
    assert events == [("presence", "eth0", False), ("link", "eth0", False),
                      ("presence", "eth0", True), ("link", "eth0", False),
                      ("link", "eth0", True)]


def test_recreated_under_its_old_index_is_new_too(
        watched: tuple[NetlinkWatcher, list[Any]]) -> None:
    w, events = watched
    w._parse(link(RTM_DELLINK, 5, None, 0))  # name from what was known
    w._parse(link(RTM_NEWLINK, 5, "eth0", UP))
    assert [e for e in events if e[0] == "presence"] == [("presence", "eth0", False),
                                                         ("presence", "eth0", True)]


def test_a_rename_is_one_name_gone_and_one_appearing(
        watched: tuple[NetlinkWatcher, list[Any]]) -> None:
    w, events = watched
    w._parse(link(RTM_NEWLINK, 5, "wan0", UP))
    assert events == [("presence", "eth0", False), ("presence", "wan0", True),
                      ("link", "wan0", True)]


def test_a_redump_after_lost_events_finds_deletions_and_creations(
        watched: tuple[NetlinkWatcher, list[Any]]) -> None:
    w, events = watched
    w._parse(link(RTM_NEWLINK, 6, "eth1", UP))
    events.clear()
    w._redump_seen = set()  # what _resync sets up after ENOBUFS
    w._dump_seq = 2
    w._parse(link(RTM_NEWLINK, 11, "eth0", UP, seq=2) + link(RTM_NEWLINK, 6, "eth1", UP, seq=2)
             + done(2))
    assert events == [("presence", "eth0", True), ("link", "eth0", True)]
    assert set(w._links) == {6, 11}, "the stale index of eth0 is forgotten"
    events.clear()
    w._redump_seen = set()
    w._dump_seq = 3
    w._parse(link(RTM_NEWLINK, 11, "eth0", UP, seq=3) + done(3))
    assert events == [("presence", "eth1", False), ("link", "eth1", False)]
