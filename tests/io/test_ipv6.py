"""The IPv6 side of the raw transport: recvmsg results (data, ancillary items, source) made
into the core's events, and the structures it hands the kernel."""

from __future__ import annotations

import ipaddress
import socket
import struct

from carpd.core.addresses import Family
from carpd.core.drops import DropReason
from carpd.core.events import DatagramMalformed, PacketReceived
from carpd.io import ipv6

IP6 = ipaddress.IPv6Address
PAYLOAD = bytes.fromhex("214d0007000165b4d58802380f182260002479c1ece123e487e765badc7715a41e10e743")
GROUP = IP6("ff02::12")


def test_ancillary_hop_limit_and_pktinfo_make_the_event() -> None:
    anc = [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, GROUP.packed + struct.pack("=I", 7)),
           (socket.IPPROTO_IPV6, socket.IPV6_HOPLIMIT, struct.pack("=i", 255))]
    ev = ipv6.parse_message("eth0", PAYLOAD, anc, ("fe80::ff:fe00:9001%eth0", 0, 0, 7))
    assert ev == PacketReceived(interface="eth0", family=Family.IPV6,
                                source=IP6("fe80::ff:fe00:9001"), destination=GROUP,
                                hop_limit=255, payload=PAYLOAD)
    assert isinstance(ev, PacketReceived) and ev.source.scope_id is None


def test_encoded_ancillary_round_trips_a_unicast_advert_with_hop_limit_64() -> None:
    anc = ipv6.encode_ancillary(hop_limit=64, destination=IP6("2001:db8::2"), ifindex=3)
    ev = ipv6.parse_message("eth1", PAYLOAD, anc, ("2001:db8::1", 0, 0, 0))
    assert isinstance(ev, PacketReceived)
    assert (ev.source, ev.destination, ev.hop_limit) == (IP6("2001:db8::1"),
                                                         IP6("2001:db8::2"), 64)


def test_missing_ancillary_data_is_malformed() -> None:
    for anc, missing in (([], "hop limit and destination"),
                         (ipv6.encode_ancillary(hop_limit=255), "destination"),
                         (ipv6.encode_ancillary(destination=GROUP), "hop limit")):
        ev = ipv6.parse_message("eth0", PAYLOAD, anc, ("fe80::1%eth0", 0, 0, 2))
        assert isinstance(ev, DatagramMalformed), ev
        assert ev.reason is DropReason.MALFORMED
        assert missing in ev.detail and ev.source == IP6("fe80::1")


def test_foreign_or_short_ancillary_items_are_ignored() -> None:
    anc = [(socket.IPPROTO_IP, socket.IPV6_HOPLIMIT, struct.pack("=i", 255)),  # other level
           (socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, b"\0" * 8),  # truncated
           (socket.IPPROTO_IPV6, socket.IPV6_HOPLIMIT, struct.pack("=i", 300))]  # nonsense
    ev = ipv6.parse_message("eth0", PAYLOAD, anc, ("fe80::1", 0, 0, 2))
    assert isinstance(ev, DatagramMalformed)


def test_unparsable_source_is_malformed() -> None:
    ev = ipv6.parse_message("eth0", PAYLOAD, ipv6.encode_ancillary(hop_limit=255,
                                                                   destination=GROUP),
                            ("not-an-address", 0, 0, 0))
    assert isinstance(ev, DatagramMalformed) and ev.reason is DropReason.MALFORMED


def test_the_ancillary_buffer_holds_both_items() -> None:
    assert socket.CMSG_SPACE(20) + socket.CMSG_SPACE(4) <= ipv6.ANCILLARY_SPACE


def test_membership_request_and_socket_address() -> None:
    assert ipv6.ipv6_mreq(GROUP, 5) == GROUP.packed + struct.pack("=I", 5)
    assert ipv6.sockaddr(IP6("fe80::1%eth0"), 4) == ("fe80::1", 0, 0, 4)
    assert ipv6.sockaddr(IP6("2001:db8::1"), 4) == ("2001:db8::1", 0, 0, 4)
    assert ipv6.unscoped(IP6("fe80::1%eth0")) == IP6("fe80::1")
