"""carpd.config.lines: dotted keys split as TOML writes them, and the line of every key path."""

from __future__ import annotations

import pytest

from carpd.config.lines import LineIndex, split_key


@pytest.mark.parametrize(("dotted", "parts"), [
    ("vip.web.vhid", ("vip", "web", "vhid")),
    ('vip . "web" . vhid', ("vip", "web", "vhid")),
    ("vip.'we.b'", ("vip", "we.b")),
    ('"a\\"b".c', ('a"b', "c")),  # escapes decoded as tomllib does
    ('"a\\nb".\'c\\n\'', ("a\nb", "c\\n")),  # literal strings have none
    ('"\\u00e9\\U0001F600\\q"', ("\u00e9\U0001F600\\q",)),  # an invalid one stays
    ("vip.web.check[2].port", ("vip", "web", "check", "2", "port")),
    ("", ()),
])
def test_split_key(dotted: str, parts: tuple[str, ...]) -> None:
    assert split_key(dotted) == parts


TEXT = '''\
[defaults]
advskew = 1
[ vip . "web" ]
"vhid" = 1
note = """
fake = 1
[vip.fake]
"""
after = 2
[[vip.web.check]]
type = "tcp"
[[vip.web.check]]
type = "unit"
[vip.web]
vhid = 3
'''


@pytest.mark.parametrize(("path", "line"), [
    (("defaults",), 1), (("defaults", "advskew"), 2),
    (("vip", "web"), 3), (("vip", "web", "vhid"), 4),  # the first line wins
    (("vip", "web", "note"), 5), (("vip", "web", "fake"), 3),  # inside a string: not a key
    (("vip", "fake"), None), (("vip", "web", "after"), 9),
    (("vip", "web", "check"), 10), (("vip", "web", "check", "1"), 10),
    (("vip", "web", "check", "1", "type"), 11), (("vip", "web", "check", "2", "type"), 13),
    (("vip", "web", "check", "3", "type"), 10),  # no third check: the array's first header
    (("defaults", "nope", "deeper"), 1), (("carpd",), None), ((), None),
])
def test_line_of_a_path_or_its_closest_parent(path: tuple[str, ...], line: int | None) -> None:
    assert LineIndex(TEXT).line(path) == line


def test_line_of_a_dotted_key() -> None:
    index = LineIndex(TEXT)
    assert index.line_of("vip.web.check[2].type") == 13
    assert index.line_of('vip."web".vhid') == 4


def test_single_line_triple_quotes_do_not_open_a_string() -> None:
    index = LineIndex('a = """x"""\nb = 1\nc = \'\'\'\nd = 1\n\'\'\'\ne = 2\n')
    assert (index.line(("b",)), index.line(("d",)), index.line(("e",))) == (2, None, 6)


def test_any_text_is_scanned_without_error() -> None:
    index = LineIndex('[unclosed\n= 1\n[[x]\n"\n')
    assert index.line(("x",)) == 3
