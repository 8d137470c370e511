"""The bgp health check: does the local routing engine have an established BGP session?

Owns: the command that asks each engine (`engine_argv`: FRR `vtysh -c 'show bgp summary json'`,
through a pathspace `-N NAME` or a vty socket directory `--vty_socket DIR`; BIRD `birdc
show protocols all`, with `-s SOCKET`), pure parsers of what they print (`frr_sessions`: every
address family's peers of the JSON summary; `bird_sessions`: the BGP protocols of BIRD's
listing, each with its name, neighbour address and BGP state), the verdict (`judge`) and the
runner (`run_bgp`). A session counts when its state is Established. With `neighbor` set,
that session must be established (FRR: the peer's address or interface as the summary names
it; BIRD: the protocol's name or its neighbour address); without it, at least one BGP session
must be (a server with two uplinks still serves through one).
Nothing that goes wrong is a pass: an engine that is not running, a missing binary, output
that is not the expected form, a timeout (the process group is killed) are failures naming
what happened; carpd lacking descriptors or processes is an error (None), as for exec checks.
Must not: change the engine (it only reads), or block the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import re
import signal
from dataclasses import dataclass

from carpd.core.params import CheckParams

Outcome = tuple[bool | None, str]
ESTABLISHED = "Established"
OUTPUT_LIMIT = 200
RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EAGAIN,
                             errno.ENOBUFS})  # as carpd.io.health: an error, not a failure
_BIRD_HEADER = re.compile(r"^(\S+)\s+(\S+)\s+\S+\s+(\S+)\s")  # name, proto, table, state


@dataclass(frozen=True, slots=True)
class Session:
    """One BGP session as the engine reports it."""

    name: str
    neighbor: str
    state: str

    @property
    def established(self) -> bool:
        return self.state == ESTABLISHED


class OutputError(ValueError):
    """The engine printed something that is not what the parser expects."""


def engine_argv(p: CheckParams) -> tuple[str, ...]:
    if p.engine == "bird":
        return ("birdc", *(("-s", p.control) if p.control else ()), "show", "protocols", "all")
    where: tuple[str, ...] = ()
    if p.control:
        where = ("--vty_socket", p.control) if p.control.startswith("/") else ("-N", p.control)
    return ("vtysh", *where, "-c", "show bgp summary json")


def frr_sessions(text: str) -> list[Session]:
    """The peers of every address family of `show bgp summary json` (each peer once)."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise OutputError(f"not JSON: {_first_line(text)}") from None
    if not isinstance(doc, dict):
        raise OutputError("not a JSON object")
    found: dict[str, Session] = {}
    for family in doc.values():
        peers = family.get("peers", {}) if isinstance(family, dict) else {}
        for name, peer in (peers.items() if isinstance(peers, dict) else ()):
            state = peer.get("state", "") if isinstance(peer, dict) else ""
            found.setdefault(name, Session(name, name, str(state)))
    return list(found.values())


def bird_sessions(text: str) -> list[Session]:
    """The BGP protocols of `birdc show protocols all`: header line, then indented detail
    lines, of which "BGP state:" and "Neighbor address:" are read."""
    lines = text.splitlines()
    if not any(line.startswith("Name ") and "Proto" in line for line in lines):
        raise OutputError(f"not a BIRD protocol list: {_first_line(text)}")
    sessions: list[Session] = []
    current: dict[str, str] | None = None
    for line in lines:
        header = _BIRD_HEADER.match(line)
        if header and not line.startswith("Name "):
            _flush(sessions, current)
            current = None
            if header.group(2) == "BGP":
                current = {"name": header.group(1), "neighbor": "", "state": ""}
        elif current is not None and ":" in line:
            key, _, value = line.strip().partition(":")
            if key == "BGP state":
                current["state"] = value.strip()
            elif key == "Neighbor address":
                current["neighbor"] = value.strip()
    _flush(sessions, current)
    return sessions


def _flush(sessions: list[Session], current: dict[str, str] | None) -> None:
    if current is not None:
        sessions.append(Session(current["name"], current["neighbor"], current["state"]))


def judge(sessions: list[Session], neighbor: str | None) -> Outcome:
    if neighbor is not None:
        chosen = [s for s in sessions if neighbor in (s.name, s.neighbor)]
        if not chosen:
            known = ", ".join(s.name for s in sessions) or "none"
            return False, f"no BGP session {neighbor} (sessions: {known})"
    else:
        chosen = sessions
        if not chosen:
            return False, "no BGP session configured"
    up = [s for s in chosen if s.established]
    if up:
        return True, f"{len(up)} of {len(chosen)} BGP sessions established ({up[0].name})"
    states = ", ".join(f"{s.name}: {s.state or 'unknown'}" for s in chosen)
    return False, f"no BGP session established ({states})"[:OUTPUT_LIMIT]


async def run_bgp(p: CheckParams) -> Outcome:
    argv = engine_argv(p)
    try:
        rc, out = await _capture(argv, p.timeout * 0.95)
    except OSError as exc:
        if exc.errno in RESOURCE_ERRNOS:
            return None, f"carpd could not run the check: {os.strerror(exc.errno)}"
        return False, f"cannot run {argv[0]}: {exc.strerror or exc}"
    if rc is None:
        return False, f"{argv[0]} timed out after {p.timeout:g} s; killed"
    if rc != 0:
        return False, f"{argv[0]} exit status {rc}: {_first_line(out)}"
    parse = bird_sessions if p.engine == "bird" else frr_sessions
    try:
        sessions = parse(out)
    except OutputError as exc:
        return False, f"{argv[0]}: {exc}"
    return judge(sessions, p.neighbor)


async def _capture(argv: tuple[str, ...], timeout: float) -> tuple[int | None, str]:
    """The exit status (None: timed out and killed) and the output (stdout and stderr)."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except (TimeoutError, asyncio.CancelledError) as exc:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        return None, ""
    return proc.returncode, out.decode(errors="replace")


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines[0] if lines else "no output")[:OUTPUT_LIMIT]
