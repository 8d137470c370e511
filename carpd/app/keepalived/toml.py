"""A small TOML writer for the converter's output: tables of plain keys, with comments.

Owns: `Table` (a `[name]` or `[[name]]` header, comment lines above it, and ordered keys, each
with an optional trailing comment) and `render(header_comments, tables)`. Comments lose their
control characters (shown as `?`), which TOML does not allow in them. Values are strings
(basic strings, with `"`, `\\` and control characters escaped), booleans, integers, floats
(written so that TOML reads back the same float: `1.0`, `0.1`, never an exponent) and arrays
of those. The output is what tomllib parses back to the same values (tests check it).
Must not: know carpd's keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

Value = str | bool | int | float | list[str]


@dataclass
class Table:
    name: str
    array: bool = False
    comments: list[str] = field(default_factory=list)
    keys: list[tuple[str, Value, str]] = field(default_factory=list)

    def set(self, key: str, value: Value, comment: str = "") -> None:
        """Add `key` (or replace its value, keeping its place)."""
        for index, (existing, _, old) in enumerate(self.keys):
            if existing == key:
                self.keys[index] = (key, value, comment or old)
                return
        self.keys.append((key, value, comment))

    def get(self, key: str) -> Value | None:
        return next((value for existing, value, _ in self.keys if existing == key), None)

    def drop(self, key: str) -> None:
        self.keys = [entry for entry in self.keys if entry[0] != key]


def string(text: str) -> str:
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def number(value: float) -> str:
    text = f"{value:.6f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def value_text(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return number(value)
    if isinstance(value, list):
        return "[" + ", ".join(value_text(item) for item in value) + "]"
    return string(value)


def comment(text: str) -> str:
    """`text` fit for a TOML comment: no control characters (TOML allows only tab)."""
    return "".join(char if char.isprintable() else "?" for char in text)


def _comment_lines(comments: Sequence[str]) -> list[str]:
    return [f"# {comment(line)}".rstrip() for text in comments for line in text.split("\n")]


def render(header_comments: Sequence[str], tables: Sequence[Table]) -> str:
    lines = _comment_lines(header_comments)
    for table in tables:
        lines.append("")
        lines.extend(_comment_lines(table.comments))
        lines.append(f"[[{table.name}]]" if table.array else f"[{table.name}]")
        for key, value, note in table.keys:
            tail = f"  # {comment(note)}" if note else ""
            lines.append(f"{key} = {value_text(value)}{tail}")
    return "\n".join(lines).lstrip("\n") + "\n"
