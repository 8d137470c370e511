"""The health adapter against real processes and sockets on this host (no root needed).

No result here depends on how fast the machine is: the processes and sockets are real, but
the loop's clock (tests/io/clocks.py) stands still while they work, so a check's timeout
fires only where the test opens the gate (after the child wrote its pid), and the periodic
tests run on a fake clock that counts runs exactly.
"""

from __future__ import annotations

import asyncio
import os
import select
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from carpd.core.params import CheckParams
from carpd.io.health import HealthChecks, interface_state, run_exec, run_http, run_tcp
from tests.driver.fakes import FakeClockLoop
from tests.io.clocks import SAFETY_S, run_gated


def run(coro: Awaitable[object]) -> object:
    """On a clock that stands still: no timeout fires, whatever the machine's load."""
    return run_gated(coro)


def run_fake(coro: Awaitable[object]) -> object:
    loop = FakeClockLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def exec_check(*argv: str, timeout: float = 2.0) -> CheckParams:
    return CheckParams(name="x", type="exec", weight=1, command=argv, timeout=timeout,
                       interval=max(timeout, 1.0))


# -- exec -------------------------------------------------------------------------------------

def test_exec_exit_zero_passes_with_output() -> None:
    assert run(run_exec(exec_check(sys.executable, "-c", "print('fine')"))) == (
        True, "exit status 0: fine")


def test_exec_nonzero_fails_with_status_and_output() -> None:
    ok, detail = run(run_exec(exec_check(sys.executable, "-c",
                                         "import sys; print('db down'); sys.exit(3)")))  # type: ignore[misc]
    assert (ok, detail) == (False, "exit status 3: db down")


def test_exec_missing_binary_is_a_failure_never_success() -> None:
    assert run(run_exec(exec_check("/nonexistent/check-web"))) == (
        False, "cannot run /nonexistent/check-web: No such file or directory")


def test_exec_not_executable_is_a_failure(tmp_path: Path) -> None:
    script = tmp_path / "check.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o644)
    ok, detail = run(run_exec(exec_check(str(script))))  # type: ignore[misc]
    assert not ok and detail == f"cannot run {script}: Permission denied"


def test_exec_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    """The 2 s timeout fires (on the loop's clock) only once the grandchild `sleep` exists
    and a pidfd holds it, so the kill of the group is always what is tested."""
    marker = tmp_path / "child.pid"
    script = f"sleep 30 & echo $! > {marker}.tmp; mv {marker}.tmp {marker}; wait"
    pidfd: list[int] = []

    def grandchild_running() -> bool:
        if not pidfd and marker.exists():
            pidfd.append(os.pidfd_open(int(marker.read_text())))  # before any kill
        return bool(pidfd)

    ok, detail = run_gated(run_exec(exec_check("/bin/sh", "-c", script, timeout=2.0)),
                           gate=grandchild_running)
    assert (ok, detail) == (False, "timed out after 2 s; killed")
    try:  # a pidfd turns readable when its process has ended (an event, not a poll)
        readable, _, _ = select.select(pidfd, [], [], SAFETY_S)
        assert readable == pidfd, "the grandchild must be killed with its group"
    finally:
        os.close(pidfd[0])


def test_exec_killed_by_signal_fails() -> None:
    code = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    assert run(run_exec(exec_check(sys.executable, "-c", code))) == (
        False, "killed by signal 9")


# -- tcp and http -----------------------------------------------------------------------------

async def _with_server(handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                         Awaitable[None]],
                       probe: Callable[[int], Awaitable[tuple[bool, str]]]) -> tuple[bool, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        return await probe(port)
    finally:
        server.close()


async def _close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


def _http(status: bytes) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                     Awaitable[None]]:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        assert request.startswith(b"GET /health?x=1 HTTP/1.1\r\nHost: 127.0.0.1:")
        writer.write(status + b"\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()
    return handler


def _http_check(port: int, expect: int = 200) -> CheckParams:
    return CheckParams(name="h", type="http", weight=1,
                       url=f"http://127.0.0.1:{port}/health?x=1", expect_status=expect)


def test_tcp_connect_passes_and_refused_fails() -> None:
    def check(port: int) -> CheckParams:
        return CheckParams(name="t", type="tcp", weight=1, host="127.0.0.1", port=port)

    ok, detail = run(_with_server(_close, lambda port: run_tcp(check(port))))  # type: ignore[misc]
    assert ok and detail.startswith("connected to 127.0.0.1:")
    ok, detail = run(run_tcp(check(1)))  # type: ignore[misc]
    assert (ok, detail) == (False, "127.0.0.1:1: Connection refused")


@pytest.mark.parametrize(("status", "expect", "ok", "detail"), [
    (b"HTTP/1.1 200 OK", 200, True, "HTTP 200 OK"),
    (b"HTTP/1.0 503 Service Unavailable", 200, False, "HTTP 503 Service Unavailable "
                                                      "(expected 200)"),
    (b"HTTP/1.1 204 No Content", 204, True, "HTTP 204 No Content"),
    (b"SSH-2.0-OpenSSH", 200, False, "not an HTTP response ('SSH-2.0-OpenSSH')"),
])
def test_http_status_line(status: bytes, expect: int, ok: bool, detail: str) -> None:
    got_ok, got = run(_with_server(_http(status),  # type: ignore[misc]
                                   lambda port: run_http(_http_check(port, expect))))
    assert got_ok is ok
    assert got.endswith(detail)


# -- interface --------------------------------------------------------------------------------

def test_interface_state_from_sysfs(tmp_path: Path) -> None:
    up = tmp_path / "eth1"
    up.mkdir()
    (up / "operstate").write_text("up\n")
    (up / "carrier").write_text("1\n")
    assert interface_state(tmp_path, "eth1") == (True, "eth1: carrier on, operstate up")
    (up / "carrier").write_text("0\n")
    (up / "operstate").write_text("down\n")
    assert interface_state(tmp_path, "eth1") == (False, "eth1: carrier off, operstate down")
    assert interface_state(tmp_path, "eth9") == (False, "no interface eth9")


# -- the port: periodic runs, timeouts, units without a bus -------------------------------------

def test_periodic_results_and_stop(tmp_path: Path) -> None:
    async def main() -> list[tuple[str, bool, str]]:
        results: list[tuple[str, bool, str]] = []
        checks = HealthChecks(sys_net=tmp_path)
        p = CheckParams(name="i", type="interface", weight=1, interface="eth7", interval=0.05,
                        timeout=0.05)
        checks.start("web/i", p, lambda *r: results.append(r))
        await asyncio.sleep(0.12)  # runs at 0, 0.05 and 0.10 (fake clock: exactly)
        checks.stop("web/i")
        n = len(results)
        await asyncio.sleep(0.1)
        assert len(results) == n
        await checks.close()
        return results

    results = run_fake(main())
    assert results == [("web/i", False, "no interface eth7")] * 3


def test_unit_check_without_a_system_bus_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus")

    async def main() -> list[tuple[str, bool, str]]:
        results: list[tuple[str, bool, str]] = []
        checks = HealthChecks()
        checks.start("web/nginx", CheckParams(name="nginx", type="unit", fatal=True,
                                              unit="nginx.service", interval=0.05),
                     lambda *r: results.append(r))
        await asyncio.sleep(0.2)
        await checks.close()
        return results

    results = run_gated(main(), gate=lambda: True)  # real socket errors, time on a fake clock
    assert results, "a unit check must report even without D-Bus"
    assert all(not ok and detail.startswith("systemd D-Bus not reachable: ")
               for _, ok, detail in results)
