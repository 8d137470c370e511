"""The IPv4 header adapter: decode/encode against a captured ucarp header, and the datagram
the raw-socket adapter hands the core (header parsed off, TTL as hop limit)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carpd.core.addresses import Family
from carpd.core.checksum import internet_checksum
from carpd.core.events import DatagramMalformed, PacketReceived
from carpd.io import ipv4

IP = ipaddress.IPv4Address
UCARP_IP_HEADER = bytes.fromhex("4510003821654000ff70facc7f000001e0000012")


# -- IPv4 header -------------------------------------------------------------------------------

def test_decode_captured_ucarp_ip_header() -> None:
    ip = ipv4.decode_ipv4_header(UCARP_IP_HEADER)
    assert ip == ipv4.Ipv4Header(ihl=5, tos=0x10, total_length=56, ident=0x2165, ttl=255,
                                 protocol=112, source=IP("127.0.0.1"),
                                 destination=IP("224.0.0.18"))
    assert ip.header_length == 20
    assert internet_checksum(UCARP_IP_HEADER) == 0


def test_encode_reproduces_captured_ucarp_ip_header() -> None:
    raw = ipv4.encode_ipv4_header(source=IP("127.0.0.1"), destination=IP("224.0.0.18"),
                                  payload_length=36, ident=0x2165, tos=0x10)
    assert raw == UCARP_IP_HEADER


def test_encode_ipv4_header_fields_and_checksum() -> None:
    raw = ipv4.encode_ipv4_header(source=IP("10.0.0.1"), destination=IP("224.0.0.18"),
                                  payload_length=36, ident=0x1_2345, ttl=64, tos=0xE0)
    assert len(raw) == 20
    assert raw[0] == 0x45
    assert raw[6:8] == b"\x40\x00"  # DF
    assert internet_checksum(raw) == 0
    ip = ipv4.decode_ipv4_header(raw)
    assert (ip.tos, ip.total_length, ip.ident, ip.ttl, ip.protocol) == (0xE0, 56, 0x2345, 64,
                                                                          112)
    assert (ip.source, ip.destination) == (IP("10.0.0.1"), IP("224.0.0.18"))


def test_ipv4_header_with_options() -> None:
    raw = bytearray(UCARP_IP_HEADER + bytes(4))
    raw[0] = 0x46
    ip = ipv4.decode_ipv4_header(bytes(raw))
    assert ip.ihl == 6
    assert ip.header_length == 24
    with pytest.raises(ipv4.HeaderError) as err:
        ipv4.decode_ipv4_header(bytes(raw[:22]))
    assert err.value.reason == "short"


@pytest.mark.parametrize("n", [0, 1, 19])
def test_short_ipv4_header(n: int) -> None:
    with pytest.raises(ipv4.HeaderError) as err:
        ipv4.decode_ipv4_header(UCARP_IP_HEADER[:n])
    assert err.value.reason == "short"


@pytest.mark.parametrize("first", [0x00, 0x65, 0x44, 0x40, 0xFF])
def test_garbage_ipv4_header_is_malformed(first: int) -> None:
    raw = bytes([first]) + UCARP_IP_HEADER[1:]
    with pytest.raises(ipv4.HeaderError) as err:
        ipv4.decode_ipv4_header(raw)
    assert err.value.reason == "malformed"
    assert isinstance(err.value, ValueError)


@given(st.binary(max_size=80))
def test_decode_raises_only_header_error(data: bytes) -> None:
    try:
        ipv4.decode_ipv4_header(data)
    except ipv4.HeaderError as exc:
        assert exc.reason in {"short", "malformed"}


_addrs = st.integers(0, 2**32 - 1).map(IP)


@given(_addrs, _addrs, st.integers(0, 1480), st.integers(0, 0xFFFF), st.integers(0, 255),
       st.integers(0, 255), st.integers(0, 255))
def test_ipv4_round_trip(src: IP, dst: IP, plen: int, ident: int, ttl: int, tos: int,
                         proto: int) -> None:
    raw = ipv4.encode_ipv4_header(source=src, destination=dst, payload_length=plen,
                                  ident=ident, ttl=ttl, tos=tos, protocol=proto)
    assert internet_checksum(raw) == 0
    assert ipv4.decode_ipv4_header(raw) == ipv4.Ipv4Header(
        ihl=5, tos=tos, total_length=20 + plen, ident=ident, ttl=ttl, protocol=proto,
        source=src, destination=dst)


def test_parse_datagram_strips_the_header_and_reports_ttl_and_addresses() -> None:
    payload = bytes(range(36))
    raw = ipv4.encode_ipv4_header(source=IP("10.0.0.2"), destination=IP("224.0.0.18"),
                                  payload_length=36, ttl=64) + payload + b"pad"
    assert ipv4.parse_datagram("eth0", raw) == PacketReceived(
        interface="eth0", family=Family.IPV4, source=IP("10.0.0.2"),
        destination=IP("224.0.0.18"), hop_limit=64, payload=payload)


def test_parse_datagram_reports_other_protocols_and_bad_headers() -> None:
    udp = ipv4.encode_ipv4_header(source=IP("10.0.0.2"), destination=IP("224.0.0.18"),
                                  payload_length=0, protocol=17)
    assert ipv4.parse_datagram("eth0", udp) == DatagramMalformed(
        interface="eth0", reason="malformed", detail="IP protocol 17", source=IP("10.0.0.2"))
    bad = ipv4.parse_datagram("eth1", b"\x45\x00")
    assert isinstance(bad, DatagramMalformed) and (bad.interface, bad.reason) == ("eth1", "short")
