"""The control server under abuse, over a real Unix socket: a bound on concurrent connections
(a busy reply beyond it), an idle/slow client cut off, a huge line rejected without being
buffered, hostile JSON answered with an error and no traceback; carpctl retrying briefly
when the daemon's accept queue is full or it is busy. carpctl's retries run on a fake clock
(tests/io/clocks.py: `FakeMonotonic` in carpctl's `_clock`/`_sleep`), and the idle cut-off on
a server loop whose clock jumps when it has nothing to do, so no assertion depends on how
fast this machine is; the real waits are bounded only by a hang guard."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from carpd import carpctl
from carpd.control.protocol import MAX_REQUEST, Peer, Request
from carpd.io import control_server
from tests.io.clocks import SAFETY_S, FakeMonotonic, GatedClockLoop
from tests.io.test_control import Server


class Recording(Server):
    """A Server whose loop records unhandled exceptions (asyncio would log a traceback)."""

    def __init__(self, path: str, *, fail: bool = False,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(path, loop)
        self.unhandled: list[dict[str, Any]] = []
        self.loop.set_exception_handler(lambda _loop, ctx: self.unhandled.append(ctx))
        self.fail = fail

    async def handler(self, req: Request, peer: Peer) -> dict[str, Any]:
        if self.fail:
            raise RuntimeError("renderer bug")
        return await super().handler(req, peer)


def _client(path: str, timeout: float = SAFETY_S) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(path)
    return sock


def _reply(sock: socket.socket) -> dict[str, Any]:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    reply: dict[str, Any] = json.loads(data)
    return reply


@contextmanager
def _idle(path: str, count: int) -> Iterator[list[socket.socket]]:
    with ExitStack() as stack:
        socks = [stack.enter_context(_client(path)) for _ in range(count)]
        yield socks


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeMonotonic:
    """carpctl's retry clock, fake: its pauses move this clock, not the test."""
    fake = FakeMonotonic()
    monkeypatch.setattr(carpctl, "_clock", fake.monotonic)
    monkeypatch.setattr(carpctl, "_sleep", fake.sleep)
    return fake


GIVE_UP_S = 0.02 + 0.05 + 0.1 + 0.2 * 4  # the pauses that fit in RETRY_S (1 s)
FOURTH_PAUSE_S = 0.02 + 0.05 + 0.1 + 0.2


def test_connections_beyond_the_bound_get_a_busy_reply(tmp_path: Path,
                                                       clock: FakeMonotonic) -> None:
    with Recording(str(tmp_path / "c.sock")) as srv, _idle(
            srv.path, control_server.MAX_CONNECTIONS) as idle:
        _wait(lambda: srv.server.connections == len(idle))
        with _client(srv.path) as extra:
            reply = _reply(extra)
        assert reply["ok"] is False and reply["retry"] is True
        assert "busy: 64 control connections are open" in reply["error"]
        with pytest.raises(carpctl.Unreachable, match="busy"):
            carpctl.request(srv.path, Request(cmd="metrics"))
        assert clock.elapsed == pytest.approx(GIVE_UP_S)  # retried for RETRY_S, then gave up

        def free_the_slots() -> None:
            for s in idle:
                s.close()
            _wait(lambda: srv.server.connections == 0)

        again = FakeMonotonic(clock.now)
        carpctl._clock, carpctl._sleep = again.monotonic, again.sleep  # restored by `clock`
        again.at(0.3, free_the_slots)
        assert carpctl.request(srv.path, Request(cmd="metrics")) == {"text": "metrics {}"}
        assert again.elapsed == pytest.approx(FOURTH_PAUSE_S)  # the first try after 0.3 s
    assert srv.unhandled == []


def test_an_idle_client_is_cut_off(tmp_path: Path) -> None:
    """The server's request timeout fires on its loop's clock, which jumps as soon as the
    loop has nothing to do: the trickling client is always cut off, and never by luck."""
    loop = GatedClockLoop(gate=lambda: True)
    with Recording(str(tmp_path / "c.sock"), loop=loop) as srv, _client(srv.path) as sock:
        # a trickle, then nothing; the server's clock may run out before the trickle arrives
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(b'{"cmd": "sta')
        assert sock.recv(100) == b""
        _wait(lambda: srv.server.connections == 0)
    assert loop.now - 1000.0 >= control_server.REQUEST_TIMEOUT_S  # it waited, on its clock


def test_a_huge_line_is_rejected_without_being_buffered(tmp_path: Path) -> None:
    payload = memoryview(b"x" * (8 << 20))  # 8 MiB, no newline
    with Recording(str(tmp_path / "c.sock")) as srv, _client(srv.path) as sock:
        tracemalloc.start()
        try:
            sent = _send_until_closed(sock, payload)
            reply = _reply(sock)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert reply == {"ok": False, "error": f"request too large (limit {MAX_REQUEST} bytes)"}
    assert sent < len(payload)  # cut off long before the end
    assert peak < 2 << 20  # the server never held the line (a few reads of 256 KiB at most)
    assert srv.peers == [] and srv.unhandled == []


def _send_until_closed(sock: socket.socket, payload: memoryview) -> int:
    sent = 0
    sock.settimeout(0.5)
    while sent < len(payload):
        try:
            sent += sock.send(payload[sent:sent + 65536])
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            break
    sock.settimeout(2.0)
    return sent


@pytest.mark.parametrize(("line", "reason"), [
    (b"[" * 20000 + b"\n", "nested too deeply"),
    (b'{"cmd": "demote", "args": {"by": ' + b"7" * 5000 + b"}}\n", "4300 digits"),
])
def test_hostile_json_gets_an_error_reply_and_no_traceback(
        tmp_path: Path, line: bytes, reason: str, caplog: pytest.LogCaptureFixture) -> None:
    with Recording(str(tmp_path / "c.sock")) as srv, _client(srv.path) as sock:
        sock.sendall(line)
        reply = _reply(sock)
    assert reply["ok"] is False and reason in reply["error"]
    assert srv.unhandled == [] and not [r for r in caplog.records if r.exc_info]


def test_a_failing_handler_is_one_log_line_and_an_error_reply(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="carpd.io.control_server")
    with Recording(str(tmp_path / "c.sock"), fail=True) as srv, pytest.raises(
            carpctl.ProtocolError, match="internal error"):
        carpctl.request(srv.path, Request(cmd="status"))
    assert [(r.getMessage(), r.exc_info) for r in caplog.records] == [
        ("control request failed: RuntimeError: renderer bug", None)]
    assert srv.unhandled == []


def test_carpctl_retries_while_the_accept_queue_is_full(tmp_path: Path,
                                                       clock: FakeMonotonic) -> None:
    path = str(tmp_path / "q.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener, ExitStack() as stack:
        listener.bind(path)
        listener.listen(0)
        while True:  # fill the backlog: the next connect fails with EAGAIN
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            probe.setblocking(False)
            try:
                probe.connect(path)
            except BlockingIOError:
                probe.close()
                break
            stack.enter_context(probe)
        with pytest.raises(carpctl.Unreachable, match="queue stayed full"):
            carpctl.request(path, Request(cmd="status"))
        assert clock.elapsed == pytest.approx(GIVE_UP_S)
        clock.at(clock.elapsed + 0.3, lambda: _drain_then_answer(listener, stack))
        assert carpctl.request(path, Request(cmd="status")) == {"answered": True}
        assert clock.elapsed == pytest.approx(GIVE_UP_S + FOURTH_PAUSE_S)


def _drain_then_answer(listener: socket.socket, stack: ExitStack) -> None:
    """Empty the backlog now (the queued probes go away), then answer the next request."""
    stack.close()
    listener.setblocking(False)
    with contextlib.suppress(BlockingIOError):
        while True:
            listener.accept()[0].close()
    listener.setblocking(True)
    threading.Thread(target=_answer, args=(listener,), daemon=True).start()


def _answer(listener: socket.socket) -> None:
    conn, _ = listener.accept()
    with conn:
        if conn.recv(1000).startswith(b'{"cmd": "status"'):
            conn.sendall(b'{"ok": true, "result": {"answered": true}}\n')


def _wait(condition: Any, timeout: float = SAFETY_S) -> None:
    """Until `condition()` holds (the server thread catching up); the bound is a hang guard."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)
