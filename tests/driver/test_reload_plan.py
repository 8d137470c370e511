"""carpd.driver.reload's classification: retuned (tunable differences only) vs changed (re-created),
and the summary that names each difference."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest

from carpd.core.params import TUNABLE_FIELDS, CheckParams, Placement, Secret, VipParams
from carpd.driver.reload import differences, plan_reload

NGINX = CheckParams(name="nginx", type="tcp", weight=100, host="127.0.0.1", port=80)
DB = CheckParams(name="db", type="exec", fatal=True, command=("/bin/db-ok",))
WEB = VipParams(name="web", vhid=1, interface="eth0",
                addresses=(ipaddress.IPv4Interface("172.16.90.31/24"),),
                password=Secret(b"s3cret"), advskew=100, checks=(NGINX,),
                source=ipaddress.IPv4Address("172.16.90.101"))

TUNED = {"advbase": 2, "advskew": 50, "deadratio": 4, "preempt": False, "garp_count": 5,
         "garp_interval": 0.5, "garp_refresh_interval": 30, "master_units": ("x.target",),
         "upscript": "/bin/up",
         "downscript": "/bin/down", "xparam": "p", "sync_group": "dc",
         "require_units": ("db.service",), "checks": (),
         "peers": (ipaddress.IPv4Address("172.16.90.102"),), "peer_ttl": 64, "accept_ttl": 64,
         "accept_source": "any", "accept_multicast": True, "na_count": 1, "na_interval": 0.5,
         "na_router": True, "deprecate_ipv6_vip": True, "priority": 200, "owner": True,
         "advert_interval_cs": 10, "preempt_delay": 5.0, "vrrp_checksum": "accept-both",
         "accept_mode": False}
RECREATED = {"vhid": 2, "interface": "eth1", "password": Secret(b"other"),
             "addresses": (ipaddress.IPv4Interface("172.16.90.32/24"),),
             "source": ipaddress.IPv4Address("172.16.90.9"),
             "source6": ipaddress.IPv6Address("fe80::9"),
             "multicast_group": ipaddress.IPv4Address("239.0.0.18"), "l2_broadcast": True,
             "protocol": "vrrp3", "placement": Placement.ROUTED, "routed_interface": "lo"}


def test_the_cases_cover_every_field() -> None:
    assert set(TUNED) == TUNABLE_FIELDS
    assert set(TUNED) | set(RECREATED) | {"name"} == {f.name for f in
                                                      dataclasses.fields(VipParams)}


@pytest.mark.parametrize("field", sorted(TUNED))
def test_a_tunable_difference_is_retuned(field: str) -> None:
    new = dataclasses.replace(WEB, **{field: TUNED[field]})
    plan = plan_reload([WEB], [new])
    assert plan.retuned == ((WEB, new),)
    assert plan.changed == plan.added == plan.removed == plan.unchanged == ()
    assert plan.retire == plan.enlist == () and not plan.is_noop


@pytest.mark.parametrize("field", sorted(RECREATED))
def test_any_untunable_difference_recreates(field: str) -> None:
    new = dataclasses.replace(WEB, advskew=0, **{field: RECREATED[field]})
    plan = plan_reload([WEB], [new])
    assert plan.changed == ((WEB, new),) and plan.retuned == ()
    assert plan.retire == (WEB,) and plan.enlist == (new,)


def test_plan_orders_and_summarises_every_kind() -> None:
    mail = dataclasses.replace(WEB, name="mail", vhid=2)
    dns = dataclasses.replace(WEB, name="dns", vhid=3)
    old = dataclasses.replace(WEB, name="old", vhid=9)
    new_web = dataclasses.replace(WEB, advskew=50)
    new_mail = dataclasses.replace(mail, password=Secret(b"rotated"))
    plan = plan_reload([WEB, mail, old, dns], [dns, new_mail, new_web])
    assert plan.summary() == ("mail changed (password); web retuned (advskew 100 -> 50); "
                              "old removed; dns unchanged")


def test_check_differences_one_by_one() -> None:
    new = dataclasses.replace(WEB, checks=(dataclasses.replace(NGINX, weight=50, port=8080),
                                           DB))
    assert differences(WEB, new) == ["check nginx weight 100 -> 50",
                                     "check nginx port 80 -> 8080", "check db added"]
    assert differences(new, WEB) == ["check nginx weight 50 -> 100",
                                     "check nginx port 8080 -> 80", "check db removed"]
    both = dataclasses.replace(WEB, checks=(NGINX, DB))
    assert differences(both, dataclasses.replace(WEB, checks=(DB, NGINX))) == [
        "checks reordered"]
    assert plan_reload([both], [dataclasses.replace(both, checks=(DB,))]).summary() == (
        "web retuned (check nginx removed)")
