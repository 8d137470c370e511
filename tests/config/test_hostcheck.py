"""carpd.config.hostcheck: a loaded file judged against a host's interface addresses (own
addresses as peers are errors, off-link peers with accept_ttl 255 warnings), and the
families-and-destinations words of the `carpd --check` summary."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from carpd.config.hostcheck import HostFindings, check_host, describe_transport
from carpd.core.params import VipParams
from tests.config.test_ipv6_unicast import DUAL, ONLY6, dual
from tests.config.test_loader import BASE, MAIL, base, load

P = "carpd.toml"
I = ipaddress.ip_interface  # noqa: E741 (short, read as "interface")
HOST = {"lo": (I("127.0.0.1/8"), I("::1/128")),
        "eth0": (I("172.16.90.101/24"), I("2001:db8:90::101/64"), I("fe80::11/64")),
        "eth1": (I("10.9.0.1/24"), I("fe80::99/64"))}


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
    bare = {"eth0": (I("fe80::11/64"),)}  # a backup: no IPv4 address of that subnet yet
    text = base('peers = ["172.16.90.102"]\n')
    assert check_host(load(workdir, text), bare) == HostFindings()


def test_an_interface_the_host_lacks_is_not_judged(workdir: Path) -> None:
    text = base('peers = ["192.0.2.102"]\n').replace('"eth0"', '"eth9"')
    assert check_host(load(workdir, text), HOST) == HostFindings()


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
