"""The bgp check's parsers and verdict on outputs captured from FRR 8.4.4 and BIRD 2.0.12
(tests/io/samples), and its runner on fake engines (scripts that print a sample)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from carpd.core.params import CheckParams
from carpd.io.bgp import (
    OutputError,
    Session,
    bird_sessions,
    engine_argv,
    frr_sessions,
    judge,
    run_bgp,
)

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text()


def test_frr_summary_of_an_established_server() -> None:
    assert frr_sessions(sample("frr-summary-server-established.json")) == [
        Session("10.0.1.1", "10.0.1.1", "Established")]


def test_frr_summary_of_a_router_with_its_sessions_down() -> None:
    assert frr_sessions(sample("frr-summary-router-active.json")) == [
        Session("10.0.1.2", "10.0.1.2", "Active"), Session("10.0.2.2", "10.0.2.2", "Active")]


def test_frr_peers_of_several_address_families_count_once() -> None:
    text = ('{"ipv4Unicast": {"peers": {"10.0.1.1": {"state": "Established"}}},'
            ' "ipv6Unicast": {"peers": {"10.0.1.1": {"state": "Established"},'
            ' "2001:db8::1": {"state": "Connect"}}}}')
    assert [s.name for s in frr_sessions(text)] == ["10.0.1.1", "2001:db8::1"]
    assert frr_sessions("{}") == []


@pytest.mark.parametrize("text", ["bgpd is not running", "", "[1, 2]"])
def test_frr_output_that_is_no_summary_is_refused(text: str) -> None:
    with pytest.raises(OutputError):
        frr_sessions(text)


def test_bird_protocols_established_and_idle() -> None:
    assert bird_sessions(sample("bird-protocols-all-established.txt")) == [
        Session("uplink", "10.0.2.1", "Established")]
    assert bird_sessions(sample("bird-protocols-all-idle.txt")) == [
        Session("uplink", "10.0.2.1", "Idle")]


def test_bird_output_that_is_no_listing_is_refused() -> None:
    with pytest.raises(OutputError, match="not a BIRD protocol list: Unable to connect"):
        bird_sessions("Unable to connect to server control socket (/run/bird/bird.ctl): "
                      "No such file or directory\n")


def test_judge_any_session_or_the_named_one() -> None:
    up, down = Session("a", "10.0.1.1", "Established"), Session("b", "10.0.3.1", "Active")
    assert judge([down, up], None) == (True, "1 of 2 BGP sessions established (a)")
    assert judge([down], None) == (False, "no BGP session established (b: Active)")
    assert judge([], None) == (False, "no BGP session configured")
    assert judge([down, up], "10.0.3.1") == (False, "no BGP session established (b: Active)")
    assert judge([down, up], "a")[0] is True
    assert judge([down, up], "10.9.9.9") == (False, "no BGP session 10.9.9.9 (sessions: b, a)")


def bgp(engine: str, **kw: object) -> CheckParams:
    return CheckParams(name="bgp", type="bgp", fatal=True, engine=engine, timeout=2.0,
                       **kw)  # type: ignore[arg-type]


def test_the_commands_per_engine_and_control() -> None:
    assert engine_argv(bgp("frr")) == ("vtysh", "-c", "show bgp summary json")
    assert engine_argv(bgp("frr", control="s1")) == ("vtysh", "-N", "s1", "-c",
                                                     "show bgp summary json")
    assert engine_argv(bgp("frr", control="/run/frr/s1")) == (
        "vtysh", "--vty_socket", "/run/frr/s1", "-c", "show bgp summary json")
    assert engine_argv(bgp("bird", control="/run/bird/s2.ctl")) == (
        "birdc", "-s", "/run/bird/s2.ctl", "show", "protocols", "all")


def fake_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, body: str) -> None:
    """A `name` program first on PATH that runs the shell `body`."""
    program = tmp_path / name
    program.write_text(f"#!/bin/sh\n{body}\n")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")


def test_run_reads_the_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    established = SAMPLES / "bird-protocols-all-established.txt"
    fake_engine(tmp_path, monkeypatch, "birdc", f"cat {established}")
    assert asyncio.run(run_bgp(bgp("bird", neighbor="10.0.2.1"))) == (
        True, "1 of 1 BGP sessions established (uplink)")


def test_an_engine_that_is_not_running_fails(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    fake_engine(tmp_path, monkeypatch, "vtysh", "echo 'bgpd is not running'; exit 1")
    assert asyncio.run(run_bgp(bgp("frr"))) == (False, "vtysh exit status 1: bgpd is not running")
    fake_engine(tmp_path, monkeypatch, "vtysh", "echo 'bgpd is not running'")
    assert asyncio.run(run_bgp(bgp("frr"))) == (False, "vtysh: not JSON: bgpd is not running")


def test_a_missing_engine_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    ok, detail = asyncio.run(run_bgp(bgp("bird")))
    assert ok is False and detail.startswith("cannot run birdc")
