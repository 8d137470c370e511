"""tomlerrors.explain: the parser's complaints in carpd's words, and total on any input."""

from __future__ import annotations

import tomllib

from hypothesis import given
from hypothesis import strategies as st

from carpd.config.reading import FileRefused, _syntax_error
from carpd.config.tomlerrors import explain


def refusal(text: str) -> FileRefused:
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        return _syntax_error(text, err)
    raise AssertionError(f"{text!r} parsed")


def test_duplicate_table_names_both_lines() -> None:
    got = refusal('[vip.web]\nvhid = 1\n\n[vip.web]\nvhid = 2\n')
    assert (got.line, got.key) == (4, "vip.web")
    assert got.reason.startswith("the table [vip.web] is declared twice (first at line 1)")


def test_leading_zero_says_what_to_write() -> None:
    got = refusal('[vip.web]\nvhid = 010  # web\n')
    assert (got.line, got.key) == (2, "vip.web.vhid")
    assert got.reason.startswith("010: TOML numbers have no leading zeros; write 10")


def test_password_written_bare_is_never_repeated() -> None:
    got = refusal('[defaults]\npassword = s3cr3t-Word\n')
    assert got.key == "defaults.password"
    assert "s3cr3t" not in got.reason


def test_unknown_message_keeps_the_parsers_words_and_column() -> None:
    got = explain("a = 1\n", "Something new", 1, 3)
    assert (got.line, got.key) == (1, "a")
    assert got.reason == "TOML syntax error: Something new (column 3)"


@given(st.text(alphabet='ab=[]{}"\'#.\n 0123\\\t\x01', max_size=40))
def test_any_broken_text_gets_one_located_sentence(text: str) -> None:
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        got = _syntax_error(text, err)
        assert got.line is not None and got.line >= 1
        assert got.reason and "\n" not in got.reason
