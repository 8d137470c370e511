"""The resume record's file, and the two clocks of this boot that make it meaningful.

Owns: `ResumeFile`, the ResumeStore port (carpd.driver.ports): `boot()` reads the kernel's boot
id (/proc/sys/kernel/random/boot_id) and CLOCK_BOOTTIME (which keeps counting through a
suspend, unlike the loop's monotonic clock); `load()` reads the JSON document at `path`
(/var/lib/carpd/resume.json); `save()` replaces it atomically (creating the directory, 0700,
if it is missing).
How it works: a write goes to a temporary file in the same directory and is renamed over the
record, so a reader sees the old document or the new one, never half of one. There is no
fsync: the record only counts on the boot that wrote it (a crash of carpd leaves the page
cache intact; a crash of the kernel changes the boot id), so durability across power loss
buys nothing and would put a disk flush in the loop once a second. A read takes only a
regular file (a FIFO in its place would block), at most MAX_RECORD_BYTES, and raises
ValueError for anything that is not a JSON object.
Must not: interpret the document (carpd.driver.resume does) or log (the caller does).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import time
from typing import Any

BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"
MAX_RECORD_BYTES = 64 * 1024


class ResumeFile:
    def __init__(self, path: str, boot_id_path: str = BOOT_ID_PATH) -> None:
        self.path = path
        self._boot_id_path = boot_id_path

    def boot(self) -> tuple[str, float]:
        """(this boot's id, CLOCK_BOOTTIME now). Raises OSError."""
        with open(self._boot_id_path, encoding="ascii") as handle:
            boot_id = handle.read(64).strip()
        return boot_id, time.clock_gettime(time.CLOCK_BOOTTIME)

    def load(self) -> dict[str, Any] | None:
        """The document, None if there is none. Raises OSError or ValueError."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise ValueError("not a regular file")
            data = handle.read(MAX_RECORD_BYTES + 1)
        if len(data) > MAX_RECORD_BYTES:
            raise ValueError(f"larger than {MAX_RECORD_BYTES} bytes")
        try:
            document = json.loads(data)
        except RecursionError:
            raise ValueError("nested too deeply") from None
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
        return document

    def save(self, document: dict[str, Any]) -> None:
        """Replace the record atomically (no fsync: see the module docstring). Raises
        OSError."""
        data = json.dumps(document, sort_keys=True).encode() + b"\n"
        directory = os.path.dirname(self.path) or "."
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".resume.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
