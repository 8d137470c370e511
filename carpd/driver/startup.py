"""Before VIPs run: their interfaces exist, stale copies are gone, 'auto' sources resolved.

Owns: `prepare` (at start: every configured interface exists, VIP addresses an earlier run
left behind are removed and logged, each VIP without `source` gets its interface's primary
address) and `resolve_for_reload` (a reload's VIPs: an interface already in use keeps the
source it sends from, a new one gets its primary address), both checking that an interface
has one source address. A problem is a `StartupError` naming the VIP and what is wrong.
Must not: start anything (the driver does once these succeed), or contain protocol rules.
"""

from __future__ import annotations

import dataclasses

from carpd.core.addresses import Address
from carpd.core.params import VipParams
from carpd.driver.ports import AddressPort, EventLog
from carpd.status import messages as msg


class StartupError(Exception):
    """The daemon cannot start with this configuration on this host (message says why)."""


async def prepare(configured: tuple[VipParams, ...], addresses: AddressPort,
                  log: EventLog) -> tuple[VipParams, ...]:
    """Interfaces exist, stale VIPs removed, 'auto' sources resolved."""
    by_iface: dict[str, list[VipParams]] = {}
    for p in configured:
        by_iface.setdefault(p.interface, []).append(p)
    resolved: list[VipParams] = []
    for iface, vips in by_iface.items():
        if not await addresses.exists(iface):
            names = ", ".join(p.name for p in vips)
            raise StartupError(f"interface {iface} does not exist (used by vip {names})")
        await _remove_stale(iface, vips, addresses, log)
        primary = await addresses.primary_address(iface, vips[0].family)
        resolved += [resolve_source(p, primary) for p in vips]
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
    """'auto' sources resolve to what the interface already sends from (one source per
    interface), or, on an interface new to this daemon, to its primary address."""
    sources = {p.interface: p.source for p in running}
    resolved: list[VipParams] = []
    for p in vips:
        if p.interface not in sources:
            if not await addresses.exists(p.interface):
                raise StartupError(f"interface {p.interface} does not exist (used by vip "
                                   f"{p.name})")
            sources[p.interface] = await addresses.primary_address(p.interface, p.family)
        resolved.append(resolve_source(p, sources[p.interface]))
    check_one_source_per_interface(resolved)
    return tuple(resolved)


def resolve_source(p: VipParams, primary: Address | None) -> VipParams:
    if p.source is not None:
        return p
    if primary is None:
        raise StartupError(f"vip {p.name}: interface {p.interface} has no {p.family.label} "
                           "address to send adverts from; add one or set `source`")
    return dataclasses.replace(p, source=primary)


def check_one_source_per_interface(vips: list[VipParams]) -> None:
    seen: dict[str, VipParams] = {}
    for p in vips:
        first = seen.setdefault(p.interface, p)
        if first.source != p.source:
            raise StartupError(f"vip {p.name} sends from {p.source} but vip {first.name} "
                               f"from {first.source} on {p.interface}: one source address "
                               "per interface")
