"""Operator flags across restarts, through the real Daemon and Operations on the fake-clock
loop: a persisted demotion comes back with its remaining time and expires on the core's
timer at exactly its instant; one that ran out while carpd was down expires at once; a
state directory that cannot be written is logged and the command still applies."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from carpd.control.protocol import Request
from carpd.driver.ports import MemoryFlags, Ports
from carpd.status import messages as msg
from tests.driver.fakes import FakeClockLoop, Harness, drive_daemon
from tests.driver.test_daemon import until, vip
from tests.ops.test_operations import ROOT, WALL, ports_with, sent_skews, state


def run_at(scenario: Any, ports: Ports, wall_offset: float) -> int:
    """The daemon with the wall clock `wall_offset` s later than in the first run."""
    return drive_daemon(scenario, ports, (vip(),), wall_clock=lambda: (
        WALL + wall_offset + asyncio.get_running_loop().time() - 1000.0))[0]


def test_a_restart_restores_a_demotion_with_its_remaining_time() -> None:
    flags = MemoryFlags()

    async def demote(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1003.5)
        await d.handle_control(Request(cmd="demote", args={"name": "web", "for": 30.0}), ROOT)

    assert run_at(demote, ports_with(flags=flags), 0.0) == 0
    assert flags.documents["demotions"] == {"web": {"amount": 254, "until": WALL + 33.5}}
    second = ports_with(flags=flags)

    async def restarted(d: Harness, loop: FakeClockLoop) -> None:  # 10 s later: 23.5 s left
        await until(loop, 1001.0)
        assert state(d)["operator_demotion"] == {"amount": 254,
                                                 "until": "2027-01-15T08:00:33.500+00:00"}
        assert d.node is not None and d.node.next_deadline() == 1003 + 254 / 256
        await until(loop, 1023.499)
        assert state(d)["effective_advskew"] == 254
        await until(loop, 1023.501)
        assert state(d)["effective_advskew"] == 0 and state(d)["operator_demotion"] is None
        assert flags.documents["demotions"] == {}

    assert run_at(restarted, second, 10.0) == 0
    skews = sent_skews(second)
    assert skews[0] == (round(1003 + 254 / 256, 6), 254)  # restored before Start
    assert (1023.5, 0) in skews
    assert "operator: operator demotion of web expired" in second.log.messages()  # type: ignore[attr-defined]


def test_a_demotion_that_ran_out_while_down_expires_at_start() -> None:
    flags = MemoryFlags()
    flags.documents["demotions"] = {"web": {"amount": 50, "until": WALL - 5.0},
                                    "gone": {"amount": 9, "until": None}}
    ports = ports_with(flags=flags)

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1000.5)
        assert "operator" not in state(d)["demotions"]
        assert state(d)["operator_demotion"] is None

    assert run_at(scenario, ports, 0.0) == 0
    assert flags.documents["demotions"] == {}  # rewritten from what the core holds
    assert "operator: operator demotion of web expired" in ports.log.messages()  # type: ignore[attr-defined]


def test_an_unwritable_state_directory_is_logged_and_the_demotion_applies() -> None:
    class Broken(MemoryFlags):
        def save(self, name: str, document: dict[str, Any]) -> None:
            raise OSError(30, "Read-only file system")

    ports = ports_with(flags=Broken())

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1001.0)
        r = await d.handle_control(Request(cmd="demote", args={"name": "web", "by": 9}), ROOT)
        assert r == {"demoted": ["web"], "by": 9, "until": None, "persisted": False}
        assert state(d)["demotions"]["operator"] == 9

    assert run_at(scenario, ports, 0.0) == 0
    errors = [(m, f["MESSAGE_ID"]) for p, m, f in ports.log.records  # type: ignore[attr-defined]
              if p == msg.ERR]
    assert errors == [("cannot persist operator flag demotions (it will not survive a restart):"
                       " [Errno 30] Read-only file system", msg.IO_FAILURE)]



@pytest.mark.parametrize(("name", "document", "problem"), [
    ("maintenance", {"on": True, "since": 1e300}, '"since" must be null or seconds since 1970 '
     "up to year 9999, not 1e+300"),
    ("maintenance", {"on": True, "since": math.nan}, "not nan"),
    ("maintenance", {"on": True, "since": math.inf}, "not inf"),
    ("maintenance", {"on": True, "since": 253402300800.0}, "not 253402300800.0"),  # year 10000
    ("maintenance", {"on": "yes", "since": None}, "\"on\" must be true or false, not 'yes'"),
    ("demotions", {"web": {"amount": True, "until": None}},
     'web: "amount" must be an integer 1..254, not True'),
    ("demotions", {"web": {"amount": 50, "until": "never"}},
     "web: \"until\" must be null or seconds since 1970 up to year 9999, not 'never'"),
    ("demotions", {"web": {"amount": 50, "until": -1e300}}, "not -1e+300"),
    ("demotions", {"web": 5}, "web: must be an object with amount and until, not 5"),
])
def test_an_invalid_stored_flag_is_set_aside_and_the_daemon_runs_with_defaults(
        name: str, document: dict[str, Any], problem: str) -> None:
    flags = MemoryFlags()
    flags.documents[name] = document
    ports = ports_with(flags=flags)

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1004.0)
        vip_state = state(d)
        assert vip_state["operator_demotion"] is None and vip_state["state"] == "MASTER"
        assert d.status_document()["maintenance"]["on"] is False
        for cmd, args in (("status", {}), ("explain", {"name": "web"}), ("metrics", {})):
            assert await d.handle_control(Request(cmd=cmd, args=args), ROOT)

    assert run_at(scenario, ports, 0.0) == 0
    (recorded,) = flags.set_aside_problems
    assert recorded.startswith(f"{name}: ") and problem in recorded


def test_a_valid_maintenance_flag_still_applies() -> None:
    flags = MemoryFlags()
    flags.documents["maintenance"] = {"on": True, "since": WALL - 60.0}

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1001.0)
        assert d.status_document()["maintenance"]["on"] is True
        assert state(d)["effective_advskew"] == 254

    assert run_at(scenario, ports_with(flags=flags), 0.0) == 0
    assert flags.set_aside_problems == []


def test_commands_say_when_a_flag_holds_only_until_the_next_restart() -> None:
    class Full(MemoryFlags):
        def save(self, name: str, document: dict[str, Any]) -> None:
            raise OSError(28, "No space left on device")

    ports = ports_with(flags=Full())

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        await until(loop, 1001.0)
        for cmd, args in (("maintenance", {"on": True}), ("demote", {"name": "web"}),
                          ("promote", {"name": "web"}), ("maintenance", {"on": False})):
            reply = await d.handle_control(Request(cmd=cmd, args=args), ROOT)
            assert reply["persisted"] is False, cmd
        assert state(d)["operator_demotion"] is None  # all applied in memory

    assert run_at(scenario, ports, 0.0) == 0
