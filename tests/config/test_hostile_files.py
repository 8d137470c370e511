"""Configuration files made to hurt (issue 13, item 8): deep nesting, devices, FIFOs, huge
files, control characters in names. Every one ends in ONE located line and exit 2."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

import carpd.config.reading
from carpd.app.cli import main
from carpd.config.loader import ConfigError, load_config
from carpd.config.reading import MAX_FILE_BYTES, MAX_NESTING, nesting_exceeded
from tests.config.test_loader import BASE, write

REPO = Path(__file__).resolve().parents[2]


def refusal(path: str | Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert "\n" not in text and "\r" not in text
    return text


def check(capsys: pytest.CaptureFixture[str], path: str) -> str:
    """`carpd --check --config PATH`: exit 2, nothing on stdout, one error line."""
    assert main(["--check", "--config", path]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("carpd: error: ")
    return err.rstrip("\n")


# -- nesting ------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    "[" * 600 + "]" * 600,
    "{a = " * 600 + "1" + "}" * 600,
    "[{a = " * 300 + "1" + "}]" * 300,
])
def test_deep_nesting_is_refused_at_its_line_before_parsing(
        workdir: Path, capsys: pytest.CaptureFixture[str], value: str) -> None:
    path = write(workdir, BASE + f"\nx = {value}\n")
    assert refusal(path) == (f"carpd.toml:9: arrays or inline tables nested deeper than "
                             f"{MAX_NESTING} levels")
    assert check(capsys, path) == f"carpd: error: {refusal(path)}"


def test_nesting_at_the_bound_reaches_the_parser_and_the_rules(workdir: Path) -> None:
    path = write(workdir, BASE.replace('vhid = 1', 'vhid = ' + "[" * MAX_NESTING + "1"
                                       + "]" * MAX_NESTING))
    assert refusal(path).startswith("carpd.toml:6: vip.web.vhid: ")  # a type error, not depth


def test_the_scan_skips_strings_and_comments() -> None:
    deep = "[" * 100
    for text in (f'a = "{deep}"', f"a = '{deep}'", f'a = """\n{deep}\n"""', f"# {deep}",
                 f"a = '''{deep}'''", f'a = "\\"{deep}"'):
        assert nesting_exceeded(text, 32) is None, text
    assert nesting_exceeded(f'a = "x"\nb = 1\nc = {deep}', 32) == 3
    assert nesting_exceeded(f'a = """\n\n"""\nc = {deep}', 32) == 4  # lines in strings count


def test_unterminated_strings_keep_the_scan_linear() -> None:
    assert nesting_exceeded('"' + '\\"' * 200_000, 32) is None  # would be quadratic
    assert nesting_exceeded('"""' + "\\" * 100_001, 32) is None


@pytest.mark.parametrize("raised", [RecursionError("maximum recursion depth exceeded"),
                                    MemoryError(), ValueError("odd"), IndexError()])
def test_any_parser_exception_is_one_located_line(workdir: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  raised: BaseException) -> None:
    def crash(text: str) -> object:
        raise raised

    monkeypatch.setattr(carpd.config.reading.tomllib, "loads", crash)
    path = write(workdir, BASE)
    reason = ("the TOML parser gave up: nested too deeply" if isinstance(raised, RecursionError)
              else f"the TOML parser failed: {type(raised).__name__}")
    assert check(capsys, path) == f"carpd: error: carpd.toml: {reason}"


# -- size and file type ---------------------------------------------------------------------

def test_file_over_the_bound_is_refused_and_at_the_bound_read(workdir: Path) -> None:
    base = BASE.replace("{dir}", str(workdir))
    at_bound = base + "#" * (MAX_FILE_BYTES - len(base) - 1) + "\n"
    assert len(at_bound.encode()) == MAX_FILE_BYTES
    assert load_config(write(workdir, at_bound)).vips[0].name == "web"
    assert refusal(write(workdir, at_bound + "\n")) == (
        "carpd.toml: the file is larger than 1 MiB; a configuration is far smaller")


def test_not_a_regular_file(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.mkfifo(workdir / "fifo")
    assert refusal("fifo") == "fifo: not a regular file (a FIFO)"  # without blocking in open
    assert check(capsys, "/dev/null") == "carpd: error: /dev/null: not a regular file (a " \
                                         "character device)"
    (workdir / "link").symlink_to(workdir / write(workdir, BASE))
    assert load_config("link").vips[0].name == "web"  # a symlink to a regular file is fine


def _limited() -> None:  # the child may not grow past 1 GiB, so a regression fails fast
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


@pytest.mark.parametrize(("path", "kind"), [("/dev/zero", "a character device"),
                                            ("fifo", "a FIFO")])
def test_cli_on_dev_zero_and_a_fifo_exits_2_at_once(workdir: Path, path: str, kind: str) -> None:
    """A real process: /dev/zero used to be read until MemoryError, a FIFO blocked forever."""
    if path == "fifo":
        os.mkfifo(workdir / "fifo")
    done = subprocess.run([sys.executable, "-m", "carpd", "--check", "--config", path],
                          capture_output=True, text=True, timeout=60, preexec_fn=_limited,
                          cwd=workdir, env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"carpd: error: {path}: not a regular file ({kind})\n"


# -- control characters -----------------------------------------------------------------------

@pytest.mark.parametrize(("written", "shown"), [
    ("a\\nb", "a\\nb"), ("a\\u0007b", "a\\x07b"), ("a\\u2028b", "a\\u2028b"),
    ("a\\rb", "a\\rb"), ("a\\u001b[31mb", "a\\x1b[31mb"),
])
def test_vip_name_with_control_characters_is_one_located_line(
        workdir: Path, capsys: pytest.CaptureFixture[str], written: str, shown: str) -> None:
    path = write(workdir, BASE.replace("[vip.web]", f'[vip."{written}"]'))
    assert check(capsys, path).startswith(f"carpd: error: carpd.toml:5: vip.{shown}: invalid "
                                          f"VIP name '{shown}'")


def test_unknown_key_with_a_newline_is_located(workdir: Path) -> None:
    path = write(workdir, BASE + '"x\\ny" = 1\n')
    assert refusal(path).startswith("carpd.toml:8: vip.web.x\\ny: unknown key")


def test_file_name_with_a_newline_is_escaped(workdir: Path) -> None:
    name = write(workdir, BASE.replace("vhid = 1", "vhid = 0"), name="bad\nname.toml")
    assert refusal(name).startswith("bad\\nname.toml:6: vip.web.vhid: ")


@pytest.mark.parametrize("target", ["fifo", "/dev/zero"])
def test_password_file_must_be_a_regular_file(workdir: Path, target: str) -> None:
    """A FIFO as password_file used to block --check (and a reload's thread) forever."""
    if target == "fifo":
        os.mkfifo(workdir / "fifo")
        target = str(workdir / "fifo")
    path = write(workdir, BASE.replace("{dir}/carp.key", target))
    assert refusal(path) == (f"carpd.toml:3: defaults.password_file: cannot read {target}: "
                             "not a regular file")
