"""keepalived's tracking (track_script, track_interface, track_process, track_file) as carpd checks.

Owns: `Definitions` (the vrrp_script, vrrp_track_process and track_file blocks by name), the
probe each one becomes (`Probe`: a carpd check without its weight), `resolve` (one line of a
track_* block -> `Tracked`: the probe, the keepalived weight and `reverse`) and `weigh` (the
tracked list of one VIP -> its `[[vip.NAME.check]]` tables and the priority boost).
The weight arithmetic (keepalived's vrrp_track.c): weight 0 puts the instance in FAULT while
the thing fails, so it becomes `fatal = true`; a negative weight W lowers the priority by |W|
while it fails, which is carpd's `weight = |W|`; a positive W raises the priority by W while
it passes, which is the same as a priority W higher with `weight = W` lowering it while it
fails, so the VIP's priority grows by W (capped at 254, reported). `reverse` (the adjustment
the other way round) has no carpd form and is reported. In a sync group (without
sync_group_tracking_weight) keepalived drops weighted track_script lines and turns weighted
track_interface lines into weight 0 (vrrp.c); the conversion does the same, with a note.
Probes: a script is an `exec` check of its argv (keepalived's quoting), run as its `user` or
global `script_user` through runuser; an interface is an `interface` check polled every
0.2 s; a process is `pgrep -x` (`-f` for a command line), a quorum through sh; a track_file
with weight 0 is an `exec` check that reads the number in the file. keepalived's defaults are
written out: interval 1 s, timeout = interval, rise 1, fall 1.
Must not: decide VIP keys other than the checks and the priority boost.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from carpd.app.keepalived.conf import Statement, quoted_words
from carpd.app.keepalived.keywords import DIFF, NOTE, NT, SCRIPT, Finding, unknown
from carpd.app.keepalived.lines import Where
from carpd.app.keepalived.toml import Table, Value

MAX_PRIORITY = 254
INTERFACE_INTERVAL = 0.2
ERE_SPECIAL = set(".[]()*+?{}|^$\\")
FILE_TEST = 'read -r v < "$1" && [ "$v" -eq 0 ]'
QUORUM_TEST = 'n=$(pgrep -c "$@"); [ "$n" -ge "$Q" ] && [ "$n" -le "$M" ]'


@dataclass
class Probe:
    name: str
    keys: list[tuple[str, Value]]  # type first, then the type's keys, interval ... fall
    weight: int = 0  # the definition's default weight
    reverse: bool = False


@dataclass
class Tracked:
    probe: Probe
    weight: int
    reverse: bool
    where: Where
    what: str  # e.g. "track_script chk_web"
    source: str  # script | interface | process | file


@dataclass
class Definitions:
    blocks: dict[tuple[str, str], Statement] = field(default_factory=dict)  # (kind, name)
    probes: dict[tuple[str, str], Probe | None] = field(default_factory=dict)
    script_user: tuple[str, ...] = ()  # global_defs script_user: (user[, group])

    def probe(self, kind: str, name: str, findings: list[Finding]) -> Probe | None:
        """The probe of a definition, built (and its findings reported) once."""
        key = (kind, name)
        if key not in self.probes:
            self.probes[key] = _BUILDERS[kind](self, self.blocks[key], findings)
        return self.probes[key]


def check_name(text: str) -> str:
    cleaned = re.sub(r"[^a-z0-9_.@-]", "-", text.lower()).lstrip("._@-")
    return (cleaned or "check")[:64]


def _number(stmt: Statement, low: float, findings: list[Finding]) -> float | None:
    try:
        value = float(stmt.args[0])
    except (IndexError, ValueError):
        findings.append(Finding(stmt.where, stmt.keyword, NT, "needs a number"))
        return None
    return max(value, low)


def _weight(stmt: Statement, findings: list[Finding], at: int = 0) -> tuple[int, bool] | None:
    """`weight W [reverse]` (at = index of W in args) -> (W, reverse)."""
    try:
        weight = int(stmt.args[at])
    except (IndexError, ValueError):
        findings.append(Finding(stmt.where, stmt.keyword, NT, "weight needs an integer"))
        return None
    return weight, stmt.args[at + 1:at + 2] == ("reverse",)


def _timing(interval: float, timeout: float | None, rise: int, fall: int, *, where: Where,
            findings: list[Finding]) -> list[tuple[str, Value]]:
    """carpd's interval/timeout/rise/fall for keepalived's values, differences reported."""
    if not 0.05 <= interval <= 3600:
        findings.append(Finding(where, "interval", DIFF, f"{interval:g} s is outside carpd's "
                                "0.05..3600 s; clamped"))
        interval = min(max(interval, 0.05), 3600.0)
    wanted = interval if timeout is None else timeout
    if wanted > interval:
        findings.append(Finding(where, "timeout", DIFF, f"{wanted:g} s is longer than the "
                                f"interval; carpd's timeout is at most the interval, so a run "
                                f"longer than {interval:g} s fails"))
    keys: list[tuple[str, Value]] = [("interval", float(interval)),
                                     ("timeout", float(min(wanted, interval)))]
    for key, count in (("rise", rise), ("fall", fall)):
        if not 1 <= count <= 100:
            findings.append(Finding(where, key, DIFF, f"{count} is outside carpd's 1..100; "
                                    "clamped"))
        keys.append((key, min(max(count, 1), 100)))
    return keys


def _as_user(argv: tuple[str, ...], user: tuple[str, ...]) -> list[str]:
    if not user or user[0] == "root":
        return list(argv)
    group = ["-g", user[1]] if len(user) > 1 else []
    return ["runuser", "-u", user[0], *group, "--", *argv]


def _script_probe(defs: Definitions, block: Statement, findings: list[Finding]) -> Probe | None:
    """A vrrp_script block (one flat case per keyword, hence the length)."""
    argv: tuple[str, ...] = ()
    values: dict[str, float] = {}
    user: tuple[str, ...] = defs.script_user
    weight: tuple[int, bool] = (0, False)
    for stmt in block.block or ():
        match stmt.keyword:
            case "script":
                words = quoted_words(stmt.raw, stmt.where)
                argv = quoted_words(words[1], stmt.where) if len(words) > 1 else ()
            case "interval" | "timeout" | "rise" | "fall":
                number = _number(stmt, 1, findings)  # keepalived turns 0 into 1
                if number is not None:
                    values[stmt.keyword] = number
            case "weight":
                weight = _weight(stmt, findings) or weight
            case "user":
                user = stmt.args
            case _ if stmt.keyword in SCRIPT:
                severity, reason = SCRIPT[stmt.keyword]
                findings.append(Finding(stmt.where, stmt.keyword, severity, reason))
            case _:
                findings.append(unknown(stmt.where, stmt.keyword, "vrrp_script"))
    if not argv:
        findings.append(Finding(block.where, f"vrrp_script {block.args[0]}", NT,
                                "has no script; keepalived would not run it either"))
        return None
    interval = max(values.get("interval", 1.0), 1.0)
    timing = _timing(interval, values.get("timeout"), int(values.get("rise", 1)),
                     int(values.get("fall", 1)), where=block.where, findings=findings)
    keys: list[tuple[str, Value]] = [("type", "exec"), ("command", _as_user(argv, user))]
    return Probe(check_name(block.args[0]), keys + timing, *weight)


def ere_literal(text: str) -> str:
    """`text` as a POSIX extended regular expression matching exactly it (for pgrep)."""
    return "".join("\\" + char if char in ERE_SPECIAL else char for char in text)


def _process_probe(defs: Definitions, block: Statement,
                   findings: list[Finding]) -> Probe | None:
    """A vrrp_track_process block (one flat case per keyword, hence the length)."""
    del defs
    process: tuple[str, ...] = ()
    full = False
    quorum, quorum_max = 1, -1
    delays = {"fork_delay": 0.0, "terminate_delay": 0.0}
    weight: tuple[int, bool] = (0, False)
    for stmt in block.block or ():
        match stmt.keyword:
            case "process":
                process = quoted_words(stmt.raw, stmt.where)[1:]
            case "full_command":
                full = True
            case "quorum" | "quorum_max":
                count = int(_number(stmt, 0, findings) or 0)
                quorum, quorum_max = ((count, quorum_max) if stmt.keyword == "quorum"
                                      else (quorum, count))
            case "delay" | "fork_delay" | "terminate_delay":
                seconds = _number(stmt, 0, findings) or 0.0
                for key in delays:
                    if stmt.keyword in (key, "delay"):
                        delays[key] = seconds
            case "weight":
                weight = _weight(stmt, findings) or weight
            case "param_match":
                findings.append(Finding(stmt.where, stmt.keyword, NT, "pgrep matches a whole "
                                        "name or command line; partial/initial matching has no "
                                        "carpd form"))
            case _:
                findings.append(unknown(stmt.where, stmt.keyword, "vrrp_track_process"))
    if not process:
        findings.append(Finding(block.where, f"vrrp_track_process {block.args[0]}", NT,
                                "has no process"))
        return None
    pattern = ["-f", "-x", ere_literal(" ".join(process))] if full or len(process) > 1 \
        else ["-x", process[0]]
    command = ["pgrep", *pattern]
    if quorum != 1 or quorum_max >= 0:
        top = str(quorum_max) if quorum_max >= 0 else "2147483647"
        command = ["sh", "-c", f"Q={quorum} M={top}; {QUORUM_TEST}", "sh", *pattern]
    rise = 1 + math.ceil(delays["fork_delay"])
    fall = 1 + math.ceil(delays["terminate_delay"])
    if rise > 1 or fall > 1:
        findings.append(Finding(block.where, f"vrrp_track_process {block.args[0]} delay", DIFF,
                                "carpd polls the process every "
                                "second: the delays become rise/fall counts of 1 s polls"))
    timing = _timing(1.0, None, rise, fall, where=block.where, findings=findings)
    return Probe(check_name(block.args[0]), [("type", "exec"), ("command", command), *timing],
                 *weight)


def _file_probe(defs: Definitions, block: Statement, findings: list[Finding]) -> Probe | None:
    del defs
    path = ""
    weight: tuple[int, bool] = (1, False)
    for stmt in block.block or ():
        match stmt.keyword:
            case "file":
                path = stmt.args[0] if stmt.args else ""
            case "weight":
                weight = _weight(stmt, findings) or weight
            case "init_file":
                findings.append(Finding(stmt.where, stmt.keyword, DIFF, "carpd does not create "
                                        "the file: a missing file is a failing check"))
            case _:
                findings.append(unknown(stmt.where, stmt.keyword, "track_file"))
    if not path:
        findings.append(Finding(block.where, f"track_file {block.args[0]}", NT, "has no file"))
        return None
    command = ["sh", "-c", FILE_TEST, "sh", path]
    timing = _timing(1.0, None, 1, 1, where=block.where, findings=findings)
    return Probe(check_name(block.args[0]), [("type", "exec"), ("command", command), *timing],
                 *weight)


_BUILDERS = {"script": _script_probe, "process": _process_probe, "file": _file_probe}
DEFINITION_KINDS = {"vrrp_script": "script", "vrrp_track_process": "process",
                    "track_file": "file", "vrrp_track_file": "file"}
TRACK_KINDS = {"track_script": "script", "track_process": "process", "track_file": "file",
               "track_interface": "interface"}


def resolve(block_keyword: str, line: Statement, defs: Definitions,
            findings: list[Finding]) -> Tracked | None:
    """One line of a track_* block: `NAME [weight W [reverse|noreverse]]`."""
    kind = TRACK_KINDS[block_keyword]
    name = line.keyword
    what = f"{block_keyword} {name}"
    if kind == "interface":
        probe: Probe | None = Probe(check_name(f"link-{name}"), [
            ("type", "interface"), ("interface", name), ("interval", INTERFACE_INTERVAL),
            ("timeout", INTERFACE_INTERVAL), ("rise", 1), ("fall", 1)])
    elif (kind, name) not in defs.blocks:
        findings.append(Finding(line.where, what, NT, f"no {kind} named {name!r} is defined"))
        return None
    else:
        probe = defs.probe(kind, name, findings)
    if probe is None:
        return None
    weight, reverse = probe.weight, probe.reverse
    if len(line.args) >= 2 and line.args[0] == "weight":
        weight, reverse = _weight(line, findings, at=1) or (weight, reverse)
    return Tracked(probe, weight, reverse, line.where, what, kind)


def for_sync_group(tracked: Tracked, owner: bool, findings: list[Finding]) -> Tracked | None:
    """An instance's own tracking when it is in a sync group without sync_group_tracking_weight
    (or has priority 255): what keepalived keeps of it."""
    reason = "for priority 255" if owner else "in a sync group"
    if tracked.weight == 0 or tracked.source == "process":
        return tracked
    if tracked.source == "interface" and not owner:
        findings.append(Finding(tracked.where, tracked.what, NOTE, f"keepalived ignores the "
                                f"weight {reason}: a fatal check, as there"))
        return Tracked(tracked.probe, 0, tracked.reverse, tracked.where, tracked.what, "interface")
    if tracked.source == "file" and tracked.weight == 1 and not owner:
        return Tracked(tracked.probe, 0, tracked.reverse, tracked.where, tracked.what, "file")
    findings.append(Finding(tracked.where, tracked.what, NOTE, f"keepalived ignores a weighted "
                            f"{tracked.source} {reason}; left out as there"))
    return None


Weighed = list[tuple[list[tuple[str, Value]], Tracked]]


def weigh(tracked: list[Tracked], findings: list[Finding]) -> tuple[Weighed, int]:
    """The check keys of each tracked thing carpd can express (with what it came from), and
    the priority boost."""
    checks: Weighed = []
    boost = 0
    names: set[str] = set()
    for item in tracked:
        if item.reverse:
            findings.append(Finding(item.where, item.what, NT, "`reverse` (priority moving the "
                                    "other way round) has no carpd form"))
            continue
        if item.source == "file" and item.weight != 0:
            findings.append(Finding(item.where, item.what, NT, "a track_file weight other than "
                                    "0 adds the file's number times the weight; carpd's weights "
                                    "are fixed"))
            continue
        keys = list(item.probe.keys)
        name = _unique(item.probe.name, names)
        keys.insert(1, ("name", name))
        if item.weight == 0:
            keys.append(("fatal", True))
        else:
            keys.append(("weight", abs(item.weight)))
            boost += max(item.weight, 0)
        checks.append((keys, item))
    return checks, boost


def _unique(name: str, taken: set[str]) -> str:
    candidate, counter = name, 2
    while candidate in taken:
        candidate = f"{name[:60]}-{counter}"
        counter += 1
    taken.add(candidate)
    return candidate


def to_table(vip_name: str, keys: list[tuple[str, Value]], comment: str) -> Table:
    table = Table(f"vip.{vip_name}.check", array=True, comments=[comment] if comment else [])
    for key, value in keys:
        table.set(key, value)
    return table
