"""carpctl's incident views: the notes under the status table, `status --check`, `history`.

Owns: rendering, from the JSON the daemon sends (carpd/status/jsonform.py), of
- `notes(status)`: the lines under the `carpctl status` table: every problem the daemon
  reports (maintenance, dual master, foreign adverts, failing checks, a VIP with no master
  anywhere), a takeover's lost master, and a boot hold-down still waiting;
- `check(status) -> (exit status, lines)`: `carpctl status --check`, for monitoring: 0 and
  one "OK" line when there is no problem, CHECK_PROBLEMS and one line per problem otherwise
  (carpctl itself exits 3 when the daemon is unreachable);
- `render_history(entries)`: `carpctl history`, one line per transition, oldest first;
- `when(iso)`: an instant in the local time zone with the zone's name written
  (humanize.local_time);
- `maintenance_state(m)`: `carpctl maintenance` without an argument.
Must not: import anything but the standard library (carpctl runs without the daemon's code).
"""

from __future__ import annotations

from typing import Any

from carpd.control.humanize import local_time

CHECK_OK = 0
CHECK_PROBLEMS = 1
SELF = "self"  # the daemon's word for this node as a master (carpd/status/transitions.py)


def when(iso: str | None) -> str:
    """"2026-12-01 12:01:03 UTC" in the local zone (the zone's name is always written)."""
    return local_time(iso)


def maintenance_state(m: dict[str, Any]) -> str:
    """`carpctl maintenance` without an argument: on (since when) or off."""
    if not m.get("on"):
        return "maintenance mode off (carpctl maintenance on: demote every VIP)"
    return (f"maintenance mode ON since {when(m.get('since'))} "
            "(carpctl maintenance off: end it)")


def notes(status: dict[str, Any]) -> list[str]:
    lines = [str(p["text"]) for p in status.get("problems", [])]
    for v in status.get("vips", []):
        last = v.get("last_transition")
        if v.get("state") == "MASTER" and last and _took_over(last):
            lines.append(f"{v['name']}: {takeover_text(last)}")
        if v.get("hold_down"):
            lines.append(f"{v['name']}: boot hold-down, waiting for "
                         f"{', '.join(v.get('waiting_for', [])) or 'nothing'}")
    if any(p.get("vip") for p in status.get("problems", [])):
        lines.append("(carpctl explain NAME says more; carpctl history NAME shows what led here)")
    return lines


def _took_over(t: dict[str, Any]) -> bool:
    """A takeover because a peer master went silent (its master-down timer ran out)."""
    return bool(t.get("to") == "MASTER" and t.get("from") == "BACKUP"
                and str(t.get("reason", "")).startswith("master_down_timer")
                and t.get("master_before") not in (None, SELF))


def takeover_text(t: dict[str, Any]) -> str:
    """"took over at T from 10.0.0.1, whose last advert was heard at T' (3.1 s before)"."""
    before = t.get("master_last_heard_before_s")
    gap = f" ({before:.1f} s before)" if isinstance(before, int | float) else ""
    return (f"took over at {when(t.get('time'))} ({t.get('reason')}) from "
            f"{t['master_before']}, whose last advert was heard at "
            f"{when(t.get('master_last_heard'))}{gap}")


def check(status: dict[str, Any]) -> tuple[int, list[str]]:
    problems = status.get("problems", [])
    if problems:
        return CHECK_PROBLEMS, [f"{p['kind'].upper()}: {p['text']}" for p in problems]
    vips = status.get("vips", [])
    states = ", ".join(f"{v['name']} {v['state']}" for v in vips) or "no VIP runs yet"
    return CHECK_OK, [f"OK: {len(vips)} VIP{'s' if len(vips) != 1 else ''} ({states})"]


_HISTORY_COLUMNS = ("TIME", "VIP", "CHANGE", "REASON", "MASTER BEFORE -> AFTER", "RANK",
                    "BEHIND")


def render_history(entries: list[dict[str, Any]]) -> str:
    if not entries:
        return "no transitions yet"
    rows = [_HISTORY_COLUMNS] + [_history_row(e) for e in entries]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_HISTORY_COLUMNS))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)


def _history_row(e: dict[str, Any]) -> tuple[str, ...]:
    masters = f"{_master(e.get('master_before'))} -> {_master(e.get('master_after'))}"
    if e.get("master_last_heard"):
        masters += f" (last heard {when(e['master_last_heard'])})"
    return (when(e.get("time")), str(e.get("vip")), f"{e.get('from')} -> {e.get('to')}",
            str(e.get("reason")), masters, str(e.get("rank") or "-"),
            str(e.get("behind") or "-"))


def _master(m: str | None) -> str:
    return "this node" if m == SELF else (m or "none")
