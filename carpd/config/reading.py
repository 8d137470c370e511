"""Reading the configuration file without trusting it: path -> text -> the TOML document.

Owns: `read_document(path) -> (text, document)` and `FileRefused`, its one exception (a line
when it has one, and a reason; the loader turns it into a located ConfigError). In order:
- the path must name a regular file (checked with stat before opening, so a FIFO cannot block
  and a device such as /dev/zero cannot be read forever; checked again on the opened
  descriptor, which is opened non-blocking, in case the path changed in between);
- at most `MAX_FILE_BYTES` + 1 bytes are read, and a file over the bound is refused;
- the bytes must be UTF-8;
- arrays and inline tables may nest at most `MAX_NESTING` deep: a scan of the text (strings
  and comments skipped) finds the first line that goes deeper, before tomllib sees it, since
  tomllib recurses per level and deep nesting would exhaust the stack;
- tomllib parses it: a TOMLDecodeError becomes a refusal at its line, naming the key written
  there, in the words of tomlerrors.py (a table declared twice, a leading zero); a RecursionError
  or any other exception from the parser (the scan is loose, this is the net under it)
  becomes a refusal too, never a traceback.
Invariants: whatever the file, this returns or raises FileRefused; memory is bounded by
MAX_FILE_BYTES.
Must not: judge the keys or values (the loader does).
"""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
from typing import Any

from carpd.config.tomlerrors import explain

if sys.version_info >= (3, 11):  # noqa: UP036 (tomli fallback kept for 3.10 backports)
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MAX_FILE_BYTES = 1024 * 1024
MAX_NESTING = 32

_TOKEN_RE = re.compile(  # never fails to match at a quote, so the scan stays linear
    r'''"""(?:[^\\]|\\.)*?(?:"""|\\?\Z)|\'\'\'.*?(?:\'\'\'|\Z)'''  # multi-line strings
    r'''|"(?:[^"\\\n]|\\.)*(?:"|(?=\n)|\\?\Z)|'[^'\n]*(?:'|(?=\n)|\Z)'''  # one-line
    r"|#[^\n]*|[\[\]{}\n]", re.DOTALL)  # comments, brackets, newlines
_KINDS = {stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket"}


class FileRefused(Exception):  # noqa: N818 - a verdict on the file, like the loader's errors
    """The file cannot be the configuration: `reason`, at `line` (and `key`, the key or table
    written there, "" if none) when there is one."""

    def __init__(self, line: int | None, reason: str, key: str = "") -> None:
        super().__init__(line, reason)
        self.line, self.reason, self.key = line, reason, key


def read_document(path: str) -> tuple[str, dict[str, Any]]:
    """The text and the parsed document of the file at `path` (module docstring)."""
    text = _decode(_read_bytes(path))
    deep = nesting_exceeded(text, MAX_NESTING)
    if deep is not None:
        raise FileRefused(deep, f"arrays or inline tables nested deeper than {MAX_NESTING} "
                          "levels")
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise _syntax_error(text, err) from None
    except RecursionError:
        raise FileRefused(None, "the TOML parser gave up: nested too deeply") from None
    except Exception as err:  # hostile input ends in one located line
        raise FileRefused(None, f"the TOML parser failed: {type(err).__name__}") from None


def _read_bytes(path: str) -> bytes:
    try:
        _require_regular(os.stat(path).st_mode)
        with open(path, "rb", opener=_open_nonblocking) as handle:
            _require_regular(os.fstat(handle.fileno()).st_mode)
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise FileRefused(None, f"cannot read the file: {err.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise FileRefused(None, f"the file is larger than {MAX_FILE_BYTES / 2**20:g} MiB; "
                          "a configuration is far smaller")
    return data


def _open_nonblocking(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NONBLOCK)


def _require_regular(mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
    if not stat.S_ISREG(mode):
        kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise FileRefused(None, f"not a regular file ({kind})")


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise FileRefused(data.count(b"\n", 0, err.start) + 1, "not valid UTF-8") from None


def nesting_exceeded(text: str, limit: int) -> int | None:
    """The first line (1-based) where arrays and inline tables nest deeper than `limit`, or
    None. Strings and comments are skipped; a table header counts while it is open."""
    depth, line = 0, 1
    for match in _TOKEN_RE.finditer(text):
        found = match.group(0)
        if found in "[{":
            depth += 1
            if depth > limit:
                return line
        elif found in "]}":
            depth = max(0, depth - 1)
        else:  # a newline, a string (may span lines) or a comment
            line += found.count("\n")
    return None


def _syntax_error(text: str, err: tomllib.TOMLDecodeError) -> FileRefused:
    """tomllib's complaint as a located refusal in carpd's words (tomlerrors.py)."""
    message = str(err)
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if match:
        line, column = int(match.group(1)), int(match.group(2))
        message = message[: match.start()]
    else:  # "(at end of document)"
        message = re.sub(r"\s*\(at end of document\)$", "", message)
        line, column = max(1, len(text.splitlines())), None
    mistake = explain(text, message, line, column)
    return FileRefused(mistake.line, mistake.reason, mistake.key)
