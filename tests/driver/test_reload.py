"""Reload retunes in place through the real Daemon on the fake-clock loop: a VIP changed only
in tunable settings keeps its state, timers and demotions (no transition, no unit job, no
address operation), advertises a new interval at once, and swaps its checks; one changed in
its identity (the address) is still re-created."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
from typing import Any

from carpd.control.protocol import Request
from carpd.core.params import VipParams
from carpd.driver.reload import RELOADED
from carpd.status.messages import STATE_CHANGED
from tests.driver.fakes import FakeClockLoop, FakeHealth, Harness
from tests.driver.test_daemon import peer_advert, until, vip
from tests.ops.test_operations import NGINX, ROOT, ports_with, run, sent_skews, state

OTHER = ipaddress.IPv4Interface("172.16.90.33/24")


def loader(*vips: VipParams):  # type: ignore[no-untyped-def]
    async def load() -> tuple[VipParams, ...]:
        return vips
    return load


def records(d: Harness, message_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [(m, f) for _, m, f in d.ports.log.records  # type: ignore[attr-defined]
            if f.get("MESSAGE_ID") == message_id]


def test_master_keeps_master_and_advertises_the_new_skew_at_once() -> None:
    ports = ports_with()
    seen: dict[str, Any] = {}

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1003.5)
        await d.handle_control(Request(cmd="demote", args={"name": "web", "by": 7}), ROOT)
        before = state(d)
        ops = (list(ports.addresses.ops), list(ports.units.jobs),  # type: ignore[attr-defined]
               list(ports.announcer.bursts), list(ports.scripts.runs))  # type: ignore[attr-defined]
        assert await d.reload(loader(vip(advskew=50)))
        after = state(d)
        for key in ("state", "since", "reason", "master"):
            assert after[key] == before[key]
        assert after["counters"]["transitions"] == before["counters"]["transitions"]
        assert (after["advskew"], after["effective_advskew"]) == (50, 57)
        assert after["demotions"] == {"operator": 7} and not after["hold_down"]
        await until(loop, 1006.0)
        seen["ops"] = ops == (ports.addresses.ops, ports.units.jobs,  # type: ignore[attr-defined]
                              ports.announcer.bursts, ports.scripts.runs)  # type: ignore[attr-defined]
        seen["changes"] = records(d, STATE_CHANGED)
        seen["reloaded"] = records(d, RELOADED)

    assert run(scenario, ports) == 0
    assert seen["ops"]  # no address operation, unit job, GARP or script for the retune
    assert [m for m, _ in seen["changes"]] == [  # the start-up's two, nothing since
        "vip web: INIT -> BACKUP (start)", "vip web: BACKUP -> MASTER (master_down_timer)"]
    skew = 57 / 256
    assert sent_skews(ports, after=1003.4) == [
        (1003.5, 7), (1003.5, 57), (round(1004.5 + skew, 6), 57),
        (round(1005.5 + 2 * skew, 6), 57)]
    (message, fields), = seen["reloaded"]
    assert message == "configuration reloaded: web retuned (advskew 0 -> 50)"
    assert (fields["CARP_RELOAD_RETUNED"], fields["CARP_RELOAD_CHANGED"]) == ("web", "")


def test_backup_restarts_its_master_down_timer_from_the_reload() -> None:
    ports = ports_with()
    seen: dict[str, Any] = {}

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        for t in (1000.5, 1001.5, 1002.5):  # a faster master, then it goes silent
            await until(loop, t)
            ports.transport.on_packet("eth0", peer_advert())  # type: ignore[attr-defined]
        await until(loop, 1002.75)
        assert state(d)["state"] == "BACKUP"
        assert await d.reload(loader(vip(advskew=200)))
        await until(loop, 1006.53)  # without the restart: 1002.5 + 3 + 100/256 = 1005.89
        seen["before"] = state(d)["state"]
        await until(loop, 1006.54)
        seen["after"] = (state(d)["state"], state(d)["reason"])

    assert run(scenario, ports, (vip(advskew=100),)) == 0
    assert seen["before"] == "BACKUP"
    assert seen["after"] == ("MASTER", "master_down_timer")
    assert sent_skews(ports)[0] == (1002.75 + 3 + 200 / 256, 200)


def test_changing_only_a_check_keeps_state_and_swaps_the_checks() -> None:
    health = FakeHealth()
    ports = ports_with(health)
    front = dataclasses.replace(NGINX, name="front")

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        health.report("web/nginx", False, "refused")  # failing: demoted 100
        await until(loop, 1004.5)
        assert (state(d)["state"], state(d)["demotions"]) == ("MASTER", {"check:nginx": 100})
        since, sent = state(d)["since"], len(ports.transport.sent)  # type: ignore[attr-defined]
        # redefined under the same name: restarted with the new spec, the verdict stays
        assert await d.reload(loader(vip(checks=(dataclasses.replace(NGINX, port=8080),))))
        assert health.stopped == ["web/nginx"]
        assert health.started["web/nginx"].port == 8080  # type: ignore[attr-defined]
        assert state(d)["demotions"] == {"check:nginx": 100}
        assert len(ports.transport.sent) == sent  # type: ignore[attr-defined]
        # swapped for another check: the old demotion goes at once (advertised), no hold-down
        await until(loop, 1005.0)
        assert await d.reload(loader(vip(checks=(front,))))
        assert health.stopped == ["web/nginx", "web/nginx"] and "web/front" in health.started
        doc = state(d)
        assert (doc["state"], doc["since"], doc["demotions"], doc["hold_down"]) == (
            "MASTER", since, {}, False)
        assert [c["name"] for c in doc["checks"]] == ["front"]
        d.ops.check_result("web/nginx", False, "a late result of the removed check")
        assert state(d)["demotions"] == {}
        health.report("web/front", False, "refused")
        assert state(d)["demotions"] == {"check:front": 100}

    assert run(scenario, ports, (vip(checks=(NGINX,)),)) == 0
    assert sent_skews(ports, after=1004.9) == [(1005.0, 0), (1005.0, 100)]


def test_removing_a_required_unit_ends_a_pending_hold_down() -> None:
    health = FakeHealth()
    ports = ports_with(health)

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1001.0)
        assert state(d)["waiting_for"] == ["nginx.service active"]
        assert await d.reload(loader(vip(require_units=("db.service",))))
        assert health.stopped == ["web/require:nginx.service"]
        assert state(d)["waiting_for"] == ["db.service active"]
        health.report("web/require:db.service", True, "db.service is active (running)")
        assert not state(d)["hold_down"] and state(d)["demotions"] == {}
        d.ops.check_result("web/require:nginx.service", False, "late")  # ignored
        assert state(d)["waiting_for"] == []

    assert run(scenario, ports, (vip(require_units=("nginx.service",)),)) == 0
    assert any("boot hold-down released after 1.00 s" in m
               for m in ports.log.messages())  # type: ignore[attr-defined]


def test_changing_the_address_still_recreates() -> None:
    ports = ports_with()
    seen: dict[str, Any] = {}

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1003.5)
        assert await d.reload(loader(vip(addresses=(OTHER,))))
        seen["state"] = state(d)["state"]
        await asyncio.sleep(0.1)
        seen["changes"] = [m for m, _ in records(d, STATE_CHANGED)]
        seen["reloaded"] = records(d, RELOADED)

    assert run(scenario, ports) == 0
    assert seen["state"] == "BACKUP"
    assert seen["changes"][-2:] == ["vip web: MASTER -> INIT (shutdown)",
                                    "vip web: INIT -> BACKUP (start)"]
    assert [a.name for _, a in ports.transport.sent if a.bow_out] == ["web"]  # type: ignore[attr-defined]
    assert ("remove", "eth0", ("172.16.90.31/24",)) in ports.addresses.ops  # type: ignore[attr-defined]
    (message, fields), = seen["reloaded"]
    assert message == ("configuration reloaded: web changed (addresses 172.16.90.31/24 -> "
                       "172.16.90.33/24)")
    assert (fields["CARP_RELOAD_CHANGED"], fields["CARP_RELOAD_RETUNED"]) == ("web", "")
