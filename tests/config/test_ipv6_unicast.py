"""carpd.config for IPv6 VIPs and unicast peers: the keys of issue 10 (source6, peers, peer_ttl,
accept_*, na_*, deprecate_ipv6_vip), their defaults and inheritance, and every refusal with
its exact, located message."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from carpd.config.loader import ConfigError
from carpd.core.addresses import Family
from tests.config.test_loader import BASE, MAIL, PASSWORD, base, load

P = "carpd.toml"
V4, V6 = ipaddress.IPv4Address, ipaddress.IPv6Address
# BASE with web dual-stack; the lines stay those of BASE (7: addresses, 8: the first extra).
DUAL = BASE.replace('address = "172.16.90.31/24"',
                    'addresses = ["172.16.90.31/24", "2001:db8:90::31/64"]')
ONLY6 = BASE.replace('address = "172.16.90.31/24"', 'address = "2001:db8:90::31/64"')


def dual(extra_web: str = "", extra_defaults: str = "", tail: str = "") -> str:
    text = DUAL.replace('carp.key"\n', 'carp.key"\n' + extra_defaults) + extra_web
    return text + tail


# ------------------------------------------------------------------------------ good files


def test_new_keys_default_to_multicast_and_the_vipparams_defaults(workdir: Path) -> None:
    (vip,) = load(workdir, BASE).vips
    assert vip.source6 is None and vip.peers == ()
    assert (vip.peer_ttl, vip.accept_ttl, vip.accept_source, vip.accept_multicast) == (
        255, 255, "peers", False)
    assert (vip.na_count, vip.na_interval, vip.na_router, vip.deprecate_ipv6_vip) == (
        3, 1.0, None, False)
    assert vip.families == (Family.IPV4,)


def test_dual_stack_vip(workdir: Path) -> None:
    (vip,) = load(workdir, dual('source6 = "auto"\nna_count = 2\nna_interval = 0.25\n'
                                'na_router = true\ndeprecate_ipv6_vip = true\n')).vips
    assert vip.addresses == (ipaddress.IPv4Interface("172.16.90.31/24"),
                             ipaddress.IPv6Interface("2001:db8:90::31/64"))
    assert vip.families == (Family.IPV4, Family.IPV6)
    assert vip.destinations(Family.IPV6) == (V6("ff02::12"),)
    assert (vip.na_count, vip.na_interval, vip.na_router, vip.deprecate_ipv6_vip) == (
        2, 0.25, True, True)
    assert vip.source6 is None


def test_ipv6_only_vip_and_addresses_in_any_order(workdir: Path) -> None:
    (vip,) = load(workdir, ONLY6).vips
    assert vip.families == (Family.IPV6,) and vip.family is Family.IPV6
    text = BASE.replace('address = "172.16.90.31/24"',
                        'addresses = ["2001:db8:90::31/64", "172.16.90.31", "2001:db8:90::41"]')
    (vip,) = load(workdir, text).vips
    assert vip.families == (Family.IPV4, Family.IPV6)
    assert str(vip.addresses[2]) == "2001:db8:90::41/128"


def test_unicast_pair_with_scoped_and_bare_link_local_peers(workdir: Path) -> None:
    text = dual('peers = ["172.16.90.102", "fe80::12%eth0"]\nsource6 = "fe80::11%eth0"\n'
                'peer_ttl = 64\naccept_ttl = 250\naccept_source = "any"\n'
                'accept_multicast = true\n')
    (vip,) = load(workdir, text).vips
    assert vip.peers == (V4("172.16.90.102"), V6("fe80::12"))
    assert all(getattr(p, "scope_id", None) is None for p in vip.peers)
    assert vip.source6 == V6("fe80::11") and vip.source6.scope_id is None
    assert vip.peers_for(Family.IPV6) == (V6("fe80::12"),)
    assert vip.unicast(Family.IPV4) and vip.unicast(Family.IPV6)
    assert (vip.peer_ttl, vip.accept_ttl, vip.accept_source, vip.accept_multicast) == (
        64, 250, "any", True)
    (bare,) = load(workdir, dual('peers = ["fe80::12"]\n')).vips
    assert bare.peers == (V6("fe80::12"),)


def test_peers_in_one_family_only_keep_the_other_on_its_group(workdir: Path) -> None:
    (vip,) = load(workdir, dual('peers = ["2001:db8:90::102"]\n')).vips
    assert vip.unicast(Family.IPV6) and not vip.unicast(Family.IPV4)
    assert vip.destinations(Family.IPV4) == (V4("224.0.0.18"),)
    assert vip.groups(Family.IPV6) == frozenset()


def test_peers_are_inherited_and_a_vip_can_go_back_to_multicast(workdir: Path) -> None:
    text = base(extra_defaults='peers = ["172.16.90.102"]\naccept_ttl = 64\n',
                tail=MAIL + "peers = []\naccept_ttl = 255\n")
    web, mail = load(workdir, text).vips
    assert (web.peers, web.accept_ttl) == ((V4("172.16.90.102"),), 64)
    assert (mail.peers, mail.accept_ttl) == ((), 255)


def test_l2_broadcast_with_ipv6_peers_only_is_fine(workdir: Path) -> None:
    (vip,) = load(workdir, dual('l2_broadcast = true\npeers = ["2001:db8:90::102"]\n')).vips
    assert vip.l2_broadcast and vip.unicast(Family.IPV6)


def test_na_router_auto_is_none(workdir: Path) -> None:
    (vip,) = load(workdir, dual('na_router = "auto"\n')).vips
    assert vip.na_router is None


# ------------------------------------------------------------------------------- bad files

LL_REASON = ("the BSDs disagree on hashing link-local VIPs (FreeBSD includes them in the "
             "HMAC, OpenBSD leaves them out)")
PEER_IS_OTHER = "a peer is the other server's address"
BAD: list[tuple[str, str, str]] = [
    # VIP addresses
    ("address-link-local", BASE.replace("172.16.90.31/24", "fe80::31/64"),
     f"{P}:7: vip.web.address: fe80::31 is a link-local address and cannot be a VIP: "
     + LL_REASON),
    ("addresses-link-local-mixed", DUAL.replace("2001:db8:90::31/64", "fe80::31"),
     f"{P}:7: vip.web.addresses: fe80::31 is a link-local address and cannot be a VIP: "
     + LL_REASON),
    ("address-ipv4-mapped", BASE.replace("172.16.90.31/24", "::ffff:172.16.90.31"),
     f"{P}:7: vip.web.address: ::ffff:ac10:5a1f is an IPv4-mapped IPv6 address and cannot be "
     "a VIP; write 172.16.90.31"),
    ("address-ipv6-multicast", BASE.replace("172.16.90.31/24", "ff02::1"),
     f"{P}:7: vip.web.address: ff02::1 is a multicast address and cannot be a VIP"),
    ("address-ipv6-loopback", BASE.replace("172.16.90.31/24", "::1"),
     f"{P}:7: vip.web.address: ::1 is a loopback address and cannot be a VIP"),
    ("address-ipv6-unspecified", BASE.replace("172.16.90.31/24", "::/0"),
     f"{P}:7: vip.web.address: :: is an unspecified address and cannot be a VIP"),
    ("address-ipv6-scope", BASE.replace("172.16.90.31/24", "2001:db8::31%eth0"),
     f"{P}:7: vip.web.address: '2001:db8::31%eth0': a VIP takes no scope (%INTERFACE); only "
     "a link-local peer or source6 may name one"),
    ("address-ipv6-subnet-router", BASE.replace("172.16.90.31/24", "2001:db8:90::/64"),
     f"{P}:7: vip.web.address: 2001:db8:90:: is the subnet-router anycast address of "
     "2001:db8:90::/64 and cannot be a VIP"),
    ("addresses-ipv6-twice", DUAL.replace('"]', '", "2001:db8:90:0::31"]', 1),
     f"{P}:7: vip.web.addresses: 2001:db8:90::31 is listed twice"),
    ("duplicate-ipv6-address", dual(tail=MAIL.replace("172.16.90.32/24", "2001:db8:90::31")),
     f"{P}:11: vip.mail.address: 2001:db8:90::31 is already used by vip.web"),
    ("duplicate-vhid-other-family", BASE + MAIL.replace("vhid = 2", "vhid = 1").replace(
        "172.16.90.32/24", "2001:db8:90::32/64"),
     f"{P}:10: vip.mail.vhid: 1 is already used by vip.web on eth0"),
    # sources
    ("source-is-vip", base('source = "172.16.90.31"\n'),
     f"{P}:8: vip.web.source: 172.16.90.31 is one of vip.web's addresses; the advert source "
     "must be an address this host keeps in every state"),
    ("source6-ipv4", dual('source6 = "172.16.90.101"\n'),
     f"{P}:8: vip.web.source6: '172.16.90.101' is an IPv4 address: source6 is the IPv6 "
     "advert source; set source for IPv4"),
    ("source6-garbage", dual('source6 = "eth0"\n'),
     f"{P}:8: vip.web.source6: 'eth0' is not an IPv6 address"),
    ("source6-multicast", dual('source6 = "ff02::12"\n'),
     f"{P}:8: vip.web.source6: ff02::12 is a multicast address and cannot be an advert "
     "source"),
    ("source6-is-vip", dual('source6 = "2001:db8:90::31"\n'),
     f"{P}:8: vip.web.source6: 2001:db8:90::31 is one of vip.web's addresses; the advert "
     "source must be an address this host keeps in every state"),
    ("source6-scope-global", dual('source6 = "2001:db8:90::11%eth0"\n'),
     f"{P}:8: vip.web.source6: '2001:db8:90::11%eth0': only a link-local address "
     "(fe80::/10) takes a scope"),
    ("source6-scope-other-interface", dual('source6 = "fe80::11%eth1"\n'),
     f"{P}:8: vip.web.source6: fe80::11%eth1: the scope must be the VIP's interface eth0 "
     "(write fe80::11%eth0 or just fe80::11)"),
    ("multicast-group-ipv6", base('multicast_group = "ff02::12"\n'),
     f"{P}:8: vip.web.multicast_group: ff02::12: multicast_group is the IPv4 group only; "
     "IPv6 adverts always go to ff02::12 (as on the BSDs), which needs no setting"),
    # peers, one by one
    ("peers-not-list", base('peers = "172.16.90.102"\n'),
     f"{P}:8: vip.web.peers: must be an array of addresses, not a string"),
    ("peers-prefix", base('peers = ["172.16.90.102/24"]\n'),
     f"{P}:8: vip.web.peers: '172.16.90.102/24' is not an IPv4 or IPv6 address (a peer is a "
     "plain address, no /PREFIX)"),
    ("peers-int", base("peers = [3]\n"),
     f"{P}:8: vip.web.peers: must be a string, not an integer"),
    ("peers-multicast", base('peers = ["224.0.0.18"]\n'),
     f"{P}:8: vip.web.peers: 224.0.0.18 is a multicast address and cannot be a peer: peers "
     "are unicast; the group is multicast_group's job"),
    ("peers-multicast-ipv6", dual('peers = ["ff02::12"]\n'),
     f"{P}:8: vip.web.peers: ff02::12 is a multicast address and cannot be a peer: peers are "
     "unicast; IPv6 adverts always go to ff02::12 when the VIP has no IPv6 peers"),
    ("peers-loopback", base('peers = ["127.0.0.1"]\n'),
     f"{P}:8: vip.web.peers: 127.0.0.1 is a loopback address and cannot be a peer"),
    ("peers-unspecified", dual('peers = ["::"]\n'),
     f"{P}:8: vip.web.peers: :: is an unspecified address and cannot be a peer"),
    ("peers-ipv4-mapped", base('peers = ["::ffff:172.16.90.102"]\n'),
     f"{P}:8: vip.web.peers: ::ffff:ac10:5a66 is an IPv4-mapped IPv6 address and cannot be a "
     "peer; write 172.16.90.102"),
    ("peers-reserved", base('peers = ["255.255.255.255"]\n'),
     f"{P}:8: vip.web.peers: 255.255.255.255 is a reserved address and cannot be a peer"),
    ("peers-twice", base('peers = ["172.16.90.102", "172.16.90.102"]\n'),
     f"{P}:8: vip.web.peers: 172.16.90.102 is listed twice"),
    ("peers-twice-scoped", dual('peers = ["fe80::12%eth0", "fe80::12"]\n'),
     f"{P}:8: vip.web.peers: fe80::12 is listed twice"),
    ("peers-scope-global", dual('peers = ["2001:db8:90::102%eth0"]\n'),
     f"{P}:8: vip.web.peers: '2001:db8:90::102%eth0': only a link-local address (fe80::/10) "
     "takes a scope"),
    ("peers-scope-other-interface", dual('peers = ["fe80::12%eth1"]\n'),
     f"{P}:8: vip.web.peers: fe80::12%eth1: the scope must be the VIP's interface eth0 "
     "(write fe80::12%eth0 or just fe80::12)"),
    # peers against the VIP's other keys
    ("peers-own-vip", base('peers = ["172.16.90.31"]\n'),
     f"{P}:8: vip.web.peers: 172.16.90.31 is one of vip.web's own addresses; {PEER_IS_OTHER}"),
    ("peers-own-source", base('source = "172.16.90.101"\npeers = ["172.16.90.101"]\n'),
     f"{P}:9: vip.web.peers: 172.16.90.101 is vip.web's advert source; {PEER_IS_OTHER}"),
    ("peers-own-source6", dual('source6 = "fe80::11"\npeers = ["fe80::11"]\n'),
     f"{P}:9: vip.web.peers: fe80::11 is vip.web's advert source; {PEER_IS_OTHER}"),
    ("peers-family-without-vip", base('peers = ["2001:db8:90::102"]\n'),
     f"{P}:8: vip.web.peers: 2001:db8:90::102 is an IPv6 peer but vip.web has no IPv6 "
     "address (adverts, VHID lookup and HMAC go per family); add one or remove the peer"),
    ("peers-family-without-vip-inherited",
     base(extra_defaults='peers = ["172.16.90.102", "2001:db8:90::102"]\n'),
     f"{P}:4: defaults.peers: 2001:db8:90::102 is an IPv6 peer but vip.web has no IPv6 "
     "address (adverts, VHID lookup and HMAC go per family); add one or remove the peer "
     "(inherited by vip.web)"),
    ("peers-ipv4-without-vip", ONLY6 + 'peers = ["172.16.90.102"]\n',
     f"{P}:8: vip.web.peers: 172.16.90.102 is an IPv4 peer but vip.web has no IPv4 address "
     "(adverts, VHID lookup and HMAC go per family); add one or remove the peer"),
    ("peers-other-vip", base(tail=MAIL + 'peers = ["172.16.90.31"]\n'),
     f"{P}:12: vip.mail.peers: 172.16.90.31 is an address of vip.web; {PEER_IS_OTHER}"),
    ("vip-is-earlier-peer", base('peers = ["172.16.90.32"]\n', tail=MAIL),
     f"{P}:12: vip.mail.address: 172.16.90.32 is a peer of vip.web; a VIP cannot be a peer"),
    # TTLs and the accept_* keys
    ("peer-ttl-zero", base("peer_ttl = 0\n"),
     f"{P}:8: vip.web.peer_ttl: 0 is out of range: must be an integer 1..255"),
    ("accept-ttl-256", base("accept_ttl = 256\n"),
     f"{P}:8: vip.web.accept_ttl: 256 is out of range: must be an integer 1..255"),
    ("accept-ttl-without-peers", base("accept_ttl = 64\n"),
     f"{P}:8: vip.web.accept_ttl: accept_ttl 64 applies to unicast peers only and vip.web "
     "has none (adverts to a group always need 255); set peers or remove accept_ttl"),
    ("accept-ttl-without-peers-inherited", base(extra_defaults="accept_ttl = 1\n"),
     f"{P}:4: defaults.accept_ttl: accept_ttl 1 applies to unicast peers only and vip.web "
     "has none (adverts to a group always need 255); set peers or remove accept_ttl "
     "(inherited by vip.web)"),
    ("accept-source-bad", base('accept_source = "all"\n'),
     f"{P}:8: vip.web.accept_source: 'all' is not one of: peers, any"),
    ("accept-source-bool", base("accept_source = true\n"),
     f"{P}:8: vip.web.accept_source: must be a string, not a boolean"),
    ("accept-multicast-string", base('accept_multicast = "yes"\n'),
     f"{P}:8: vip.web.accept_multicast: must be true or false, not a string"),
    # neighbour advertisements
    ("na-count", dual("na_count = 101\n"),
     f"{P}:8: vip.web.na_count: 101 is out of range: must be an integer 0..100"),
    ("na-interval-zero", dual("na_interval = 0\n"),
     f"{P}:8: vip.web.na_interval: 0 is out of range: must be > 0 and <= 60 seconds"),
    ("na-interval-string", dual('na_interval = "1s"\n'),
     f"{P}:8: vip.web.na_interval: must be a number of seconds (0 < s <= 60), not a string"),
    ("na-router-string", dual('na_router = "yes"\n'),
     f"{P}:8: vip.web.na_router: must be true, false or \"auto\", not 'yes'"),
    ("na-router-int", dual("na_router = 1\n"),
     f"{P}:8: vip.web.na_router: must be true, false or \"auto\", not an integer"),
    ("deprecate-string", dual('deprecate_ipv6_vip = "true"\n'),
     f"{P}:8: vip.web.deprecate_ipv6_vip: must be true or false, not a string"),
    # l2_broadcast
    ("l2-broadcast-ipv6-only", ONLY6 + "l2_broadcast = true\n",
     f"{P}:8: vip.web.l2_broadcast: l2_broadcast (ucarp --nomcast) is IPv4 only and vip.web "
     "has no IPv4 address"),
    ("l2-broadcast-ipv4-peers", base('l2_broadcast = true\npeers = ["172.16.90.102"]\n'),
     f"{P}:8: vip.web.l2_broadcast: l2_broadcast and IPv4 peers exclude each other (Ethernet "
     "broadcast or unicast to the peers); use one"),
]


@pytest.mark.parametrize(("text", "expected"), [(t, e) for _, t, e in BAD],
                         ids=[name for name, _, _ in BAD])
def test_bad_file(workdir: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(workdir, text)
    assert str(info.value) == expected.replace("{dir}", str(workdir))
    assert PASSWORD not in str(info.value)


def test_bad_cases_are_distinct() -> None:
    assert len({text for _, text, _ in BAD}) == len(BAD)
