"""The control socket protocol: one JSON request line in, one JSON response line out.

Owns: the request/response schema shared by the daemon's control server and `carpctl`, and
their encoding, the set of commands that change state (WRITE_COMMANDS) and `Peer`. A request
is `{"cmd": "status", "args": {...}}`; a response is `{"ok": true, "result": {...}}` or
`{"ok": false, "error": "text"}`. Lines are UTF-8 JSON terminated by "\n" and at most
MAX_MESSAGE bytes.
Must not: import the daemon or anything that needs root (carpctl imports only this).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MAX_MESSAGE = 4 * 1024 * 1024
DEFAULT_SOCKET = "/run/carpd/control.sock"
COMMANDS = frozenset({"status", "explain", "metrics", "watch", "demote", "promote",
                      "maintenance"})
WRITE_COMMANDS = frozenset({"demote", "promote", "maintenance"})
# `watch`: after the first response line ({"ok": true, "result": {"watching": true}}) the
# server keeps the connection open and sends one JSON event object per line, in order.


class ProtocolError(ValueError):
    """A message that is not valid for this protocol."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    cmd: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Peer:
    """Who is on the other end of a control connection (SO_PEERCRED). `may_write`: root, the
    socket's owner, or a member of the socket's group may change things; anyone else who can
    connect may only look."""

    pid: int
    uid: int
    gid: int
    may_write: bool


def encode_request(req: Request) -> bytes:
    return json.dumps({"cmd": req.cmd, "args": req.args}).encode() + b"\n"


def decode_request(line: bytes) -> Request:
    obj = _decode(line)
    cmd, args = obj.get("cmd"), obj.get("args", {})
    if not isinstance(cmd, str) or cmd not in COMMANDS:
        raise ProtocolError(f"unknown command {cmd!r}; known: {', '.join(sorted(COMMANDS))}")
    if not isinstance(args, dict):
        raise ProtocolError("args must be an object")
    return Request(cmd=cmd, args=args)


def encode_result(result: dict[str, Any]) -> bytes:
    return json.dumps({"ok": True, "result": result}).encode() + b"\n"


def encode_event(event: dict[str, Any]) -> bytes:
    """One line of a `watch` stream."""
    return json.dumps(event, separators=(",", ":")).encode() + b"\n"


def decode_event(line: bytes) -> dict[str, Any]:
    return _decode(line)


def encode_error(message: str) -> bytes:
    return json.dumps({"ok": False, "error": message}).encode() + b"\n"


def decode_response(line: bytes) -> dict[str, Any]:
    """The result object, or ProtocolError carrying the daemon's error text."""
    obj = _decode(line)
    if obj.get("ok") is True and isinstance(obj.get("result"), dict):
        result: dict[str, Any] = obj["result"]
        return result
    raise ProtocolError(str(obj.get("error", "malformed response")))


def _decode(line: bytes) -> dict[str, Any]:
    if len(line) > MAX_MESSAGE:
        raise ProtocolError("message too large")
    try:
        obj = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("message must be a JSON object")
    return obj
