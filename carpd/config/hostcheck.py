"""The checks of a loaded configuration against the host it is meant for, and its --check words.

Owns: `check_host`, which judges a `Config` against a snapshot of the host's interface
addresses (`HostAddresses`: interface name -> its addresses with prefixes, every interface of
the host) and returns `HostFindings`, and `describe_transport`, the families-and-destinations
part of the one-line `carpd --check` summary of a VIP ("IPv4+IPv6, unicast to 2 peers").
Findings:
- error: a peer is one of this host's own addresses (a link-local peer is compared with the
  link-locals of the VIP's interface only, where it lives; any other with every interface);
- warning: `accept_ttl` is 255 and a peer is not on-link, i.e. inside no prefix of the VIP's
  interface nor of the VIP's own addresses (link-local peers are on-link by definition): its
  adverts would arrive with a lower TTL/hop limit and be dropped as bad_ttl;
- an interface the host does not have is not judged here (the daemon refuses to start on it).
Every message is located like the loader's (`Config.locate`: file, line, key path of the
VIP's `peers`), so the caller prints them as `carpd: error:` / `carpd: warning:` lines.
The source of these rules is the design's start-up checks (IPV6-UNICAST-VRRP3.md 2.5).
Must not: read the host itself (the caller takes the snapshot, e.g. through the address
port) or touch the network; it is pure, so tests give it any host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from carpd.config.loader import Config
from carpd.config.rules import ON_LINK_TTL
from carpd.core.addresses import Address, AddressWithPrefix, Family
from carpd.core.params import VipParams

HostAddresses = Mapping[str, tuple[AddressWithPrefix, ...]]


@dataclass(frozen=True, slots=True)
class HostFindings:
    """What `check_host` found: located `errors` (the file is not valid for this host) and
    `warnings` (valid, but probably not what was meant), each in VIP order."""

    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def check_host(config: Config, host: HostAddresses) -> HostFindings:
    errors: list[str] = []
    warnings: list[str] = []
    for vip in config.vips:
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
    return HostFindings(tuple(errors), tuple(warnings))


def _owner(peer: Address, interface: str, host: HostAddresses) -> str | None:
    """The interface of this host that has `peer`, if any."""
    if peer.version == 6 and peer.is_link_local:
        candidates = {interface: host.get(interface, ())}
    else:
        candidates = dict(host)
    return next((name for name, addresses in candidates.items()
                 if any(a.ip == peer for a in addresses)), None)


def _on_link(peer: Address, vip: VipParams, host: HostAddresses) -> bool:
    if peer.version == 6 and peer.is_link_local:
        return True
    if vip.interface not in host:
        return True  # no judgement on an interface this host lacks
    prefixes = (*host[vip.interface], *vip.addresses)
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
