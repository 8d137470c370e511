"""The configuration file: TOML text -> frozen `Config` with `VipParams`, and every rule about it.

Owns: reading `/etc/carpd.toml` (reference in docs/configuration.md), inheritance from
`[defaults]`, the rules between keys and between VIPs, and `ConfigError`, whose text is
`FILE:LINE: KEY.PATH: REASON`. Single values are checked by values.py's validators, the
password is read and checked by secrets.py.
Invariants:
- `load_config` either returns a fully checked `Config` or raises `ConfigError`; the first error
  in file order wins, so the message is deterministic.
- The password never appears in an error, a warning or a repr (it lives in a `Secret`).
- Ranges follow ucarp: vhid 1..255, advbase 0..255 (0 only with advskew > 0), advskew 0..254
  (255 with advbase 255 is the bow-out sentinel), deadratio > 0.
Must not: touch the network, resolve `source = "auto"` (the daemon does, at run time) or start
anything. Line numbers come from lines.py's scan of the text: tomllib gives none for keys.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from carpd.config.checks import BadCheckError, parse_checks
from carpd.config.lines import LineIndex
from carpd.config.secrets import (
    INLINE_WARNING,
    Password,
    PasswordKind,
    credential_name,
    inline_password,
    read_password,
)
from carpd.config.values import (
    BadValueError,
    absolute_path,
    address,
    addresses,
    any_string,
    boolean,
    expand_name,
    garp_interval,
    integer,
    interface_name,
    multicast_group,
    script,
    source,
    sync_group,
    type_name,
    unit_names,
    vip_name,
)
from carpd.core.params import Secret, VipParams

if sys.version_info >= (3, 11):  # noqa: UP036 (tomli fallback kept for 3.10 backports)
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_CONTROL_SOCKET = "/run/carpd/control.sock"
DEFAULT_STATE_DIRECTORY = "/var/lib/carpd"
DEFAULT_MASTER_UNITS = ("carpd-master@{name}.target",)

_Table = dict[str, Any]


class ConfigError(Exception):
    """A configuration mistake, located: `FILE:LINE: KEY: REASON` (":LINE" when known)."""

    def __init__(self, file: str, line: int | None, key: str, reason: str) -> None:
        super().__init__(file, line, key, reason)
        self.file = file
        self.line = line
        self.key = key
        self.reason = reason

    def __str__(self) -> str:
        return _located(self.file, self.line, self.key, self.reason)


def _located(file: str, line: int | None, key: str, text: str) -> str:
    where = file if line is None else f"{file}:{line}"
    return f"{where}: {key}: {text}" if key else f"{where}: {text}"


@dataclass(frozen=True, slots=True)
class Config:
    """The whole file, checked. `vips` are in file order; `password_sources` maps a VIP name to
    "file PATH", "credential NAME" or "inline" (never the password itself)."""

    path: str
    control_socket: str = DEFAULT_CONTROL_SOCKET
    state_directory: str = DEFAULT_STATE_DIRECTORY
    vips: tuple[VipParams, ...] = ()
    warnings: tuple[str, ...] = ()
    password_sources: dict[str, str] = field(default_factory=dict)
    metrics_textfile: str | None = None


VIP_KEYS: dict[str, Callable[[object], object]] = {
    "interface": interface_name, "vhid": partial(integer, low=1, high=255),
    "address": address, "addresses": addresses,
    "advbase": partial(integer, low=0, high=255,
                       what="an integer 1..255 (0 only with advskew > 0)"),
    "advskew": partial(integer, low=0, high=254), "deadratio": partial(integer, low=1, high=None),
    "preempt": boolean, "password_file": absolute_path,
    "password_credential": credential_name, "password": inline_password,
    "source": source, "multicast_group": multicast_group, "l2_broadcast": boolean,
    "garp_count": partial(integer, low=0, high=100), "garp_interval": garp_interval,
    "master_units": unit_names, "upscript": script, "downscript": script,
    "xparam": any_string, "sync_group": sync_group, "require_units": unit_names,
    "check": parse_checks,
}
CARPD_KEYS: dict[str, Callable[[object], object]] = {
    "control_socket": absolute_path, "state_directory": absolute_path,
    "metrics_textfile": absolute_path,
}
TOP_TABLES = ("carpd", "defaults", "vip")
_EXCLUSIVE = (("address", "addresses"), ("password_file", "password_credential", "password"))


def _unknown(key: str, known: tuple[str, ...], what: str = "key") -> BadValueError:
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        return BadValueError(f"unknown {what}; did you mean {close[0]!r}?")
    return BadValueError(f"unknown {what}; known: {', '.join(known)}")


# ---------------------------------------------------------------------------------------------
# The loader.


@dataclass(frozen=True, slots=True)
class _Setting:
    """One checked value and where it was written (for errors about it later)."""

    value: Any
    key: str  # dotted path as written, e.g. "defaults.advskew"
    line: int | None


class _Loader:
    """One pass over one file; raises ConfigError at the first problem (file order)."""

    def __init__(self, path: str, text: str, environ: Mapping[str, str]) -> None:
        self.path = path
        self.environ = environ
        self.lines = LineIndex(text)
        self.warnings: list[str] = []
        self._passwords: dict[str, Password] = {}  # setting key -> the password it read
        self._sources: dict[str, str] = {}  # vip name -> origin of its password

    def error(self, key: str, reason: str) -> ConfigError:
        return ConfigError(self.path, self.lines.line_of(key), key, reason)

    def fail(self, setting: _Setting, reason: str) -> ConfigError:
        return ConfigError(self.path, setting.line, setting.key, reason)

    def warn(self, setting: _Setting, text: str) -> None:
        message = _located(self.path, setting.line, setting.key, text)
        if message not in self.warnings:
            self.warnings.append(message)

    def load(self, document: _Table) -> Config:
        for key, value in document.items():
            if key not in TOP_TABLES and key in VIP_KEYS:
                raise self.error(key, "per-VIP keys belong in [defaults] or [vip.NAME]")
            if key not in TOP_TABLES:
                raise self.error(key, _unknown(key, TOP_TABLES, "table").reason)
            if not isinstance(value, dict):
                raise self.error(key, f"must be a table [{key}], not {type_name(value)}")
        carpd = self.table(document.get("carpd", {}), "carpd", CARPD_KEYS)
        defaults = self.table(document.get("defaults", {}), "defaults", VIP_KEYS)
        vips = self.vips(document.get("vip"), defaults)
        return Config(
            path=self.path,
            control_socket=carpd["control_socket"].value if "control_socket" in carpd
            else DEFAULT_CONTROL_SOCKET,
            state_directory=carpd["state_directory"].value if "state_directory" in carpd
            else DEFAULT_STATE_DIRECTORY,
            vips=vips, warnings=tuple(self.warnings),
            metrics_textfile=carpd["metrics_textfile"].value if "metrics_textfile" in carpd
            else None,
            password_sources=dict(self._sources),
        )

    def table(self, raw: _Table, where: str,
              keys: dict[str, Callable[[object], object]]) -> dict[str, _Setting]:
        """Check every key of one table on its own (types, ranges, exclusive pairs)."""
        settings: dict[str, _Setting] = {}
        for key, value in raw.items():
            dotted = f"{where}.{key}"
            if key not in keys and isinstance(value, dict):
                raise self.error(dotted, f"unexpected table; [{where}] holds plain keys only")
            if key not in keys:
                hint = _unknown(key, tuple(keys)).reason
                if where == "carpd" and key in VIP_KEYS:
                    hint = "per-VIP keys belong in [defaults] or [vip.NAME], not [carpd]"
                raise self.error(dotted, hint)
            try:
                checked = keys[key](value)
            except BadValueError as err:
                raise self.error(dotted, err.reason) from None
            except BadCheckError as err:  # [[vip.NAME.check]]: located inside the array
                raise self.error(dotted + err.where, err.reason) from None
            settings[key] = _Setting(checked, dotted, self.lines.line_of(dotted))
        for group in _EXCLUSIVE:
            present = sorted((settings[k] for k in group if k in settings),
                             key=lambda setting: setting.line or 0)
            if len(present) > 1:
                first, second = (p.key.rsplit(".", 1)[1] for p in present[:2])
                raise self.fail(present[1], f"{first} and {second} are exclusive; use one")
        if where == "defaults" and "password" in settings:
            self.warn_inline(settings["password"])
        return settings

    def vips(self, raw: object, defaults: dict[str, _Setting]) -> tuple[VipParams, ...]:
        if not raw:
            raise ConfigError(self.path, None, "vip",
                              "no [vip.NAME] table: at least one VIP is required")
        assert isinstance(raw, dict)
        result: list[VipParams] = []
        for name, table in raw.items():
            where = f"vip.{name}"
            try:
                vip_name(name)
            except BadValueError as err:
                raise self.error(where, err.reason) from None
            if not isinstance(table, dict):
                raise self.error(where, f"must be a table [vip.{name}], not {type_name(table)}")
            own = self.table(table, where, VIP_KEYS)
            if "password" in own:
                self.warn_inline(own["password"])
            merged = self.merge(defaults, own)
            vip = self.vip(name, merged)
            self.cross_check(name, merged, result)
            result.append(vip)
        return tuple(result)

    @staticmethod
    def merge(defaults: dict[str, _Setting], own: dict[str, _Setting]) -> dict[str, _Setting]:
        """Inherit from [defaults]; setting one key of an exclusive group overrides the group."""
        merged = dict(defaults)
        for group in _EXCLUSIVE:
            if any(k in own for k in group):
                for k in group:
                    merged.pop(k, None)
        merged.update(own)
        return merged

    def require(self, name: str, s: dict[str, _Setting], *keys: str) -> _Setting:
        for key in keys:
            if key in s:
                return s[key]
        wanted = " or ".join(keys)
        raise ConfigError(self.path, self.lines.line(("vip", name)), f"vip.{name}.{keys[0]}",
                          f"{wanted} is required (here or in [defaults])")

    def vip(self, name: str, s: dict[str, _Setting]) -> VipParams:
        interface = self.require(name, s, "interface").value
        vhid = self.require(name, s, "vhid").value
        addresses = self.require(name, s, "address", "addresses")
        password = self.password(name, s)
        advbase = s["advbase"].value if "advbase" in s else 1
        advskew = s["advskew"].value if "advskew" in s else 0
        if advbase == 0:
            if advskew == 0:
                raise self.fail_for(name, s["advbase"], "advbase 0 requires advskew > 0 (as ucarp)")
            self.warn(s["advbase"], "advbase 0: the master-down interval is only advskew/256 s, "
                      "a single late advert causes a takeover")
        units = s.get("master_units")
        opt = {k: v.value for k, v in s.items() if k in _OPTIONAL}
        if "require_units" in s:
            opt["require_units"] = tuple(expand_name(u, name) for u in s["require_units"].value)
        if "check" in s:
            opt["checks"] = s["check"].value
        return VipParams(
            name=name, vhid=vhid, interface=interface, password=password,
            addresses=_hosts_interfaces(addresses.value),
            master_units=tuple(expand_name(u, name) for u in units.value) if units
            else tuple(u.format(name=name) for u in DEFAULT_MASTER_UNITS),
            **opt,
        )

    def cross_check(self, name: str, s: dict[str, _Setting], earlier: list[VipParams]) -> None:
        """vhid unique per interface, addresses unique across VIPs; named at the later VIP."""
        vhid, interface = s["vhid"], s["interface"].value
        addresses = s["address"] if "address" in s else s["addresses"]
        hosts = _hosts(addresses.value)
        for other in earlier:
            if other.vhid == vhid.value and other.interface == interface:
                raise self.fail_for(name, vhid, f"{vhid.value} is already used by "
                                    f"vip.{other.name} on {interface}")
            for ip in hosts:
                if ip in other.hosts:
                    raise self.fail_for(name, addresses,
                                        f"{ip} is already used by vip.{other.name}")

    def fail_for(self, name: str, setting: _Setting, reason: str) -> ConfigError:
        """An error about a merged value, at the line where it is written."""
        if not setting.key.startswith(f"vip.{name}."):
            reason = f"{reason} (inherited by vip.{name})"
        return self.fail(setting, reason)

    # -- passwords -------------------------------------------------------------------------

    def warn_inline(self, setting: _Setting) -> None:
        self.warn(setting, INLINE_WARNING)

    def password(self, name: str, s: dict[str, _Setting]) -> Secret:
        """The password of VIP `name`, read once per setting (shared by the VIPs that inherit
        it); records its origin for `name`."""
        setting = self.require(name, s, *(kind.value for kind in PasswordKind))
        if setting.key not in self._passwords:
            kind = PasswordKind(setting.key.rsplit(".", 1)[1])
            try:
                read = read_password(kind, setting.value, self.environ)
            except BadValueError as err:
                raise self.fail(setting, err.reason) from None
            for text in read.warnings:
                self.warn(setting, text)
            self._passwords[setting.key] = read
        self._sources[name] = self._passwords[setting.key].origin
        return self._passwords[setting.key].secret


def _hosts_interfaces(value: object) -> tuple[ipaddress.IPv4Interface, ...]:
    if isinstance(value, ipaddress.IPv4Interface):
        return (value,)
    assert isinstance(value, tuple)
    return value


def _hosts(value: object) -> tuple[ipaddress.IPv4Address, ...]:
    return tuple(a.ip for a in _hosts_interfaces(value))


_OPTIONAL = frozenset({"sync_group",
                       "advbase", "advskew", "deadratio", "preempt", "source", "multicast_group",
                       "l2_broadcast", "garp_count", "garp_interval", "upscript", "downscript",
                       "xparam"})


def _syntax_error(path: str, text: str, err: tomllib.TOMLDecodeError) -> ConfigError:
    message = str(err)
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if match:
        line: int | None = int(match.group(1))
        message = f"{message[: match.start()]} (column {match.group(2)})"
    else:
        message = re.sub(r"\s*\(at end of document\)$", " at the end of the file", message)
        line = max(1, len(text.splitlines()))
    return ConfigError(path, line, "", f"TOML syntax error: {message}")


def _read_text(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        raise ConfigError(path, None, "", f"cannot read the file: {err.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise ConfigError(path, line, "", "not valid UTF-8") from None


def load_config(path: str | os.PathLike[str], *,
                environ: Mapping[str, str] | None = None) -> Config:
    """Read and check the TOML file at `path`. `environ` (default os.environ) supplies
    CREDENTIALS_DIRECTORY for password_credential. Raises ConfigError."""
    name = os.fspath(path)
    text = _read_text(name)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise _syntax_error(name, text, err) from None
    loader = _Loader(name, text, os.environ if environ is None else environ)
    return loader.load(document)
