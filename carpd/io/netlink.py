"""Addresses and link state through rtnetlink (ports.AddressPort).

Owns: adding/removing the VIPs (IPv4 or IPv6; IPv4 ones with an ifconfig-style label, which
IPv6 has no field for), listing addresses of both families with their kernel state
(`address_states`: flags, scope, lifetimes), the primary address per family (IPv4: the first
non-secondary one; IPv6: the link-local one), the first usable global IPv6 address (a source
towards unicast peers), carrier state, and watching link/address changes.

IPv6 VIPs are always added with IFA_F_NODAD: usable at once, and a moment of layer-2 split
brain (the old master still answering) cannot leave the VIP dadfailed for good; the election
is the duplicate detection (IPV6-UNICAST-VRRP3.md 1.9). With `deprecate_ipv6` they also get
preferred lifetime 0 and an infinite valid one (IFA_CACHEINFO), so the kernel never picks
them as the source of outgoing connections. That RTM_NEWADDR request is encoded here and sent
on a plain rtnetlink socket of the worker thread (waiting for the kernel's acknowledgement),
because pyroute2's `IPRoute.addr` handles flags and lifetimes differently in 0.7.2 and 0.9.x
(0.7.2 drops a preferred lifetime) and 0.9.x's sync `nlm_request` is broken; IPv4 ones go
through `addr` as before.

Threading (PACKAGING.md: pyroute2 0.7.2 on Debian 12 has no AsyncIPRoute): every request goes
through the synchronous `pyroute2.IPRoute`, created and used only inside one dedicated worker
thread (a single-thread executor), never on the event-loop thread. The same code runs on
pyroute2 0.7.2 and 0.9.x because it only uses `link_lookup`, `get_links`, `get_addr` and
`addr`, which both versions share.

Watching (`start`) is carpd.io.netwatch's thread on a plain rtnetlink socket: link carrier
changes, and address changes of both families.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import ipaddress
import os
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from carpd.core.addresses import Address, AddressWithPrefix, Family
from carpd.core.params import IFNAMSIZ
from carpd.io.netwatch import AddressCallback, LinkCallback, NetlinkWatcher, carrier

T = TypeVar("T")

IFA_F_SECONDARY = 0x01
IFA_F_NODAD = 0x02
IFA_F_DADFAILED = 0x08
IFA_F_DEPRECATED = 0x20
IFA_F_TENTATIVE = 0x40
RT_SCOPE_UNIVERSE = 0
INFINITY_LIFE_TIME = 0xFFFFFFFF
RTM_NEWADDR, NLMSG_ERROR = 20, 2
NLM_F_REQUEST, NLM_F_ACK = 0x1, 0x4
NLM_F_EXCL, NLM_F_CREATE = 0x200, 0x400
IFA_ADDRESS, IFA_CACHEINFO, IFA_FLAGS = 1, 6, 8
REQUEST_TIMEOUT = 5.0

_NLMSGHDR = struct.Struct("=IHHII")
_IFADDRMSG = struct.Struct("=BBBBI")
_RTATTR = struct.Struct("=HH")

_AF = {4: socket.AF_INET, 6: socket.AF_INET6}


@dataclass(frozen=True, slots=True)
class AddressState:
    """One address of an interface as the kernel reports it (`ip addr` shows the same)."""

    address: AddressWithPrefix
    flags: int  # IFA_F_* (IFA_FLAGS when present, else the 8-bit ifa_flags)
    scope: int  # RT_SCOPE_*: 0 universe (global, ULA included), 253 link, 254 host
    preferred_lft: int | None = None  # seconds; INFINITY_LIFE_TIME = forever
    valid_lft: int | None = None

    @property
    def tentative(self) -> bool:
        return bool(self.flags & IFA_F_TENTATIVE)

    @property
    def dadfailed(self) -> bool:
        return bool(self.flags & IFA_F_DADFAILED)

    @property
    def deprecated(self) -> bool:
        return bool(self.flags & IFA_F_DEPRECATED)

    @property
    def nodad(self) -> bool:
        return bool(self.flags & IFA_F_NODAD)

    @property
    def usable_source(self) -> bool:
        """The kernel would pick it as a source: neither tentative, dadfailed nor
        deprecated."""
        return not self.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED | IFA_F_DEPRECATED)




class NetlinkAddresses:
    """ports.AddressPort over pyroute2's sync IPRoute in a worker thread."""

    def __init__(self) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="carpd-netlink")
        self._ipr: Any = None  # created inside the worker thread
        self._rtnl: socket.socket | None = None  # plain rtnetlink socket, worker thread only
        self._seq = 0
        self._watcher: NetlinkWatcher | None = None

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
        self._watcher = NetlinkWatcher(loop, on_link, on_addresses)
        await self._watcher.start()

    async def add(self, interface: str, addresses: tuple[AddressWithPrefix, ...],
                  label: str, *, deprecate_ipv6: bool = False) -> None:
        """Add each address (IPv4 ones with `label`, truncated to 15 characters; IPv6 ones
        without DAD, with preferred lifetime 0 when `deprecate_ipv6`); present ones are
        kept as they are."""
        label = label[:IFNAMSIZ - 1]

        def work(ipr: Any) -> None:
            index = self._index(ipr, interface)
            for addr in addresses:
                try:
                    if isinstance(addr, ipaddress.IPv6Interface):
                        self._request(encode_new_ipv6_address(index, addr, deprecate_ipv6))
                    else:
                        ipr.addr("add", index=index, address=str(addr.ip),
                                 family=socket.AF_INET, prefixlen=addr.network.prefixlen,
                                 label=label)
                except NetlinkError as exc:
                    if exc.code != errno.EEXIST:
                        raise _oserror(exc, f"cannot add {addr} to {interface}") from None
                except FileExistsError:
                    continue
                except OSError as exc:
                    raise OSError(exc.errno, f"cannot add {addr} to {interface}: "
                                             f"{exc.strerror}") from None

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
        return {s.address for s in await self.address_states(interface)}

    async def address_states(self, interface: str, family: Family | None = None
                             ) -> list[AddressState]:
        """Every address of the interface in `family` (None: both) with its flags, scope
        and lifetimes, in kernel order."""
        return await self._call(lambda ipr: self._entries(ipr, interface, family))

    async def primary_address(self, interface: str, family: Family,
                              exclude: frozenset[Address] = frozenset()) -> Address | None:
        """IPv4: the first address without IFA_F_SECONDARY; IPv6: the first link-local one
        that is not dadfailed; in both cases not one of `exclude` (the caller may pass its
        own VIPs). Returned without a scope id: the interface is the scope."""
        for state in await self.address_states(interface, family):
            ip = state.address.ip
            if ip in exclude:
                continue
            if family is Family.IPV4 and not state.flags & IFA_F_SECONDARY:
                return ip
            if family is Family.IPV6 and ip.is_link_local and not state.dadfailed:
                return ip
        return None

    async def global_address(self, interface: str, family: Family,
                             exclude: frozenset[Address] = frozenset()) -> Address | None:
        """A source for adverts to unicast peers beyond the link. IPv6: the first address of
        global scope (ULAs included) that is neither tentative, dadfailed nor deprecated,
        and not one of `exclude` (pass the VIPs: a deprecated VIP is skipped anyway, a
        non-deprecated one would otherwise qualify). IPv4: `primary_address`."""
        if family is Family.IPV4:
            return await self.primary_address(interface, family, exclude)
        for state in await self.address_states(interface, family):
            if (state.scope == RT_SCOPE_UNIVERSE and state.usable_source
                    and state.address.ip not in exclude):
                return state.address.ip
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
        rtnl, self._rtnl = self._rtnl, None
        if rtnl is not None:
            rtnl.close()

    def _request(self, body: tuple[int, bytes]) -> None:
        """Send one rtnetlink request (worker thread) and wait for its acknowledgement;
        a negative one raises OSError with its errno."""
        if self._rtnl is None:
            self._rtnl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
            self._rtnl.bind((0, 0))
            self._rtnl.settimeout(REQUEST_TIMEOUT)
        self._seq += 1
        kind, payload = body
        flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
        self._rtnl.send(_NLMSGHDR.pack(_NLMSGHDR.size + len(payload), kind, flags, self._seq,
                                       0) + payload)
        while True:
            data = self._rtnl.recv(1 << 16)
            offset = 0
            while offset + _NLMSGHDR.size + 4 <= len(data):
                length, kind, _f, seq, _pid = _NLMSGHDR.unpack_from(data, offset)
                if kind == NLMSG_ERROR and seq == self._seq:
                    (code,) = struct.unpack_from("=i", data, offset + _NLMSGHDR.size)
                    if code:
                        raise OSError(-code, os.strerror(-code))
                    return
                offset += max((length + 3) & ~3, _NLMSGHDR.size)

    # -- helpers --------------------------------------------------------------------------

    def _entries(self, ipr: Any, interface: str, family: Family | None
                 ) -> list[AddressState]:
        """The addresses of the interface in `family` (None: both), in kernel order."""
        try:
            index = self._index(ipr, interface)
            msgs = [m for f in ([family] if family else list(Family))
                    for m in ipr.get_addr(family=_AF[f], index=index)]
        except NetlinkError as exc:
            raise _oserror(exc, f"cannot list addresses of {interface}") from None
        return [state for msg in msgs if int(msg["index"]) == index
                for state in [_state(msg)] if state is not None]


def _state(msg: Any) -> AddressState | None:
    local = msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")
    if local is None:
        return None
    flags = msg.get_attr("IFA_FLAGS")
    cache = msg.get_attr("IFA_CACHEINFO")
    return AddressState(
        address=ipaddress.ip_interface(f"{local}/{msg['prefixlen']}"),
        flags=int(msg["flags"]) if flags is None else int(flags), scope=int(msg["scope"]),
        preferred_lft=None if cache is None else int(cache["ifa_preferred"]),
        valid_lft=None if cache is None else int(cache["ifa_valid"]))


def _rtattr(kind: int, value: bytes) -> bytes:
    raw = _RTATTR.pack(_RTATTR.size + len(value), kind) + value
    return raw + b"\0" * (-len(raw) % 4)


def encode_new_ipv6_address(index: int, addr: ipaddress.IPv6Interface,
                            deprecate: bool) -> tuple[int, bytes]:
    """RTM_NEWADDR and its body for an IPv6 VIP: no DAD (in ifa_flags and IFA_FLAGS);
    deprecated (IFA_CACHEINFO preferred 0, valid forever) when asked, else no lifetimes
    (the kernel's default: both forever)."""
    body = _IFADDRMSG.pack(socket.AF_INET6, addr.network.prefixlen, IFA_F_NODAD,
                           RT_SCOPE_UNIVERSE, index)
    body += _rtattr(IFA_ADDRESS, addr.ip.packed) + _rtattr(IFA_FLAGS,
                                                           struct.pack("=I", IFA_F_NODAD))
    if deprecate:
        body += _rtattr(IFA_CACHEINFO, struct.pack("=IIII", 0, INFINITY_LIFE_TIME, 0, 0))
    return RTM_NEWADDR, body


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
