"""The dry run's plan (carpd.driver.reload's verdicts, carpd.driver.preview's reply): per VIP
what a reload does and why, who bows out as MASTER, and that planning applies nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress

import pytest

from carpd.core.actions import VhidState
from carpd.core.params import Secret, VipParams
from carpd.driver.preview import plan_for, preview
from carpd.driver.reload import Verdict, plan_reload
from carpd.driver.startup import StartupError
from tests.driver.fakes import FakeAddresses

SOURCE = ipaddress.IPv4Address("172.16.90.101")


def vip(name: str, vhid: int, **kw: object) -> VipParams:
    fields: dict[str, object] = {
        "name": name, "vhid": vhid, "interface": "eth0", "password": Secret(b"s3cret"),
        "addresses": (ipaddress.IPv4Interface(f"172.16.90.{30 + vhid}/24"),), "source": SOURCE}
    return VipParams(**{**fields, **kw})  # type: ignore[arg-type]


WEB, MAIL, NTP, DB = vip("web", 1), vip("mail", 2), vip("ntp", 4), vip("db", 5)
RUNNING = (WEB, MAIL, NTP, DB)
NEW = (dataclasses.replace(WEB, advskew=50, preempt=False), vip("dns", 3),
       dataclasses.replace(MAIL, vhid=12, advskew=10), DB)


def test_verdicts_follow_the_new_file_then_the_removed() -> None:
    verdicts = plan_reload(RUNNING, NEW).verdicts()
    assert [(v.name, v.verdict, v.changes, v.forcing) for v in verdicts] == [
        ("web", Verdict.RETUNED, ("advskew 0 -> 50", "preempt True -> False"), ()),
        ("dns", Verdict.ADDED, (), ()),
        ("mail", Verdict.RECREATED, ("vhid 2 -> 12", "advskew 0 -> 10"), ("vhid",)),
        ("db", Verdict.UNCHANGED, (), ()),
        ("ntp", Verdict.REMOVED, (), ())]
    assert verdicts[1].vip == NEW[1] and verdicts[4].vip == NTP


def test_a_password_change_is_named_never_shown() -> None:
    verdict = plan_reload((WEB,), (dataclasses.replace(WEB, password=Secret(b"n3w")),)).verdicts()
    assert (verdict[0].verdict, verdict[0].changes, verdict[0].forcing) == (
        Verdict.RECREATED, ("password",), ("password",))


def test_preview_says_who_bows_out_as_master() -> None:
    states = {"web": VhidState.MASTER, "mail": VhidState.MASTER, "ntp": VhidState.MASTER,
              "db": VhidState.BACKUP}
    reply = preview(plan_reload(RUNNING, NEW), states)
    assert reply["lines"] == [
        "web   retuned: advskew 0 -> 50, preempt True -> False [MASTER here]",
        "dns   added: vhid 3 on eth0, 172.16.90.33/24, starts in BACKUP",
        "mail  re-created (vhid cannot change in place): vhid 2 -> 12, advskew 0 -> 10 "
        "[MASTER here: bows out, then starts again in BACKUP]",
        "db    unchanged [BACKUP here]",
        "ntp   removed [MASTER here: bows out and releases its addresses]",
        "would bow out as MASTER: mail, ntp (a peer takes over)"]
    assert reply["bow_out"] == ["mail", "ntp"] and reply["noop"] is False
    assert reply["vips"][2] == {"name": "mail", "verdict": "re-created",
                                "changes": ["vhid 2 -> 12", "advskew 0 -> 10"],
                                "forcing": ["vhid"], "state": "MASTER", "bows_out": True}
    assert reply["vips"][1]["state"] is None  # dns does not run yet


def test_preview_of_backups_and_of_nothing() -> None:
    backups = dict.fromkeys(("web", "mail", "ntp", "db"), VhidState.BACKUP)
    assert preview(plan_reload(RUNNING, NEW), backups)["lines"][-1] == \
        "no VIP that is MASTER here would bow out"
    same = preview(plan_reload(RUNNING, RUNNING), backups)
    assert same["noop"] is True and same["bow_out"] == []
    assert same["lines"][-1] == "nothing would change"


def test_plan_for_resolves_auto_as_a_reload_and_touches_nothing() -> None:
    addresses = FakeAddresses()
    auto = dataclasses.replace(WEB, source=None, advskew=5)
    plan = asyncio.run(plan_for((auto,), (WEB,), addresses))
    assert [(v.name, v.verdict, v.changes) for v in plan.verdicts()] == [
        ("web", Verdict.RETUNED, ("advskew 0 -> 5",))]
    assert addresses.ops == []  # read only


def test_plan_for_refuses_what_the_host_cannot_run() -> None:
    addresses = FakeAddresses()
    addresses.gone.add("eth9")
    with pytest.raises(StartupError, match="eth9"):
        asyncio.run(plan_for((vip("dns", 3, interface="eth9"),), (WEB,), addresses))
