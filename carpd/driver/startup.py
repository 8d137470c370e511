"""Before VIPs run: their interfaces exist, stale copies are gone, 'auto' sources resolved.

Owns: `prepare` (at start: every configured interface exists, VIP addresses an earlier run
left behind are removed and logged, each VIP's 'auto' sources resolved) and
`resolve_for_reload` (a reload's VIPs: a source already in use on the interface is kept, a new
one resolved), both checking that one interface sends from one source per family and mode.
How 'auto' resolves, per family the VIP has addresses in (IPV6-UNICAST-VRRP3.md 1.1, 2.5):
IPv4 from the interface's primary address; IPv6 from its link-local address (what the BSDs
send from, and the only choice for ff02::12), except that a VIP with global IPv6 unicast peers
sends from the interface's first usable global IPv6 address that is not a VIP (a link-local
source cannot be answered or routed beyond the link). A problem is a `StartupError` naming
the VIP and what is wrong.
Must not: start anything (the driver does once these succeed), or contain protocol rules.
"""

from __future__ import annotations

import dataclasses

from carpd.core.addresses import Address, Family
from carpd.core.params import VipParams
from carpd.driver.ports import AddressPort, EventLog
from carpd.status import messages as msg

# (interface, family, global unicast source?) -> the source resolved for it
_SourceKey = tuple[str, Family, bool]


class StartupError(Exception):
    """The daemon cannot start with this configuration on this host (message says why)."""


async def prepare(configured: tuple[VipParams, ...], addresses: AddressPort,
                  log: EventLog) -> tuple[VipParams, ...]:
    """Interfaces exist, stale VIPs removed, 'auto' sources resolved."""
    by_iface: dict[str, list[VipParams]] = {}
    for p in configured:
        by_iface.setdefault(p.interface, []).append(p)
    for iface, vips in by_iface.items():
        if not await addresses.exists(iface):
            names = ", ".join(p.name for p in vips)
            raise StartupError(f"interface {iface} does not exist (used by vip {names})")
        await _remove_stale(iface, vips, addresses, log)
    resolver = _Resolver(addresses, configured)
    resolved = [await resolver.resolve(p) for p in configured]
    check_one_source_per_interface(resolved)
    return tuple(resolved)


async def _remove_stale(iface: str, vips: list[VipParams], addresses: AddressPort,
                        log: EventLog) -> None:
    ours = {a.ip for p in vips for a in p.addresses}
    stale = tuple(a for a in await addresses.addresses(iface) if a.ip in ours)
    if stale:
        await addresses.remove(iface, stale)
        log.record(msg.NOTICE, f"removed stale VIP {', '.join(map(str, stale))} from {iface} "
                   "(left by an earlier run that did not exit cleanly)",
                   MESSAGE_ID=msg.VIP_RECONCILED, CARP_INTERFACE=iface)


async def resolve_for_reload(vips: tuple[VipParams, ...], running: tuple[VipParams, ...],
                             addresses: AddressPort) -> tuple[VipParams, ...]:
    """'auto' sources resolve to what the interface already sends from in that family (one
    source per interface and family), or, where nothing runs yet, as at start."""
    for iface in dict.fromkeys(p.interface for p in vips):
        if iface not in {p.interface for p in running} and not await addresses.exists(iface):
            names = ", ".join(p.name for p in vips if p.interface == iface)
            raise StartupError(f"interface {iface} does not exist (used by vip {names})")
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
