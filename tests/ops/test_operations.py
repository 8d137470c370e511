"""Health checks, hold-down, operator commands, watch and metrics through the real Daemon on
the fake-clock loop (tests/driver/fakes.py): exact instants, no sleeping."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from carpd.control.protocol import Peer, ProtocolError, Request
from carpd.core.carp import wire
from carpd.core.params import CheckParams, VipParams
from carpd.driver.ports import MemoryFlags, Ports
from tests.driver.fakes import (
    FakeClockLoop,
    FakeHealth,
    Harness,
    Scenario,
    drive_daemon,
    fake_ports,
)
from tests.driver.test_daemon import peer_advert, until, vip

NGINX = CheckParams(name="nginx", type="tcp", weight=100, host="127.0.0.1", port=80, rise=2,
                    fall=2)
DB = CheckParams(name="db", type="exec", fatal=True, command=("/bin/db-ok",), rise=1, fall=1)
WALL = 1_800_000_000.0  # wall clock at loop time 1000


def ports_with(health: FakeHealth | None = None, flags: MemoryFlags | None = None) -> Ports:
    return dataclasses.replace(fake_ports(), health=health or FakeHealth(),
                               flags=flags or MemoryFlags())


def run(scenario: Scenario, ports: Ports, vips: tuple[VipParams, ...] | None = None) -> int:
    return drive_daemon(scenario, ports, vips or (vip(),),
                        wall_clock=lambda: WALL + asyncio.get_running_loop().time() - 1000.0)[0]


def state(d: Harness, name: str = "web") -> dict[str, Any]:
    return next(v for v in d.status_document()["vips"] if v["name"] == name)


def sent_skews(ports: Ports, after: float = 0.0) -> list[tuple[float, int]]:
    return [(round(t, 6), wire.decode_carp_header(a.payload).advskew)
            for t, a in ports.transport.sent if t > after and not a.bow_out]  # type: ignore[attr-defined]


ROOT = Peer(pid=1, uid=0, gid=0, may_write=True)
NOBODY = Peer(pid=2, uid=65534, gid=65534, may_write=False)


# -- checks -------------------------------------------------------------------------------------

def test_check_fall_demotes_and_rise_restores_with_exact_adverts() -> None:
    health = FakeHealth()
    ports = ports_with(health)

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        assert set(health.started) == {"web/nginx"}
        health.report("web/nginx", True, "connected")  # first result: passing, hold-down ends
        await until(loop, 1003.5)
        assert state(d)["state"] == "MASTER"
        health.report("web/nginx", False, "refused")  # 1 of fall 2: nothing yet
        assert state(d)["effective_advskew"] == 0
        await until(loop, 1004.5)
        health.report("web/nginx", False, "refused")  # 2 of 2: failing, advertised at once
        doc = state(d)
        assert doc["effective_advskew"] == 100 and doc["demotions"] == {"check:nginx": 100}
        assert doc["checks"][0] | {"since": None} == {
            "name": "nginx", "type": "tcp", "target": "127.0.0.1:80", "fatal": False,
            "weight": 100, "state": "failing", "detail": "refused", "since": None,
            "results": 3, "failures": 2, "errors": 0, "changes": 1, "flapping": False}
        await until(loop, 1006.0)
        health.report("web/nginx", True, "connected")
        assert state(d)["effective_advskew"] == 100  # rise 2: one pass is not enough
        await until(loop, 1006.5)
        health.report("web/nginx", True, "connected")
        assert state(d)["effective_advskew"] == 0

    assert run(scenario, ports, (vip(checks=(NGINX,)),)) == 0
    assert sent_skews(ports) == [(1003.0, 0), (1004.0, 0), (1004.5, 100), (1005.890625, 100),
                                 (1006.5, 0)]
    logs = ports.log.messages()  # type: ignore[attr-defined]
    assert "vip web: check nginx is failing: refused" in logs
    assert "vip web: check nginx is passing: connected" in logs


def test_fatal_check_faults_and_bows_out_then_returns() -> None:
    health = FakeHealth()
    ports = ports_with(health)

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        health.report("web/db", True, "exit status 0")
        await until(loop, 1003.5)
        health.report("web/db", False, "cannot run /bin/db-ok: No such file or directory")
        doc = state(d)
        assert (doc["state"], doc["reason"], doc["faults"]) == (
            "FAULT", "fault_check:db", ["check:db"])
        await until(loop, 1010.0)
        assert state(d)["state"] == "FAULT"
        health.report("web/db", True, "exit status 0")
        assert state(d)["state"] == "BACKUP"
        await until(loop, 1013.01)
        assert state(d)["state"] == "MASTER"

    assert run(scenario, ports, (vip(checks=(DB,)),)) == 0
    bows = [round(t, 6) for t, a in ports.transport.sent if a.bow_out]  # type: ignore[attr-defined]
    assert bows[0] == 1003.5
    assert ports.addresses.ops[2] == ("remove", "eth0", ("172.16.90.31/24",))  # type: ignore[attr-defined]


# -- hold-down ------------------------------------------------------------------------------------

def test_hold_down_until_required_unit_is_active_and_checks_reported() -> None:
    health = FakeHealth()
    ports = ports_with(health)
    held = vip(checks=(NGINX,), require_units=("nginx.service",))

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        assert set(health.started) == {"web/nginx", "web/require:nginx.service"}
        await until(loop, 1001.0)
        doc = state(d)
        assert doc["hold_down"] and doc["demotions"] == {"hold_down": 240}
        assert doc["waiting_for"] == ["nginx.service active", "a first result of check nginx"]
        health.report("web/require:nginx.service", False, "nginx.service is activating (start)")
        health.report("web/nginx", True, "connected")
        await until(loop, 1003.5)  # no master heard: takes over, advertising the hold-down
        assert state(d)["state"] == "MASTER" and state(d)["hold_down"]
        health.report("web/require:nginx.service", True, "nginx.service is active (running)")
        assert not state(d)["hold_down"] and state(d)["demotions"] == {}

    assert run(scenario, ports, (held,)) == 0
    assert sent_skews(ports)[:2] == [(1003.0, 240), (1003.5, 0)]
    assert any("boot hold-down released after 3.50 s" in m
               for m in ports.log.messages())  # type: ignore[attr-defined]


def test_hold_down_never_preempts_a_slower_master() -> None:
    ports = ports_with()
    ports.addresses.has_primary = False  # type: ignore[attr-defined]

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1001.0)
        ports.transport.on_packet("eth0", peer_advert(advskew=100))  # type: ignore[attr-defined]
        doc = state(d)
        assert doc["state"] == "BACKUP" and doc["reason"] == "start"
        assert doc["waiting_for"] == ["the source address 172.16.90.101 on eth0"]
        ports.addresses.has_primary = True  # type: ignore[attr-defined]
        ports.addresses.on_addresses("eth0")  # type: ignore[attr-defined]
        await asyncio.sleep(0.01)
        ports.transport.on_packet("eth0", peer_advert(advskew=100))  # type: ignore[attr-defined]
        assert state(d)["state"] == "MASTER"

    assert run(scenario, ports) == 0


# -- operator commands ----------------------------------------------------------------------------

def test_demote_for_expires_on_the_loop_timer_and_is_persisted() -> None:
    flags = MemoryFlags()
    ports = ports_with(flags=flags)

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1003.5)
        r = await d.handle_control(Request(cmd="demote", args={"name": "web", "for": 30.0}), ROOT)
        assert r == {"demoted": ["web"], "by": 254, "until": "2027-01-15T08:00:33.500+00:00",
                     "persisted": True}
        assert state(d)["operator_demotion"] == {"amount": 254,
                                                 "until": "2027-01-15T08:00:33.500+00:00"}
        assert flags.documents["demotions"] == {"web": {"amount": 254, "until": WALL + 33.5}}
        await until(loop, 1033.49)
        assert state(d)["effective_advskew"] == 254
        await until(loop, 1033.51)
        assert state(d)["effective_advskew"] == 0 and state(d)["operator_demotion"] is None
        assert flags.documents["demotions"] == {}

    assert run(scenario, ports) == 0
    skews = sent_skews(ports)
    assert (1003.5, 254) in skews and (1033.5, 0) in skews
    assert "operator: operator demotion of web expired" in ports.log.messages()  # type: ignore[attr-defined]


def test_promote_clears_and_all_targets_every_vip() -> None:
    ports = ports_with()
    mail = vip(name="mail", vhid=2, addresses=(vip().addresses[0].__class__("172.16.90.32/24"),),
               master_units=(), upscript=None, downscript=None)

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1001)
        await d.handle_control(Request(cmd="demote", args={"all": True, "by": 50}), ROOT)
        assert [v["effective_advskew"] for v in d.status_document()["vips"]] == [50, 50]
        r = await d.handle_control(Request(cmd="promote", args={"name": "mail"}), ROOT)
        assert r == {"promoted": ["mail"], "persisted": True}
        assert [v["effective_advskew"] for v in d.status_document()["vips"]] == [50, 0]
        with pytest.raises(ProtocolError, match="no VIP named 'nope'"):
            await d.handle_control(Request(cmd="promote", args={"name": "nope"}), ROOT)
        with pytest.raises(ProtocolError, match=r"demotion must be 1\.\.254"):
            await d.handle_control(Request(cmd="demote", args={"name": "web", "by": 0}), ROOT)

    assert run(scenario, ports, (vip(), mail)) == 0


def test_writes_refused_to_readers_reads_allowed() -> None:
    ports = ports_with()

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1001)
        for cmd, args in (("demote", {"name": "web"}), ("promote", {"all": True}),
                          ("maintenance", {"on": True})):
            with pytest.raises(ProtocolError, match="permission denied: uid 65534 may read"):
                await d.handle_control(Request(cmd=cmd, args=args), NOBODY)
        assert (await d.handle_control(Request(cmd="status"), NOBODY))["vips"]
        assert (await d.handle_control(Request(cmd="explain", args={"name": "web"}), NOBODY))
        assert state(d)["demotions"] == {}

    assert run(scenario, ports) == 0


def test_maintenance_persists_across_a_restart_and_shows_in_status() -> None:
    flags = MemoryFlags()
    first = ports_with(flags=flags)

    async def turn_on(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1003.5)
        r = await d.handle_control(Request(cmd="maintenance", args={"on": True}), ROOT)
        assert r == {"maintenance": True, "since": "2027-01-15T08:00:03.500+00:00",
                     "persisted": True}
        assert state(d)["effective_advskew"] == 254
        assert d.status_line() == "1 VIP: web MASTER; maintenance on"

    assert run(turn_on, first) == 0
    assert flags.documents["maintenance"] == {"on": True, "since": WALL + 3.5}
    assert {"STATUS": "1 VIP: web MASTER; maintenance on"} in first.notifier.messages  # type: ignore[attr-defined]

    second = ports_with(flags=flags)

    async def after_restart(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1001)
        doc = d.status_document()
        assert doc["maintenance"] == {"on": True, "since": "2027-01-15T08:00:03.500+00:00"}
        assert doc["vips"][0]["demotions"] == {"maintenance": 254}
        await until(loop, 1004.1)  # demoted before Start: master-down 3 + 254/256
        assert state(d)["state"] == "MASTER"
        await d.handle_control(Request(cmd="maintenance", args={"on": False}), ROOT)
        assert state(d)["effective_advskew"] == 0

    assert run(after_restart, second) == 0
    assert sent_skews(second)[0] == (round(1000 + 3 + 254 / 256, 6), 254)
    assert flags.documents["maintenance"] == {"on": False, "since": None}


# -- explain, watch, metrics ---------------------------------------------------------------------

def test_explain_names_the_failing_check_and_the_skew_sum() -> None:
    health = FakeHealth()
    ports = ports_with(health)

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        health.report("web/nginx", False, "127.0.0.1:80: Connection refused")
        await until(loop, 1005.0)
        ports.transport.on_packet("eth0", peer_advert(advskew=10))  # type: ignore[attr-defined]
        await d.handle_control(Request(cmd="demote", args={"name": "web", "by": 20}), ROOT)
        r = await d.handle_control(Request(cmd="explain", args={"name": "web"}), ROOT)
        assert r["text"] == (
            "web (vhid 1 on eth0) is BACKUP since 2027-01-15 08:00:05 UTC (0s ago), "
            "because a master with a lower advskew was heard. The master is 172.16.90.102, "
            "advertising advbase 1 advskew 10. Our effective advskew is 120 = 0 (advskew) + "
            "100 (check:nginx) + 20 (operator); preempt is on. Failing check: nginx (tcp "
            "127.0.0.1:80, weight 100): 127.0.0.1:80: Connection refused.")

    assert run(scenario, ports, (vip(checks=(NGINX,)),)) == 0


def test_watch_streams_in_order_and_drops_a_slow_subscriber() -> None:
    health = FakeHealth()
    ports = ports_with(health)

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        queue = d.ops.subscribe(Request(cmd="watch"), ROOT)
        slow = d.ops.subscribe(Request(cmd="watch"), ROOT)
        for _ in range(slow.maxsize):
            slow.put_nowait({})
        health.report("web/db", True, "exit status 0")
        await until(loop, 1003.5)
        health.report("web/db", False, "exit status 1")
        events = []
        while not queue.empty():
            events.append(queue.get_nowait())
        assert [(e["type"], e.get("to") or e.get("state")) for e in events] == [
            ("check", "passing"), ("transition", "MASTER"), ("check", "failing"),
            ("transition", "FAULT")]
        assert events[1]["time"] == "2027-01-15T08:00:03.000+00:00"
        assert events[3] | {"time": None} == {"time": None, "type": "transition", "vip": "web",
                                              "from": "MASTER", "to": "FAULT",
                                              "reason": "fault_check:db", "peer": None}
        assert slow.qsize() == 1 and slow.get_nowait() is None  # dropped: its stream ends

    assert run(scenario, ports, (vip(checks=(DB,)),)) == 0
    assert "a carpctl watch client read too slowly and was disconnected" in \
        ports.log.messages()  # type: ignore[attr-defined]


def test_metrics_text() -> None:
    health = FakeHealth()
    ports = ports_with(health)

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        health.report("web/nginx", False, "refused")
        await until(loop, 1003.5)
        text = (await d.handle_control(Request(cmd="metrics"), NOBODY))["text"]
        lines = text.splitlines()
        for expected in (
                'carpd_vip_state{vip="web",vhid="1",interface="eth0",state="MASTER"} 1',
                'carpd_vip_state{vip="web",vhid="1",interface="eth0",state="FAULT"} 0',
                'carpd_effective_advskew{vip="web"} 100',
                'carpd_demotion{vip="web",source="check:nginx"} 100',
                'carpd_check_up{vip="web",check="nginx",type="tcp"} 0',
                'carpd_check_results_total{vip="web",check="nginx",type="tcp",result="fail"} 1',
                'carpd_adverts_sent_total{vip="web"} 1', "carpd_maintenance 0",
                "# TYPE carpd_transitions_total counter"):
            assert expected in lines
        types = [ln.split()[2] for ln in lines if ln.startswith("# TYPE")]
        assert len(types) == len(set(types))  # each family once, samples grouped

    assert run(scenario, ports, (vip(checks=(NGINX,)),)) == 0


def test_metrics_textfile_written_every_15_s() -> None:
    written: list[tuple[float, str]] = []

    class Sink:
        def write(self, text: str) -> None:
            written.append((asyncio.get_running_loop().time(), text))

    ports = dataclasses.replace(ports_with(), metrics=Sink())

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1031.0)

    assert run(scenario, ports) == 0
    assert [round(t, 3) for t, _ in written] == [1000.0, 1015.0, 1030.0]
    assert 'carpd_vip_state{vip="web",vhid="1",interface="eth0",state="MASTER"} 1' in \
        written[-1][1]


def test_reload_recreating_a_vip_keeps_maintenance_operator_demotion_and_checks() -> None:
    health = FakeHealth()
    ports = ports_with(health)
    mail = vip(name="mail", vhid=2, addresses=(vip().addresses[0].__class__("172.16.90.32/24"),),
               master_units=(), upscript=None, downscript=None)

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        health.report("web/nginx", True, "ok")
        await until(loop, 1004)
        await d.handle_control(Request(cmd="maintenance", args={"on": True}), ROOT)
        await d.handle_control(Request(cmd="demote", args={"name": "web", "by": 7}), ROOT)
        changed = vip(checks=(dataclasses.replace(NGINX, name="front"),), advskew=5,
                      addresses=(vip().addresses[0].__class__("172.16.90.33/24"),))  # re-created

        async def load() -> tuple[VipParams, ...]:
            return (changed, mail)

        assert await d.reload(load)
        assert health.stopped == ["web/nginx"] and "web/front" in health.started
        doc = state(d)
        assert doc["demotions"] == {"maintenance": 254, "operator": 7, "hold_down": 240}
        await asyncio.sleep(0.01)  # the hold-down's address check
        health.report("web/front", False, "refused")
        assert state(d)["demotions"] == {"maintenance": 254, "operator": 7, "check:front": 100}
        assert state(d, "mail")["demotions"] == {"maintenance": 254}  # untouched by the reload

    assert run(scenario, ports, (vip(checks=(NGINX,)), mail)) == 0


def test_a_check_that_cannot_be_run_never_demotes_and_is_logged_once() -> None:
    health = FakeHealth()
    ports = ports_with(health)
    error = "carpd could not run the check: Too many open files (starting /bin/db-ok)"

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        health.report("web/nginx", True, "connected")
        await until(loop, 1003.5)
        for _ in range(5):
            health.report("web/nginx", None, error)
        doc = state(d)
        assert doc["state"] == "MASTER" and doc["effective_advskew"] == 0
        assert doc["checks"][0]["state"] == "passing" and doc["checks"][0]["errors"] == 5
        health.report("web/nginx", True, "connected")

    assert run(scenario, ports, (vip(checks=(NGINX,)),)) == 0
    logs = ports.log.messages()  # type: ignore[attr-defined]
    assert logs.count(f"vip web: check nginx could not be run, counted as neither pass nor "
                      f"fail (it stays passing): {error}") == 1
    assert "vip web: check nginx runs again" in logs
    assert all(skew == 0 for _, skew in sent_skews(ports))
