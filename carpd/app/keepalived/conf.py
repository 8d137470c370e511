"""keepalived.conf as a tree of statements: words and `{ }` blocks, with positions.

Owns: `parse_config(path, config_id)` -> `Parsed`, whose `statements` are the top-level
statements in file order (includes spliced in). A statement is one keyword line: its words,
the raw text they came from (keepalived re-reads the text of script lines with other quoting
rules: `quoted_words`), where it was written, and its block when a `{` follows it.
The rules are keepalived 2.2's (lib/parser.c): a line is cut before and after every `{` and
`}` that is not inside double quotes, so `virtual_ipaddress { 10.0.0.1 }` on one line and a
`{` alone on the line after its keyword both work; the words of a piece are separated by
blanks, and a word that starts with `"` runs to the next `"` (blanks kept, quotes removed, no
escapes). `quoted_words` applies keepalived's second reading, used for the `script` and
`notify*` values: single and double quotes may open anywhere in a word and are removed, and
backslash escapes (\\n, \\t, \\xHH, \\NNN, \\cC, \\C) are decoded.
Errors (`ConfError`, from lines.py) name the line: an unmatched quote, a `}` with no block
open, a `{` with no keyword before it, the end of the file inside a block (naming where the
block began).
Must not: know what any keyword means (the mapping modules do).
"""

from __future__ import annotations

from dataclasses import dataclass

from carpd.app.keepalived.lines import ConfError, Line, Where, read_lines

__all__ = ["ConfError", "Parsed", "Statement", "Where", "parse_config", "quoted_words",
           "split_braces", "words_of"]

ESCAPES = {"a": "\a", "b": "\b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
           "v": "\v"}


@dataclass(frozen=True, slots=True)
class Statement:
    words: tuple[str, ...]
    raw: str
    where: Where
    block: tuple[Statement, ...] | None = None

    @property
    def keyword(self) -> str:
        return self.words[0]

    @property
    def args(self) -> tuple[str, ...]:
        return self.words[1:]


@dataclass(frozen=True, slots=True)
class Parsed:
    statements: tuple[Statement, ...]
    notices: tuple[tuple[Where, str], ...]


def split_braces(text: str) -> list[str]:
    """The pieces of a line: text before a brace, each brace alone, the rest (blanks trimmed)."""
    pieces: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char in "{}" and not quoted:
            pieces.extend(p for p in ("".join(current).strip(),) if p)
            pieces.append(char)
            current = []
        else:
            current.append(char)
    pieces.extend(p for p in ("".join(current).strip(),) if p)
    return pieces


def words_of(text: str, where: Where) -> tuple[str, ...]:
    """keepalived's first reading of a line's words."""
    words: list[str] = []
    index, size = 0, len(text)
    while index < size:
        if text[index] in " \t":
            index += 1
        elif text[index] == '"':
            end = text.find('"', index + 1)
            if end < 0:
                raise ConfError(where.file, where, f"unmatched quote in {text!r}")
            words.append(text[index + 1:end])
            index = end + 1
        else:
            end = index
            while end < size and text[end] not in ' \t"':
                end += 1
            words.append(text[index:end])
            index = end
    return tuple(words)


def quoted_words(text: str, where: Where) -> tuple[str, ...]:
    """keepalived's second reading (scripts and their arguments): quotes anywhere, escapes."""
    words: list[str] = []
    index, size = 0, len(text)
    while index < size:
        if text[index] in " \t":
            index += 1
            continue
        word, index = _quoted_word(text, index, where)
        words.append(word)
    return tuple(words)


def _quoted_word(text: str, index: int, where: Where) -> tuple[str, int]:
    """One word starting at `index`: (its text, the index after it)."""
    out: list[str] = []
    quote = ""
    while index < len(text):
        char = text[index]
        if char == "\\":
            decoded, index = _escape(text, index + 1, where)
            out.append(decoded)
        elif quote:
            index += 1
            if char == quote:
                quote = ""
            else:
                out.append(char)
        elif char in "\"'":
            quote, index = char, index + 1
        elif char in " \t":
            break
        else:
            out.append(char)
            index += 1
    if quote:
        raise ConfError(where.file, where, f"missing terminating {quote} in {text!r}")
    return "".join(out), index


def _escape(text: str, index: int, where: Where) -> tuple[str, int]:
    """The character a backslash escape stands for, and the index after the escape."""
    if index >= len(text):
        raise ConfError(where.file, where, f"a backslash ends {text!r}")
    char = text[index]
    if char == "x" and index + 1 < len(text) and text[index + 1] in HEX:
        end = index + 1
        while end < len(text) and text[end] in HEX:
            end += 1
        return chr(int(text[index + 1:end], 16) & 0xFF), end
    if char == "c" and index + 1 < len(text):
        return chr(ord(text[index + 1]) & 0x1F), index + 2
    if char in "01234567":
        end = index
        while end < min(index + 3, len(text)) and text[end] in "01234567":
            end += 1
        return chr(int(text[index:end], 8) & 0xFF), end
    return ESCAPES.get(char, char), index + 1


HEX = "0123456789abcdefABCDEF"


class _Builder:
    """Turns the pieces of the lines into nested statements."""

    def __init__(self, lines: list[Line]) -> None:
        self.pieces = [(piece, line.where) for line in lines for piece in split_braces(line.text)]
        self.index = 0

    def block(self, opened: Where | None) -> tuple[Statement, ...]:
        """Statements until the `}` closing the block opened at `opened` (None: the top level,
        which ends at the end of the input)."""
        out: list[Statement] = []
        while self.index < len(self.pieces):
            piece, where = self.pieces[self.index]
            self.index += 1
            if piece == "}":
                if opened is None:
                    raise ConfError(where.file, where, "'}' with no block open")
                return tuple(out)
            if piece == "{":
                if not out or out[-1].block is not None:
                    raise ConfError(where.file, where, "'{' with no keyword before it")
                last = out.pop()
                out.append(Statement(last.words, last.raw, last.where, self.block(where)))
                continue
            out.append(Statement(words_of(piece, where), piece, where))
        if opened is not None:
            raise ConfError(opened.file, opened, "the block opened here has no closing '}'")
        return tuple(out)


def parse_config(path: str, config_id: str | None) -> Parsed:
    """The statement tree of `path` (with its includes). Raises ConfError."""
    lines, notices = read_lines(path, config_id)
    return Parsed(_Builder(lines).block(None), tuple(notices))
