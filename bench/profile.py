"""Summarise py-spy's raw (folded) stacks: where a carpd process spends its CPU.

A folded line is `frame;frame;...;leaf COUNT`, each frame `function (file:line)`. Idle
samples are not recorded (py-spy samples only threads that are running), so the shares below
are shares of the CPU time the process actually used.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

_LINE = re.compile(r":\d+\)$")


def _fn(frame: str) -> str:
    """`name (path/to/file.py:123)` -> `name (file.py)` (line numbers merged)."""
    frame = _LINE.sub(")", frame.strip())
    if "(" in frame:
        name, where = frame.split(" (", 1)
        where = where.rstrip(")")
        short = "/".join(where.split("/")[-2:])
        return f"{name} ({short})"
    return frame


def summarise(path: Path, title: str, top: int = 25) -> str:
    total = 0
    self_t: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        try:
            n = int(count)
        except ValueError:
            continue
        frames = [_fn(f) for f in stack.split(";") if f]
        if not frames:
            continue
        total += n
        self_t[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    if total == 0:
        return f"# py-spy: {title}\n\nno samples\n"
    out = [f"# py-spy: carpd {title} ({total} samples of running threads)", "",
           "| self % | function |", "|---|---|"]
    out += [f"| {100 * n / total:.1f} | `{f}` |" for f, n in self_t.most_common(top)]
    out += ["", "| inclusive % | function |", "|---|---|"]
    out += [f"| {100 * n / total:.1f} | `{f}` |" for f, n in incl.most_common(top)]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(summarise(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else ""))
