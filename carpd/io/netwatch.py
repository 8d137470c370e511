"""Watching link and address changes through a plain rtnetlink socket (for carpd.io.netlink).

Owns: `NetlinkWatcher`, a daemon thread reading RTMGRP_LINK and both IFADDR groups (IPv4 and
IPv6 addresses) from a plain AF_NETLINK socket, parsing the few fixed-layout fields it needs
(ifinfomsg flags and name, ifaddrmsg family and index), and `carrier(flags)`.

How it works: not a second pyroute2 IPRoute, because 0.9.x's sync IPRoute buffers datagrams in
an internal asyncio queue, so a select() on its descriptor can miss queued events, and it
cannot be interrupted cleanly from another thread. The plain socket polls with a short timeout
so stop() ends the thread within POLL_INTERVAL; on ENOBUFS (events lost) it re-dumps the links
and reports every interface's addresses as changed. Events are handed to the loop with
call_soon_threadsafe; on_link(ifname, carrier_up) fires only when carrier (IFF_UP and
IFF_LOWER_UP) changes, or when an interface appears or disappears; on_addresses(ifname) on
every address added, removed or changed in either family (an IPv6 address leaving the
tentative state included).
Must not: call back on its own thread (everything goes through the loop).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import struct
import threading
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)

IFF_UP = 0x1
IFF_LOWER_UP = 0x10000
RTMGRP_LINK = 0x1
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV6_IFADDR = 0x100
NETLINK_ROUTE = 0
NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_DELADDR = 20, 21
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
IFLA_IFNAME = 3
POLL_INTERVAL = 0.2
START_TIMEOUT = 5.0

_NLMSGHDR = struct.Struct("=IHHII")
_IFINFOMSG = struct.Struct("=BxHiII")
_IFADDRMSG = struct.Struct("=BBBBI")
_RTATTR = struct.Struct("=HH")

LinkCallback = Callable[[str, bool], None]
AddressCallback = Callable[[str], None]


def carrier(flags: int) -> bool:
    return bool(flags & IFF_UP) and bool(flags & IFF_LOWER_UP)


def _align4(n: int) -> int:
    return (n + 3) & ~3


def _attrs(data: bytes, offset: int, end: int) -> Iterable[tuple[int, bytes]]:
    while offset + _RTATTR.size <= end:
        length, kind = _RTATTR.unpack_from(data, offset)
        if length < _RTATTR.size:
            return
        yield kind & 0x3FFF, data[offset + _RTATTR.size:offset + length]
        offset += _align4(length)


class NetlinkWatcher:
    """Daemon thread reading rtnetlink multicast events from a plain socket."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_link: LinkCallback,
                 on_addresses: AddressCallback) -> None:
        self._loop = loop
        self._on_link = on_link
        self._on_addresses = on_addresses
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        self._thread = threading.Thread(target=self._run, name="carpd-netlink-watch",
                                        daemon=True)
        self._links: dict[int, tuple[str, bool]] = {}  # index -> (name, carrier)
        self._primed = False
        self._ready: asyncio.Future[None] = loop.create_future()
        self._dump_seq = 0

    async def start(self) -> None:
        try:
            self._sock.bind((0, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR))
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            self._sock.settimeout(POLL_INTERVAL)
            self._request_dump()
        except OSError:
            self._sock.close()
            raise
        self._thread.start()
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), START_TIMEOUT)
        except TimeoutError:
            log.warning("netlink link dump did not finish within %.0f s", START_TIMEOUT)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=POLL_INTERVAL * 10)
        self._sock.close()

    def _request_dump(self) -> None:
        self._dump_seq += 1
        ifinfo = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        hdr = _NLMSGHDR.pack(_NLMSGHDR.size + len(ifinfo), RTM_GETLINK,
                             NLM_F_REQUEST | NLM_F_DUMP, self._dump_seq, 0)
        self._sock.send(hdr + ifinfo)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(1 << 16)
            except TimeoutError:
                continue
            except OSError as exc:
                if self._stop.is_set():
                    return
                if exc.errno == errno.ENOBUFS:
                    self._resync()
                    continue
                log.error("netlink watcher stopped: %s", exc)
                return
            try:
                self._parse(data)
            except (struct.error, ValueError) as exc:  # malformed: skip the datagram
                log.warning("netlink: cannot parse an event: %s", exc)

    def _resync(self) -> None:
        log.warning("netlink events were lost (ENOBUFS); re-reading link state")
        try:
            self._request_dump()
        except OSError as exc:
            log.error("netlink re-dump failed: %s", exc)
        for name, _up in list(self._links.values()):
            self._emit(self._on_addresses, name)

    def _parse(self, data: bytes) -> None:
        offset = 0
        while offset + _NLMSGHDR.size <= len(data):
            length, kind, _flags, seq, _pid = _NLMSGHDR.unpack_from(data, offset)
            if length < _NLMSGHDR.size:
                return
            body = offset + _NLMSGHDR.size
            end = min(offset + length, len(data))
            if kind in (RTM_NEWLINK, RTM_DELLINK):
                self._link_message(data, body, end, deleted=kind == RTM_DELLINK)
            elif kind in (RTM_NEWADDR, RTM_DELADDR):
                self._address_message(data, body)
            elif kind in (NLMSG_DONE, NLMSG_ERROR) and seq == self._dump_seq:
                self._dump_done()
            offset += _align4(length)

    def _dump_done(self) -> None:
        if not self._primed:
            self._primed = True
            self._loop.call_soon_threadsafe(_set_done, self._ready)

    def _link_message(self, data: bytes, body: int, end: int, *, deleted: bool) -> None:
        _family, _type, index, flags, _change = _IFINFOMSG.unpack_from(data, body)
        name = None
        for kind, value in _attrs(data, body + _IFINFOMSG.size, end):
            if kind == IFLA_IFNAME:
                name = value.split(b"\0", 1)[0].decode(errors="replace")
        previous = self._links.get(index)
        name = name or (previous[0] if previous else None)
        if name is None:
            return
        if deleted:
            self._links.pop(index, None)
            if previous is not None:
                self._emit(self._on_link, name, False)
            return
        up = carrier(flags)
        self._links[index] = (name, up)
        if previous is None:
            if self._primed:
                self._emit(self._on_link, name, up)
        elif previous[1] != up or previous[0] != name:
            self._emit(self._on_link, name, up)

    def _address_message(self, data: bytes, body: int) -> None:
        family, _plen, _flags, _scope, index = _IFADDRMSG.unpack_from(data, body)
        if family not in (socket.AF_INET, socket.AF_INET6):
            return
        known = self._links.get(index)
        if known is not None:
            name = known[0]
        else:
            try:
                name = socket.if_indextoname(index)
            except OSError:
                return
        self._emit(self._on_addresses, name)

    def _emit(self, fn: Callable[..., None], *args: object) -> None:
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # loop closed during shutdown
            self._stop.set()


def _set_done(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
