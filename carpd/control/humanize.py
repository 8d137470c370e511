"""Durations and times for people: how carpctl and the operator replies write and read them.

Owns: `duration_text` (seconds -> "42s", "5m 6s", "4h 5m", "3d 4h": the two largest units,
days included, so a week-old uptime reads "7d 2h" and not "170:03:12"), `parse_duration`
(what an operator types for `--for`: "90", "90s", "5m", "1h30m", "3d", "3d 4h", "1.5h"; units
d, h, m, s in that order, spaces allowed between them) and `local_time` (an ISO 8601 instant
from the status document -> "2026-12-01 16:48:52 CET" in the viewer's zone, the zone always
written, so two servers' outputs can be compared).
Invariants: pure functions of their arguments (the zone is a parameter, the local zone by
default); `parse_duration` raises ValueError with the sentence to show, never returns <= 0.
Must not: import anything but the standard library (carpctl loads it without the daemon).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, tzinfo

UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_NUMBER = r"(\d+(?:\.\d+)?)"
_DURATION_RE = re.compile(rf"(?:{_NUMBER}d)?\s*(?:{_NUMBER}h)?\s*(?:{_NUMBER}m)?\s*"
                          rf"(?:{_NUMBER}s?)?")
EXAMPLES = "e.g. 30s, 5m, 1h30m, 3d 4h"


def duration_text(seconds: float) -> str:
    """Whole seconds in the two largest units that apply: 0s, 42s, 5m 6s, 4h 5m, 3d 4h (a
    zero second unit is left out: 3d, 2h)."""
    if not math.isfinite(seconds):
        return "an unknown time"
    rest = max(0, int(seconds))
    parts: list[str] = []
    for unit, size in UNITS:
        amount, rest = divmod(rest, size)
        if amount or (parts and len(parts) < 2):
            parts.append(f"{amount}{unit}")
        if len(parts) == 2:
            break
    if len(parts) == 2 and parts[1].startswith("0"):
        parts.pop()
    return " ".join(parts) or "0s"


def parse_duration(text: str) -> float:
    """'90', '90s', '5m', '1h30m', '3d', '3d 4h', '1.5h' -> seconds; ValueError otherwise."""
    match = _DURATION_RE.fullmatch(text.strip())
    if not text.strip() or match is None or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration ({EXAMPLES})")
    seconds = sum(float(g) * size for g, (_, size) in zip(match.groups(), UNITS, strict=True)
                  if g)
    if seconds <= 0:
        raise ValueError(f"{text!r}: a duration must be more than 0")
    return seconds


def local_time(iso: str | None, zone: tzinfo | None = None) -> str:
    """An ISO 8601 instant in `zone` (default: this machine's), with the zone's name (or its
    offset when it has no name): "2026-12-01 16:48:52 CET". "-" for none; text that is not
    ISO is returned as it is."""
    if not iso:
        return "-"
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if when.tzinfo is None:  # the status document writes UTC offsets; a bare time is shown
        return when.strftime("%Y-%m-%d %H:%M:%S")
    shown = when.astimezone(zone)
    name = shown.tzname() or ""
    if not name or name[0] in "+-":  # no abbreviation for this zone: the offset instead
        name = shown.strftime("%z")
        name = f"UTC{name[:3]}:{name[3:]}" if name else ""
    return f"{shown.strftime('%Y-%m-%d %H:%M:%S')} {name}".rstrip()
