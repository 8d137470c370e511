"""The TOML parser's complaints in carpd's words: a located line, the key, what to write.

Owns: `explain(text, message, line, column) -> TomlMistake`, which turns one tomllib
TOMLDecodeError (its message and position, as reading.py splits them) into the line, the key
path written there (lines.py's `LineIndex.written_at`) and a sentence that says what is wrong
and how to fix it: a table declared twice or a key set twice (naming the first line), a
number with leading zeros (`vhid = 010`), a string that is not closed or holds a raw control
character or a stray backslash, a missing or bare-word value, text after a value. A message
this table does not know keeps tomllib's words, prefixed "TOML syntax error" and with the
column, so nothing is lost.
Invariants: total (any text, any message): never raises; the reason is one sentence; it
quotes a value only when it is a bare word or number, never a string's contents and never
the value of a `password*` key.
Must not: read files or parse TOML itself (tomllib did; this only reads the failing line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from carpd.config.lines import KeyPath, LineIndex

_LEADING_ZERO_RE = re.compile(r"[+-]?0[0-9_]+(?:\.[0-9_]*)?")
_BARE_WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/-]*")
_VALUE_RE = re.compile(r"^[^=]*=\s*(?P<value>[^#]*?)\s*(?:#.*)?$")
MAX_SHOWN = 40


@dataclass(frozen=True, slots=True)
class TomlMistake:
    """Where the parser stopped (`line`, 1-based), the key written there ("" when the line
    writes none) and the operator's sentence."""

    line: int
    key: str
    reason: str


def explain(text: str, message: str, line: int, column: int | None) -> TomlMistake:
    """tomllib's `message` at `line`/`column` of `text` (module docstring)."""
    index = LineIndex(text)
    path = index.written_at(line)
    key = ".".join(path) if path else ""
    source = text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else ""
    value = _value_of(source)
    if path and path[-1].startswith("password"):
        value = None  # a password written without quotes is still never repeated
    reason = _reason(message, index, path, line, value) or _fallback(message, column)
    return TomlMistake(line, key, reason)


def _reason(message: str, index: LineIndex, path: KeyPath | None, line: int,
            value: str | None) -> str | None:
    if message.startswith("Cannot declare"):
        return f"the table [{_dotted(path)}] is declared twice{_first(index, path, line)}; " \
            "write each table once and put all its keys there"
    if message == "Cannot overwrite a value":
        return f"set twice{_first(index, path, line)}; keep one"
    if message.startswith("Expected newline or end of document after a statement"):
        return _after_value(value)
    if message == "Invalid value":
        return _invalid_value(value)
    if message == "Illegal character '\\n'" or message.startswith("Unterminated string"):
        return "the string is not closed: end it with the quote it starts with"
    if message.startswith("Illegal character"):
        return "a control character inside a string: write it as an escape (\\t, \\u0001)"
    if message.startswith("Unescaped '\\' in a string"):
        return ("a backslash in a \"...\" string starts an escape: write \\\\ for a "
                "backslash, or use a '...' string, which has no escapes")
    if message.startswith("Expected ']' at the end of a table declaration"):
        return "the table header is not closed: end it with ]"
    if message.startswith(("Invalid initial character for a key part",
                           "Expected '=' after a key")):
        return "not a `key = value` line or a [table] header"
    return None


def _after_value(value: str | None) -> str:
    if value is not None and _LEADING_ZERO_RE.fullmatch(value.replace(" ", "")):
        sign = "-" if value.startswith("-") else ""
        plain = (sign + (value.lstrip("+-0") or "0"))[:MAX_SHOWN]
        return (f"{value[:MAX_SHOWN]}: TOML numbers have no leading zeros; write {plain} "
                "(or 0o... for octal)")
    return ("unexpected text after the value: one `key = value` per line, strings in "
            "quotes, a comment after #")


def _invalid_value(value: str | None) -> str:
    if value is None:
        return "not a TOML value: strings go in quotes, numbers and true/false are bare"
    if not value:
        return "no value after `=`"
    if value[0] in "[{":
        return f"the {'array' if value[0] == '[' else 'inline table'} is not closed: end it " \
            f"with {']' if value[0] == '[' else '}'} (an array may span lines; each item " \
            "needs a value)"
    if value in ("True", "False", "TRUE", "FALSE", "yes", "no", "on", "off"):
        return f"{value} is not a TOML boolean: write true or false"
    if _BARE_WORD_RE.fullmatch(value):
        return f"{value[:MAX_SHOWN]} is not a TOML value: put a string in quotes " \
            f'("{value[:MAX_SHOWN]}")'
    return "not a TOML value: strings go in quotes, numbers and true/false are bare"


def _first(index: LineIndex, path: KeyPath | None, line: int) -> str:
    first = index.line(path) if path else None
    return f" (first at line {first})" if first is not None and first < line else ""


def _dotted(path: KeyPath | None) -> str:
    return ".".join(path) if path else "?"


def _value_of(source: str) -> str | None:
    """The value text of a `key = value` line as written (no comment), else None."""
    match = _VALUE_RE.match(source)
    return match.group("value") if match else None


def _fallback(message: str, column: int | None) -> str:
    where = f" (column {column})" if column is not None else ""
    return f"TOML syntax error: {message}{where}"
