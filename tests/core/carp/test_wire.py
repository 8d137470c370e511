"""Wire codec: the known-answer vectors of CARP.md 2.2, the checksum, the IPv4 header."""

from __future__ import annotations

import ipaddress
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carpd.core.carp import auth, wire
from carpd.core.checksum import internet_checksum

IP = ipaddress.IPv4Address

# (password, vhid, VIP, counter, advbase, advskew, the 36 CARP bytes) from CARP.md 2.2
VECTORS = [
    pytest.param(
        b"secret", 77, IP("127.0.0.77"), 0xD58802380F182260, 1, 0,
        "214d0007000165b4d58802380f182260002479c1ece123e487e765badc7715a41e10e743",
        id="1-captured-ucarp",
    ),
    pytest.param(
        b"love", 42, IP("10.1.1.252"), 0x0000000000000001, 1, 0,
        "212a0007000163a20000000000000001bed06b842dc2fcede38f5139bf18d984f1276796",
        id="2-computed",
    ),
    pytest.param(
        b"mypassword", 1, IP("10.1.1.252"), 0x0123456789ABCDEF, 1, 100,
        "21016407000159350123456789abcdefb0c95ba597ba42bcf424d715b1a4eba2db3958f9",
        id="3-computed-skew",
    ),
]
VEC1 = bytes.fromhex(
    "214d0007000165b4d58802380f182260002479c1ece123e487e765badc7715a41e10e743")
# Captured ucarp IP header, srcip 127.0.0.1 (CARP.md 1.2).
UCARP_IP_HEADER = bytes.fromhex("4510003821654000ff70facc7f000001e0000012")


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(out)


# -- known-answer vectors ----------------------------------------------------------------------

@pytest.mark.parametrize(("password", "vhid", "vip", "counter", "advbase", "advskew", "hexbytes"),
                         VECTORS)
def test_encode_reproduces_vector(password: bytes, vhid: int, vip: IP, counter: int,
                                  advbase: int, advskew: int, hexbytes: str) -> None:
    digest = auth.compute_digest(password, vhid, [vip], counter)
    header = wire.CarpHeader(vhid=vhid, advskew=advskew, advbase=advbase, counter=counter,
                             digest=digest)
    assert wire.encode_carp_header(header) == bytes.fromhex(hexbytes)


@pytest.mark.parametrize(("password", "vhid", "vip", "counter", "advbase", "advskew", "hexbytes"),
                         VECTORS)
def test_decode_vector_gives_back_fields(password: bytes, vhid: int, vip: IP, counter: int,
                                         advbase: int, advskew: int, hexbytes: str) -> None:
    raw = bytes.fromhex(hexbytes)
    h = wire.decode_carp_header(raw)
    assert (h.version, h.type, h.vhid, h.advskew, h.authlen, h.demote, h.advbase) == (
        2, 1, vhid, advskew, 7, 0, advbase)
    assert h.counter == counter
    assert h.checksum == int.from_bytes(raw[6:8], "big")
    assert h.digest == raw[16:36]
    assert wire.carp_checksum_ok(raw)
    assert auth.verify_digest(password, vhid, (vip,), h.counter, h.digest)
    assert not h.is_bow_out
    # decode(encode(x)) == x, checksum field included
    assert wire.decode_carp_header(wire.encode_carp_header(h)) == h


def test_vector1_hmac_message() -> None:
    msg = auth.hmac_message(77, IP("127.0.0.77").packed, 0xD58802380F182260)
    assert msg == bytes.fromhex("02014d7f00004dd58802380f182260")
    assert len(msg) == 15


def test_vector1_byte_zero_and_sizes() -> None:
    assert VEC1[0] == 0x21
    assert len(VEC1) == wire.CARP_HEADER_LEN == 36


def test_trailing_bytes_are_ignored_like_ucarp() -> None:
    h = wire.decode_carp_header(VEC1 + b"\xde\xad\xbe\xef")
    assert h == wire.decode_carp_header(VEC1)
    assert wire.carp_checksum_ok(VEC1 + b"\xff\xff")


def test_encode_ignores_given_checksum_field() -> None:
    h = wire.decode_carp_header(VEC1)
    assert wire.encode_carp_header(wire.CarpHeader(
        vhid=h.vhid, advskew=h.advskew, advbase=h.advbase, counter=h.counter,
        digest=h.digest, checksum=0x1234)) == VEC1


def test_encode_rejects_wrong_digest_length() -> None:
    with pytest.raises(ValueError, match="digest must be 20 bytes"):
        wire.encode_carp_header(wire.CarpHeader(vhid=1, advskew=0, advbase=1, counter=0,
                                                digest=b"\x00" * 19))


def test_bow_out_property() -> None:
    h = wire.CarpHeader(vhid=1, advskew=255, advbase=255, counter=0, digest=bytes(20))
    assert h.is_bow_out
    assert not wire.CarpHeader(vhid=1, advskew=255, advbase=254, counter=0,
                               digest=bytes(20)).is_bow_out
    assert not wire.CarpHeader(vhid=1, advskew=254, advbase=255, counter=0,
                               digest=bytes(20)).is_bow_out


# -- one-bit changes are rejected --------------------------------------------------------------

V1_DIGEST = VEC1[16:36]
V1_VIP = IP("127.0.0.77")


def _v1_ok(*, password: bytes = b"secret", vhid: int = 77, vip: IP = V1_VIP,
           counter: int = 0xD58802380F182260, digest: bytes = V1_DIGEST) -> bool:
    return auth.verify_digest(password, vhid, (vip,), counter, digest)


def test_vector1_verifies_unchanged() -> None:
    assert _v1_ok()


@pytest.mark.parametrize("bit", range(8))
def test_one_bit_change_of_vhid_rejected(bit: int) -> None:
    assert not _v1_ok(vhid=77 ^ (1 << bit))


@pytest.mark.parametrize("bit", range(32))
def test_one_bit_change_of_vip_rejected(bit: int) -> None:
    assert not _v1_ok(vip=IP(int(IP("127.0.0.77")) ^ (1 << bit)))


@pytest.mark.parametrize("bit", range(6 * 8))
def test_one_bit_change_of_password_rejected(bit: int) -> None:
    assert not _v1_ok(password=_flip(b"secret", bit))


@pytest.mark.parametrize("bit", range(64))
def test_one_bit_change_of_counter_rejected(bit: int) -> None:
    assert not _v1_ok(counter=0xD58802380F182260 ^ (1 << bit))


@pytest.mark.parametrize("bit", range(160))
def test_one_bit_change_of_digest_rejected(bit: int) -> None:
    assert not _v1_ok(digest=_flip(V1_DIGEST, bit))


def test_zero_padded_key_equals_raw_password_but_other_passwords_fail() -> None:
    # ucarp's zero-padded 20-byte key equals HMAC with the raw bytes (CARP.md 2.1)
    assert _v1_ok(password=b"secret\x00")
    assert _v1_ok(password=b"secret" + bytes(14))
    assert not _v1_ok(password=b"secret1")


@pytest.mark.parametrize("bit", range(36 * 8))
def test_any_one_bit_change_breaks_the_checksum(bit: int) -> None:
    assert wire.carp_checksum_ok(VEC1)
    assert not wire.carp_checksum_ok(_flip(VEC1, bit))


def test_wire_bit_flips_in_vhid_counter_digest_are_caught_end_to_end() -> None:
    """Change a field on the wire and fix up the checksum: the HMAC still rejects it."""
    for offset in (1, 8, 15, 16, 35):  # vhid, counter (first/last), digest (first/last)
        tampered = wire.decode_carp_header(_flip(VEC1, offset * 8 + 7))
        fixed = wire.encode_carp_header(tampered)
        assert wire.carp_checksum_ok(fixed)
        h = wire.decode_carp_header(fixed)
        # a receiver configured for the vhid in the packet still rejects it
        assert not auth.verify_digest(b"secret", h.vhid, (IP("127.0.0.77"),), h.counter,
                                      h.digest)


# -- internet checksum -------------------------------------------------------------------------

def test_checksum_rfc1071_example() -> None:
    # RFC 1071 section 3 example: 0001 f203 f4f5 f6f7 sums to ddf2, checksum 220d
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D


def test_checksum_of_empty_and_zeros_is_ffff() -> None:
    assert internet_checksum(b"") == 0xFFFF
    assert internet_checksum(bytes(36)) == 0xFFFF


def test_checksum_odd_length_is_zero_padded() -> None:
    assert internet_checksum(b"\x12\x34\x56") == internet_checksum(b"\x12\x34\x56\x00")
    assert internet_checksum(b"\xab") == (~0xAB00) & 0xFFFF


def test_checksum_end_around_carry() -> None:
    # ffff + 0001 = 1 0000 -> fold -> 0001 -> complement fffe
    assert internet_checksum(b"\xff\xff\x00\x01") == 0xFFFE


@given(st.binary(max_size=200).map(lambda b: b + b"\x00" if len(b) % 2 else b))
def test_checksum_inserted_makes_total_zero(data: bytes) -> None:
    csum = internet_checksum(data)
    assert 0 <= csum <= 0xFFFF
    assert internet_checksum(data + struct.pack("!H", csum)) == 0


@given(st.binary(max_size=100), st.binary(max_size=100))
def test_checksum_is_independent_of_word_order(a: bytes, b: bytes) -> None:
    a = a + b"\x00" * (len(a) % 2)
    b = b + b"\x00" * (len(b) % 2)
    assert internet_checksum(a + b) == internet_checksum(b + a)


# -- WireError on short / garbage --------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 19, 35])
def test_short_carp_header(n: int) -> None:
    with pytest.raises(wire.WireError) as err:
        wire.decode_carp_header(VEC1[:n])
    assert err.value.reason == "short"
    assert str(n) in err.value.detail


@given(st.binary(max_size=80))
def test_decode_raises_only_wire_error(data: bytes) -> None:
    try:
        wire.decode_carp_header(data)
    except wire.WireError as exc:
        assert exc.reason in {"short", "malformed"}


_headers = st.builds(
    wire.CarpHeader,
    version=st.integers(0, 15), type=st.integers(0, 15), vhid=st.integers(0, 255),
    advskew=st.integers(0, 255), authlen=st.integers(0, 255), demote=st.integers(0, 255),
    advbase=st.integers(0, 255), counter=st.integers(0, 2**64 - 1),
    digest=st.binary(min_size=20, max_size=20),
)


@given(_headers)
def test_carp_round_trip(header: wire.CarpHeader) -> None:
    raw = wire.encode_carp_header(header)
    assert len(raw) == 36
    assert wire.carp_checksum_ok(raw)
    back = wire.decode_carp_header(raw)
    assert back == wire.CarpHeader(
        version=header.version, type=header.type, vhid=header.vhid, advskew=header.advskew,
        authlen=header.authlen, demote=header.demote, advbase=header.advbase,
        checksum=int.from_bytes(raw[6:8], "big"), counter=header.counter,
        digest=header.digest)
    assert wire.encode_carp_header(back) == raw
