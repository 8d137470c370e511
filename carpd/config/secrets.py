"""The CARP password: where it comes from, how it is read and checked, what is said about it.

Owns: the three password keys (`PasswordKind`: `password_file`, `password_credential` read
from `$CREDENTIALS_DIRECTORY`, inline `password`), their value validators, `read_password`
(the bytes -> a `Secret`, the origin shown by `--check` and status, and the warnings) and the
wording of every password error and warning. A file or credential is read once, at most 4096
bytes, and only if it is a regular file (opened non-blocking, so a FIFO cannot hang `--check`
or a reload, and a device is refused); exactly one trailing line ending (`\\n` or `\\r\\n`)
is removed and nothing else, the rest must be one non-empty line. A password file readable
by group or others is a warning (a credential's mode is systemd's business), and so is an
inline password and a CRLF ending (ucarp removes only the `\\n` and keeps the `\\r`, so a
ucarp peer reading the same file would compute another HMAC).
Invariants: the password never appears in an error, a warning or a repr: messages name the
path, the credential name or the byte count, the bytes live only in a `Secret`. A password
is at most 19 bytes (`MAX_PASSWORD_BYTES`, ucarp's limit) and holds no NUL.
Must not: know files' line numbers or key paths (errors are `BadValueError(reason)` and
warnings plain sentences; the loader adds the location) or keep the password anywhere but in
the returned `Secret`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from carpd.config.values import BadValueError, nonempty_string
from carpd.core.params import MAX_PASSWORD_BYTES, Secret

MAX_READ_BYTES = 4096
INLINE_WARNING = ("the password is written in the config file; prefer password_file (mode "
                  "0600) or password_credential (systemd LoadCredential=)")


class PasswordKind(Enum):
    """Where a VIP's password comes from; the value is the key that says so."""

    FILE = "password_file"
    CREDENTIAL = "password_credential"
    INLINE = "password"


@dataclass(frozen=True, slots=True)
class Password:
    """A password as read: the bytes (hidden), its origin ("file PATH", "credential NAME" or
    "inline") and the warnings about it, without location."""

    secret: Secret
    origin: str
    warnings: tuple[str, ...] = ()


def credential_name(value: object) -> str:
    """A systemd credential name: a file name in $CREDENTIALS_DIRECTORY, so no '/'."""
    name = nonempty_string(value)
    if "/" in name or name in (".", ".."):
        raise BadValueError(f"{name!r} is not a credential name (no '/')")
    return name


def inline_password(value: object) -> str:
    """The `password` key; the messages of `nonempty_string` name only the type, never the
    value, and the length is checked by `read_password` (in bytes, after encoding)."""
    return nonempty_string(value)


def read_password(kind: PasswordKind, value: str, environ: Mapping[str, str]) -> Password:
    """The password that `value` of key `kind` designates; `environ` supplies
    CREDENTIALS_DIRECTORY. Raises BadValueError."""
    if kind is PasswordKind.INLINE:
        return Password(_checked(value.encode()), "inline")
    if kind is PasswordKind.FILE:
        path, origin = value, f"file {value}"
    else:
        path, origin = _credential_path(value, environ), f"credential {value}"
    data, mode = _read(path)
    warnings = _mode_warnings(path, mode) if kind is PasswordKind.FILE else ()
    if data.endswith(b"\r\n"):
        warnings = (*warnings, crlf_warning(path))
    return Password(_checked(_one_line(path, data)), origin, warnings)


def crlf_warning(path: str) -> str:
    """A CRLF ending: carpd drops the \\r, ucarp keeps it in the password (it removes only
    the \\n), so a ucarp peer reading the same file computes another HMAC."""
    return (f"{path} ends in CRLF (\\r\\n): carpd ignores the \\r but ucarp keeps it as part of "
            f"the password, so a ucarp peer using this file fails authentication; remove it: "
            f"sed -i 's/\\r$//' {path}")


def _credential_path(name: str, environ: Mapping[str, str]) -> str:
    directory = environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        raise BadValueError("CREDENTIALS_DIRECTORY is not set: password_credential needs "
                            "systemd (LoadCredential= or SetCredential=)")
    return os.path.join(directory, name)


def _read(path: str) -> tuple[bytes, int]:
    """The first MAX_READ_BYTES of the file and its st_mode."""
    try:
        with open(path, "rb", opener=_open_nonblocking) as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if not stat.S_ISREG(mode):  # a FIFO would block the reader, a device never end
                raise BadValueError(f"cannot read {path}: not a regular file")
            data = handle.read(MAX_READ_BYTES)
    except OSError as err:
        raise BadValueError(f"cannot read {path}: {err.strerror}") from None
    return data, mode


def _open_nonblocking(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NONBLOCK)


def _mode_warnings(path: str, mode: int) -> tuple[str, ...]:
    if not mode & (stat.S_IRGRP | stat.S_IROTH):
        return ()
    return (f"{path} is readable by group or others (mode {stat.S_IMODE(mode):04o}); "
            f"run chmod 600 {path}",)


def _one_line(path: str, data: bytes) -> bytes:
    """`data` without one trailing line ending; it must then be one non-empty line."""
    for ending in (b"\r\n", b"\n"):
        if data.endswith(ending):
            data = data[: -len(ending)]
            break
    if not data:
        raise BadValueError(f"{path} is empty")
    if b"\n" in data:
        raise BadValueError(f"{path} has more than one line (ucarp reads the first only)")
    return data


def _checked(data: bytes) -> Secret:
    if b"\0" in data:
        raise BadValueError("password contains a NUL byte")
    if len(data) > MAX_PASSWORD_BYTES:
        raise BadValueError(f"password is {len(data)} bytes; CARP (ucarp) allows at most "
                            f"{MAX_PASSWORD_BYTES}")
    return Secret(data)
