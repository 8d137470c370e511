"""HMAC rules: ucarp's single-address form vs the BSD sorted form (CARP.md 2.1-2.3)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from carpd.core.carp import auth

IP = ipaddress.IPv4Address
IP6 = ipaddress.IPv6Address


def _hmac(password: bytes, msg: bytes) -> bytes:
    return hmac.new(password, msg, hashlib.sha1).digest()


@given(st.binary(min_size=1, max_size=19), st.integers(1, 255),
       st.integers(0, 2**32 - 1).map(IP), st.integers(0, 2**64 - 1))
def test_ucarp_and_bsd_rule_coincide_for_one_ipv4(password: bytes, vhid: int, vip: IP,
                                                  counter: int) -> None:
    bsd = auth.compute_digest(password, vhid, [vip], counter)
    assert bsd == auth.ucarp_digest(password, vhid, vip, counter)
    assert auth.verify_digest(password, vhid, (vip,), counter, bsd)


def test_ucarp_message_layout() -> None:
    msg = auth.hmac_message(42, IP("10.1.1.252").packed, 1)
    assert msg == bytes([2, 1, 42, 10, 1, 1, 252, 0, 0, 0, 0, 0, 0, 0, 1])
    assert auth.ucarp_digest(b"love", 42, IP("10.1.1.252"), 1) == _hmac(b"love", msg)


def test_bsd_sorts_ipv4_numerically_not_lexically() -> None:
    addrs = [IP("10.0.0.10"), IP("10.0.0.9"), IP("9.255.255.255"), IP("10.0.0.100")]
    assert auth.bsd_address_bytes(addrs) == b"".join(
        IP(a).packed for a in ("9.255.255.255", "10.0.0.9", "10.0.0.10", "10.0.0.100"))
    # lexical order of the strings would put 10.0.0.10 first: the digest differs
    lexical = b"".join(IP(a).packed for a in sorted(map(str, addrs)))
    assert auth.bsd_address_bytes(addrs) != lexical


def test_bsd_puts_ipv4_before_ipv6_and_sorts_ipv6_bytewise() -> None:
    addrs: list[IP | IP6] = [IP6("fe80::1"), IP("192.0.2.2"), IP6("2001:db8::2"), IP("192.0.2.1"),
             IP6("2001:db8::10")]
    expected = (IP("192.0.2.1").packed + IP("192.0.2.2").packed + IP6("2001:db8::2").packed
                + IP6("2001:db8::10").packed + IP6("fe80::1").packed)
    assert auth.bsd_address_bytes(addrs) == expected


def test_bsd_digest_is_order_independent() -> None:
    a, b = IP("10.0.0.9"), IP("10.0.0.10")
    d1 = auth.compute_digest(b"pw", 5, [a, b], 7)
    assert d1 == auth.compute_digest(b"pw", 5, [b, a], 7)
    assert d1 == _hmac(b"pw", bytes([2, 1, 5]) + a.packed + b.packed + (7).to_bytes(8, "big"))
    assert d1 != _hmac(b"pw", bytes([2, 1, 5]) + b.packed + a.packed + (7).to_bytes(8, "big"))


def test_verify_accepts_both_forms_for_multi_address_vhid() -> None:
    addrs = (IP("10.0.0.10"), IP("10.0.0.9"))
    bsd = auth.compute_digest(b"pw", 5, addrs, 99)
    ucarp = auth.ucarp_digest(b"pw", 5, IP("10.0.0.10"), 99)  # the first configured address
    assert bsd != ucarp
    assert auth.verify_digest(b"pw", 5, addrs, 99, bsd)
    assert auth.verify_digest(b"pw", 5, addrs, 99, ucarp)
    # ucarp form for another address, or with a wrong password/counter, is refused
    assert not auth.verify_digest(b"pw", 5, addrs, 99,
                                  auth.ucarp_digest(b"pw", 5, IP("10.0.0.9"), 99))
    assert not auth.verify_digest(b"px", 5, addrs, 99, bsd)
    assert not auth.verify_digest(b"pw", 5, addrs, 98, ucarp)


def test_verify_with_ipv4_and_ipv6() -> None:
    addrs = (IP6("2001:db8::1"), IP("192.0.2.7"))
    bsd = auth.compute_digest(b"k", 9, addrs, 3)
    assert auth.verify_digest(b"k", 9, addrs, 3, bsd)
    assert auth.verify_digest(b"k", 9, addrs, 3, auth.ucarp_digest(b"k", 9, IP("192.0.2.7"), 3))
    assert not auth.verify_digest(b"k", 9, (IP6("2001:db8::1"),), 3, bsd)


def test_verify_rejects_digest_for_subset_of_addresses() -> None:
    """A BSD peer hashing fewer addresses than we have is not the same VHID config."""
    addrs = (IP("10.0.0.1"), IP("10.0.0.2"), IP("10.0.0.3"))
    subset = auth.compute_digest(b"pw", 1, addrs[:2], 0)
    assert not auth.verify_digest(b"pw", 1, addrs, 0, subset)


# -- IPv6 (IPV6-UNICAST-VRRP3.md 1.3): vectors C1 and C2, byte for byte -------------------------

def test_vector_c1_ipv6_only() -> None:
    from carpd.core.carp import wire
    addresses = (IP6("2001:db8::77"),)
    msg = auth.hmac_message(77, auth.bsd_address_bytes(addresses), 1)
    assert msg.hex() == "02014d20010db80000000000000000000000770000000000000001"
    digest = auth.compute_digest(b"secret", 77, addresses, 1)
    header = wire.encode_carp_header(wire.CarpHeader(vhid=77, advskew=0, advbase=1, counter=1,
                                                     digest=digest))
    assert header.hex() == ("214d00070001c76300000000000000010c535b05f97453649177c8b9192de8db"
                            "a5a56134")
    assert auth.verify_digest(b"secret", 77, addresses, 1, digest)


def test_vector_c2_dual_stack_sorted_ipv4_first_then_ipv6_bytewise() -> None:
    from carpd.core.carp import wire
    addresses = (IP6("2001:db8::77"), IP("192.0.2.77"), IP6("2001:db8::5"))  # config order
    counter = 0x0123456789ABCDEF
    msg = auth.hmac_message(77, auth.bsd_address_bytes(addresses), counter)
    assert msg.hex() == ("02014dc000024d20010db800000000000000000000000520010db800000000000000"
                         "00000000770123456789abcdef")
    digest = auth.compute_digest(b"secret", 77, addresses, counter)
    header = wire.encode_carp_header(wire.CarpHeader(vhid=77, advskew=0, advbase=1,
                                                     counter=counter, digest=digest))
    assert header.hex() == ("214d0007000180310123456789abcdef4621e5976cc95299008c4a67cde3874d"
                            "7c75b89d")


def test_a_peer_hashing_only_its_ipv4_fails_against_a_dual_stack_vhid() -> None:
    dual = (IP("192.0.2.77"), IP6("2001:db8::77"))
    v4_only = auth.compute_digest(b"secret", 77, dual[:1], 5)
    # ucarp's one-address form is accepted for the first IPv4 address (ucarp peers) ...
    assert auth.verify_digest(b"secret", 77, dual, 5, v4_only)
    v6_only = auth.compute_digest(b"secret", 77, dual[1:], 5)
    assert not auth.verify_digest(b"secret", 77, dual, 5, v6_only)
