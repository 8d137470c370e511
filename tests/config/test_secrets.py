"""carpd.config.secrets: the three password sources, their checks and warnings, and that the
password is in no message and no repr (the located forms are in test_loader.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from carpd.config.secrets import (
    INLINE_WARNING,
    Password,
    PasswordKind,
    credential_name,
    inline_password,
    read_password,
)
from carpd.config.values import BadValueError
from carpd.core.params import Secret

PASSWORD = "Zq7-unique-Pw"  # distinctive, so a leak is easy to spot


def key_file(tmp_path: Path, data: bytes, mode: int = 0o600, name: str = "carp.key") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    path.chmod(mode)
    return str(path)


def test_inline() -> None:
    read = read_password(PasswordKind.INLINE, PASSWORD, {})
    assert read == Password(Secret(PASSWORD.encode()), "inline")
    assert PASSWORD not in repr(read) + str(read)


def test_file_strips_one_line_ending(tmp_path: Path) -> None:
    path = key_file(tmp_path, PASSWORD.encode() + b"\r\n")
    read = read_password(PasswordKind.FILE, path, {})
    assert (read.secret, read.origin) == (Secret(PASSWORD.encode()), f"file {path}")
    spaces = key_file(tmp_path, b" pw \t\n", name="spaces.key")
    assert read_password(PasswordKind.FILE, spaces, {}).secret == Secret(b" pw \t")


def test_crlf_ending_is_a_warning_naming_file_and_fix(tmp_path: Path) -> None:
    """ucarp removes only the \\n: with a CRLF file it hashes PASSWORD + \\r, carpd PASSWORD."""
    path = key_file(tmp_path, PASSWORD.encode() + b"\r\n")
    read = read_password(PasswordKind.FILE, path, {})
    assert read.secret == Secret(PASSWORD.encode())
    assert read.warnings == (
        f"{path} ends in CRLF (\\r\\n): carpd ignores the \\r but ucarp keeps it as part of the "
        f"password, so a ucarp peer using this file fails authentication; remove it: "
        f"sed -i 's/\\r$//' {path}",)
    assert PASSWORD not in "".join(read.warnings)
    key_file(tmp_path, b"credpw\r\n", name="carp")
    credential = read_password(PasswordKind.CREDENTIAL, "carp",
                               {"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert [w.split(" ends in")[0] for w in credential.warnings] == [f"{tmp_path}/carp"]
    plain = key_file(tmp_path, PASSWORD.encode() + b"\n", name="plain.key")
    assert read_password(PasswordKind.FILE, plain, {}).warnings == ()


def test_file_readable_by_others_is_a_warning(tmp_path: Path) -> None:
    path = key_file(tmp_path, PASSWORD.encode(), 0o640)
    read = read_password(PasswordKind.FILE, path, {})
    assert read.warnings == (f"{path} is readable by group or others (mode 0640); "
                             f"run chmod 600 {path}",)


def test_credential_from_the_directory(tmp_path: Path) -> None:
    key_file(tmp_path, b"credpw\n", 0o644, name="carp")
    read = read_password(PasswordKind.CREDENTIAL, "carp", {"CREDENTIALS_DIRECTORY":
                                                           str(tmp_path)})
    assert read == Password(Secret(b"credpw"), "credential carp")  # its mode is systemd's


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "{path} is empty"), (b"\n", "{path} is empty"),
    (b"a\nb", "{path} has more than one line (ucarp reads the first only)"),
    (b"a\n\n", "{path} has more than one line (ucarp reads the first only)"),
    (b"a\0b", "password contains a NUL byte"),
    (PASSWORD.encode() * 2, f"password is {2 * len(PASSWORD)} bytes; CARP (ucarp) allows at "
                            "most 19"),
])
def test_bad_file(tmp_path: Path, data: bytes, reason: str) -> None:
    path = key_file(tmp_path, data)
    with pytest.raises(BadValueError) as info:
        read_password(PasswordKind.FILE, path, {})
    assert info.value.reason == reason.format(path=path)
    assert PASSWORD not in str(info.value)


def test_unreadable_file_and_missing_credentials_directory(tmp_path: Path) -> None:
    with pytest.raises(BadValueError) as info:
        read_password(PasswordKind.FILE, str(tmp_path / "nope"), {})
    assert info.value.reason == f"cannot read {tmp_path}/nope: No such file or directory"
    with pytest.raises(BadValueError) as info:
        read_password(PasswordKind.CREDENTIAL, "carp", {"CREDENTIALS_DIRECTORY": ""})
    assert info.value.reason == ("CREDENTIALS_DIRECTORY is not set: password_credential needs "
                                 "systemd (LoadCredential= or SetCredential=)")


def test_inline_length_counts_bytes() -> None:
    assert read_password(PasswordKind.INLINE, "x" * 19, {}).secret == Secret(b"x" * 19)
    with pytest.raises(BadValueError) as info:
        read_password(PasswordKind.INLINE, "é" * 10, {})
    assert info.value.reason == "password is 20 bytes; CARP (ucarp) allows at most 19"


def test_validators_never_quote_the_password() -> None:
    for value, reason in ((1234, "must be a string, not an integer"), ("", "must not be empty"),
                          (["x"], "must be a string, not an array")):
        with pytest.raises(BadValueError) as info:
            inline_password(value)
        assert info.value.reason == reason
    assert inline_password(PASSWORD) == PASSWORD
    with pytest.raises(BadValueError, match="is not a credential name"):
        credential_name("../carp")
    assert credential_name("carp") == "carp"


def test_kinds_are_the_keys_and_the_inline_warning_names_the_alternatives() -> None:
    assert [kind.value for kind in PasswordKind] == ["password_file", "password_credential",
                                                     "password"]
    assert "password_file" in INLINE_WARNING and "password_credential" in INLINE_WARNING
