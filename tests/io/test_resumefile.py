"""The resume record's file: atomic replace, strict reads, this boot's id and clock."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from carpd.io.resumefile import MAX_RECORD_BYTES, ResumeFile


def test_save_then_load_round_trips_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    f = ResumeFile(str(tmp_path / "resume.json"))
    assert f.load() is None
    f.save({"version": 1, "vips": {"web": {"advert_at": 12.5}}})
    f.save({"version": 1, "vips": {}})
    assert f.load() == {"version": 1, "vips": {}}
    assert os.listdir(tmp_path) == ["resume.json"]


@pytest.mark.parametrize(("content", "error"), [
    (b"[1, 2]", "not a JSON object"),
    (b"{", "Expecting"),
    (b"[" * 100_000 + b"]" * 100_000, "larger than|nested"),
    (b"[" * 30_000 + b"]" * 30_000, "nested too deeply"),
    (b" " * (MAX_RECORD_BYTES + 1), "larger than"),
])
def test_a_corrupt_record_is_a_value_error(tmp_path: Path, content: bytes, error: str) -> None:
    path = tmp_path / "resume.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=error):
        ResumeFile(str(path)).load()


def test_a_fifo_in_its_place_does_not_block(tmp_path: Path) -> None:
    path = tmp_path / "resume.json"
    os.mkfifo(path)
    with pytest.raises(ValueError, match="not a regular file"):
        ResumeFile(str(path)).load()


def test_a_save_that_fails_raises_oserror_and_keeps_the_old_record(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    f = ResumeFile(str(tmp_path / "file" / "resume.json"))  # a file where the dir should be
    with pytest.raises(OSError):
        f.save({"version": 1})
    created = ResumeFile(str(tmp_path / "new-dir" / "resume.json"))
    created.save({"version": 1})
    assert created.load() == {"version": 1}


def test_boot_reads_the_boot_id_and_boottime(tmp_path: Path) -> None:
    boot_id = tmp_path / "boot_id"
    boot_id.write_text("0f3a4b2c-1111-2222-3333-444455556666\n")
    first = ResumeFile(str(tmp_path / "r.json"), boot_id_path=str(boot_id)).boot()
    second = ResumeFile(str(tmp_path / "r.json")).boot()  # the real /proc file
    assert first[0] == "0f3a4b2c-1111-2222-3333-444455556666"
    assert len(second[0]) == 36 and second[1] >= first[1] > 0
    json.dumps(second)
