"""`carpd --check`'s one line per VIP, in each protocol's words."""

from __future__ import annotations

import ipaddress

from carpd.app.cli import describe_vip
from carpd.core.params import Secret, VipParams

VIP = ipaddress.ip_interface("10.99.0.100/24")


def test_a_vrrp_vip_is_described_with_priority_interval_and_master_down() -> None:
    vip = VipParams(name="api", vhid=51, interface="eth0", addresses=(VIP,),
                    password=Secret(b""), protocol="vrrp3", priority=150,
                    advert_interval_cs=10)
    assert describe_vip(vip, "none") == (
        "api: VRRPv3 vrid 51 on eth0, 10.99.0.100/24 (IPv4, multicast), priority 150, "
        "advert_interval 0.10 s (master-down 0.341 s with a master at that interval), "
        "preempt on")


def test_a_carp_vip_is_described_with_advbase_advskew_and_its_password_origin() -> None:
    vip = VipParams(name="web", vhid=1, interface="eth0", addresses=(VIP,),
                    password=Secret(b"pw"), advskew=100)
    line = describe_vip(vip, "/etc/carpd/carp.key")
    assert line.startswith("web: vhid 1 on eth0, 10.99.0.100/24 (IPv4, multicast), advbase 1 "
                           "advskew 100 (master-down 3.39 s), preempt on")
    assert line.endswith("password from /etc/carpd/carp.key")
