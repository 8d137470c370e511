"""The control socket server: a Unix stream socket speaking carpd.control.protocol.

Owns: the listening socket (mode 0660, created with a restrictive umask, parent directory
created 0755 if missing), refusal to start when another live daemon owns the path, removal
of a stale socket file, and one request per connection. The answer comes from a handler
coroutine that the daemon provides.
Bounds, so that idle, slow or hostile clients cannot take descriptors or memory from the
protocol: at most MAX_CONNECTIONS connections at once (watchers included, at most MAX_WATCHERS
of them); one more is answered at once with a `retry` error (protocol.Busy) and closed. The
whole request line must arrive within REQUEST_TIMEOUT_S of the connection (an idle or
trickling client is closed then), and a line is read with a buffer limit of MAX_REQUEST: a
longer one is never buffered whole (the reader keeps at most about twice the limit), it gets
the error reply "request too large" and the connection is closed. A request the protocol
refuses (not JSON, nested too deeply, a 5000-digit number) gets its error reply; a handler
that fails unexpectedly gets "internal error" and one log line, never a traceback.
Every request carries the client's `Peer` (SO_PEERCRED): it may write when it is root, the
socket's owner, or in the socket's group (primary or supplementary, from /proc/PID/status);
the daemon refuses state-changing commands to anyone else.
`watch` keeps the connection: the daemon's `subscribe` gives a bounded queue of event
objects which this server writes one per line until the client leaves, the daemon ends the
subscription (None), or the queue overflowed because the client reads too slowly (the daemon
drops it: a slow watcher never blocks the daemon).
Must not: interpret requests beyond the protocol's schema (the daemon does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
import struct
from collections.abc import Awaitable, Callable
from typing import Any

from carpd.control.protocol import (
    MAX_REQUEST,
    Peer,
    ProtocolError,
    Request,
    decode_request,
    encode_error,
    encode_event,
    encode_result,
)

Handler = Callable[[Request, Peer], Awaitable[dict[str, Any]]]
Subscribe = Callable[[Request, Peer], "asyncio.Queue[dict[str, Any] | None]"]
CLIENT_TIMEOUT_S = 5.0  # a reply or watch event must be taken within this
REQUEST_TIMEOUT_S = 3.0  # the whole request line must arrive within this
MAX_CONNECTIONS = 64
MAX_WATCHERS = 16
_log = logging.getLogger(__name__)


class ControlServerError(OSError):
    pass


class ControlServer:
    def __init__(self, path: str, handler: Handler, *, mode: int = 0o660,
                 subscribe: Subscribe | None = None) -> None:
        self.path = path
        self._handler = handler
        self._subscribe = subscribe
        self._mode = mode
        self._server: asyncio.base_events.Server | None = None
        self._watchers: set[asyncio.Task[Any]] = set()
        self._connections = 0
        self._watching = 0

    async def start(self) -> None:
        parent = os.path.dirname(self.path) or "."
        os.makedirs(parent, mode=0o755, exist_ok=True)
        self._remove_stale()
        old = os.umask(0o117)
        try:
            self._server = await asyncio.start_unix_server(
                self._serve, path=self.path, limit=MAX_REQUEST)
        finally:
            os.umask(old)
        os.chmod(self.path, self._mode)

    def _remove_stale(self) -> None:
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise ControlServerError(f"{self.path} exists and is not a socket; refusing to "
                                     "replace it")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(1.0)
            try:
                probe.connect(self.path)
            except OSError:
                os.unlink(self.path)  # nobody listens: stale
                return
        raise ControlServerError(f"another carpd is already listening on {self.path}")

    @property
    def connections(self) -> int:
        """Connections being served now (watchers included)."""
        return self._connections

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        busy = self._connections >= MAX_CONNECTIONS
        self._connections += 1
        try:
            if busy:
                await self._reply(writer, encode_error(
                    f"carpd is busy: {MAX_CONNECTIONS} control connections are open; "
                    "try again", retry=True))
            else:
                await self._answer(reader, writer)
        except (TimeoutError, ConnectionError):
            pass
        finally:
            self._connections -= 1
            writer.close()
            with contextlib.suppress(ConnectionError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), REQUEST_TIMEOUT_S)
        except ValueError:  # over the reader's limit: the buffer was dropped, not kept
            await self._reply(writer, encode_error(
                f"request too large (limit {MAX_REQUEST} bytes)"))
            return
        peer = self._peer(writer)
        try:
            req = decode_request(line)
            if req.cmd == "watch" and self._subscribe is not None:
                await self._watch_bounded(req, peer, reader, writer)
                return
            reply = encode_result(await self._handler(req, peer))
        except ProtocolError as exc:
            reply = encode_error(str(exc))
        except Exception as exc:  # a handler bug must not kill the server or log a trace
            _log.error("control request failed: %s: %s", type(exc).__name__, exc)
            reply = encode_error(f"internal error ({type(exc).__name__}); see the journal")
        await self._reply(writer, reply)

    @staticmethod
    async def _reply(writer: asyncio.StreamWriter, reply: bytes) -> None:
        writer.write(reply)
        await asyncio.wait_for(writer.drain(), CLIENT_TIMEOUT_S)

    async def _watch_bounded(self, req: Request, peer: Peer, reader: asyncio.StreamReader,
                             writer: asyncio.StreamWriter) -> None:
        assert self._subscribe is not None
        if self._watching >= MAX_WATCHERS:
            await self._reply(writer, encode_error(
                f"carpd is busy: {MAX_WATCHERS} watchers are connected; try again",
                retry=True))
            return
        self._watching += 1
        try:
            await self._watch(self._subscribe(req, peer), reader, writer)
        finally:
            self._watching -= 1

    async def _watch(self, queue: asyncio.Queue[dict[str, Any] | None],
                     reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Stream events until the client goes away or the daemon ends the subscription."""
        writer.write(encode_result({"watching": True}))
        await asyncio.wait_for(writer.drain(), CLIENT_TIMEOUT_S)
        gone = asyncio.ensure_future(reader.read(1))  # EOF (or anything) ends the watch
        self._watchers.add(gone)
        try:
            while True:
                item = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({item, gone}, return_when=asyncio.FIRST_COMPLETED)
                if gone in done:
                    item.cancel()
                    return
                event = item.result()
                if event is None:
                    return
                writer.write(encode_event(event))
                await asyncio.wait_for(writer.drain(), CLIENT_TIMEOUT_S)
        finally:
            gone.cancel()
            self._watchers.discard(gone)

    def _peer(self, writer: asyncio.StreamWriter) -> Peer:
        sock = writer.get_extra_info("socket")
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, gid = struct.unpack("3i", creds)
        try:
            st = os.stat(self.path)
        except OSError:
            return Peer(pid=pid, uid=uid, gid=gid, may_write=uid == 0)
        may = uid in (0, st.st_uid) or st.st_gid == gid or st.st_gid in _groups(sock, pid)
        return Peer(pid=pid, uid=uid, gid=gid, may_write=may)

    async def close(self) -> None:
        for task in list(self._watchers):
            task.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


SO_PEERGROUPS = getattr(socket, "SO_PEERGROUPS", 59)  # Linux >= 4.13


def _groups(sock: socket.socket, pid: int) -> set[int]:
    """The peer's supplementary groups: SO_PEERGROUPS (from the kernel, at connect time),
    else /proc/PID/status (hidden under ProtectProc=invisible, hence second)."""
    with contextlib.suppress(OSError):
        raw = sock.getsockopt(socket.SOL_SOCKET, SO_PEERGROUPS, 1024)  # buflen <= 1024
        return set(struct.unpack(f"{len(raw) // 4}I", raw[: len(raw) // 4 * 4]))
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("Groups:"):
                    return {int(g) for g in line.split()[1:]}
    except (OSError, ValueError):
        pass
    return set()
