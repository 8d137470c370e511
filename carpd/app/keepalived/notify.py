"""keepalived's notify scripts of a vrrp_instance as carpd's master_units, upscript, downscript.

Owns: `map_notify(statements, table, findings)`. carpd has three hooks: `master_units`
(started on MASTER, stopped when leaving it), `upscript` (run on MASTER as `SCRIPT IFACE VIP`)
and `downscript` (run when leaving MASTER, on a MASTER's stop and once at start). So:
- notify_master `systemctl start|restart UNIT...` -> master_units (with carpd's default
  target kept); a notify_backup / notify_fault / notify_stop that stops the same units is
  what master_units does anyway; without one, the difference (carpd stops the units) is
  reported;
- notify_master PATH (no arguments, no user) -> upscript; notify_backup PATH -> downscript,
  with notify_fault / notify_stop naming the same command folded into it;
- anything else (arguments, another user, `notify`, a different fault or stop script) is
  reported: carpd runs a hook as a bare path, with its own user, and has no FAULT hook.
keepalived passes notify_master/backup/fault no arguments; carpd passes IFACE and VIP, which
such a script ignores (noted once).
Must not: check that the scripts exist (carpd's loader does, on the host that runs it).
"""

from __future__ import annotations

import os

from carpd.app.keepalived.conf import Statement, quoted_words
from carpd.app.keepalived.keywords import DIFF, NOTE, NT, Finding
from carpd.app.keepalived.toml import Table
from carpd.config.values import UNIT_TYPES

NOTIFY = ("notify_master", "notify_backup", "notify_fault", "notify_stop", "notify")
DEFAULT_TARGET = "carpd-master@{name}.target"
START_VERBS = ("start", "restart", "reload-or-restart", "try-restart")


def _command(stmt: Statement) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(argv of the script, user/group words) of a notify line."""
    words = quoted_words(stmt.raw, stmt.where)
    argv = quoted_words(words[1], stmt.where) if len(words) > 1 else ()
    return argv, words[2:]


def systemctl_units(argv: tuple[str, ...], verbs: tuple[str, ...]) -> list[str] | None:
    """The units of `systemctl VERB UNIT...` (flags allowed) for a verb in `verbs`, else None."""
    if not argv or os.path.basename(argv[0]) != "systemctl":
        return None
    rest = [word for word in argv[1:] if not word.startswith("-")]
    if len(rest) < 2 or rest[0] not in verbs:
        return None
    return [_full_unit_name(word) for word in rest[1:]]


def _full_unit_name(word: str) -> str:
    """As systemctl reads it: a name without a unit type means NAME.service (carpd's keys
    take full names only: values.unit_name)."""
    return word if word.rpartition(".")[2] in UNIT_TYPES else f"{word}.service"


def map_notify(lines: dict[str, Statement], table: Table, findings: list[Finding]) -> None:
    """Fill master_units / upscript / downscript of `table` from the notify lines."""
    units: list[str] = []
    if "notify_master" in lines:
        units = _master(lines["notify_master"], table, findings)
    down = lines.get("notify_backup")
    down_argv = _command(down)[0] if down else None
    if down is not None:
        _down(down, units, table, findings)
    stops = systemctl_units(down_argv, ("stop",)) if down_argv else None
    stopped = bool(units) and stops is not None and set(stops) <= set(units)
    for keyword in ("notify_fault", "notify_stop"):
        if keyword in lines:
            stopped = _fold(lines[keyword], down_argv, units, findings) or stopped
    if units and not stopped:
        findings.append(Finding(lines["notify_master"].where, "notify_master", DIFF,
                                f"carpd also stops {', '.join(units)} when the VIP leaves "
                                "MASTER (master_units); keepalived left them running"))
    if "notify" in lines:
        findings.append(Finding(lines["notify"].where, "notify", NT, "carpd has no hook called "
                                "on every transition with the new state; `carpctl watch` "
                                "streams them, and master_units follow MASTER"))


def _master(stmt: Statement, table: Table, findings: list[Finding]) -> list[str]:
    argv, user = _command(stmt)
    units = systemctl_units(argv, START_VERBS)
    if units and not user:
        table.set("master_units", [DEFAULT_TARGET, *units])
        return units
    if len(argv) == 1 and not user and os.path.isabs(argv[0]):
        table.set("upscript", argv[0])
        findings.append(Finding(stmt.where, stmt.keyword, NOTE, "upscript: carpd runs it as "
                                "SCRIPT IFACE VIP (ucarp's arguments; keepalived passed none)"))
        return []
    findings.append(Finding(stmt.where, stmt.keyword, NT, _why_not(argv, user)))
    return []


def _down(stmt: Statement, units: list[str], table: Table, findings: list[Finding]) -> None:
    argv, user = _command(stmt)
    stops = systemctl_units(argv, ("stop",))
    if stops is not None and not user and set(stops) <= set(units):
        return  # what master_units does when the VIP leaves MASTER
    if len(argv) == 1 and not user and os.path.isabs(argv[0]):
        table.set("downscript", argv[0])
        findings.append(Finding(stmt.where, stmt.keyword, NOTE, "downscript: carpd runs it when "
                                "the VIP leaves MASTER and once at start, as SCRIPT IFACE VIP; "
                                "keepalived ran it on entering BACKUP"))
        return
    findings.append(Finding(stmt.where, stmt.keyword, NT, _why_not(argv, user)))


def _fold(stmt: Statement, down_argv: tuple[str, ...] | None, units: list[str],
          findings: list[Finding]) -> bool:
    """notify_fault / notify_stop: fine when it is the downscript's command or stops the master
    units; True when it stops them."""
    argv, user = _command(stmt)
    stops = systemctl_units(argv, ("stop",))
    if stops is not None and not user and units and set(stops) <= set(units):
        return True
    if down_argv is not None and argv == down_argv and not user:
        findings.append(Finding(stmt.where, stmt.keyword, NOTE, "same command as notify_backup: "
                                "carpd's downscript also runs when a MASTER goes FAULT or stops"))
        return False
    hook = "FAULT" if stmt.keyword == "notify_fault" else "stop"
    findings.append(Finding(stmt.where, stmt.keyword, NT, f"carpd has no {hook} hook of its own: "
                            "it runs the downscript when a MASTER leaves MASTER for any reason"))
    return False


def _why_not(argv: tuple[str, ...], user: tuple[str, ...]) -> str:
    if user:
        return (f"carpd runs hooks as its own user, not {user[0]}: wrap the command in a script "
                "that switches user, or use a master unit with User=")
    if not argv:
        return "no script given"
    return ("carpd's up/down scripts are a bare absolute path (run as SCRIPT IFACE VIP): put "
            f"{' '.join(argv)!r} in a script or a unit listed in master_units")
