"""The control server under abuse, over a real Unix socket: a bound on concurrent connections
(a busy reply beyond it), an idle/slow client cut off, a huge line rejected without being
buffered, hostile JSON answered with an error and no traceback; carpctl retrying briefly
when the daemon's accept queue is full or it is busy."""

from __future__ import annotations

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
from tests.io.test_control import Server


class Recording(Server):
    """A Server whose loop records unhandled exceptions (asyncio would log a traceback)."""

    def __init__(self, path: str, *, fail: bool = False) -> None:
        super().__init__(path)
        self.unhandled: list[dict[str, Any]] = []
        self.loop.set_exception_handler(lambda _loop, ctx: self.unhandled.append(ctx))
        self.fail = fail

    async def handler(self, req: Request, peer: Peer) -> dict[str, Any]:
        if self.fail:
            raise RuntimeError("renderer bug")
        return await super().handler(req, peer)


def _client(path: str, timeout: float = 2.0) -> socket.socket:
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


def test_connections_beyond_the_bound_get_a_busy_reply(tmp_path: Path) -> None:
    with Recording(str(tmp_path / "c.sock")) as srv, _idle(
            srv.path, control_server.MAX_CONNECTIONS) as idle:
        _wait(lambda: srv.server.connections == len(idle))
        with _client(srv.path) as extra:
            reply = _reply(extra)
        assert reply["ok"] is False and reply["retry"] is True
        assert "busy: 64 control connections are open" in reply["error"]
        with pytest.raises(carpctl.Unreachable, match="busy"):
            carpctl.request(srv.path, Request(cmd="metrics"))
        threading.Timer(0.3, lambda: [s.close() for s in idle]).start()
        started = time.monotonic()
        assert carpctl.request(srv.path, Request(cmd="metrics")) == {"text": "metrics {}"}
        assert 0.25 < time.monotonic() - started < carpctl.RETRY_S + 0.5
    assert srv.unhandled == []


def test_an_idle_client_is_cut_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(control_server, "REQUEST_TIMEOUT_S", 0.2)
    with Recording(str(tmp_path / "c.sock")) as srv, _client(srv.path) as sock:
        sock.sendall(b'{"cmd": "sta')  # a trickle, then nothing
        started = time.monotonic()
        assert sock.recv(100) == b""
        assert time.monotonic() - started < 1.5
        _wait(lambda: srv.server.connections == 0)


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


def test_carpctl_retries_while_the_accept_queue_is_full(tmp_path: Path) -> None:
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
        started = time.monotonic()
        with pytest.raises(carpctl.Unreachable, match="queue stayed full"):
            carpctl.request(path, Request(cmd="status"))
        assert carpctl.RETRY_S - 0.25 < time.monotonic() - started < carpctl.RETRY_S + 0.5
        threading.Thread(target=_drain_and_answer, args=(listener, stack), daemon=True).start()
        assert carpctl.request(path, Request(cmd="status")) == {"answered": True}


def _drain_and_answer(listener: socket.socket, stack: ExitStack) -> None:
    time.sleep(0.3)
    stack.close()  # the queued probes go away
    while True:
        conn, _ = listener.accept()
        with conn:
            if conn.recv(1000).startswith(b'{"cmd": "status"'):
                conn.sendall(b'{"ok": true, "result": {"answered": true}}\n')
                return


def _wait(condition: Any, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)
