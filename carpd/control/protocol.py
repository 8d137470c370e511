"""The control socket protocol: one JSON request line in, one JSON response line out.

Owns: the request/response schema shared by the daemon's control server and `carpctl`, and
their encoding. A request is `{"cmd": "status", "args": {...}}`; a response is
`{"ok": true, "result": {...}}` or `{"ok": false, "error": "text"}`. Lines are UTF-8 JSON
terminated by "\n" and at most MAX_MESSAGE bytes.
Must not: import the daemon or anything that needs root (carpctl imports only this).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MAX_MESSAGE = 4 * 1024 * 1024
DEFAULT_SOCKET = "/run/carpd/control.sock"
COMMANDS = frozenset({"status"})


class ProtocolError(ValueError):
    """A message that is not valid for this protocol."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    cmd: str
    args: dict[str, Any] = field(default_factory=dict)


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
