"""The keys and rules of a routed VIP (docs/routed.md): `placement` and `routed_interface`.

Owns: the validator of `placement` ("link", the default: the addresses go on `interface` and
are announced by gratuitous ARP / NA; "routed": they go as host routes on `routed_interface`,
where a BGP engine announces them) and `check_routed`, the rules between a routed VIP's keys:
every address is a host route (/32, /128: a wider prefix would make the engine announce a
whole subnet from whichever server holds it), `routed_interface` is not the advert
`interface` (that one carries the server's own addresses), and `routed_interface` is only
set on a routed VIP. `routed_interface` itself is an interface name (values.interface_name):
`lo` on kernels without dummy links, else a dummy carpd creates when it is missing.
Must not: read the host (whether the kernel has dummy links is the start-up's question).
"""

from __future__ import annotations

from carpd.config.values import BadValueError, nonempty_string
from carpd.core.params import DEFAULT_ROUTED_INTERFACE, Placement, VipParams

PLACEMENTS = tuple(p.value for p in Placement)


class RoutedRuleError(Exception):
    """A routed-VIP rule is broken; `field` is the VipParams field to blame."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason)
        self.field = field
        self.reason = reason


def placement(value: object) -> Placement:
    text = nonempty_string(value)
    try:
        return Placement(text)
    except ValueError:
        raise BadValueError(f"{text!r} is not one of: {', '.join(PLACEMENTS)}") from None


def check_routed(vip: VipParams) -> None:
    if not vip.routed:
        if vip.routed_interface != DEFAULT_ROUTED_INTERFACE:
            raise RoutedRuleError("routed_interface", 'routed_interface applies to '
                                  f'placement = "routed" only, and vip.{vip.name} is '
                                  'placement = "link"; set placement or remove the key')
        return
    if vip.routed_interface == vip.interface:
        raise RoutedRuleError("routed_interface", f"{vip.routed_interface} is the VIP's "
                              "interface, which carries the server's own addresses; a routed "
                              "VIP needs an interface of its own (a dummy such as "
                              f'"{DEFAULT_ROUTED_INTERFACE}", or "lo")')
    for addr in vip.addresses:
        host = addr.max_prefixlen
        if addr.network.prefixlen != host:
            raise RoutedRuleError("addresses", f"{addr} is not a host route: a routed VIP's "
                                  f"addresses are /{host} (write {addr.ip}/{host} or just "
                                  f"{addr.ip}); the engine announces exactly that prefix")
