"""The failover scenarios ("variants"): address family of the VIP, and where adverts go.

* `ipv4`: an IPv4 VIP, adverts to the IPv4 group 224.0.0.18 (the original benchmark).
* `ipv6`: an IPv6-only VIP; carpd sends CARP to ff02::12 from the link-local (hop limit 255),
  keepalived VRRPv3 to ff02::12 (IPv6 needs version 3 in keepalived).
* `unicast`: an IPv4 VIP, adverts sent unicast to the other server (carpd `peers`,
  keepalived `unicast_src_ip` + `unicast_peer`), VRRPv2 for keepalived.
* `unicast6`: an IPv6 VIP, adverts unicast between the servers' global IPv6 addresses
  (carpd `peers` with `source6 = "auto"` = first global address; keepalived VRRPv3 with
  `unicast_src_ip`/`unicast_peer`; keepalived's IPv6 unicast hop limit is 64, which its
  own receiver accepts: it skips the TTL rule in unicast mode).

ucarp is IPv4-multicast only: it has no IPv6 and drops every advert not sent to its group,
so it is skipped for every other variant (with that reason in the report).
"""

from __future__ import annotations

from dataclasses import dataclass

VIP4 = "172.16.90.31/24"
VIP6 = "fd00:90::31/64"
# The lab's IPv6 addresses (added with nodad), beside SERVERS / CLIENT of topology.py.
HOST6 = {"a": "fd00:90::101/64", "b": "fd00:90::102/64", "client": "fd00:90::10/64"}


@dataclass(frozen=True)
class Variant:
    name: str
    title: str
    family: int   # 4 or 6
    unicast: bool
    vip: str      # CIDR

    @property
    def vip_ip(self) -> str:
        return self.vip.split("/")[0]


VARIANTS: dict[str, Variant] = {
    "ipv4": Variant("ipv4", "IPv4, multicast", 4, False, VIP4),
    "ipv6": Variant("ipv6", "IPv6, multicast (ff02::12)", 6, False, VIP6),
    "unicast": Variant("unicast", "IPv4, unicast peers", 4, True, VIP4),
    "unicast6": Variant("unicast6", "IPv6, unicast peers", 6, True, VIP6),
}
ORDER = tuple(VARIANTS)


def unsupported(impl: str, variant: Variant) -> str | None:
    """Why `impl` cannot run `variant`, or None."""
    if impl != "ucarp":
        return None
    if variant.family == 6:
        return "ucarp has no IPv6"
    if variant.unicast:
        return "ucarp cannot do unicast (it drops every advert not sent to its group)"
    return None


def peer_of(host: str) -> str:
    return {"a": "b", "b": "a"}[host]


def vrrp_version(impl: str, variant: Variant) -> int | None:
    """keepalived's VRRP version in this variant (3 for IPv6, as keepalived requires)."""
    if impl != "keepalived":
        return None
    return 3 if variant.family == 6 else 2
