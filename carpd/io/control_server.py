"""The control socket server: a Unix stream socket speaking carpd.control.protocol.

Owns: the listening socket (mode 0660, created with a restrictive umask, parent directory
created 0755 if missing), refusal to start when another live daemon owns the path, removal
of a stale socket file, and one request per connection. The answer comes from a handler
coroutine that the daemon provides; a slow or silent client is cut off after a timeout.
Must not: interpret requests beyond the protocol's schema (the daemon does).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import stat
from collections.abc import Awaitable, Callable
from typing import Any

from carpd.control.protocol import (
    MAX_MESSAGE,
    ProtocolError,
    Request,
    decode_request,
    encode_error,
    encode_result,
)

Handler = Callable[[Request], Awaitable[dict[str, Any]]]
CLIENT_TIMEOUT_S = 5.0


class ControlServerError(OSError):
    pass


class ControlServer:
    def __init__(self, path: str, handler: Handler, *, mode: int = 0o660) -> None:
        self.path = path
        self._handler = handler
        self._mode = mode
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        parent = os.path.dirname(self.path) or "."
        os.makedirs(parent, mode=0o755, exist_ok=True)
        self._remove_stale()
        old = os.umask(0o117)
        try:
            self._server = await asyncio.start_unix_server(
                self._serve, path=self.path, limit=MAX_MESSAGE)
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

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), CLIENT_TIMEOUT_S)
            try:
                reply = encode_result(await self._handler(decode_request(line)))
            except ProtocolError as exc:
                reply = encode_error(str(exc))
            writer.write(reply)
            await asyncio.wait_for(writer.drain(), CLIENT_TIMEOUT_S)
        except (TimeoutError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
