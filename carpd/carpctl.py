"""carpctl: the operator's command line for a running carpd (talks to its control socket).

Owns: argument parsing, the request/response round trip, and rendering (table or JSON).
Exit codes: 0 success, 1 the daemon refused the request, 2 usage error, 3 the daemon is not
reachable (not running, or the socket is not accessible to this user).
Must not: import the daemon or any adapter (only carpd.control), so it runs unprivileged.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from datetime import datetime
from typing import Any

from carpd.control.protocol import (
    DEFAULT_SOCKET,
    MAX_MESSAGE,
    ProtocolError,
    Request,
    decode_response,
    encode_request,
)

EXIT_REFUSED = 1
EXIT_UNREACHABLE = 3
TIMEOUT_S = 5.0


class Unreachable(Exception):  # noqa: N818 - a condition, not a bug
    pass


def request(path: str, req: Request, timeout: float = TIMEOUT_S) -> dict[str, Any]:
    """One round trip. Raises Unreachable or ProtocolError."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
            sock.sendall(encode_request(req))
            data = _read_line(sock)
        except (OSError, TimeoutError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise Unreachable(f"cannot reach carpd at {path}: {reason or 'timed out'}") from None
    return decode_response(data)


def _read_line(sock: socket.socket) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_MESSAGE:
        chunk = sock.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if chunk.endswith(b"\n"):
            break
    return b"".join(chunks)


def render_table(status: dict[str, Any]) -> str:
    cols = ("NAME", "VHID", "IFACE", "ADDRESSES", "STATE", "SINCE", "REASON", "MASTER", "SKEW")
    rows = [cols]
    for v in status.get("vips", []):
        rows.append((
            v["name"], str(v["vhid"]), v["interface"], ",".join(v["addresses"]), v["state"],
            _short_time(v.get("since")), v.get("reason") or "-", v.get("master") or "-",
            _skew(v),
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
    node = status.get("node", {})
    head = (f"carpd {node.get('version', '?')} on {node.get('hostname', '?')}, "
            f"up {_duration(node.get('uptime_s', 0))}")
    lines = [head] + ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                      for r in rows]
    return "\n".join(lines)


def _skew(v: dict[str, Any]) -> str:
    base, eff = v.get("advskew"), v.get("effective_advskew")
    return str(eff) if eff == base else f"{eff} (base {base})"


def _short_time(iso: str | None) -> str:
    if not iso:
        return "-"
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


def _duration(seconds: float) -> str:
    s = int(seconds)
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    return f"{d}d {h:02}:{m:02}:{s:02}" if d else f"{h:02}:{m:02}:{s:02}"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="carpctl", description="Query and steer a running carpd.")
    p.add_argument("--socket", default=os.environ.get("CARPD_SOCKET", DEFAULT_SOCKET),
                   help=f"control socket (default {DEFAULT_SOCKET}, or $CARPD_SOCKET)")
    sub = p.add_subparsers(dest="command", required=True)
    st = sub.add_parser("status", help="state of every VIP (or one)")
    st.add_argument("name", nargs="?", help="only this VIP")
    st.add_argument("--json", action="store_true", help="machine-readable document")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        result = request(args.socket, Request(cmd="status"))
    except Unreachable as exc:
        print(f"carpctl: {exc} (is carpd running? are you root or in its group?)",
              file=sys.stderr)
        return EXIT_UNREACHABLE
    except ProtocolError as exc:
        print(f"carpctl: carpd refused the request: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    if args.name is not None:
        vips = [v for v in result.get("vips", []) if v.get("name") == args.name]
        if not vips:
            print(f"carpctl: no VIP named {args.name!r}", file=sys.stderr)
            return EXIT_REFUSED
        result = {**result, "vips": vips}
    print(json.dumps(result, indent=2) if args.json else render_table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
