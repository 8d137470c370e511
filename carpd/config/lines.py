"""Where a key is written: the line-number index of one TOML text, and dotted key paths.

Owns: `split_key` (a dotted path as written, bare or quoted parts -> a tuple of names) and
`LineIndex`, which maps a key path such as ("vip", "mail", "vhid") to the first line that
writes it. tomllib reports no positions for keys, so the index scans the text line by line:
a `[table]` or `[[array]]` header sets the current table, a `key =` line adds the current
table plus the key. The N-th `[[a.b]]` header is also recorded as ("a", "b", "N"), 1-based, so
"vip.web.check[2].port" finds the line of `port` in the second `[[vip.web.check]]`; the other
way round, `written_at(line)` names what a line writes (for the parser's errors). Lines
inside multi-line strings are skipped (an odd count of triple quotes opens or closes one).
Invariants: the scan never fails, whatever the text; a path that is not written down gets the
line of its closest written parent, else None, so every error has the best line there is.
Must not: parse values or judge the file (tomllib does the parsing, the loader the rules).
The scan is loose (it does not follow inline tables or every TOML escape) but right for every
file a person writes.
"""

from __future__ import annotations

import re

_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_DOTTED = rf"{_PART}(?:\s*\.\s*{_PART})*"
_HEADER_RE = re.compile(rf"^\s*\[\[?\s*({_DOTTED})\s*\]")
_KEY_RE = re.compile(rf"^\s*({_DOTTED})\s*=")
_PART_RE = re.compile(_PART)
_ESCAPE_RE = re.compile(r"\\([btnfr\"\\]|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8})")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}

KeyPath = tuple[str, ...]


def split_key(dotted: str) -> KeyPath:
    """'vip . "web".vhid' -> ("vip", "web", "vhid"); "check[2].port" -> ("check", "2", "port").
    Quotes are removed; the escapes of a "basic" part are decoded as tomllib decodes them
    (so `[vip."a\\nb"]` is the name tomllib gives), an invalid one is kept as written."""
    return tuple(_unquote(m.group(0)) for m in _PART_RE.finditer(dotted))


def _unquote(part: str) -> str:
    if part[0] == "'":
        return part[1:-1]
    if part[0] != '"':
        return part
    return _ESCAPE_RE.sub(_unescape, part[1:-1])


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    if code in _ESCAPES:
        return _ESCAPES[code]
    try:
        return chr(int(code[1:], 16))
    except ValueError:  # beyond U+10FFFF: tomllib refuses the file anyway
        return match.group(0)


class LineIndex:
    """Maps a key path to the line (1-based) where it is first written; built by one scan."""

    def __init__(self, text: str) -> None:
        self._lines: dict[KeyPath, int] = {}
        self._written_at: dict[int, KeyPath] = {}  # line -> the key or table it writes
        self._table: KeyPath = ()
        self._arrays: dict[KeyPath, int] = {}  # [[a.b]] headers seen so far, per path
        in_multiline = False
        for number, line in enumerate(text.splitlines(), start=1):
            quotes = line.count('"""') + line.count("'''")
            if in_multiline:
                in_multiline = quotes % 2 == 0
                continue
            self._scan(number, line)
            in_multiline = quotes % 2 == 1

    def _scan(self, number: int, line: str) -> None:
        header = _HEADER_RE.match(line)
        if header:
            self._enter(number, split_key(header.group(1)), line.lstrip().startswith("[["))
            self._written_at[number] = split_key(header.group(1))
            return
        key = _KEY_RE.match(line)
        if key:
            path = self._table + split_key(key.group(1))
            self._lines.setdefault(path, number)
            self._written_at[number] = path

    def _enter(self, number: int, table: KeyPath, is_array: bool) -> None:
        self._table = table
        self._lines.setdefault(table, number)
        if is_array:  # array of tables: a.b[N], 1-based
            self._arrays[table] = self._arrays.get(table, 0) + 1
            self._table = (*table, str(self._arrays[table]))
            self._lines.setdefault(self._table, number)

    def line(self, path: KeyPath) -> int | None:
        """The line of `path`, else of its closest parent that is written down, else None."""
        while path:
            if path in self._lines:
                return self._lines[path]
            path = path[:-1]
        return None

    def written_at(self, number: int) -> KeyPath | None:
        """The key (with its table) or the table header written on line `number`, if any."""
        return self._written_at.get(number)

    def line_of(self, dotted: str) -> int | None:
        """`line` for a dotted key as the loader names it ("vip.web.check[2].port")."""
        return self.line(split_key(dotted))
