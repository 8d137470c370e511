"""The running configuration as the operator reads it: `carpctl config` (TOML or JSON).

Owns: `RunningConfig` (what the daemon runs: its VIPs' parameters and, per VIP, the keys and
values a file would write for them (carpd.config.written makes those, in the app), the
`[carpd]` settings, where each password comes from, which sources were "auto"),
`render_toml` and `render_json`.
How it works: each VIP's keys are written as given, then its password (where it comes from:
`password_file = PATH` or `password_credential = NAME`, or a comment for an inline one), then
its checks (`[[vip.NAME.check]]` tables, from `CheckParams`). Values are the running ones:
defaults written out, `source = "auto"` shown as the address it resolved to, with a comment.
Invariant: a password's bytes are never read here: `Secret` is only ever named by its origin,
so neither rendering can show a password, whatever it is. The TOML of a configuration whose
passwords come from files or credentials loads back to the same VIPs.
Must not: read files or the clock, or import carpd.config (the app hands over the origins).
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from carpd.core.params import CheckParams, VipParams

INLINE = "inline"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunningConfig:
    path: str
    vips: tuple[VipParams, ...]
    keys: Mapping[str, tuple[tuple[str, object], ...]]  # vip -> (key, value) as written
    carpd: Mapping[str, object] = field(default_factory=dict)  # [carpd] key -> value
    node: str | None = None
    password_sources: Mapping[str, str] = field(default_factory=dict)  # "file PATH", ...
    auto: frozenset[tuple[str, str]] = frozenset()  # (vip, key) written "auto", now resolved


def render_toml(config: RunningConfig) -> str:
    lines = [f"# the configuration carpd runs, loaded from {config.path}"
             + (f" for node {config.node}" if config.node else ""),
             "# (defaults written out; passwords only by where they come from)", "", "[carpd]"]
    lines += [f"{key} = {_toml(value)}" for key, value in _plain(config.carpd).items()]
    for vip in config.vips:
        lines += ["", f"[vip.{vip.name}]", *_vip_lines(vip, config)]
        for check in vip.checks:
            lines += ["", f"[[vip.{vip.name}.check]]"]
            lines += [f"{k} = {_toml(v)}" for k, v in _check_keys(check).items()]
    return "\n".join(lines) + "\n"


def render_json(config: RunningConfig) -> dict[str, Any]:
    vips = []
    for vip in config.vips:
        keys: dict[str, Any] = {"name": vip.name}
        for key, value in config.keys.get(vip.name, ()):
            keys[key] = _jsonable(value)
        if vip.name in config.password_sources:  # (a VRRPv3 VIP has none)
            keys["password"] = {"from": config.password_sources[vip.name]}
        keys["check"] = [{k: _jsonable(v) for k, v in _check_keys(c).items()}
                         for c in vip.checks]
        vips.append(keys)
    return {"path": config.path, "node": config.node,
            "carpd": {k: _jsonable(v) for k, v in _plain(config.carpd).items()}, "vips": vips}


def _vip_lines(vip: VipParams, config: RunningConfig) -> list[str]:
    lines = []
    for key, value in config.keys.get(vip.name, ()):
        note = '  # "auto", resolved' if (vip.name, key) in config.auto else ""
        lines.append(f"{key} = {_toml(value)}{note}")
    origin = config.password_sources.get(vip.name)
    return lines if origin is None else [*lines, _password_line(origin, config.path)]


def _password_line(origin: str, path: str) -> str:
    if origin == INLINE:
        return f"# password: written inline in {path} (not shown)"
    kind, _, where = origin.partition(" ")
    if kind == "file":
        return f"password_file = {_toml(where)}"
    if kind == "credential":
        return f"password_credential = {_toml(where)}"
    return f"# password: {origin} (not shown)"


def _check_keys(check: CheckParams) -> dict[str, object]:
    """The keys that describe `check` as a file would write it."""
    out: dict[str, object] = {}
    for f in dataclasses.fields(CheckParams):
        value = getattr(check, f.name)
        if value is None or value == () or (f.name == "weight" and check.fatal) or \
                (f.name == "fatal" and not value) or \
                (f.name == "expect_status" and check.type != "http"):
            continue
        out[f.name] = value
    return out


def _plain(table: Mapping[str, object]) -> dict[str, object]:
    return {k: v for k, v in table.items() if v is not None and v != ()}


def _jsonable(value: object) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _toml(value: object) -> str:
    """A TOML literal (JSON's string escapes are TOML's too)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, enum.Enum):
        return _toml(value.value)
    return json.dumps(str(value))  # strings, addresses (with their prefix length)
