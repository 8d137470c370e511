"""carpctl: the operator's command line for a running carpd (talks to its control socket).

Owns: argument parsing, the request/response round trip, and rendering (table or JSON).
Commands: status [NAME] [--json|--check], explain NAME, history [NAME] [--json],
watch [NAME] [--changes] [--json], metrics, doctor [--json]
(carpd.doctor: the host's checks), demote NAME|--all [--for D] [--by N],
promote NAME|--all, maintenance [on|off] (no argument: the current state),
reload --dry-run [--json], config [--json], --version.
Durations (humanize.py): 90, 30s, 5m, 1h, 1h30m, 3d 4h; times are shown in the local zone,
with its name. The incident views (table notes, --check, history) are rendered by
carpd/control/views.py; the text of `reload --dry-run` and `config` is the daemon's
(carpd.driver.preview, carpd.ops.configview), printed as is, or the JSON.
Exit codes: 0 success, 1 the daemon refused the request (`status --check`: a problem was
found, one line each; a `reload --dry-run` whose file a reload would refuse: its located
error is printed) (including "permission denied" for
demote/promote/maintenance from a user who may only read), 2 usage error, 3 the daemon is not
reachable (not running, or the socket is not accessible to this user), 4 the flag was applied
but could not be saved (it holds only until carpd restarts), 5 doctor found a FAIL.
A daemon whose accept queue is full (connect fails with EAGAIN) or that answers "busy" (too
many control connections) is retried for up to RETRY_S with a short growing pause; only then
is it reported unreachable.
Must not: import the daemon or any adapter (only carpd.control and carpd.doctor), so it runs
unprivileged.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

from carpd.control.humanize import duration_text, local_time
from carpd.control.humanize import parse_duration as humanize_duration
from carpd.control.protocol import (
    DEFAULT_SOCKET,
    MAX_MESSAGE,
    Busy,
    ProtocolError,
    Request,
    decode_event,
    decode_response,
    encode_request,
)
from carpd.control.views import check as check_view
from carpd.control.views import maintenance_state, render_history
from carpd.control.views import notes as incident_notes
from carpd.doctor import run as run_doctor

EXIT_REFUSED = 1
EXIT_UNREACHABLE = 3
EXIT_NOT_PERSISTED = 4
TIMEOUT_S = 5.0
RETRY_S = 1.0  # how long a full accept queue or a busy daemon is retried
RETRY_PAUSE_S = (0.02, 0.05, 0.1, 0.2)
_clock: Callable[[], float] = time.monotonic  # the retry clock (tests put a fake one here)
_sleep: Callable[[float], None] = time.sleep


class Unreachable(Exception):  # noqa: N818 - a condition, not a bug
    pass


def request(path: str, req: Request, timeout: float = TIMEOUT_S) -> dict[str, Any]:
    """One round trip, retried briefly while the daemon is busy. Raises Unreachable or
    ProtocolError."""
    deadline, attempt = _clock() + RETRY_S, 0
    while True:
        try:
            return _round_trip(path, req, timeout, retry_until=deadline)
        except Busy as exc:
            if not _pause(attempt, deadline):
                raise Unreachable(f"{exc} (still after {RETRY_S:g} s)") from None
            attempt += 1


def _round_trip(path: str, req: Request, timeout: float, *, retry_until: float
                ) -> dict[str, Any]:
    with _connect(path, timeout, retry_until) as sock:
        try:
            # a daemon that refuses at once (busy) may close first: read its reply anyway
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(encode_request(req))
            data = _read_line(sock)
        except (OSError, TimeoutError) as exc:
            raise Unreachable(f"cannot reach carpd at {path}: {_why(exc)}") from None
    if not data:
        raise Unreachable(f"cannot reach carpd at {path}: it closed the connection")
    return decode_response(data)


def _connect(path: str, timeout: float, retry_until: float) -> socket.socket:
    """A connected socket; EAGAIN (the daemon's accept queue is full) is retried until
    `retry_until`, every other failure raises Unreachable at once."""
    attempt = 0
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(path)
            return sock
        except BlockingIOError as exc:
            sock.close()
            if not _pause(attempt, retry_until):
                raise Unreachable(f"cannot reach carpd at {path}: {_why(exc)} (its "
                                  f"connection queue stayed full for {RETRY_S:g} s)") from None
            attempt += 1
        except (OSError, TimeoutError) as exc:
            sock.close()
            raise Unreachable(f"cannot reach carpd at {path}: {_why(exc)}") from None


def _pause(attempt: int, deadline: float) -> bool:
    """Sleep before the next attempt; False when there is no time left for one."""
    pause = RETRY_PAUSE_S[min(attempt, len(RETRY_PAUSE_S) - 1)]
    if _clock() + pause > deadline:
        return False
    _sleep(pause)
    return True


def _why(exc: BaseException) -> str:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return reason or "timed out"


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
    cols = ("NAME", "VHID", "IFACE", "ADDRESSES", "STATE", "SINCE", "REASON", "MASTER", "RANK")
    rows = [cols]
    for v in status.get("vips", []):
        rows.append((
            v["name"], str(v["vhid"]), v["interface"], ",".join(v["addresses"]), v["state"],
            local_time(v.get("since")), v.get("reason") or "-", v.get("master") or "-",
            _skew(v),
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
    node = status.get("node", {})
    head = (f"carpd {node.get('version', '?')} on {node.get('hostname', '?')}, "
            f"up {duration_text(node.get('uptime_s', 0))}")
    lines = [head] + ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                      for r in rows]
    return "\n".join(lines + _notes(status))


def _notes(status: dict[str, Any]) -> list[str]:
    """Lines after the table (never new columns): carpd/control/views.py `notes`, then
    the master units whose last job failed, then a file on disk that is not the running one
    (a refused reload is one of the problems)."""
    notes = incident_notes(status)
    for v in status.get("vips", []):
        notes += _unit_notes(v)
    note = _config_note(status.get("config"))
    return [*notes, *([note] if note else [])]


def _unit_notes(v: dict[str, Any]) -> list[str]:
    """Master units whose last job failed; unit jobs that fell back to systemctl."""
    notes = [f"{v['name']}: master unit {u['unit']} {u['verb']} {u['result']} at "
             f"{local_time(u.get('at'))} (carpctl explain {v['name']})"
             for u in v.get("units", []) if u.get("failed")]
    if any(u.get("via") == "systemctl" for u in v.get("units", [])):
        notes.append(f"{v['name']}: unit jobs via systemctl, results untracked (D-Bus not "
                     "reachable)")
    return notes


def _config_note(c: dict[str, Any] | None) -> str | None:
    if not c or c.get("on_disk") == "same" or c.get("refused"):
        return None  # (a refused reload is in the problems)
    if c.get("on_disk") == "unreadable":
        return f"config file {c.get('path')} cannot be read (carpd runs what it loaded)"
    return ("config on disk differs from the running one (not reloaded; "
            "carpctl reload --dry-run shows what a reload would do)")


def _skew(v: dict[str, Any]) -> str:
    """CARP: the effective advskew; VRRPv3: "prio" and the effective priority."""
    if v.get("protocol") == "vrrp3":
        base, eff, word = v.get("priority"), v.get("effective_priority"), "prio "
    else:
        base, eff, word = v.get("advskew"), v.get("effective_advskew"), ""
    return f"{word}{eff}" if eff == base else f"{word}{eff} (base {base})"


def parse_duration(text: str) -> float:
    """'90' or '90s', '5m', '1h', '1h30m', '3d 4h' -> seconds (argparse type)."""
    try:
        return humanize_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _version() -> str:
    try:
        return metadata.version("carpd")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="carpctl", description="Query and steer a running carpd.")
    p.add_argument("--version", action="version", version=f"carpctl {_version()}")
    p.add_argument("--socket", default=os.environ.get("CARPD_SOCKET", DEFAULT_SOCKET),
                   help=f"control socket (default {DEFAULT_SOCKET}, or $CARPD_SOCKET)")
    sub = p.add_subparsers(dest="command", required=True)
    st = sub.add_parser("status", help="state of every VIP (or one)")
    st.add_argument("name", nargs="?", help="only this VIP")
    st_out = st.add_mutually_exclusive_group()
    st_out.add_argument("--json", action="store_true", help="machine-readable document")
    st_out.add_argument("--check", action="store_true",
                        help="for monitoring: one line per problem, exit 1 if any (0: none)")
    ex = sub.add_parser("explain", help="why a VIP is in its state here, in one paragraph")
    ex.add_argument("name")
    _incident_parsers(sub)
    sub.add_parser("metrics", help="metrics in the Prometheus text format")
    dr = sub.add_parser("doctor", help="check this host for what breaks failover")
    dr.add_argument("--json", action="store_true", help="the findings as JSON")
    for verb, text in (("demote", "demote a VIP (or all) on this node"),
                       ("promote", "clear the operator demotion of a VIP (or all)")):
        cmd = sub.add_parser(verb, help=text)
        which = cmd.add_mutually_exclusive_group(required=True)
        which.add_argument("name", nargs="?")
        which.add_argument("--all", action="store_true", help="every VIP")
        if verb == "demote":
            cmd.add_argument("--for", dest="duration", type=parse_duration, metavar="DURATION",
                             help="expire after DURATION (30s, 5m, 1h, 3d 4h); default: until "
                             "promote")
            cmd.add_argument("--by", type=int, default=254, metavar="N",
                             help="demotion, 1..254 (default 254): added to a CARP VIP's advskew, "
                                  "subtracted from a VRRPv3 VIP's priority")
    mt = sub.add_parser("maintenance", help="demote every VIP to the maximum, persistently "
                        "(no argument: show whether it is on)")
    mt.add_argument("mode", choices=("on", "off"), nargs="?")
    rl = sub.add_parser("reload", help="what a reload of the file on disk would do (apply "
                        "it with `systemctl reload carpd`)")
    rl.add_argument("--dry-run", action="store_true", required=True,
                    help="plan the reload in the daemon and print it; nothing is applied")
    cf = sub.add_parser("config", help="the running configuration (passwords only by origin)")
    for cmd in (rl, cf):
        cmd.add_argument("--json", action="store_true", help="machine-readable document")
    return p


def _incident_parsers(sub: Any) -> None:
    """`history` and `watch` (their rendering: carpd/control/views.py, render_event)."""
    hi = sub.add_parser("history", help="the recent transitions, their causes and masters")
    hi.add_argument("name", nargs="?", help="only this VIP")
    hi.add_argument("--json", action="store_true", help="one JSON document")
    wa = sub.add_parser("watch", help="live stream of transitions, check results, anomalies")
    wa.add_argument("name", nargs="?", help="only this VIP (and operator actions)")
    wa.add_argument("--changes", action="store_true",
                    help="only changes: no repeated check results or anomaly counts")
    wa.add_argument("--json", action="store_true", help="one JSON object per line")


def _build(args: argparse.Namespace) -> Request:
    match args.command:
        case "explain":
            return Request(cmd="explain", args={"name": args.name})
        case "demote" | "promote":
            target: dict[str, Any] = {"all": True} if args.all else {"name": args.name}
            if args.command == "demote":
                target |= {"by": args.by, **({"for": args.duration} if args.duration else {})}
            return Request(cmd=args.command, args=target)
        case "maintenance" if args.mode is not None:
            return Request(cmd="maintenance", args={"on": args.mode == "on"})
        case "maintenance":  # the current state is in the status document
            return Request(cmd="status")
        case "reload":
            return Request(cmd="reload", args={"dry_run": args.dry_run})
        case "config":
            return Request(cmd="config", args={"json": args.json})
        case "history" if args.name is not None:
            return Request(cmd="history", args={"name": args.name})
    return Request(cmd=args.command)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "watch":
        return watch(args.socket, as_json=args.json, name=args.name, changes=args.changes)
    if args.command == "doctor":
        return doctor(args.socket, as_json=args.json)
    try:
        result = request(args.socket, _build(args))
    except Unreachable as exc:
        print(f"carpctl: {exc} (is carpd running? are you root or in its group?)",
              file=sys.stderr)
        return EXIT_UNREACHABLE
    except ProtocolError as exc:
        print(f"carpctl: carpd refused the request: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    if args.command == "maintenance" and args.mode is None:
        print(maintenance_state(result.get("maintenance", {})))
        return 0
    if args.command in ("reload", "config"):
        return _print_config_reply(args, result)
    if args.command != "status":
        print(_render_reply(args.command, result, as_json=getattr(args, "json", False)))
        return _persisted(result)
    if args.name is not None:
        vips = [v for v in result.get("vips", []) if v.get("name") == args.name]
        if not vips:
            print(f"carpctl: no VIP named {args.name!r}", file=sys.stderr)
            return EXIT_REFUSED
        problems = [p for p in result.get("problems", []) if p.get("vip") in (None, args.name)]
        result = {**result, "vips": vips, "problems": problems}
    if args.check:
        code, lines = check_view(result)
        print("\n".join(lines))
        return code
    print(json.dumps(result, indent=2) if args.json else render_table(result))
    return 0


def _print_config_reply(args: argparse.Namespace, result: dict[str, Any]) -> int:
    """`reload --dry-run` and `config`: the daemon's text (or the JSON); 1 when a reload of
    the file on disk would be refused (its located error on stderr)."""
    if args.json:
        print(json.dumps(result, indent=2))
    elif result.get("valid", True):
        print(str(result.get("text", "")).rstrip("\n"))
    else:
        print(f"carpctl: a reload would be refused: {result.get('error')}", file=sys.stderr)
    return 0 if result.get("valid", True) else EXIT_REFUSED


def doctor(path: str, *, as_json: bool) -> int:
    """The daemon's status (if it answers) and this host's checks (carpd.doctor)."""
    status, why = None, ""
    try:
        status = request(path, Request(cmd="status"))
    except (Unreachable, ProtocolError) as exc:
        why = str(exc)
    text, code = run_doctor(status, why, as_json=as_json)
    print(text)
    return code


def _persisted(result: dict[str, Any]) -> int:
    """0, or EXIT_NOT_PERSISTED with a warning when carpd could not save the change."""
    if result.get("persisted") is not False:
        return 0
    print("carpctl: warning: carpd applied this but could not save it in its state directory "
          "(read-only or full? see the journal): it holds only until carpd restarts",
          file=sys.stderr)
    return EXIT_NOT_PERSISTED


def _render_reply(command: str, r: dict[str, Any], *, as_json: bool = False) -> str:
    match command:
        case "explain":
            return str(r["text"])
        case "history" if not as_json:
            return render_history(r["entries"])
        case "metrics":
            return str(r["text"]).rstrip("\n")
        case "demote":
            until = f" until {local_time(r['until'])}" if r.get("until") else ""
            return f"demoted {', '.join(r['demoted'])} by {r['by']}{until}"
        case "promote":
            return f"promoted {', '.join(r['promoted'])}" if r["promoted"] else (
                "nothing to promote (no operator demotion)")
        case "maintenance":
            return f"maintenance mode {'on' if r['maintenance'] else 'off'}"
    return json.dumps(r, indent=2)


def render_event(e: dict[str, Any]) -> str:
    """One watch event as a line for people."""
    when = local_time(e.get("time"))
    match e.get("type"):
        case "transition":
            peer = f" peer {e['peer']}" if e.get("peer") else ""
            return f"{when} {e['vip']}: {e['from']} -> {e['to']} ({e['reason']}){peer}"
        case "check":
            mark = "changed to " if e.get("changed") else ""
            return f"{when} {e['vip']}: check {e['check']} {mark}{e['state']}: {e['detail']}"
        case "anomaly":
            return f"{when} {e['vip']}: ANOMALY {e['kind']}: {e['detail']}"
    return f"{when} {e.get('type')}: {e.get('detail', '')}"


def watch(path: str, *, as_json: bool, name: str | None = None, changes: bool = False) -> int:
    """Print the daemon's event stream until interrupted or the daemon ends it; `name` and
    `changes` narrow it (the daemon filters: carpd/ops/watch.py)."""
    try:
        sock = _connect(path, TIMEOUT_S, _clock() + RETRY_S)
    except Unreachable as exc:
        print(f"carpctl: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    with sock:
        try:
            narrow = {"name": name} if name else {}
            sock.sendall(encode_request(Request(cmd="watch", args={
                **narrow, **({"changes": True} if changes else {})})))
            stream = sock.makefile("rb")
            decode_response(stream.readline(MAX_MESSAGE))
        except (OSError, TimeoutError) as exc:
            print(f"carpctl: cannot reach carpd at {path}: {exc}", file=sys.stderr)
            return EXIT_UNREACHABLE
        except ProtocolError as exc:
            print(f"carpctl: carpd refused the request: {exc}", file=sys.stderr)
            return EXIT_UNREACHABLE if isinstance(exc, Busy) else EXIT_REFUSED
        sock.settimeout(None)
        try:
            for line in stream:
                print(line.decode().rstrip("\n") if as_json else render_event(
                    decode_event(line)), flush=True)
        except KeyboardInterrupt:
            return 0
    print("carpctl: carpd ended the stream (stopped, or this client read too slowly)",
          file=sys.stderr)
    return EXIT_UNREACHABLE


if __name__ == "__main__":
    raise SystemExit(main())
