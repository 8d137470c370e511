"""The rules between keys of one VIP, and between VIPs, that no single validator can check.

Owns: `RuleError` (a rule is broken; it names the `VipParams` field to blame, and the loader
turns that into the file, line and key where the field's value is written) and the checks,
in the order the loader applies them:
- `check_scope`: a link-local peer or source6 written with a scope ("fe80::12%eth0") must
  name the VIP's own interface; a bare link-local means that interface (peers carry no scope
  in `VipParams`: a link-local peer is always on `interface`);
- `check_vip`: the sources are none of the VIP's addresses; a peer is none of the VIP's
  addresses nor its source(6), and only of a family the VIP has addresses in (the BSDs look
  a VHID up per family and hash per VHID); `accept_ttl` below 255 needs peers (group adverts
  always need 255); `l2_broadcast` (ucarp's --nomcast, IPv4 only) needs an IPv4 address and
  excludes IPv4 peers; a routed VIP's rules are routed.py's (`check_routed`);
- `check_vip` for VRRPv3: one family per VIP (each family is its own virtual router), priority
  255 together with `owner`, and no `accept_mode = false` (not implemented: said so);
- `check_between`: a VHID is used once per interface and protocol (one CARP VHID carries
  both families; a VRRP VRID may repeat in the other family, and CARP vhid N and VRRP VRID N
  are told apart by their version), an
  address belongs to one VIP, and no VIP's address is another VIP's peer. The later VIP is
  blamed, so the message points at the second of the two.
The sources of these rules are the design notes (IPv6-UNICAST-VRRP3.md 1.3, 1.4, 2.5).
Must not: know lines, files or keys as written (the loader locates), or read the host (the
host-side checks, own addresses and on-link peers, are hostcheck.py's).
"""

from __future__ import annotations

import ipaddress

from carpd.config.routed import RoutedRuleError, check_routed
from carpd.core.addresses import Family, family_of
from carpd.core.params import VipParams
from carpd.core.vrrp3.wire import PRIORITY_OWNER

ON_LINK_TTL = 255  # a TTL/hop limit of 255 on receipt proves the sender is on the link


class RuleError(Exception):
    """A rule between keys is broken; `field` is the VipParams field to blame."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason)
        self.field = field
        self.reason = reason


def check_scope(field: str, value: object, interface: str) -> None:
    """`value` (a checked peers tuple or source6, scopes still on) names only `interface`."""
    items = value if isinstance(value, tuple) else (value,)
    for ip in items:
        if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id not in (None, interface):
            bare = ipaddress.IPv6Address(ip.packed)
            raise RuleError(field, f"{ip}: the scope must be the VIP's interface {interface} "
                            f"(write {bare}%{interface} or just {bare})")


def check_vip(vip: VipParams) -> None:
    if vip.protocol == "vrrp3":
        _check_vrrp(vip)
    _check_sources(vip)
    _check_peers(vip)
    if vip.accept_ttl < ON_LINK_TTL and not vip.peers:
        raise RuleError("accept_ttl", f"accept_ttl {vip.accept_ttl} applies to unicast peers "
                        f"only and vip.{vip.name} has none (adverts to a group always need "
                        f"{ON_LINK_TTL}); set peers or remove accept_ttl")
    _check_l2_broadcast(vip)
    try:
        check_routed(vip)
    except RoutedRuleError as err:
        raise RuleError(err.field, err.reason) from None


def _check_vrrp(vip: VipParams) -> None:
    """A VRRPv3 VIP is one virtual router: one family, priority 255 only for an owner."""
    if len(vip.families) > 1:
        raise RuleError("addresses", f"vip.{vip.name} mixes IPv4 and IPv6 addresses; in "
                        "VRRPv3 each family is its own virtual router (RFC 5798): put the "
                        "IPv6 addresses in another [vip] with the same vrid, and the same "
                        "sync_group to keep the two together")
    if vip.priority == PRIORITY_OWNER and not vip.owner:
        raise RuleError("priority", "priority 255 is the address owner's: set owner = true "
                        "as well, or use 1..254")
    if vip.owner and vip.priority != PRIORITY_OWNER:
        raise RuleError("owner", f"owner = true advertises priority 255, but priority is "
                        f"{vip.priority}: set priority = 255 or remove owner")
    if not vip.accept_mode:
        raise RuleError("accept_mode", "accept_mode = false is not supported: carpd puts "
                        "VIPs on the interface as ordinary addresses (as keepalived without "
                        "vrrp_strict and FRR do), so a master accepts their traffic; filter "
                        "it in your firewall if you need a non-accepting master")


def _check_sources(vip: VipParams) -> None:
    for field, ip in (("source", vip.source), ("source6", vip.source6)):
        if ip is not None and ip in vip.hosts:
            raise RuleError(field, f"{ip} is one of vip.{vip.name}'s addresses; the advert "
                            "source must be an address this host keeps in every state")


def _check_peers(vip: VipParams) -> None:
    families = vip.families
    for ip in vip.peers:
        if ip in vip.hosts:
            raise RuleError("peers", f"{ip} is one of vip.{vip.name}'s own addresses; a peer "
                            "is the other server's address")
        if ip in (vip.source, vip.source6):
            raise RuleError("peers", f"{ip} is vip.{vip.name}'s advert source; a peer is the "
                            "other server's address")
        family = family_of(ip)
        if family not in families:
            raise RuleError("peers", f"{ip} is an {family.label} peer but vip.{vip.name} has "
                            f"no {family.label} address (adverts, VHID lookup and HMAC go "
                            "per family); add one or remove the peer")


def _check_l2_broadcast(vip: VipParams) -> None:
    if not vip.l2_broadcast:
        return
    if Family.IPV4 not in vip.families:
        raise RuleError("l2_broadcast", f"l2_broadcast (ucarp --nomcast) is IPv4 only and "
                        f"vip.{vip.name} has no IPv4 address")
    if vip.unicast(Family.IPV4):
        raise RuleError("l2_broadcast", "l2_broadcast and IPv4 peers exclude each other "
                        "(Ethernet broadcast or unicast to the peers); use one")


def check_between(vip: VipParams, earlier: list[VipParams]) -> None:
    """The rules between `vip` and the VIPs before it in the file."""
    for other in earlier:
        if (other.vhid == vip.vhid and other.interface == vip.interface
                and other.protocol == vip.protocol
                and (vip.protocol == "carp" or set(other.families) & set(vip.families))):
            raise RuleError("vhid", f"{vip.vhid} is already used by vip.{other.name} on "
                            f"{vip.interface}")
        for ip in vip.hosts:
            if ip in other.hosts:
                raise RuleError("addresses", f"{ip} is already used by vip.{other.name}")
            if ip in other.peers:
                raise RuleError("addresses", f"{ip} is a peer of vip.{other.name}; a VIP "
                                "cannot be a peer")
        for ip in vip.peers:
            if ip in other.hosts:
                raise RuleError("peers", f"{ip} is an address of vip.{other.name}; a peer is "
                                "the other server's address")
