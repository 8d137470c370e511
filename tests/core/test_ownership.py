"""carpd.core.ownership: what is carpd's (its mark; for IPv4 also the VIP's label) and how a
VIP's addresses split into carpd's copies and foreign ones (by IP, any prefix)."""

from __future__ import annotations

import ipaddress

from carpd.core.ownership import Found, InterfaceAddress, foreign_copy_text, owns, survey

I = ipaddress.ip_interface  # noqa: E741
LABEL = "eth0:web"


def test_the_mark_makes_an_address_carpds_in_both_families() -> None:
    assert owns(InterfaceAddress(I("192.0.2.10/24"), marked=True, label="eth0"), LABEL)
    assert owns(InterfaceAddress(I("2001:db8::10/64"), marked=True), LABEL)
    assert not owns(InterfaceAddress(I("2001:db8::10/64")), LABEL)


def test_the_vips_label_makes_an_ipv4_address_carpds_another_label_does_not() -> None:
    assert owns(InterfaceAddress(I("192.0.2.10/24"), label=LABEL), LABEL)
    assert not owns(InterfaceAddress(I("192.0.2.10/24"), label="eth0"), LABEL)
    assert not owns(InterfaceAddress(I("192.0.2.10/24"), label="eth0:1"), LABEL)
    assert not owns(InterfaceAddress(I("192.0.2.10/24"), label="eth0:mail"), LABEL)


def test_survey_matches_by_ip_whatever_the_prefix() -> None:
    listing = (InterfaceAddress(I("192.0.2.1/24"), label="eth0"),
               InterfaceAddress(I("192.0.2.10/32"), label="eth0"),
               InterfaceAddress(I("192.0.2.10/24"), marked=True, label=LABEL),
               InterfaceAddress(I("2001:db8::10/64")),
               InterfaceAddress(I("2001:db8::11/64"), marked=True))
    vip = (I("192.0.2.10/24"), I("2001:db8::10/64"), I("2001:db8::11/64"))
    assert survey(vip, LABEL, listing) == Found(
        ours=(I("192.0.2.10/24"), I("2001:db8::11/64")),
        foreign=(I("192.0.2.10/32"), I("2001:db8::10/64")))
    assert survey((I("192.0.2.99/24"),), LABEL, listing) == Found()


def test_the_words_name_the_address_and_the_interface() -> None:
    assert foreign_copy_text(I("192.0.2.1/24"), "eth0") == (
        "192.0.2.1/24 is already on eth0 and was not added by carpd (it has no carpd mark); "
        "carpd never takes or removes an address it did not add: use another VIP address or "
        "remove 192.0.2.1/24 from eth0")
