"""Reload without flapping: the pure plan (carpd.driver.reload) and the driver applying it
(Daemon.reload on the fake-clock loop with in-memory ports). No root, no sleeping.
(tests/driver/test_reload_plan.py and tests/driver/test_reload.py cover retune in place.)"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress

from carpd.core.params import Secret, VipParams
from carpd.driver.ports import Ports
from carpd.driver.reload import RELOAD_REFUSED, RELOADED, ReloadRefused, differences, plan_reload
from carpd.status.messages import STATE_CHANGED
from tests.driver.fakes import FakeClockLoop, Harness, Scenario, drive_daemon, fake_ports

SRC = ipaddress.IPv4Address("172.16.90.101")


def vip(name: str, vhid: int, last: int, **kw: object) -> VipParams:
    base: dict[str, object] = {
        "name": name, "vhid": vhid, "interface": "eth0",
        "addresses": (ipaddress.IPv4Interface(f"172.16.90.{last}/24"),),
        "password": Secret(b"s3cret"), "master_units": (f"carpd-master@{name}.target",)}
    base.update(kw)
    return VipParams(**base)  # type: ignore[arg-type]


WEB, MAIL = vip("web", 1, 31), vip("mail", 2, 32, advskew=100)


# -- the plan -----------------------------------------------------------------------------

def test_plan_sorts_vips_by_what_changed() -> None:
    new_mail = dataclasses.replace(MAIL, advskew=50)
    ftp = vip("ftp", 4, 34)
    new_ftp = dataclasses.replace(ftp, vhid=5)
    dns = vip("dns", 3, 33)
    plan = plan_reload([WEB, MAIL, vip("old", 9, 39), ftp], [WEB, new_mail, dns, new_ftp])
    assert [p.name for p in plan.unchanged] == ["web"]
    assert [p.name for p in plan.added] == ["dns"]
    assert [p.name for p in plan.removed] == ["old"]
    assert plan.retuned == ((MAIL, new_mail),)  # advskew only: kept and retuned in place
    assert plan.changed == ((ftp, new_ftp),)  # a new vhid: re-created
    assert [p.name for p in plan.retire] == ["old", "ftp"]
    assert [p.name for p in plan.enlist] == ["dns", "ftp"]
    assert plan.summary() == ("ftp changed (vhid 4 -> 5); mail retuned (advskew 100 -> 50); "
                              "dns added (vhid 3 on eth0); old removed; web unchanged")


def test_identical_files_are_a_noop() -> None:
    plan = plan_reload([WEB, MAIL], [vip("web", 1, 31), vip("mail", 2, 32, advskew=100)])
    assert plan.is_noop
    assert plan.summary() == "web, mail unchanged"


def test_a_new_password_is_a_change_named_but_never_shown() -> None:
    other = dataclasses.replace(WEB, password=Secret(b"hunter2"))
    plan = plan_reload([WEB], [other])
    assert plan.changed == ((WEB, other),)
    assert differences(WEB, other) == ["password"]
    assert "hunter2" not in plan.summary() and "s3cret" not in plan.summary()


def test_differences_show_tuples_and_none() -> None:
    new = dataclasses.replace(WEB, master_units=(), upscript="/bin/up")
    assert differences(WEB, new) == ["master_units carpd-master@web.target -> none",
                                     "upscript none -> /bin/up"]


# -- the driver ---------------------------------------------------------------------------

def drive(scenario: Scenario, vips: tuple[VipParams, ...] = (WEB, MAIL)) -> Ports:
    ports = fake_ports()
    assert drive_daemon(scenario, ports, vips, hostname="a", counter=1)[0] == 0
    return ports


def loader(*vips: VipParams):  # type: ignore[no-untyped-def]
    async def load() -> tuple[VipParams, ...]:
        return vips
    return load


def states(d: Harness) -> dict[str, str]:
    return {v["name"]: v["state"] for v in d.status_document()["vips"]}


def test_reload_keeps_unchanged_vip_and_retunes_the_changed_one() -> None:
    seen: dict[str, object] = {}

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await asyncio.sleep(5)  # both MASTER (alone on the segment)
        assert states(d) == {"web": "MASTER", "mail": "MASTER"}
        since = {n: d.node.machine(n).statistics().since_at  # type: ignore[union-attr]
                 for n in ("web", "mail")}
        d.ports.units.jobs.clear()  # type: ignore[attr-defined]
        d.ports.log.records.clear()  # type: ignore[attr-defined]
        assert await d.reload(loader(WEB, dataclasses.replace(MAIL, advskew=50)))
        seen["states"] = states(d)
        seen["since"] = (since, {n: d.node.machine(n).statistics().since_at  # type: ignore[union-attr]
                                 for n in ("web", "mail")})
        seen["skew"] = d.node.machine("mail").params.advskew  # type: ignore[union-attr]
        await asyncio.sleep(0.1)  # let the lanes run what the reload queued
        seen["jobs"] = list(d.ports.units.jobs)  # type: ignore[attr-defined]

    ports = drive(scenario)
    assert seen["states"] == {"web": "MASTER", "mail": "MASTER"}  # mail kept, not re-created
    before, after = seen["since"]  # type: ignore[misc]
    assert before == after
    assert seen["skew"] == 50
    assert seen["jobs"] == []  # no unit job for either: mail's master target stays up
    records = ports.log.records  # type: ignore[attr-defined]
    changes = [m for _, m, f in records if f.get("MESSAGE_ID") == STATE_CHANGED
               and "(shutdown)" not in m]
    assert changes == []  # neither VIP changed state during the reload
    reloaded = [(m, f) for _, m, f in records if f.get("MESSAGE_ID") == RELOADED]
    assert reloaded[0][0] == ("configuration reloaded: mail retuned (advskew 100 -> 50); "
                              "web unchanged")
    assert reloaded[0][1]["CARP_RELOAD_RETUNED"] == "mail"
    assert reloaded[0][1]["CARP_RELOAD_CHANGED"] == ""
    assert reloaded[0][1]["CARP_RELOAD_UNCHANGED"] == "web"
    notes = ports.notifier.messages  # type: ignore[attr-defined]
    i = next(i for i, n in enumerate(notes) if n.get("RELOADING") == "1")
    assert "MONOTONIC_USEC" in notes[i]
    assert any(n.get("READY") == "1" for n in notes[i:])


def test_refused_reload_keeps_the_running_configuration() -> None:
    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await asyncio.sleep(5)

        async def broken() -> tuple[VipParams, ...]:
            raise ReloadRefused("/etc/carpd.toml:3: vip.web.vhid: 300 is out of range")

        assert not await d.reload(broken)
        assert states(d) == {"web": "MASTER", "mail": "MASTER"}

    ports = drive(scenario)
    refused = [m for _, m, f in ports.log.records  # type: ignore[attr-defined]
               if f.get("MESSAGE_ID") == RELOAD_REFUSED]
    assert refused == ["reload refused, still running the previous configuration: "
                       "/etc/carpd.toml:3: vip.web.vhid: 300 is out of range"]
    notes = ports.notifier.messages  # type: ignore[attr-defined]
    i = next(i for i, n in enumerate(notes) if n.get("RELOADING") == "1")
    assert notes[i + 1]["READY"] == "1"


def test_reload_adds_in_backup_and_removed_vip_bows_out_and_releases() -> None:
    dns = vip("dns", 3, 33)

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await asyncio.sleep(5)
        ops_before = len(d.ports.addresses.ops)  # type: ignore[attr-defined]
        sent_before = len(d.ports.transport.sent)  # type: ignore[attr-defined]
        assert await d.reload(loader(WEB, dns))
        assert states(d) == {"web": "MASTER", "dns": "BACKUP"}
        ops = d.ports.addresses.ops[ops_before:]  # type: ignore[attr-defined]
        assert ("remove", "eth0", ("172.16.90.32/24",)) in ops  # mail released
        bows = [a for _, a in d.ports.transport.sent[sent_before:]  # type: ignore[attr-defined]
                if a.bow_out]
        assert [a.name for a in bows] == ["mail"]
        await asyncio.sleep(3.5)
        assert states(d)["dns"] == "MASTER"

    drive(scenario)


def test_reload_on_unknown_interface_is_refused() -> None:
    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await asyncio.sleep(1)
        assert not await d.reload(loader(WEB, vip("dns", 3, 33, interface="eth9")))
        assert set(states(d)) == {"web", "mail"}

    ports = drive(scenario)
    assert any("interface eth9 does not exist" in m
               for m in ports.log.messages())  # type: ignore[attr-defined]


def test_auto_source_compares_equal_to_the_running_one() -> None:
    explicit = dataclasses.replace(WEB, source=SRC)  # what 'auto' resolved to at start

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await asyncio.sleep(1)
        assert await d.reload(loader(explicit, MAIL))

    ports = drive(scenario)
    assert any(m == "configuration reloaded: web, mail unchanged"
               for m in ports.log.messages())  # type: ignore[attr-defined]
