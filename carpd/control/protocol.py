"""The control socket protocol: one JSON request line in, one JSON response line out.

Owns: the request/response schema shared by the daemon's control server and `carpctl`, and
their encoding, the set of commands that change state (WRITE_COMMANDS) and `Peer`. A request
is `{"cmd": "status", "args": {...}}`; a response is `{"ok": true, "result": {...}}` or
`{"ok": false, "error": "text"}`; a refusal that a client should retry shortly (the daemon has
too many connections) also carries `"retry": true` and is decoded as `Busy`. Lines are UTF-8
JSON terminated by "\n": a request at most MAX_REQUEST bytes (requests are small; the server
never buffers more), a response or watch event at most MAX_MESSAGE.
Decoding never raises anything but ProtocolError: a request's NaN and Infinity are refused,
and input that Python's parser itself refuses (nesting deeper than its recursion limit, an
integer of more than 4300 digits) is a ProtocolError with a short reason, never a
RecursionError or ValueError.
Must not: import the daemon or anything that needs root (carpctl imports only this).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

MAX_MESSAGE = 4 * 1024 * 1024
MAX_REQUEST = 64 * 1024
DEFAULT_SOCKET = "/run/carpd/control.sock"
COMMANDS = frozenset({"status", "explain", "history", "metrics", "watch", "demote", "promote",
                      "maintenance", "reload", "config"})
WRITE_COMMANDS = frozenset({"demote", "promote", "maintenance"})
# `reload` takes {"dry_run": true} (a dry run only reads); `config` takes {"json": bool}.
# `watch`: after the first response line ({"ok": true, "result": {"watching": true}}) the
# server keeps the connection open and sends one JSON event object per line, in order.
# Its args may narrow the stream: "name" (one VIP's events, plus those of no VIP) and
# "changes": true (transitions, check state changes, the first report of an anomaly in each
# log interval and operator actions only: no repeated check results or anomaly counts).
# `history` (args: optional "name") answers {"entries": [...]}: the recent transitions.


class ProtocolError(ValueError):
    """A message that is not valid for this protocol."""


class Busy(ProtocolError):  # noqa: N818 - a condition, not a bug
    """The daemon refused the connection for now (too many at once): retry shortly."""


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
    if len(line) > MAX_REQUEST:
        raise ProtocolError(f"request too large (limit {MAX_REQUEST} bytes)")
    obj = _decode(line, strict=True)
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


def encode_error(message: str, *, retry: bool = False) -> bytes:
    body: dict[str, Any] = {"ok": False, "error": message}
    if retry:
        body["retry"] = True
    return json.dumps(body).encode() + b"\n"


def decode_response(line: bytes) -> dict[str, Any]:
    """The result object, or ProtocolError carrying the daemon's error text."""
    obj = _decode(line)
    if obj.get("ok") is True and isinstance(obj.get("result"), dict):
        result: dict[str, Any] = obj["result"]
        return result
    error = str(obj.get("error", "malformed response"))
    raise Busy(error) if obj.get("retry") is True else ProtocolError(error)


def _decode(line: bytes, *, strict: bool = False) -> dict[str, Any]:
    """One JSON object; `strict` (requests) also refuses NaN and Infinity."""
    if len(line) > MAX_MESSAGE:
        raise ProtocolError("message too large")
    try:
        obj = json.loads(line, parse_constant=_no_constant if strict else None)
    except RecursionError:
        raise ProtocolError("not JSON this protocol accepts: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, too many digits
        raise ProtocolError(f"not JSON this protocol accepts: {_first_line(exc)}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("message must be a JSON object")
    return obj


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number this protocol accepts")


def _first_line(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "integer string conversion" in text:
        return f"an integer of more than {sys.get_int_max_str_digits()} digits"
    return text[:200]
