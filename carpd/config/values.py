"""Checks of single TOML values shared by config.py and config_checks.py.

Owns: `BadValueError` (a value is wrong; the caller adds file, line and key) and the
validators of plain types (`integer`, `boolean`, `text`) with their exact wording, so an
operator reads the same sentence for the same mistake in any table.
"""

from __future__ import annotations

_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a float", str: "a string",
               list: "an array", dict: "a table"}


class BadValueError(Exception):
    """A value is wrong; the caller adds the location."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def type_name(value: object) -> str:
    return _TYPE_NAMES.get(type(value), "a date/time")


def integer(value: object, low: int, high: int | None, what: str = "") -> int:
    wanted = what or (f"an integer {low}..{high}" if high is not None else
                      f"an integer >= {low}")
    if isinstance(value, bool) or not isinstance(value, int):
        hint = " (remove the quotes)" if isinstance(value, str) and value.isdigit() else ""
        raise BadValueError(f"must be {wanted}, not {type_name(value)}{hint}")
    if value < low or (high is not None and value > high):
        raise BadValueError(f"{value} is out of range: must be {wanted}")
    return value


def boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise BadValueError(f"must be true or false, not {type_name(value)}")
    return value


def nonempty_string(value: object) -> str:
    if not isinstance(value, str):
        raise BadValueError(f"must be a string, not {type_name(value)}")
    if not value:
        raise BadValueError("must not be empty")
    return value
