"""The checks of a loaded configuration against the host it is meant for, and its --check words.

Owns: `check_host`, which judges a `Config` against a snapshot of the host's interface
addresses (`HostAddresses`: interface name -> its addresses with prefixes, each saying
whether it carries carpd's mark, every interface of the host) and returns `HostFindings`, and
`describe_transport`, the families-and-destinations part of the one-line `carpd --check`
summary of a VIP ("IPv4+IPv6, unicast to 2 peers").
Findings, per VIP in file order (the exact words are in docs/configuration.md, "--check"):
- error: the VIP's interface does not exist on this host (nothing else about the interface is
  judged then);
- error: a configured `source`/`source6` is not an address of the VIP's interface;
- error: a VIP address is on its interface without being carpd's (carpd.core.ownership: no
  mark, and for IPv4 not the VIP's label), e.g. the host's own primary address: the daemon
  refuses to start with the same words, and never removes it;
- error: a peer is one of this host's own addresses (a link-local peer is compared with the
  link-locals of the VIP's interface only, where it lives; any other with every interface);
- warning: a VIP address is in no subnet of its interface in its family (the interface's
  addresses, carpd's VIPs left out): neighbours reach it only through a route (never for a
  routed VIP, whose addresses are host routes by design);
- warning: a VIP address is also an address of another interface of this host (than the one
  it goes on: a routed VIP's `routed_interface`, whose foreign copies are errors as above);
- warning: `accept_ttl` is 255 and a peer is not on-link, i.e. inside no prefix of the VIP's
  interface nor of the VIP's own addresses (link-local peers are on-link by definition): its
  adverts would arrive with a lower TTL/hop limit and be dropped as bad_ttl.
Every message is located like the loader's (`Config.locate`: file, line, key path), so the
caller prints them as `carpd: error:` / `carpd: warning:` lines.
The source of these rules is the design's start-up checks (IPV6-UNICAST-VRRP3.md 2.5) and
issue 13 (never take or remove what is not carpd's).
Must not: read the host itself (the caller takes the snapshot, carpd.io.hostaddrs) or touch
the network; it is pure, so tests give it any host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from carpd.config.loader import Config
from carpd.config.rules import ON_LINK_TTL
from carpd.core.addresses import Address, AddressWithPrefix, Family, family_of
from carpd.core.ownership import InterfaceAddress, foreign_copy_text, owns, survey
from carpd.core.params import VipParams

HostAddresses = Mapping[str, tuple[InterfaceAddress, ...]]


@dataclass(frozen=True, slots=True)
class HostFindings:
    """What `check_host` found: located `errors` (the file is not valid for this host) and
    `warnings` (valid, but probably not what was meant), each in VIP order."""

    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def check_host(config: Config, host: HostAddresses) -> HostFindings:
    errors: list[str] = []
    warnings: list[str] = []
    labels = frozenset(vip.label for vip in config.vips)
    for vip in config.vips:
        if vip.interface in host:
            errors += _interface_errors(config, vip, host)
            warnings += _address_warnings(config, vip, host, labels)
        else:
            errors.append(config.locate(vip.name, "interface", (
                f"interface {vip.interface} does not exist on this host")))
        _peer_findings(config, vip, host, errors, warnings)
    return HostFindings(tuple(errors), tuple(warnings))


def _interface_errors(config: Config, vip: VipParams, host: HostAddresses) -> list[str]:
    """A routed VIP's addresses live on its routed interface (which carpd creates when it is
    missing: no listing then, nothing foreign on it); the source is on `interface`."""
    where = vip.address_interface
    errors = [config.locate(vip.name, _address_key(config, vip), foreign_copy_text(a, where))
              for a in survey(vip.addresses, vip.label, host.get(where, ())).foreign]
    present = {entry.address.ip for entry in host[vip.interface]}
    for key, source in (("source", vip.source), ("source6", vip.source6)):
        if source is not None and source not in present:
            errors.append(config.locate(vip.name, key, (
                f"{source} is not an address of {vip.interface}: adverts are sent from an "
                f"address of the VIP's interface; add it to {vip.interface} or set "
                f'{key} = "auto"')))
    return errors


def _address_warnings(config: Config, vip: VipParams, host: HostAddresses,
                      labels: frozenset[str]) -> list[str]:
    """The subnets are the interface's addresses that are not carpd's VIPs."""
    warnings: list[str] = []
    own = [e.address for e in host[vip.interface]
           if not any(owns(e, label) for label in labels)]
    for addr in vip.addresses:
        family = family_of(addr)
        subnets = [a.network for a in own if family_of(a) is family]
        if not vip.routed and not any(addr.ip in net for net in subnets):
            where = ", ".join(map(str, dict.fromkeys(subnets))) or f"none in {family.label}"
            warnings.append(config.locate(vip.name, _address_key(config, vip), (
                f"{addr.ip} is in no subnet of {vip.interface} (its subnets: {where}): "
                "neighbours reach the VIP only through a route to this host")))
        others = [name for name, listing in host.items() if name != vip.address_interface
                  and any(e.address.ip == addr.ip for e in listing)]
        if others:
            warnings.append(config.locate(vip.name, _address_key(config, vip), (
                f"{addr.ip} is also an address of {', '.join(others)} on this host: the host "
                "answers for it there whichever server is MASTER")))
    return warnings


def _address_key(config: Config, vip: VipParams) -> str:
    """The VIP's addresses are written as `address` or as `addresses`."""
    return "address" if (vip.name, "address") in config.keys else "addresses"


def _peer_findings(config: Config, vip: VipParams, host: HostAddresses, errors: list[str],
                   warnings: list[str]) -> None:
    for peer in vip.peers:
        owner = _owner(peer, vip.interface, host)
        if owner is not None:
            errors.append(config.locate(vip.name, "peers", (
                f"{peer} is an address of this host (on {owner}); a peer is the other "
                "server's address")))
        elif vip.accept_ttl == ON_LINK_TTL and not _on_link(peer, vip, host):
            warnings.append(config.locate(vip.name, "peers", (
                f"{peer} is not on-link (in no prefix of {vip.interface} or of "
                f"vip.{vip.name}) while accept_ttl is {ON_LINK_TTL}: its adverts arrive "
                "with a lower TTL and are dropped as bad_ttl; set accept_ttl to 255 "
                "minus the routers between the servers")))


def _owner(peer: Address, interface: str, host: HostAddresses) -> str | None:
    """The interface of this host that has `peer`, if any."""
    if peer.version == 6 and peer.is_link_local:
        candidates = {interface: host.get(interface, ())}
    else:
        candidates = dict(host)
    return next((name for name, addresses in candidates.items()
                 if any(a.address.ip == peer for a in addresses)), None)


def _on_link(peer: Address, vip: VipParams, host: HostAddresses) -> bool:
    if peer.version == 6 and peer.is_link_local:
        return True
    if vip.interface not in host:
        return True  # no judgement on an interface this host lacks
    prefixes: tuple[AddressWithPrefix, ...] = (
        *(e.address for e in host[vip.interface]), *vip.addresses)
    return any(a.version == peer.version and peer in a.network for a in prefixes)


def describe_transport(vip: VipParams) -> str:
    """The families a VIP advertises in and where to: "IPv4, multicast", "IPv4+IPv6,
    unicast to 2 peers", "IPv4, layer-2 broadcast"; a family without peers beside one with
    them is named: "IPv4+IPv6, unicast to 1 peer (IPv4 multicast)"."""
    families = "+".join(f.label for f in vip.families)
    group = "layer-2 broadcast" if vip.l2_broadcast else "multicast"  # IPv4's way, if no peers
    if not vip.peers:
        return f"{families}, {group}"
    count = len(vip.peers)
    text = f"{families}, unicast to {count} peer{'' if count == 1 else 's'}"
    others = [f"{f.label} {group if f is Family.IPV4 else 'multicast'}"
              for f in vip.families if not vip.unicast(f)]
    return f"{text} ({others[0]})" if others else text
