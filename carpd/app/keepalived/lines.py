"""keepalived.conf read line by line the way keepalived 2.2's parser reads it.

Owns: `read_lines(path, config_id)`: the logical lines of a configuration, each with the file
and line it came from, after keepalived's line-level processing:
- a comment starts at `#` or `!` anywhere outside double quotes and runs to the end of the line
  (`\\#` and `\\!` outside quotes are the characters themselves); blank lines are dropped;
- a line starting `@ID` is kept only when ID is the config id (`@^ID`: only when it is not),
  the id and the following blanks removed;
- `$NAME=VALUE` defines a parameter (a value ending in `\\` continues on the next lines, one
  line per continuation); `${NAME}` anywhere, and `$NAME` before a blank or the end of the
  line, are replaced by the value, again until nothing changes; an undefined name stays as
  written; `${_PWD}` is the directory of the file being read;
- `include PATTERN` (and includer/includem/includew/includeb/includea) splices in the files the
  pattern matches, in sorted order, a relative pattern resolved against the directory of the
  file that includes it; csh-style `{a,b}` alternatives are expanded before the glob.
Errors (`ConfError`) name the file and line: an unreadable file, a file over 1 MiB, an
include nested deeper than 16 files, `~SEQ`/`~LST` blocks (not supported: expand them by hand)
and a substitution that never ends. What is worth telling but not an error (an include that
matches nothing, lines skipped by a conditional) is returned as notices.
Must not: interpret keywords or braces (conf.py does) or write anything.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

MAX_BYTES = 1 << 20
MAX_INCLUDE_DEPTH = 16
MAX_SUBSTITUTIONS = 100
INCLUDE_RE = re.compile(r"include[rmwba]?[ \t]+(?P<pattern>.+)")
DEFINE_RE = re.compile(r"\$(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)")
BRACED_RE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}")
BARE_RE = re.compile(r"\$(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?=[ \t]|$)")


@dataclass(frozen=True, slots=True)
class Where:
    """A position in the configuration: the file as it was named, and a 1-based line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    where: Where


class ConfError(Exception):
    """The configuration cannot be read or parsed; `where` is None for a file-level problem."""

    def __init__(self, file: str, where: Where | None, reason: str) -> None:
        super().__init__(f"{where or file}: {reason}")
        self.file = file
        self.where = where
        self.reason = reason


@dataclass
class _Reader:
    config_id: str | None
    notices: list[tuple[Where, str]] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    skipped_conditionals: int = 0

    def read(self, path: str, depth: int = 0, where: Where | None = None) -> Iterator[Line]:
        if depth > MAX_INCLUDE_DEPTH:
            raise ConfError(path, where, f"includes nested deeper than {MAX_INCLUDE_DEPTH} "
                                         "files (an include loop?)")
        text = _read_text(path, where)
        pending: list[str] | None = None  # the lines of a multi-line definition so far
        pending_name = ""
        for number, physical in enumerate(text.splitlines(), start=1):
            here = Where(path, number)
            line = decomment(physical)
            if pending is not None:
                more = line.endswith("\\")
                if line.rstrip("\\").strip():
                    pending.append(line.rstrip("\\").strip())
                if not more:
                    self.params[pending_name] = "\n".join(pending)
                    pending = None
                continue
            if not line:
                continue
            definition = DEFINE_RE.fullmatch(line)
            if definition and _unconditional(line):
                value = definition["value"].strip()
                if value.endswith("\\"):
                    pending, pending_name = [], definition["name"]
                    if value.rstrip("\\").strip():
                        pending.append(value.rstrip("\\").strip())
                else:
                    self.params[definition["name"]] = value
                continue
            yield from self.logical(line, here, path, depth)
        if pending is not None:
            self.params[pending_name] = "\n".join(pending)

    def logical(self, line: str, here: Where, path: str, depth: int) -> Iterator[Line]:
        """One decommented line: conditionals, definitions, substitution, includes."""
        for text in self.expand(line, here, path):
            kept = self.conditional(text)
            if kept is None:
                continue
            definition = DEFINE_RE.fullmatch(kept)
            if definition:
                self.params[definition["name"]] = definition["value"].strip().rstrip("\\")
                continue
            if kept.startswith(("~SEQ", "~LST")):
                raise ConfError(path, here, "~SEQ and ~LST blocks are not supported by the "
                                            "converter: expand them by hand (keepalived -d dumps "
                                            "the configuration it built)")
            include = INCLUDE_RE.fullmatch(kept)
            if include:
                yield from self.include(include["pattern"].strip(), here, path, depth)
                continue
            yield Line(kept, here)

    def conditional(self, text: str) -> str | None:
        """`@ID rest` -> rest when ID is the config id (`@^ID`: when it is not), else None."""
        if not text.startswith("@"):
            return text
        negate = text.startswith("@^")
        ident, _, rest = text[2 if negate else 1:].partition(" ")
        ident, tab, tail = ident.partition("\t")
        if tab:
            rest = f"{tail} {rest}"
        rest = rest.strip()
        if not rest or (ident == self.config_id) == negate:
            self.skipped_conditionals += 1
            return None
        return rest

    def expand(self, line: str, here: Where, path: str) -> list[str]:
        """`line` with its parameters replaced; a multi-line value gives several lines."""
        if "$" not in line:
            return [line]
        params = {"_PWD": os.path.dirname(os.path.abspath(path)), **self.params}
        for _ in range(MAX_SUBSTITUTIONS):
            replaced = BRACED_RE.sub(lambda m: params.get(m["name"], m[0]), line)
            replaced = BARE_RE.sub(lambda m: params.get(m["name"], m[0]), replaced)
            if replaced == line:
                return [decomment(part) for part in line.split("\n") if decomment(part)]
            line = replaced
        raise ConfError(path, here, f"parameter substitution still changing the line after "
                                    f"{MAX_SUBSTITUTIONS} rounds (a parameter that refers to "
                                    "itself?)")

    def include(self, pattern: str, here: Where, path: str, depth: int) -> Iterator[Line]:
        base = os.path.dirname(path)
        matches: list[str] = []
        for alternative in expand_braces(pattern):
            full = alternative if os.path.isabs(alternative) else os.path.join(base, alternative)
            matches.extend(sorted(glob.glob(full)) if glob.has_magic(full) else [full])
        existing = [m for m in matches if os.path.exists(m)]
        if not existing:
            self.notices.append((here, f"include {pattern!r} matches no file"))
        for match in existing:
            yield from self.read(match, depth + 1, here)


def _unconditional(line: str) -> bool:
    return not line.startswith("@")


def _read_text(path: str, where: Where | None) -> str:
    """The text of `path`; `where` is the include line that names it (None: the main file,
    which the error already names)."""
    name = "the file" if where is None else path
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as err:
        raise ConfError(path, where, f"cannot read {name}: {err.strerror or err}") from None
    if len(data) > MAX_BYTES:
        raise ConfError(path, where, f"{name} is larger than 1 MiB; a keepalived.conf is far "
                                     "smaller")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfError(path, where, f"{name} is not UTF-8 text (byte {err.start})") from None


def decomment(text: str) -> str:
    """The line without its comment and surrounding blanks (keepalived's rules: `#`/`!` start
    a comment outside double quotes; a backslash before them outside quotes keeps them)."""
    out: list[str] = []
    quoted = False
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            nxt = text[index + 1]
            out.append(nxt if not quoted and nxt in "#!" else char + nxt)
            index += 2
            continue
        if char == '"':
            quoted = not quoted
        elif char in "#!" and not quoted:
            break
        out.append(char)
        index += 1
    return "".join(out).strip(" \t\r")


def expand_braces(pattern: str) -> list[str]:
    """csh-style alternatives: "a{b,c{d,e}}f" -> ["abf", "acdf", "acef"]; no braces -> [pattern]."""
    start = pattern.find("{")
    if start < 0:
        return [pattern]
    depth, parts, begin = 0, [], start + 1
    for index in range(start, len(pattern)):
        char = pattern[index]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                parts.append(pattern[begin:index])
                head, tail = pattern[:start], pattern[index + 1:]
                return [head + alt + rest for part in parts for alt in expand_braces(part)
                        for rest in expand_braces(tail)]
        elif char == "," and depth == 1:
            parts.append(pattern[begin:index])
            begin = index + 1
    return [pattern]  # an unmatched brace is literal


def read_lines(path: str, config_id: str | None) -> tuple[list[Line], list[tuple[Where, str]]]:
    """The logical lines of `path` and its includes, and the notices gathered on the way.
    Raises ConfError."""
    reader = _Reader(config_id)
    lines = list(reader.read(path))
    if reader.skipped_conditionals:
        reader.notices.append((Where(path, 1), f"{reader.skipped_conditionals} conditional "
                               f"line(s) skipped for config id {config_id!r} (keepalived's "
                               "-i/--config-id; the converter's --config-id)"))
    return lines, reader.notices
