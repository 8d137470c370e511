"""Reading flag files that are not what they should be: nothing blocks, nothing raises, each
gets one warning naming the file and the problem, and is set aside (renamed) for good."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from carpd.io.statefile import MAX_FLAG_FILE, JsonFlags


def _load(tmp_path: Path, name: str = "maintenance") -> tuple[object, list[str]]:
    errors: list[str] = []
    result: list[object] = []
    reader = threading.Thread(target=lambda: result.append(
        JsonFlags(str(tmp_path), errors.append).load(name)), daemon=True)
    reader.start()
    reader.join(5)
    assert not reader.is_alive(), "load blocked"
    return result[0], errors


def _aside(tmp_path: Path, name: str = "maintenance") -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(f"{name}.corrupt-"))


@pytest.mark.parametrize(("content", "problem"), [
    (b"[" * 100000, "not valid JSON: nested too deeply"),
    (b'{"on": true, "since": ' + b"1" * 5000 + b"}", "not valid JSON: Exceeds the limit"),
    (b'{"on": true, "since": NaN}', "not valid JSON: NaN is not a number"),
    (b'{"on": true, "since": -Infinity}', "not valid JSON: -Infinity is not a number"),
    (b"\xff\xfe\x00", "not valid JSON"),
    (b'"on"', "not a JSON object"),
    (b" " * (MAX_FLAG_FILE + 1), f"larger than {MAX_FLAG_FILE} bytes"),
])
def test_a_corrupt_file_is_one_warning_and_set_aside(tmp_path: Path, content: bytes,
                                                     problem: str) -> None:
    (tmp_path / "maintenance").write_bytes(content)
    document, errors = _load(tmp_path)
    assert document is None
    (aside,) = _aside(tmp_path)
    assert errors == [f"{tmp_path}/maintenance: {errors[0].split(': ', 1)[1]}"]
    assert problem in errors[0] and errors[0].endswith(
        f"; set aside as {aside}; carpd continues without it")
    assert (tmp_path / aside).read_bytes() == content
    assert _load(tmp_path) == (None, [])  # gone: the next start is quiet


def test_a_fifo_in_place_of_a_state_file_never_blocks(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "demotions")
    document, errors = _load(tmp_path, "demotions")
    assert document is None and len(errors) == 1
    assert "not a regular file" in errors[0] and _aside(tmp_path, "demotions")


def test_a_directory_in_place_of_a_state_file(tmp_path: Path) -> None:
    (tmp_path / "maintenance").mkdir()
    document, errors = _load(tmp_path)
    assert document is None and "not a regular file" in errors[0]


def test_a_valid_file_loads(tmp_path: Path) -> None:
    (tmp_path / "maintenance").write_text('{"on": true, "since": 1.5}')
    assert _load(tmp_path) == ({"on": True, "since": 1.5}, [])
