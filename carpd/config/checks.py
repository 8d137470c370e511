"""The `[[vip.NAME.check]]` schema: TOML tables -> `CheckParams`, with every rule about them.

Owns: the health-check keys of a VIP (reference in docs/configuration.md, "Health checks"):
`type` (unit | exec | tcp | http | interface | bgp), `name` (derived when absent), exactly one of
`weight` (1..254) and `fatal = true`, `interval` (default 2 s), `timeout` (default 1 s, at most
the interval), `rise` and `fall` (default 2 each; 1 for `unit`, whose results are systemd's
own state changes, so it fails the moment the unit leaves "active"), and the keys of each
type. A bgp check (docs/routed.md) names its `engine` ("frr" or "bird"), optionally the
`neighbor` whose session must be established (FRR: the peer's address; BIRD: the protocol's
name or its neighbour address; absent: any BGP session) and `control` (FRR: a vtysh pathspace
name, `vtysh -N`; BIRD: the control socket path, `birdc -s`); its default timeout is 2 s, as
vtysh needs more than a second on a loaded machine.
Errors are `BadCheckError(where, reason)` where `where` is the suffix after the VIP's key path
("[2].port", 1-based like the tables in the file); loader.py adds the file, line and VIP.
`parse_checks` is the validator of the `check` key in schema.py's VIP table.
Must not: touch the network, processes or systemd (a missing binary or unit is a failing
check at run time, never a config error: the check must be able to report it).
"""

from __future__ import annotations

import difflib
import os
import re
import urllib.parse
from collections.abc import Callable
from functools import partial
from typing import Any

from carpd.config.values import (
    BadValueError,
    boolean,
    integer,
    nonempty_string,
    type_name,
    unit_name,
)
from carpd.core.params import BGP_ENGINES, CHECK_TYPES, IFNAMSIZ, CheckParams

CHECK_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.@-]{0,63}")
COMMON = ("type", "name", "weight", "fatal", "interval", "timeout", "rise", "fall")
TYPE_KEYS: dict[str, tuple[str, ...]] = {
    "unit": ("unit",), "exec": ("command",), "tcp": ("host", "port"),
    "http": ("url", "expect_status"), "interface": ("interface",),
    "bgp": ("engine", "neighbor", "control"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "unit": ("unit",), "exec": ("command",), "tcp": ("host", "port"), "http": ("url",),
    "interface": ("interface",), "bgp": ("engine",),
}
DEFAULT_INTERVAL, DEFAULT_TIMEOUT, DEFAULT_RISE, DEFAULT_FALL = 2.0, 1.0, 2, 2
DEFAULT_TIMEOUTS = {"bgp": 2.0}  # vtysh and birdc start a process and ask a daemon


class BadCheckError(ValueError):
    """A check is wrong at `where` (e.g. "[1].port") for `reason`."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


def _int(low: int, high: int) -> Callable[[object], int]:
    return partial(integer, low=low, high=high)


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadValueError(f"must be a number of seconds, not {type_name(value)}")
    if not 0.05 <= value <= 3600:
        raise BadValueError(f"{value} is out of range: must be 0.05..3600 seconds")
    return float(value)


def _command(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise BadValueError(f"must be an array of strings (argv, no shell), not "
                            f"{type_name(value)}; e.g. [\"/usr/local/bin/check-web\", \"--quiet\"]")
    if not value:
        raise BadValueError("must name at least the program to run")
    return tuple(nonempty_string(arg) for arg in value)


def _url(value: object) -> str:
    url = nonempty_string(value)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadValueError(f"{url!r} is not an http:// or https:// URL with a host")
    try:
        _ = parts.port
    except ValueError:
        raise BadValueError(f"{url!r} has an invalid port") from None
    return url


def _interface(value: object) -> str:
    name = nonempty_string(value)
    if len(name.encode()) >= IFNAMSIZ or any(c in "/:" or c.isspace() for c in name):
        raise BadValueError(f"{name!r} is not a valid interface name")
    return name


def _engine(value: object) -> str:
    engine = nonempty_string(value)
    if engine not in BGP_ENGINES:
        raise BadValueError(f"{engine!r} is not a BGP engine carpd can ask: one of "
                            f"{', '.join(BGP_ENGINES)}")
    return engine


def _neighbor(value: object) -> str:
    text = nonempty_string(value)
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", text):
        raise BadValueError(f"{text!r} is neither an address nor a BIRD protocol name")
    return text


def _control(value: object) -> str:
    text = nonempty_string(value)
    if not re.fullmatch(r"[A-Za-z0-9_./-]{1,200}", text) or text.startswith("-"):
        raise BadValueError(f"{text!r} is neither a vtysh pathspace name nor a socket path")
    return text


def _name(value: object) -> str:
    name = nonempty_string(value)
    if not CHECK_NAME_RE.fullmatch(name):
        raise BadValueError(f"invalid check name {name!r}: use 1-64 of a-z, 0-9, '_', '.', '@' and "
                   "'-', starting with a letter or digit")
    return name


VALIDATORS: dict[str, Callable[[object], object]] = {
    "type": nonempty_string, "name": _name, "weight": _int(1, 254), "fatal": boolean,
    "interval": _seconds, "timeout": _seconds, "rise": _int(1, 100), "fall": _int(1, 100),
    "unit": unit_name, "command": _command, "host": nonempty_string, "port": _int(1, 65535),
    "url": _url, "expect_status": _int(100, 599), "interface": _interface,
    "engine": _engine, "neighbor": _neighbor, "control": _control,
}


def parse_checks(value: object) -> tuple[CheckParams, ...]:
    """The value of `check` in a VIP table: an array of tables (`[[vip.NAME.check]]`)."""
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise BadCheckError("", "must be an array of tables: write each check as "
                                "[[vip.NAME.check]]")
    checks: list[CheckParams] = []
    for index, table in enumerate(value, start=1):
        check = _parse_one(f"[{index}]", table)
        for earlier in checks:
            if earlier.name == check.name:
                raise BadCheckError(f"[{index}].name", f"two checks are named {check.name!r}; "
                                    "give one a different `name`")
        checks.append(check)
    return tuple(checks)


def _parse_one(where: str, table: dict[str, Any]) -> CheckParams:
    kind = _typed(where, table)
    allowed = COMMON + TYPE_KEYS[kind]
    values: dict[str, Any] = {}
    for key, raw in table.items():
        if key not in allowed:
            raise BadCheckError(f"{where}.{key}", _unknown(key, kind, allowed))
        try:
            values[key] = VALIDATORS[key](raw)
        except BadValueError as bad:
            raise BadCheckError(f"{where}.{key}", bad.reason) from None
    for key in REQUIRED[kind]:
        if key not in values:
            raise BadCheckError(f"{where}.{key}", f"a {kind} check needs `{key}`")
    _check_weight(where, values)
    interval = values.get("interval", DEFAULT_INTERVAL)
    timeout = values.get("timeout", min(DEFAULT_TIMEOUTS.get(kind, DEFAULT_TIMEOUT), interval))
    if timeout > interval:
        raise BadCheckError(f"{where}.timeout", f"{timeout:g} s is longer than the interval "
                            f"({interval:g} s)")
    values.pop("type")
    values.update(interval=interval, timeout=timeout)
    if kind == "unit":  # event-driven (D-Bus signals): every signal is a real change
        values.setdefault("rise", 1)
        values.setdefault("fall", 1)
    values.setdefault("name", default_name(kind, values))
    return CheckParams(type=kind, **values)


def _typed(where: str, table: dict[str, Any]) -> str:
    if "type" not in table:
        raise BadCheckError(f"{where}.type", f"required: one of {', '.join(CHECK_TYPES)}")
    try:
        kind = nonempty_string(table["type"])
    except BadValueError as bad:
        raise BadCheckError(f"{where}.type", bad.reason) from None
    if kind not in CHECK_TYPES:
        close = difflib.get_close_matches(kind, CHECK_TYPES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise BadCheckError(f"{where}.type", f"unknown check type {kind!r}: one of "
                            f"{', '.join(CHECK_TYPES)}{hint}")
    return kind


def _check_weight(where: str, values: dict[str, Any]) -> None:
    fatal = values.get("fatal", False)
    if fatal and "weight" in values:
        raise BadCheckError(f"{where}.fatal", "a check is either fatal or has a weight, not "
                            "both")
    if not fatal and "weight" not in values:
        raise BadCheckError(f"{where}.weight", "set `weight = 1..254` (added to advskew while "
                            "failing) or `fatal = true` (the VIP goes FAULT while failing)")


def _unknown(key: str, kind: str, allowed: tuple[str, ...]) -> str:
    other = [t for t, keys in TYPE_KEYS.items() if key in keys]
    if other:
        return f"`{key}` belongs to a {other[0]} check; this one is type {kind!r}"
    close = difflib.get_close_matches(key, allowed, n=1)
    return f"unknown key; did you mean {close[0]!r}?" if close else (
        f"unknown key; known: {', '.join(allowed)}")


def default_name(kind: str, v: dict[str, Any]) -> str:
    """nginx.service -> "nginx", /usr/bin/check-db -> "check-db", tcp 80 -> "tcp-80", ..."""
    match kind:
        case "unit":
            base = str(v["unit"]).rsplit(".", 1)[0]
        case "exec":
            base = os.path.basename(v["command"][0])
        case "tcp":
            base = f"tcp-{v['port']}"
        case "http":
            base = f"http-{urllib.parse.urlsplit(v['url']).hostname}"
        case "bgp":
            base = f"bgp-{v['engine']}" + (f"-{v['neighbor']}" if v.get("neighbor") else "")
        case _:
            base = f"link-{v['interface']}"
    cleaned = re.sub(r"[^a-z0-9_.@-]", "-", base.lower()).lstrip("._@-")
    return (cleaned or kind)[:64]
