"""Routed VIPs' interfaces at start and reload: the dummy links carpd creates when missing.

Owns: `ensure_routed_interfaces`: for every `routed_interface` the routed VIPs name
(docs/routed.md), ask the address port to create a dummy link of that name, up, when no link
has it; an existing one (an operator's dummy, `lo`) is used as it is. Each creation is logged.
A kernel without dummy links (EOPNOTSUPP, as on kernels built without CONFIG_DUMMY) is a
`RoutedInterfaceError` with `host_mismatch` set, naming the VIPs and the way out
(`routed_interface = "lo"`, or a link the operator creates): start-up turns it into a
HostMismatchError, since restarting cannot help; any other failure is a plain StartupError.
`interfaces_of` names the interfaces a VIP touches: its advert interface and, when routed, its
address interface.
Invariants: carpd never deletes a dummy link (empty, it announces nothing, and the routing
engine keeps seeing the same interface across restarts); it never changes a link it did not
create (no state, flags or addresses other than its own marked VIPs).
Must not: decide where addresses go (VipParams.address_interface does).
"""

from __future__ import annotations

import errno
from collections.abc import Iterable

from carpd.core.params import VipParams
from carpd.driver.ports import AddressPort, EventLog
from carpd.status import messages as msg


class RoutedInterfaceError(Exception):
    """A routed interface is missing and cannot be created (the message says why)."""

    def __init__(self, message: str, *, host_mismatch: bool) -> None:
        super().__init__(message)
        self.host_mismatch = host_mismatch


def interfaces_of(p: VipParams) -> tuple[str, ...]:
    """The advert interface, then the address interface when it differs."""
    return (p.interface,) if p.address_interface == p.interface else \
        (p.interface, p.address_interface)


async def ensure_routed_interfaces(vips: Iterable[VipParams], addresses: AddressPort,
                                   log: EventLog) -> None:
    by_iface: dict[str, list[str]] = {}
    for p in vips:
        if p.routed:
            by_iface.setdefault(p.routed_interface, []).append(p.name)
    for iface, names in by_iface.items():
        try:
            created = await addresses.ensure_dummy(iface)
        except OSError as exc:
            raise _failed(iface, names, exc) from None
        if created:
            log.record(msg.NOTICE, f"created dummy link {iface} (up, NOARP) for routed vip "
                       f"{', '.join(names)}; it stays when carpd exits, empty",
                       MESSAGE_ID=msg.VIP_RECONCILED, CARP_INTERFACE=iface)


def _failed(iface: str, names: list[str], exc: OSError) -> RoutedInterfaceError:
    who = f"vip {', '.join(names)}: routed_interface {iface}"
    if exc.errno == errno.EOPNOTSUPP:
        return RoutedInterfaceError(
            f"{who} does not exist and this kernel has no dummy links; create it, or set "
            'routed_interface = "lo" (the VIP then goes on lo with carpd\'s label)',
            host_mismatch=True)
    return RoutedInterfaceError(f"{who} does not exist and carpd could not create it: {exc}",
                                host_mismatch=False)
