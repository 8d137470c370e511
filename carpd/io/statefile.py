"""Small files that must never be seen half-written: operator flags and the metrics textfile.

Owns: `write_atomic` (temporary file in the same directory, fsync, rename, fsync of the
directory), `JsonFlags` (the FlagStore port: one JSON document per name in the state
directory, e.g. /var/lib/carpd/maintenance) and `Textfile` (the MetricsSink port: a
node_exporter textfile). A flag file that is unreadable or not JSON is treated as absent and
reported through `on_error`, so a corrupt file never stops the daemon.
Must not: interpret the documents (carpd.ops.flags does).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from typing import Any


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
            with open(path, "rb") as handle:
                document = json.loads(handle.read(1 << 20))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            self._on_error(f"{path}: ignored, cannot be read as JSON: {exc}")
            return None
        if not isinstance(document, dict):
            self._on_error(f"{path}: ignored, not a JSON object")
            return None
        return document

    def save(self, name: str, document: dict[str, Any]) -> None:
        data = json.dumps(document, indent=1, sort_keys=True).encode() + b"\n"
        write_atomic(self.path(name), data, mode=0o644)


class Textfile:
    def __init__(self, path: str) -> None:
        self.path = path

    def write(self, text: str) -> None:
        write_atomic(self.path, text.encode(), mode=0o644)
