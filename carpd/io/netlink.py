"""Addresses and link state through rtnetlink (ports.AddressPort).

Owns: adding/removing the VIPs (IPv4 or IPv6; IPv4 ones with an ifconfig-style label, which
IPv6 has no field for), listing addresses of both families, the primary address per family
(IPv4: the first non-secondary one; IPv6: the link-local one), carrier state, and watching
link/address changes.

Threading (PACKAGING.md: pyroute2 0.7.2 on Debian 12 has no AsyncIPRoute): every request goes
through the synchronous `pyroute2.IPRoute`, created and used only inside one dedicated worker
thread (a single-thread executor), never on the event-loop thread. The same code runs on
pyroute2 0.7.2 and 0.9.x because it only uses `link_lookup`, `get_links`, `get_addr` and
`addr`, which both versions share.

Watching uses a plain AF_NETLINK socket bound to RTMGRP_LINK and both IFADDR groups in its own
daemon thread, parsing the few fixed-layout fields it needs (ifinfomsg flags and name,
ifaddrmsg index; IPv4 and IPv6 address groups). Not a second IPRoute: 0.9.x's sync IPRoute
buffers datagrams in an internal asyncio queue, so a select() on its descriptor can miss queued
events, and it cannot be interrupted cleanly from another thread. The plain socket polls with a
short timeout so close() stops the thread within POLL_INTERVAL; on ENOBUFS (events lost) it re-
dumps the links and reports every interface's addresses as changed. Events are handed to the
loop with call_soon_threadsafe; on_link(ifname, carrier_up) fires only when carrier (IFF_UP and
IFF_LOWER_UP) changes, or when an interface appears or disappears.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import ipaddress
import logging
import os
import socket
import struct
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from carpd.core.addresses import Address, AddressWithPrefix, Family
from carpd.core.params import IFNAMSIZ

log = logging.getLogger(__name__)

T = TypeVar("T")

IFF_UP = 0x1
IFF_LOWER_UP = 0x10000
IFA_F_SECONDARY = 0x01
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

_AF = {4: socket.AF_INET, 6: socket.AF_INET6}
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


class NetlinkAddresses:
    """ports.AddressPort over pyroute2's sync IPRoute in a worker thread."""

    def __init__(self) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="carpd-netlink")
        self._ipr: Any = None  # created inside the worker thread
        self._watcher: _Watcher | None = None

    # -- worker-thread plumbing -----------------------------------------------------------

    async def _call(self, fn: Callable[[Any], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._with_ipr, fn)

    def _with_ipr(self, fn: Callable[[Any], T]) -> T:
        if self._ipr is None:
            self._ipr = IPRoute()
        return fn(self._ipr)

    @staticmethod
    def _index(ipr: Any, interface: str) -> int:
        """One SIOCGIFINDEX ioctl (microseconds); pyroute2's link_lookup dumps every link
        through netlink and cost ~1.4 ms on each address operation of a takeover."""
        try:
            return socket.if_nametoindex(interface)
        except OSError:
            raise OSError(errno.ENODEV, f"interface {interface} does not exist") from None

    # -- ports.AddressPort ----------------------------------------------------------------

    async def start(self, on_link: LinkCallback, on_addresses: AddressCallback) -> None:
        if self._watcher is not None:
            raise RuntimeError("NetlinkAddresses already started")
        loop = asyncio.get_running_loop()
        self._watcher = _Watcher(loop, on_link, on_addresses)
        await self._watcher.start()

    async def add(self, interface: str, addresses: tuple[AddressWithPrefix, ...],
                  label: str) -> None:
        """Add each address (IPv4 ones with `label`, truncated to 15 characters); present
        ones are kept."""
        label = label[:IFNAMSIZ - 1]

        def work(ipr: Any) -> None:
            index = self._index(ipr, interface)
            for addr in addresses:
                extra = {"label": label} if addr.version == 4 else {}
                try:
                    ipr.addr("add", index=index, address=str(addr.ip), family=_AF[addr.version],
                             prefixlen=addr.network.prefixlen, **extra)
                except NetlinkError as exc:
                    if exc.code != errno.EEXIST:
                        raise _oserror(exc, f"cannot add {addr} to {interface}") from None

        await self._call(work)

    async def remove(self, interface: str,
                     addresses: tuple[AddressWithPrefix, ...]) -> None:
        """Remove those present; absent ones are not an error."""

        def work(ipr: Any) -> None:
            index = self._index(ipr, interface)
            for addr in addresses:
                try:
                    ipr.addr("del", index=index, address=str(addr.ip), family=_AF[addr.version],
                             prefixlen=addr.network.prefixlen)
                except NetlinkError as exc:
                    if exc.code != errno.EADDRNOTAVAIL:
                        raise _oserror(exc, f"cannot remove {addr} from {interface}") \
                            from None

        await self._call(work)

    async def addresses(self, interface: str) -> set[AddressWithPrefix]:
        """Every address of the interface, IPv4 and IPv6."""
        entries = await self._call(lambda ipr: self._entries(ipr, interface, None))
        return {iface for iface, _flags in entries}

    async def primary_address(self, interface: str, family: Family,
                              exclude: frozenset[Address] = frozenset()) -> Address | None:
        """IPv4: the first address without IFA_F_SECONDARY; IPv6: the first link-local one;
        in both cases not one of `exclude` (the caller may pass its own VIPs)."""
        entries = await self._call(lambda ipr: self._entries(ipr, interface, family))
        for iface, flags in entries:
            if iface.ip in exclude:
                continue
            if family is Family.IPV4 and not flags & IFA_F_SECONDARY:
                return iface.ip
            if family is Family.IPV6 and iface.ip.is_link_local:
                return iface.ip
        return None

    async def link_up(self, interface: str) -> bool:
        def work(ipr: Any) -> bool:
            index = self._index(ipr, interface)
            links = ipr.get_links(index)
            return bool(links) and carrier(int(links[0]["flags"]))

        return await self._call(_translating(work, f"cannot read link state of {interface}"))

    async def exists(self, interface: str) -> bool:
        return await self._call(
            _translating(lambda ipr: bool(ipr.link_lookup(ifname=interface)),
                         f"cannot look up {interface}"))

    async def close(self) -> None:
        """Stop the watcher thread and close the netlink sockets (idempotent)."""
        if self._watcher is not None:
            watcher, self._watcher = self._watcher, None
            await asyncio.get_running_loop().run_in_executor(None, watcher.stop)
        if self._ipr is not None:
            fut = asyncio.get_running_loop().run_in_executor(self._executor, self._close_ipr)
            await fut
        self._executor.shutdown(wait=False)

    def _close_ipr(self) -> None:
        ipr, self._ipr = self._ipr, None
        if ipr is not None:
            ipr.close()

    # -- helpers --------------------------------------------------------------------------

    def _entries(self, ipr: Any, interface: str, family: Family | None
                 ) -> list[tuple[AddressWithPrefix, int]]:
        """(address, flags) of the interface in `family` (None: both), in kernel order."""
        try:
            index = self._index(ipr, interface)
            msgs = [m for f in ([family] if family else list(Family))
                    for m in ipr.get_addr(family=_AF[f], index=index)]
        except NetlinkError as exc:
            raise _oserror(exc, f"cannot list addresses of {interface}") from None
        result: list[tuple[AddressWithPrefix, int]] = []
        for msg in msgs:
            if int(msg["index"]) != index:
                continue
            local = msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")
            if local is None:
                continue
            flags = msg.get_attr("IFA_FLAGS")
            flags = int(msg["flags"]) if flags is None else int(flags)
            result.append((ipaddress.ip_interface(f"{local}/{msg['prefixlen']}"), flags))
        return result


def _oserror(exc: NetlinkError, what: str) -> OSError:
    """An OSError (subclass chosen by errno) naming what failed."""
    code = int(exc.code)
    return OSError(code, f"{what}: {os.strerror(code)}")


def _translating(fn: Callable[[Any], T], what: str) -> Callable[[Any], T]:
    def wrapper(ipr: Any) -> T:
        try:
            return fn(ipr)
        except NetlinkError as exc:
            raise _oserror(exc, what) from None

    return wrapper


class _Watcher:
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
        if family != socket.AF_INET:
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
