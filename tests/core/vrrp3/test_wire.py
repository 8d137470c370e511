"""VRRPv3 wire: the known-answer vectors of IPV6-UNICAST-VRRP3.md 3.3, byte for byte, both ways."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carpd.core.addresses import Family
from carpd.core.vrrp3.wire import (
    ChecksumForm,
    Vrrp3Header,
    WireError,
    checksum_form,
    decode_vrrp3,
    encode_vrrp3,
)

A = ipaddress.ip_address
SRC4, GROUP4, PEER4, VIP4 = A("10.99.0.1"), A("224.0.0.18"), A("10.99.0.2"), A("10.99.0.100")
GROUP6, VIP6 = A("ff02::12"), A("fd00:99::100")

V4 = Vrrp3Header(vrid=51, priority=100, interval_cs=100, addresses=(VIP4,))
V6 = Vrrp3Header(vrid=51, priority=100, interval_cs=100, addresses=(VIP6,))
RESIGN4 = Vrrp3Header(vrid=51, priority=0, interval_cs=100, addresses=(VIP4,))
RESIGN6 = Vrrp3Header(vrid=51, priority=0, interval_cs=100, addresses=(VIP6,))

VECTORS = [  # (id, header, source, destination, form, hex)
    ("V1", V4, SRC4, GROUP4, ChecksumForm.PSEUDO_HEADER, "31336401006474ad0a630064"),
    ("V1'", V4, SRC4, GROUP4, ChecksumForm.MESSAGE_ONLY, "3133640100645fa00a630064"),
    ("V1u", V4, SRC4, PEER4, ChecksumForm.PSEUDO_HEADER, "3133640100644a5b0a630064"),
    ("V2", V6, A("fe80::1"), GROUP6, ChecksumForm.PSEUDO_HEADER,
     "3133640100646daefd000099000000000000000000000100"),
    ("V3", RESIGN4, SRC4, GROUP4, ChecksumForm.PSEUDO_HEADER, "313300010064d8ad0a630064"),
    ("V2k", V6, A("fe80::ff:fe00:1"), GROUP6, ChecksumForm.PSEUDO_HEADER,
     "3133640100646eaefd000099000000000000000000000100"),
    ("V3k", RESIGN6, A("fe80::ff:fe00:1"), GROUP6, ChecksumForm.PSEUDO_HEADER,
     "313300010064d2aefd000099000000000000000000000100"),
]


@pytest.mark.parametrize(("header", "src", "dst", "form", "hexed"),
                         [pytest.param(*v[1:], id=v[0]) for v in VECTORS])
def test_known_answer_vectors_encode_byte_for_byte(header: Vrrp3Header, src: object,
                                                   dst: object, form: ChecksumForm,
                                                   hexed: str) -> None:
    assert encode_vrrp3(header, source=src, destination=dst, form=form).hex() == hexed  # type: ignore[arg-type]


@pytest.mark.parametrize(("header", "src", "dst", "form", "hexed"),
                         [pytest.param(*v[1:], id=v[0]) for v in VECTORS])
def test_known_answer_vectors_decode_and_verify(header: Vrrp3Header, src: object,
                                                dst: object, form: ChecksumForm,
                                                hexed: str) -> None:
    data = bytes.fromhex(hexed)
    family = Family.IPV4 if header.addresses[0].version == 4 else Family.IPV6
    assert decode_vrrp3(data, family) == header
    found = checksum_form(data, src, dst, message_only=True)  # type: ignore[arg-type]
    assert found is form


def test_message_only_form_is_accepted_only_when_allowed() -> None:
    data = bytes.fromhex("3133640100645fa00a630064")  # V1'
    assert checksum_form(data, SRC4, GROUP4, message_only=False) is None
    assert checksum_form(data, SRC4, GROUP4, message_only=True) is ChecksumForm.MESSAGE_ONLY


def test_unicast_advert_summed_with_the_group_is_recognised() -> None:
    """keepalived <= 1.3.6 and FRR put the group in the pseudo-header of unicast adverts."""
    data = bytes.fromhex("31336401006474ad0a630064")  # V1, the group form, sent to a peer
    assert checksum_form(data, SRC4, PEER4, message_only=False) is \
        ChecksumForm.PSEUDO_HEADER_GROUP


@pytest.mark.parametrize(("src", "dst", "hexed"),
                         [pytest.param(v[2], v[3], v[5], id=v[0]) for v in VECTORS
                          if v[4] is ChecksumForm.PSEUDO_HEADER])
@given(bit=st.integers(min_value=0))
def test_any_single_bit_flip_fails_the_checksum(src: object, dst: object, hexed: str,
                                                bit: int) -> None:
    data = bytearray(bytes.fromhex(hexed))
    assert checksum_form(bytes(data), src, dst, message_only=False) is not None  # type: ignore[arg-type]
    bit %= len(data) * 8
    data[bit // 8] ^= 1 << (bit % 8)
    assert checksum_form(bytes(data), src, dst, message_only=False) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(("data", "reason"), [
    (b"\x31\x33\x64", "short"),
    (bytes.fromhex("21336401006474ad0a630064"), "bad_version"),
    (bytes.fromhex("32336401006474ad0a630064"), "malformed"),  # type 2
    (bytes.fromhex("31336400006474ad"), "malformed"),  # count 0
    (bytes.fromhex("31336402006474ad0a630064"), "malformed"),  # 2 addresses, 1 present
    (bytes.fromhex("31336401000074ad0a630064"), "malformed"),  # interval 0
])
def test_malformed_messages_raise_wire_errors_only(data: bytes, reason: str) -> None:
    with pytest.raises(WireError) as info:
        decode_vrrp3(data, Family.IPV4)
    assert info.value.reason == reason


def test_reserved_bits_are_ignored_on_receive_and_zero_on_send() -> None:
    data = bytes.fromhex("3133640170640000") + VIP4.packed  # reserved nibble 0x7
    assert decode_vrrp3(data, Family.IPV4).interval_cs == 100
    sent = encode_vrrp3(V4, source=SRC4, destination=GROUP4)
    assert sent[4] >> 4 == 0


@given(vrid=st.integers(1, 255), priority=st.integers(0, 255), interval=st.integers(1, 4095),
       hosts=st.lists(st.integers(1, 2**32 - 2), min_size=1, max_size=8, unique=True))
def test_encode_decode_round_trip(vrid: int, priority: int, interval: int,
                                  hosts: list[int]) -> None:
    h = Vrrp3Header(vrid=vrid, priority=priority, interval_cs=interval,
                    addresses=tuple(ipaddress.IPv4Address(x) for x in hosts))
    data = encode_vrrp3(h, source=SRC4, destination=GROUP4)
    assert decode_vrrp3(data, Family.IPV4) == h
    assert checksum_form(data, SRC4, GROUP4, message_only=False) is ChecksumForm.PSEUDO_HEADER


def test_encode_refuses_what_the_wire_cannot_carry() -> None:
    with pytest.raises(ValueError, match="interval"):
        encode_vrrp3(Vrrp3Header(51, 100, 4096, (VIP4,)), source=SRC4, destination=GROUP4)
    with pytest.raises(ValueError, match="family"):
        encode_vrrp3(Vrrp3Header(51, 100, 100, (VIP6,)), source=SRC4, destination=GROUP4)
