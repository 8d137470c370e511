"""Small files that must never be seen half-written: operator flags and the metrics textfile.

Owns: `write_atomic` (temporary file in the same directory, fsync, rename, fsync of the
directory), `JsonFlags` (the FlagStore port: one JSON document per name in the state
directory, e.g. /var/lib/carpd/maintenance) and `Textfile` (the MetricsSink port: a
node_exporter textfile).
Reading never blocks or raises: the file is opened with O_NONBLOCK and its type checked on the
open descriptor (a FIFO, device or directory in its place is never read), at most
MAX_FLAG_FILE bytes are read, and JSON is parsed with NaN/Infinity refused and Python's own
limits (nesting, 4300-digit integers) caught. A file that fails any of this, or whose
document carpd.ops.flags finds invalid (`set_aside`), gets ONE warning through `on_error`
naming the file and the problem, is renamed to NAME.corrupt-YYYYmmddTHHMMSS (kept for the
operator, never read again) and is treated as absent: the daemon continues with defaults.
A file that cannot be opened at all (permissions) is reported and left in place.
Must not: interpret the documents (carpd.ops.flags does).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Callable
from typing import Any

MAX_FLAG_FILE = 1 << 20  # bytes; a flag document is a few hundred


def write_atomic(path: str, data: bytes, mode: int = 0o644) -> None:
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class JsonFlags:
    def __init__(self, directory: str, on_error: Callable[[str], None]) -> None:
        self.directory = directory
        self._on_error = on_error

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def load(self, name: str) -> dict[str, Any] | None:
        path = self.path(name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._on_error(f"{path}: ignored, cannot be opened: {exc.strerror or exc}")
            return None
        try:
            data, problem = _read_regular(fd)
        finally:
            os.close(fd)
        document = None if problem else _parse(data)
        if isinstance(document, str):
            problem, document = document, None
        if problem:
            self.set_aside(name, problem)
        return document

    def set_aside(self, name: str, problem: str) -> None:
        """Warn once about the file and rename it out of the way (FlagStore port)."""
        path = self.path(name)
        aside = f"{path}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}"
        try:
            os.rename(path, aside)
            what = f"set aside as {os.path.basename(aside)}"
        except OSError as exc:
            what = f"could not be set aside ({exc.strerror or exc}), ignored"
        self._on_error(f"{path}: {problem}; {what}; carpd continues without it")

    def save(self, name: str, document: dict[str, Any]) -> None:
        data = json.dumps(document, indent=1, sort_keys=True).encode() + b"\n"
        write_atomic(self.path(name), data, mode=0o644)


def _read_regular(fd: int) -> tuple[bytes, str]:
    """The file's bytes, or a problem (not a regular file, too large, unreadable)."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        return b"", "not a regular file (a FIFO, socket, device or directory is never read)"
    if st.st_size > MAX_FLAG_FILE:
        return b"", f"larger than {MAX_FLAG_FILE} bytes"
    chunks, size = [], 0
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_FLAG_FILE:
                return b"", f"larger than {MAX_FLAG_FILE} bytes"
    except OSError as exc:
        return b"", f"cannot be read: {exc.strerror or exc}"
    return b"".join(chunks), ""


def _parse(data: bytes) -> dict[str, Any] | str:
    """The JSON object, or the problem with it."""
    try:
        document = json.loads(data, parse_constant=_no_constant)
    except RecursionError:
        return "not valid JSON: nested too deeply"
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, too many digits
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"not valid JSON: {text[:120]}"
    if not isinstance(document, dict):
        return "not a JSON object"
    return document


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number")


class Textfile:
    def __init__(self, path: str) -> None:
        self.path = path

    def write(self, text: str) -> None:
        write_atomic(self.path, text.encode(), mode=0o644)
