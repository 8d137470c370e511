"""carpd.config.hostcheck: a loaded file judged against a host's interface addresses (own
addresses as peers are errors, off-link peers with accept_ttl 255 warnings), and the
families-and-destinations words of the `carpd --check` summary."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from carpd.config.hostcheck import HostFindings, check_host, describe_transport
from carpd.core.ownership import InterfaceAddress
from carpd.core.params import VipParams
from tests.config.test_ipv6_unicast import DUAL, ONLY6, dual
from tests.config.test_loader import BASE, MAIL, base, load

P = "carpd.toml"
I = ipaddress.ip_interface  # noqa: E741 (short, read as "interface")


def host(**interfaces: tuple[str, ...]) -> dict[str, tuple[InterfaceAddress, ...]]:
    """A snapshot of a host's addresses, none of them carpd's (no mark, default labels)."""
    return {name: tuple(InterfaceAddress(I(a), label=name if ":" not in a else None)
                        for a in addrs) for name, addrs in interfaces.items()}


HOST = host(lo=("127.0.0.1/8", "::1/128"),
            eth0=("172.16.90.101/24", "2001:db8:90::101/64", "fe80::11/64"),
            eth1=("10.9.0.1/24", "fe80::99/64"))


def test_a_multicast_file_has_no_findings(workdir: Path) -> None:
    assert check_host(load(workdir, DUAL + MAIL), HOST) == HostFindings()


def test_on_link_peers_have_no_findings(workdir: Path) -> None:
    text = dual('peers = ["172.16.90.102", "2001:db8:90::102", "fe80::12", "fe80::99"]\n')
    assert check_host(load(workdir, text), HOST) == HostFindings()


def test_a_peer_that_is_this_hosts_address_is_an_error(workdir: Path) -> None:
    text = dual('peers = ["172.16.90.101", "10.9.0.1", "fe80::11%eth0"]\n')
    assert check_host(load(workdir, text), HOST).errors == (
        f"{P}:8: vip.web.peers: 172.16.90.101 is an address of this host (on eth0); a peer is "
        "the other server's address",
        f"{P}:8: vip.web.peers: 10.9.0.1 is an address of this host (on eth1); a peer is the "
        "other server's address",
        f"{P}:8: vip.web.peers: fe80::11 is an address of this host (on eth0); a peer is the "
        "other server's address")


def test_an_inherited_peer_is_located_in_defaults(workdir: Path) -> None:
    text = base(extra_defaults='peers = ["172.16.90.101"]\n')
    assert check_host(load(workdir, text), HOST).errors == (
        f"{P}:4: defaults.peers: 172.16.90.101 is an address of this host (on eth0); a peer "
        "is the other server's address (inherited by vip.web)",)


def test_an_off_link_peer_with_accept_ttl_255_is_a_warning(workdir: Path) -> None:
    text = dual('peers = ["192.0.2.102", "2001:db8:99::102"]\n')
    findings = check_host(load(workdir, text), HOST)
    assert findings.errors == ()
    assert findings.warnings == tuple(
        f"{P}:8: vip.web.peers: {peer} is not on-link (in no prefix of eth0 or of vip.web) "
        "while accept_ttl is 255: its adverts arrive with a lower TTL and are dropped as "
        "bad_ttl; set accept_ttl to 255 minus the routers between the servers"
        for peer in ("192.0.2.102", "2001:db8:99::102"))


def test_behind_a_router_with_a_lowered_accept_ttl_is_fine(workdir: Path) -> None:
    text = dual('peers = ["192.0.2.102"]\naccept_ttl = 254\n')
    assert check_host(load(workdir, text), HOST) == HostFindings()


def test_the_vips_own_prefix_counts_as_on_link(workdir: Path) -> None:
    bare = host(eth0=("fe80::11/64",))  # a backup: no IPv4 address of that subnet yet
    text = base('peers = ["172.16.90.102"]\n')
    assert check_host(load(workdir, text), bare) == HostFindings(warnings=(
        f"{P}:7: vip.web.address: 172.16.90.31 is in no subnet of eth0 (its subnets: none "
        "in IPv4): neighbours reach the VIP only through a route to this host",))


def test_an_interface_the_host_lacks_is_an_error_and_not_judged_further(
        workdir: Path) -> None:
    text = base('peers = ["192.0.2.102"]\n').replace('"eth0"', '"eth9"')
    assert check_host(load(workdir, text), HOST) == HostFindings(errors=(
        f"{P}:2: defaults.interface: interface eth9 does not exist on this host (inherited "
        "by vip.web)",))


def summary(workdir: Path, text: str) -> str:
    (vip,) = load(workdir, text).vips
    assert isinstance(vip, VipParams)
    return describe_transport(vip)


def test_describe_transport(workdir: Path) -> None:
    assert summary(workdir, BASE) == "IPv4, multicast"
    assert summary(workdir, ONLY6) == "IPv6, multicast"
    assert summary(workdir, base("l2_broadcast = true\n")) == "IPv4, layer-2 broadcast"
    assert summary(workdir, dual('peers = ["172.16.90.102", "fe80::12"]\n')) == (
        "IPv4+IPv6, unicast to 2 peers")
    assert summary(workdir, dual('peers = ["fe80::12"]\n')) == (
        "IPv4+IPv6, unicast to 1 peer (IPv4 multicast)")
    assert summary(workdir, dual('peers = ["fe80::12"]\nl2_broadcast = true\n')) == (
        "IPv4+IPv6, unicast to 1 peer (IPv4 layer-2 broadcast)")
    assert summary(workdir, dual('peers = ["172.16.90.102"]\n')) == (
        "IPv4+IPv6, unicast to 1 peer (IPv6 multicast)")


# ----------------------------------------------------------- the host itself (issue 13, item 2)


def test_a_vip_equal_to_the_hosts_primary_address_is_an_error(workdir: Path) -> None:
    text = base().replace("172.16.90.31/24", "172.16.90.101/24")
    assert check_host(load(workdir, text), HOST) == HostFindings(errors=(
        f"{P}:7: vip.web.address: 172.16.90.101/24 is already on eth0 and was not added by "
        "carpd (it has no carpd mark); carpd never takes or removes an address it did not "
        "add: use another VIP address or remove 172.16.90.101/24 from eth0",))


def test_an_ipv6_collision_with_another_prefix_is_an_error(workdir: Path) -> None:
    text = dual().replace("2001:db8:90::31/64", "2001:db8:90::101/128")
    assert check_host(load(workdir, text), HOST).errors == (
        f"{P}:7: vip.web.addresses: 2001:db8:90::101/64 is already on eth0 and was not added "
        "by carpd (it has no carpd mark); carpd never takes or removes an address it did not "
        "add: use another VIP address or remove 2001:db8:90::101/64 from eth0",)


def test_carpds_own_copy_of_the_vip_is_not_a_collision(workdir: Path) -> None:
    mine = {**HOST, "eth0": (*HOST["eth0"],
                             InterfaceAddress(I("172.16.90.31/24"), label="eth0:web"),
                             InterfaceAddress(I("2001:db8:90::31/64"), marked=True))}
    assert check_host(load(workdir, dual()), mine) == HostFindings()


def test_a_source_not_on_the_interface_is_an_error(workdir: Path) -> None:
    text = dual('source = "172.16.90.9"\nsource6 = "fe80::99"\n')
    assert check_host(load(workdir, text), HOST).errors == (
        f"{P}:8: vip.web.source: 172.16.90.9 is not an address of eth0: adverts are sent from "
        'an address of the VIP\'s interface; add it to eth0 or set source = "auto"',
        f"{P}:9: vip.web.source6: fe80::99 is not an address of eth0: adverts are sent from an "
        'address of the VIP\'s interface; add it to eth0 or set source6 = "auto"')
    good = dual('source = "172.16.90.101"\nsource6 = "fe80::11"\n')
    assert check_host(load(workdir, good), HOST) == HostFindings()


def test_a_vip_outside_every_subnet_of_its_interface_is_a_warning(workdir: Path) -> None:
    text = dual().replace("172.16.90.31/24", "192.0.2.31/24").replace(
        "2001:db8:90::31/64", "2001:db8:99::31/64")
    assert check_host(load(workdir, text), HOST) == HostFindings(warnings=(
        f"{P}:7: vip.web.addresses: 192.0.2.31 is in no subnet of eth0 (its subnets: "
        "172.16.90.0/24): neighbours reach the VIP only through a route to this host",
        f"{P}:7: vip.web.addresses: 2001:db8:99::31 is in no subnet of eth0 (its subnets: "
        "2001:db8:90::/64, fe80::/64): neighbours reach the VIP only through a route to this "
        "host"))


def test_a_vip_address_on_another_interface_is_a_warning(workdir: Path) -> None:
    text = base().replace("172.16.90.31/24", "172.16.90.31/24")
    other = {**HOST, "eth1": (*HOST["eth1"], InterfaceAddress(I("172.16.90.31/32")))}
    assert check_host(load(workdir, text), other) == HostFindings(warnings=(
        f"{P}:7: vip.web.address: 172.16.90.31 is also an address of eth1 on this host: the "
        "host answers for it there whichever server is MASTER",))


ROUTED = base('placement = "routed"\nrouted_interface = "lo"\n').replace(
    "172.16.90.31/24", "192.0.2.10/32")


def test_a_routed_vip_outside_every_subnet_is_fine(workdir: Path) -> None:
    assert check_host(load(workdir, ROUTED), HOST) == HostFindings()
    missing = ROUTED.replace('routed_interface = "lo"', 'routed_interface = "carpvip0"')
    assert check_host(load(workdir, missing), HOST) == HostFindings()  # carpd creates it


def test_a_foreign_copy_on_the_routed_interface_is_an_error(workdir: Path) -> None:
    taken = {**HOST, "lo": (*HOST["lo"], InterfaceAddress(I("192.0.2.10/32")))}
    assert check_host(load(workdir, ROUTED), taken).errors == (
        f"{P}:7: vip.web.address: 192.0.2.10/32 is already on lo and was not added by carpd "
        "(it has no carpd mark); carpd never takes or removes an address it did not add: use "
        "another VIP address or remove 192.0.2.10/32 from lo",)
    mine = {**HOST, "lo": (*HOST["lo"], InterfaceAddress(I("192.0.2.10/32"), label="lo:web"))}
    assert check_host(load(workdir, ROUTED), mine) == HostFindings()
