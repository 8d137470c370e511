"""Before VIPs run: the configuration fits this host, carpd's stale copies are gone, 'auto'
sources resolved.

Owns: `prepare` (at start: every configured interface exists, a configured `source`/`source6`
is on its interface, no VIP address is on its interface without being carpd's, then the VIP
addresses an earlier run left behind, which carry carpd's mark, are removed and logged, and
each VIP's 'auto' sources resolved) and `resolve_for_reload` (a reload's VIPs: interfaces
exist, a new VIP's address is not the host's own, a source already in use on the interface is
kept, a new one resolved), both checking that one interface sends from one source per family
and mode.
Ownership (carpd.core.ownership): only addresses carrying carpd's mark are ever removed; a VIP
address that is on the interface without it (say the host's own primary address) is a
`HostMismatchError` naming the address, the interface and the VIP, and nothing is touched.
`HostMismatchError` (exit status EXIT_HOST_MISMATCH, 6: the unit's RestartPreventExitStatus= keeps
systemd from restarting what cannot succeed on this host) covers these checks; other
`StartupError`s exit 1 and are restarted: 'auto' finding no address may be a network still
coming up (an IPv6 link-local is tentative for a second after the link comes up).
Leftovers: `leftovers` finds carpd's own copies per VIP and `prepare` removes them, except for
the VIPs it is told to `keep` (those the resume record says were MASTER a moment ago: if the
core resumes them the copy keeps serving; if not, entering BACKUP removes it).
How 'auto' resolves, per family the VIP has addresses in (IPV6-UNICAST-VRRP3.md 1.1, 2.5):
IPv4 from the interface's primary address; IPv6 from its link-local address (what the BSDs
send from, and the only choice for ff02::12), except that a VIP with global IPv6 unicast peers
sends from the interface's first usable global IPv6 address that is not a VIP (a link-local
source cannot be answered or routed beyond the link). A problem is a `StartupError` naming
the VIP and what is wrong.
Routed VIPs (carpd.driver.placement): a VIP touches two interfaces, its advert `interface`
(the source) and its `address_interface` (the VIPs, stale copies); a missing routed interface
is created as a dummy first, at start and, once a reload is planned, for the VIPs it adds.
Must not: start anything (the driver does once these succeed), or contain protocol rules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from carpd.core.addresses import Address, AddressWithPrefix, Family
from carpd.core.ownership import InterfaceAddress, foreign_copy_text, survey
from carpd.core.params import VipParams
from carpd.driver.placement import (
    RoutedInterfaceError,
    ensure_routed_interfaces,
    interfaces_of,
)
from carpd.driver.ports import AddressPort, EventLog
from carpd.status import messages as msg

EXIT_HOST_MISMATCH = 6  # systemd shows it as 6/NOTCONFIGURED; not restarted by the unit

# (interface, family, global unicast source?) -> the source resolved for it
_SourceKey = tuple[str, Family, bool]
Leftovers = dict[str, tuple[AddressWithPrefix, ...]]  # VIP name -> carpd's copies found
Listings = dict[str, tuple[InterfaceAddress, ...]]  # interface -> its addresses




class StartupError(Exception):
    """The daemon cannot start with this configuration on this host (message says why)."""

    exit_status = 1


class HostMismatchError(StartupError):
    """The configuration cannot work on this host as it is: restarting cannot help."""

    exit_status = EXIT_HOST_MISMATCH


async def prepare(configured: tuple[VipParams, ...], addresses: AddressPort,
                  log: EventLog, keep: frozenset[str] = frozenset()) -> tuple[VipParams, ...]:
    """The configuration fits the host, stale VIPs removed (except those of the VIPs in
    `keep`, which may resume), 'auto' sources resolved."""
    await ensure_routed(configured, addresses, log)
    listings: Listings = {}
    problems: list[str] = []
    for iface, vips in _by_interface(configured, interfaces_of).items():
        if not await addresses.exists(iface):
            problems.append(_no_interface(iface, vips))
        else:
            listings[iface] = await addresses.listing(iface)
    if problems:
        raise HostMismatchError("; ".join(problems))
    problems = host_problems(configured, listings)
    if problems:
        raise HostMismatchError("; ".join(problems))
    for iface, vips in _by_interface(configured, _address_interface).items():
        found = leftovers(vips, listings[iface])
        for name in sorted(found.keys() & keep):
            log.record(msg.NOTICE, f"vip {name}: kept carpd's copy "
                       f"{', '.join(map(str, found[name]))} on {iface} left by the previous run "
                       "(MASTER a moment ago): it resumes, or is released if too much time "
                       "has passed", MESSAGE_ID=msg.VIP_RECONCILED, CARP_INTERFACE=iface,
                       CARP_NAME=name)
        stale = {n: a for n, a in found.items() if n not in keep}
        await _remove_stale(iface, vips, stale, addresses, log)
    resolver = _Resolver(addresses, configured)
    resolved = [await resolver.resolve(p) for p in configured]
    check_one_source_per_interface(resolved)
    return tuple(resolved)


async def ensure_routed(vips: Iterable[VipParams], addresses: AddressPort,
                        log: EventLog) -> None:
    """The routed interfaces of these VIPs, created as dummies where missing (at start, and
    for the VIPs a reload adds, once it is planned: planning itself only reads)."""
    try:
        await ensure_routed_interfaces(vips, addresses, log)
    except RoutedInterfaceError as err:
        raise (HostMismatchError if err.host_mismatch else StartupError)(str(err)) from None


def host_problems(vips: Iterable[VipParams], listings: Listings) -> list[str]:
    """What stops these VIPs from running on their interfaces (`listings`: each interface's
    addresses): a VIP address on its address interface that is not carpd's, a configured
    source that is not on the advert interface."""
    problems: list[str] = []
    for p in vips:
        where = p.address_interface
        for addr in survey(p.addresses, p.label, listings[where]).foreign:
            problems.append(f"vip {p.name}: {foreign_copy_text(addr, where)}")
        present = {entry.address.ip for entry in listings[p.interface]}
        for family in p.families:
            source = p.source_for(family)
            if source is not None and source not in present:
                key = "source" if family is Family.IPV4 else "source6"
                problems.append(f"vip {p.name}: {key} {source} is not an address of "
                                f"{p.interface}")
    return problems


def leftovers(vips: Iterable[VipParams], listing: tuple[InterfaceAddress, ...]) -> Leftovers:
    """carpd's own copies of each VIP's addresses (its mark), what a run that did not exit
    cleanly left (any prefix length)."""
    found = {p.name: survey(p.addresses, p.label, listing).ours for p in vips}
    return {name: ours for name, ours in found.items() if ours}


async def _remove_stale(iface: str, vips: list[VipParams], stale: Leftovers,
                        addresses: AddressPort, log: EventLog) -> None:
    for p in vips:
        if p.name not in stale:
            continue
        removed = await addresses.remove(iface, stale[p.name], label=p.label)
        if removed:
            log.record(msg.NOTICE, f"vip {p.name}: removed stale VIP "
                       f"{', '.join(map(str, removed))} from {iface} (carpd's, left by an "
                       "earlier run that did not exit cleanly)",
                       MESSAGE_ID=msg.VIP_RECONCILED, CARP_INTERFACE=iface, CARP_NAME=p.name)


def _by_interface(vips: Iterable[VipParams],
                  where: Callable[[VipParams], tuple[str, ...]] = lambda p: (p.interface,)
                  ) -> dict[str, list[VipParams]]:
    by_iface: dict[str, list[VipParams]] = {}
    for p in vips:
        for iface in where(p):
            by_iface.setdefault(iface, []).append(p)
    return by_iface


def _address_interface(p: VipParams) -> tuple[str, ...]:
    return (p.address_interface,)


def _no_interface(iface: str, vips: list[VipParams]) -> str:
    return f"interface {iface} does not exist (used by vip {', '.join(p.name for p in vips)})"


async def resolve_for_reload(vips: tuple[VipParams, ...], running: tuple[VipParams, ...],
                             addresses: AddressPort) -> tuple[VipParams, ...]:
    """'auto' sources resolve to what the interface already sends from in that family (one
    source per interface and family), or, where nothing runs yet, as at start. A VIP whose
    interface or addresses are not running yet must fit the host as at start; a routed
    interface that does not exist yet is not an error (`ensure_routed` creates it once the
    reload is planned) and has nothing on it."""
    running_ifaces = {i for p in running for i in interfaces_of(p)}
    running_ifaces |= {p.routed_interface for p in vips if p.routed}
    same = {(p.name, p.interface, p.address_interface, p.addresses) for p in running}
    new = [p for p in vips
           if (p.name, p.interface, p.address_interface, p.addresses) not in same]
    listings: Listings = {}
    for iface, ifvips in _by_interface(vips, interfaces_of).items():
        if iface not in running_ifaces and not await addresses.exists(iface):
            raise StartupError(_no_interface(iface, ifvips))
        if any(iface in interfaces_of(p) for p in new):
            listings[iface] = await addresses.listing(iface) \
                if await addresses.exists(iface) else ()
    problems = host_problems(new, listings)
    if problems:
        raise StartupError("; ".join(problems))
    resolver = _Resolver(addresses, vips)
    for p in running:
        for family in p.families:
            source = p.source_for(family)
            if source is not None:
                resolver.known.setdefault(_key(p, family), source)
    resolved = [await resolver.resolve(p) for p in vips]
    check_one_source_per_interface(resolved)
    return tuple(resolved)


class _Resolver:
    """Resolves 'auto' sources, asking the interface once per (interface, family, mode)."""

    def __init__(self, addresses: AddressPort, vips: tuple[VipParams, ...]) -> None:
        self._addresses = addresses
        self._vips = frozenset(ip for p in vips for ip in p.hosts)
        self.known: dict[_SourceKey, Address | None] = {}

    async def resolve(self, p: VipParams) -> VipParams:
        changes: dict[str, Address] = {}
        for family in p.families:
            if p.source_for(family) is not None:
                continue
            key = _key(p, family)
            if key not in self.known:
                self.known[key] = await self._ask(key)
            source = self.known[key]
            if source is None:
                raise StartupError(_no_source(p, family, key[2]))
            changes["source" if family is Family.IPV4 else "source6"] = source
        return dataclasses.replace(p, **changes) if changes else p  # type: ignore[arg-type]

    async def _ask(self, key: _SourceKey) -> Address | None:
        iface, family, global_unicast = key
        if global_unicast:
            return await self._addresses.global_address(iface, family, self._vips)
        return await self._addresses.primary_address(iface, family)


def _key(p: VipParams, family: Family) -> _SourceKey:
    global_unicast = family is Family.IPV6 and any(
        not peer.is_link_local for peer in p.peers_for(family))
    return (p.interface, family, global_unicast)


def _no_source(p: VipParams, family: Family, global_unicast: bool) -> str:
    key = "source" if family is Family.IPV4 else "source6"
    if family is Family.IPV4:
        what = "IPv4 address"
    elif global_unicast:
        what = "usable global IPv6 address (other than its VIPs) for its unicast peers"
    else:
        what = "IPv6 link-local address"
    return (f"vip {p.name}: interface {p.interface} has no {what} to send adverts from; "
            f"add one or set `{key}`")


def check_one_source_per_interface(vips: list[VipParams]) -> None:
    """One source per interface, family and mode (group or global unicast): peers and the
    own-packet check see one sender per link."""
    seen: dict[_SourceKey, tuple[VipParams, Address | None]] = {}
    for p in vips:
        for family in p.families:
            source = p.source_for(family)
            first, first_source = seen.setdefault(_key(p, family), (p, source))
            if first_source != source:
                key = "source" if family is Family.IPV4 else "source6"
                raise StartupError(f"vip {p.name} sends from {source} but vip {first.name} "
                                   f"from {first_source} on {p.interface}: one {key} "
                                   "address per interface")
