"""carpd.doctor's parsers on captured samples (/proc/net/igmp{,6} from a namespace that
joined 224.0.0.18 and ff02::12 on v0, `ip -j` output, ucarp and keepalived command lines)."""

from __future__ import annotations

from pathlib import Path

from carpd.doctor.parsers import (
    keepalived_addresses,
    keepalived_config_path,
    parse_igmp,
    parse_igmp6,
    parse_ip_addr,
    parse_route_dev,
    ucarp_addresses,
)

SAMPLES = Path(__file__).parent / "samples"


def test_igmp_groups_per_interface_little_endian() -> None:
    joined = parse_igmp((SAMPLES / "proc-net-igmp").read_text(), "little")
    assert joined == {"lo": {"224.0.0.1"}, "v1": {"224.0.0.1"},
                      "v0": {"224.0.0.18", "224.0.0.1"}}


def test_igmp_groups_big_endian_are_printed_in_network_order() -> None:
    text = "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n" \
           "3\teth0      :     1      V3\n\t\t\t\tE0000012     1 0:00000000\t\t0\n"
    assert parse_igmp(text, "big") == {"eth0": {"224.0.0.18"}}


def test_igmp_skips_what_it_cannot_read() -> None:
    assert parse_igmp("header\n\t\t\tZZZZ 1\n", "little") == {}


def test_igmp6_groups() -> None:
    joined = parse_igmp6((SAMPLES / "proc-net-igmp6").read_text())
    assert "ff02::12" in joined["v0"]
    assert "ff02::12" not in joined["v1"]
    assert joined["lo"] == {"ff02::1", "ff01::1"}


def test_ip_addr_links_flags_and_addresses() -> None:
    text = ('[{"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],'
            '"operstate":"UP","addr_info":[{"family":"inet","local":"10.0.0.2","prefixlen":24},'
            '{"family":"inet6","local":"fe80::1","prefixlen":64}]},'
            '{"ifname":"dummy0","flags":["BROADCAST","NOARP"],"operstate":"DOWN",'
            '"addr_info":[]}, "junk"]')
    eth0, dummy = parse_ip_addr(text)
    assert eth0.name == "eth0" and {"UP", "LOWER_UP", "MULTICAST"} <= eth0.flags
    assert eth0.addresses == (("10.0.0.2", 24), ("fe80::1", 64))
    assert dummy.operstate == "DOWN" and dummy.addresses == ()
    assert parse_ip_addr("not json") == []


def test_route_dev() -> None:
    assert parse_route_dev('[{"dst":"10.0.0.1","dev":"dummy0","prefsrc":"10.0.0.2"}]') \
        == "dummy0"
    assert parse_route_dev("[]") is None
    assert parse_route_dev("oops") is None


def test_ucarp_addresses_every_spelling() -> None:
    assert ucarp_addresses(["ucarp", "-i", "eth0", "-a", "10.0.0.50", "--addr=10.0.0.51",
                            "--addr", "10.0.0.52", "-a10.0.0.53"]) == {
        "10.0.0.50", "10.0.0.51", "10.0.0.52", "10.0.0.53"}


def test_keepalived_config_and_addresses() -> None:
    assert keepalived_config_path(["keepalived", "-n", "-f", "/tmp/k.conf"]) == "/tmp/k.conf"
    assert keepalived_config_path(["keepalived", "--use-file=/x"]) == "/x"
    assert keepalived_config_path(["keepalived"]) == "/etc/keepalived/keepalived.conf"
    conf = """
vrrp_instance web {   # the web VIP
    virtual_router_id 51
    virtual_ipaddress {
        10.0.0.50/24 dev eth0
        # 10.0.0.99 commented out
        fd00::50
    }
    virtual_ipaddress_excluded { 10.0.0.60 }
}
"""
    assert keepalived_addresses(conf) == {"10.0.0.50", "fd00::50", "10.0.0.60"}
