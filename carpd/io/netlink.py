"""Addresses and link state through rtnetlink (ports.AddressPort).

Owns: adding/removing the VIPs (IPv4 or IPv6; IPv4 ones with an ifconfig-style label, which
IPv6 has no field for; every one with carpd's mark, carpd.io.ifaddr), listing addresses of
both families with their kernel state (`address_states`: flags, scope, lifetimes, label,
mark) and as the driver sees them (`listing`: with the mark), the primary address per family
(IPv4: the first non-secondary one; IPv6: the link-local one), the first usable global IPv6
address (a source towards unicast peers), carrier state, and watching link/address changes;
and creating a routed VIP's dummy link when it is missing (`ensure_dummy`: carpd never
deletes it; empty, it announces nothing).

Ownership (carpd.core.ownership): `remove` deletes only the copies of an address that are
carpd's (the mark, or for IPv4 the VIP's label), each by an exact request, so an operator's
copy of the same IP stays; `add` of an address that is present but not carpd's raises
`ForeignAddressError` (EEXIST) instead of treating it as held.

IPv6 VIPs are always added with IFA_F_NODAD: usable at once, and a moment of layer-2 split
brain (the old master still answering) cannot leave the VIP dadfailed for good; the election
is the duplicate detection (IPV6-UNICAST-VRRP3.md 1.9). With `deprecate_ipv6` they also get
preferred lifetime 0 and an infinite valid one (IFA_CACHEINFO), so the kernel never picks
them as the source of outgoing connections. Address requests and dumps are encoded by
carpd.io.ifaddr and sent on a plain rtnetlink socket of the worker thread (pyroute2 versions
differ in flags, lifetimes and IFA_PROTO).

Threading (PACKAGING.md: pyroute2 0.7.2 on Debian 12 has no AsyncIPRoute): every request runs
inside one dedicated worker thread (a single-thread executor), never on the event-loop
thread, except `add_now`/`remove_now` (a takeover's or a release's requests on an idle lane,
on a socket of the loop's own, each answered within its send); link
state still goes through the synchronous `pyroute2.IPRoute` created there (`link_lookup`,
`get_links`, which 0.7.2 and 0.9.x share).

Watching (`start`) is carpd.io.netwatch's thread on a plain rtnetlink socket: link carrier
changes, interfaces deleted and (re)created, and address changes of both families.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import os
import socket
from collections.abc import Callable
from typing import Any, TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from carpd.core.addresses import Address, AddressWithPrefix, Family
from carpd.core.ownership import InterfaceAddress, owns
from carpd.core.params import IFNAMSIZ
from carpd.io.ifaddr import (
    IFA_F_SECONDARY,
    RT_SCOPE_UNIVERSE,
    AddressState,
    RtnlSocket,
    encode_del_address,
    encode_new_address,
)
from carpd.io.netwatch import (
    AddressCallback,
    LinkCallback,
    NetlinkWatcher,
    PresenceCallback,
    carrier,
)

T = TypeVar("T")
FAST_ADD_TIMEOUT_S = 0.05  # add_now's bound on the wait for an acknowledgement

__all__ = ["AddressState", "ForeignAddressError", "NetlinkAddresses"]


class ForeignAddressError(FileExistsError):
    """The address to add is already on the interface and is not carpd's."""


class NetlinkAddresses:
    """ports.AddressPort over rtnetlink in a worker thread (carpd.io.ifaddr's socket for
    addresses, pyroute2's sync IPRoute for links)."""

    def __init__(self) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="carpd-netlink")
        self._ipr: Any = None  # created inside the worker thread
        self._rtnl = RtnlSocket()  # plain rtnetlink socket, worker thread only
        self._loop_rtnl = RtnlSocket(timeout=FAST_ADD_TIMEOUT_S)  # add_now: loop thread only
        self._closed = False
        self._watcher: NetlinkWatcher | None = None

    # -- worker-thread plumbing -----------------------------------------------------------

    async def _call(self, fn: Callable[[Any], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._with_ipr, fn)

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def _with_ipr(self, fn: Callable[[Any], T]) -> T:
        if self._ipr is None:
            self._ipr = IPRoute()
        return fn(self._ipr)

    def _index(self, interface: str) -> int:
        """One SIOCGIFINDEX ioctl (microseconds); pyroute2's link_lookup dumps every link
        through netlink and cost ~1.4 ms on each address operation of a takeover. The ioctl
        needs a new socket and Python reports every failure alike ("no interface with this
        name", also on EMFILE), so a failure asks the open netlink socket before saying
        the interface does not exist."""
        try:
            return socket.if_nametoindex(interface)
        except OSError:
            found = self._with_ipr(_translating(lambda i: i.link_lookup(ifname=interface),
                                                f"cannot look up {interface}"))
        if not found:
            raise OSError(errno.ENODEV, f"interface {interface} does not exist")
        return int(found[0])

    # -- ports.AddressPort ----------------------------------------------------------------

    async def start(self, on_link: LinkCallback, on_addresses: AddressCallback,
                    on_presence: PresenceCallback | None = None) -> None:
        if self._watcher is not None:
            raise RuntimeError("NetlinkAddresses already started")
        loop = asyncio.get_running_loop()
        self._watcher = NetlinkWatcher(loop, on_link, on_addresses, on_presence)
        await self._watcher.start()

    async def add(self, interface: str, addresses: tuple[AddressWithPrefix, ...],
                  label: str, *, deprecate_ipv6: bool = False) -> None:
        """Add each address with carpd's mark (IPv4 ones with `label`, truncated to 15
        characters; IPv6 ones without DAD, with preferred lifetime 0 when `deprecate_ipv6`).
        One already present is kept as it is if it is carpd's; if it is not, raises
        ForeignAddressError (the rest are not added)."""
        label = label[:IFNAMSIZ - 1]

        def work() -> None:
            index = self._index(interface)
            for addr in addresses:
                try:
                    self._rtnl.request(encode_new_address(index, addr, label=label,
                                                          deprecate=deprecate_ipv6))
                except FileExistsError:
                    self._check_present_is_ours(index, interface, addr, label)
                except OSError as exc:
                    raise OSError(exc.errno, f"cannot add {addr} to {interface}: "
                                             f"{exc.strerror}") from None

        await self._run(work)

    def add_now(self, interface: str, addresses: tuple[AddressWithPrefix, ...], label: str,
                *, deprecate_ipv6: bool = False) -> bool:
        """The takeover's fast path, on the loop thread (carpd.driver.lanes calls it when the
        VIP's lane is idle): the same RTM_NEWADDR requests as `add`, sent at once instead of
        through the worker thread, whose hand-off cost ~10 ms on a busy 2-core machine
        against ~0.1 ms here (bench vrrp3 --perf). False, with `add` to follow, whenever
        anything is not plain: an address already there (whose it is needs a dump), a
        missing interface, a refusal, a timeout. A partial success is harmless: `add` finds
        carpd's own copy and keeps it."""
        if self._closed:
            return False
        label = label[:IFNAMSIZ - 1]
        try:
            index = socket.if_nametoindex(interface)
            for addr in addresses:
                self._loop_rtnl.request(encode_new_address(index, addr, label=label,
                                                           deprecate=deprecate_ipv6))
        except OSError:
            return False
        return True

    def remove_now(self, interface: str, addresses: tuple[AddressWithPrefix, ...], *,
                   label: str) -> bool:
        """`remove` on the loop thread, for a release on an idle lane (the shutdown's bow-out
        advert waits for it): the same dump and RTM_DELADDRs of carpd's own copies, on the
        loop's socket. False, with `remove` to follow, on any error."""
        if self._closed:
            return False
        try:
            index = socket.if_nametoindex(interface)
            present = [st for st in self._loop_rtnl.dump(None) if st.index == index]
            for state in _ours(present, addresses, label):
                self._loop_rtnl.request(encode_del_address(index, state))
        except OSError:
            return False
        return True

    def _check_present_is_ours(self, index: int, interface: str, addr: AddressWithPrefix,
                               label: str) -> None:
        """EEXIST: IPv4 has the same address and prefix, IPv6 the same address."""
        same = [s for s in self._entries(index, interface, None) if s.address.ip == addr.ip
                and (addr.version == 6 or s.address == addr)]
        foreign = [s for s in same if not owns(s.listed(), label)]
        if foreign:
            raise ForeignAddressError(
                errno.EEXIST, f"cannot add {addr} to {interface}: {foreign[0].address} is "
                "already there and was not added by carpd (no carpd mark); not taking it")

    async def remove(self, interface: str, addresses: tuple[AddressWithPrefix, ...], *,
                     label: str) -> tuple[AddressWithPrefix, ...]:
        """Remove the copies of `addresses` (same address and prefix) that are carpd's
        (its mark, or for IPv4 `label`); absent ones are not an error and ones that are not
        carpd's stay. Returns what was removed."""

        def work() -> tuple[AddressWithPrefix, ...]:
            index = self._index(interface)
            removed: list[AddressWithPrefix] = []
            for state in _ours(self._entries(index, interface, None), addresses, label):
                try:
                    self._rtnl.request(encode_del_address(index, state))
                except OSError as exc:
                    if exc.errno != errno.EADDRNOTAVAIL:
                        raise OSError(exc.errno, f"cannot remove {state.address} from "
                                                 f"{interface}: {exc.strerror}") from None
                    continue
                removed.append(state.address)
            return tuple(removed)

        return await self._run(work)

    async def addresses(self, interface: str) -> set[AddressWithPrefix]:
        """Every address of the interface, IPv4 and IPv6."""
        return {s.address for s in await self.address_states(interface)}

    async def listing(self, interface: str) -> tuple[InterfaceAddress, ...]:
        """Every address of the interface, both families, with carpd's mark and the IPv4
        label, in kernel order."""
        return tuple(s.listed() for s in await self.address_states(interface))

    async def address_states(self, interface: str, family: Family | None = None
                             ) -> list[AddressState]:
        """Every address of the interface in `family` (None: both) with its flags, scope,
        lifetimes, label and protocol, in kernel order."""
        return await self._run(
            lambda: self._entries(self._index(interface), interface, family))

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
            index = self._index(interface)
            links = ipr.get_links(index)
            return bool(links) and carrier(int(links[0]["flags"]))

        return await self._call(_translating(work, f"cannot read link state of {interface}"))

    async def exists(self, interface: str) -> bool:
        return await self._call(
            _translating(lambda ipr: bool(ipr.link_lookup(ifname=interface)),
                         f"cannot look up {interface}"))

    async def ensure_dummy(self, interface: str) -> bool:
        """A routed VIP's interface (docs/routed.md): when no link has that name, create a
        dummy link with it and set it up (dummy links are NOARP from birth) and return True;
        an existing link of that name, whatever its kind, is left as it is (False). A kernel
        without dummy links raises OSError EOPNOTSUPP."""
        def work(ipr: Any) -> bool:
            if ipr.link_lookup(ifname=interface):
                return False
            ipr.link("add", ifname=interface, kind="dummy")
            ipr.link("set", index=self._index(interface), state="up")
            return True

        return await self._call(_translating(work, f"cannot create dummy link {interface}"))

    async def close(self) -> None:
        """Stop the watcher thread and close the netlink sockets (idempotent)."""
        self._loop_rtnl.close()
        if self._watcher is not None:
            watcher, self._watcher = self._watcher, None
            await asyncio.get_running_loop().run_in_executor(None, watcher.stop)
        if not self._closed:
            self._closed = True
            await asyncio.get_running_loop().run_in_executor(self._executor, self._close_ipr)
            self._executor.shutdown(wait=False)

    def _close_ipr(self) -> None:
        ipr, self._ipr = self._ipr, None
        if ipr is not None:
            ipr.close()
        self._rtnl.close()

    # -- helpers --------------------------------------------------------------------------

    def _entries(self, index: int, interface: str, family: Family | None
                 ) -> list[AddressState]:
        """The addresses of the interface in `family` (None: both), in kernel order."""
        try:
            found = self._rtnl.dump(None if family is None else int(family))
        except OSError as exc:
            raise OSError(exc.errno, f"cannot list addresses of {interface}: "
                                     f"{exc.strerror}") from None
        return [state for state in found if state.index == index]


def _ours(states: list[AddressState], addresses: tuple[AddressWithPrefix, ...],
          label: str) -> list[AddressState]:
    """The copies among one interface's `states` of `addresses` (same address and prefix)
    that are carpd's (carpd.core.ownership): what `remove` and `remove_now` delete."""
    wanted = set(addresses)
    return [st for st in states if st.address in wanted and owns(st.listed(), label)]


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
