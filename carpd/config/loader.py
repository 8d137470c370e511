"""The configuration file: TOML text -> a frozen, fully checked `Config` of `VipParams`.

Owns: `load_config` (the file is described in docs/configuration.md), `Config`
and `ConfigError`, whose text is `FILE:LINE: KEY.PATH: REASON` (":LINE" when known, "KEY: "
when there is one). One pass over the parsed document, in file order: the top-level tables,
then every key of `[carpd]` and `[defaults]` on its own (after `[carpd]`, the node the file is
loaded for, and a per-VIP key written as a table of per-node values becomes this node's value:
nodes.py), then each `[vip.NAME]`: its keys on
their own, the merge with `[defaults]` (a key of an exclusive group replaces the whole
inherited group), the required keys, the password, the rules between keys (advbase 0 needs
advskew > 0; a scope written on a link-local peer or source6 names the VIP's interface), the
remaining fields with their defaults, and last rules.py's rules of the VIP's keys together
(peers, sources, accept_ttl, l2_broadcast) and between VIPs (vhid unique per interface,
addresses unique, no VIP another VIP's peer). What the keys are, their validators and
defaults is schema.py's table; reading the password is secrets.py's; reading and parsing the
file (regular file, size and nesting bounds, tomllib) is reading.py's; lines come from
lines.py's scan of the text, since tomllib gives no positions for keys.
Invariants:
- `load_config` either returns a fully checked `Config` or raises `ConfigError` for the first
  problem in that order (keys of a table in file order, VIPs in file order), so the message
  is deterministic.
- An error about an inherited value points at its line in [defaults] and says which VIP
  inherited it; a missing key points at the VIP's table header.
- The password never appears in an error, a warning or a repr (it lives in a `Secret`).
- An error or a warning is one line: control characters and line breaks in the file name, a
  key or the reason are escaped (`_one_line`); names as written by anyone (a VIP's, an
  unknown key's) are located by their key path, never by re-splitting a dotted string.
- Warnings are located like errors, each one given once, in the order they are found.
- `Config.keys` remembers where each VIP's keys are written, so checks made after loading
  (hostcheck.py's, against the host's interfaces) are located the same way.
Must not: touch the network, resolve `source = "auto"` (the daemon does, at run time) or start
anything.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from carpd.config.checks import BadCheckError
from carpd.config.lines import LineIndex, split_key
from carpd.config.nodes import TABLE_KEYS, NodeValueError, per_node_values, select_node
from carpd.config.protocols import for_protocol, misplaced_key
from carpd.config.reading import FileRefused, read_document
from carpd.config.rules import RuleError, check_between, check_scope, check_vip
from carpd.config.schema import (
    CARPD_KEYS,
    DEFAULT_CONTROL_SOCKET,
    DEFAULT_MASTER_UNITS,
    DEFAULT_STATE_DIRECTORY,
    TOP_TABLES,
    VIP_EXCLUSIVE,
    VIP_KEYS,
    VIP_OPTIONAL,
    VIP_REQUIRED,
    Fill,
    KeySpec,
    exclusive_groups,
    filled,
)
from carpd.config.secrets import INLINE_WARNING, Password, PasswordKind, read_password
from carpd.config.values import BadValueError, type_name, vip_name
from carpd.core.params import Secret, VipParams

__all__ = ["DEFAULT_CONTROL_SOCKET", "DEFAULT_MASTER_UNITS", "DEFAULT_STATE_DIRECTORY", "Config",
           "ConfigError", "load_config"]

_Table = dict[str, Any]
SCOPED_KEYS = ("source6", "peers")  # link-local values may name a scope: the interface


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
    """One line, whatever the file name, key or text hold (control characters escaped)."""
    file, key, text = _one_line(file), _one_line(key), _one_line(text)
    where = file if line is None else f"{file}:{line}"
    return f"{where}: {key}: {text}" if key else f"{where}: {text}"


def _one_line(text: str) -> str:
    """`text` with control characters and line separators escaped as Python writes them."""
    if text.isprintable():
        return text
    return "".join(c.encode("unicode_escape").decode("ascii")
                   if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)


@dataclass(frozen=True, slots=True)
class KeyAt:
    """Where a VIP's key is written: its line and dotted path ("defaults.peers" when the VIP
    inherits it)."""

    line: int | None
    key: str


@dataclass(frozen=True, slots=True)
class Config:
    """The whole file, checked. `vips` are in file order; `password_sources` maps a VIP name to
    "file PATH", "credential NAME" or "inline" (never the password itself); `keys` maps
    (VIP name, key) to where each key the VIP has is written (`locate` uses it)."""

    path: str
    control_socket: str = DEFAULT_CONTROL_SOCKET
    state_directory: str = DEFAULT_STATE_DIRECTORY
    vips: tuple[VipParams, ...] = ()
    warnings: tuple[str, ...] = ()
    password_sources: dict[str, str] = field(default_factory=dict)
    metrics_textfile: str | None = None
    keys: dict[tuple[str, str], KeyAt] = field(default_factory=dict)
    nodes: tuple[str, ...] = ()  # [carpd] nodes: the nodes a per-node value is given for
    node: str | None = None  # the node these VIPs are for (None: the file names no nodes)
    digest: str = ""  # SHA-256 of the text loaded (has the file changed since?)

    def locate(self, vip: str, key: str, text: str) -> str:
        """`text` about VIP `vip`'s `key`, located like the loader's errors and warnings:
        `FILE:LINE: KEY.PATH: TEXT`, "(inherited by vip.NAME)" when [defaults] has it."""
        at = self.keys.get((vip, key), KeyAt(None, f"vip.{vip}.{key}"))
        if not at.key.startswith(f"vip.{vip}."):
            text = f"{text} (inherited by vip.{vip})"
        return _located(self.path, at.line, at.key, text)


@dataclass(frozen=True, slots=True)
class _Setting:
    """One checked value and where it was written (for errors about it later)."""

    value: Any
    key: str  # dotted path as written, e.g. "defaults.advskew"
    name: str  # the key itself, e.g. "advskew"
    line: int | None


_Settings = dict[str, _Setting]  # key name -> setting, in file order


def _unknown(key: str, known: tuple[str, ...], what: str = "key") -> str:
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        return f"unknown {what}; did you mean {close[0]!r}?"
    return f"unknown {what}; known: {', '.join(known)}"


def _merge(defaults: _Settings, own: _Settings) -> _Settings:
    """Inherit from [defaults]; setting one key of an exclusive group overrides the group."""
    merged = dict(defaults)
    for group in VIP_EXCLUSIVE:
        if any(k in own for k in group):
            for k in group:
                merged.pop(k, None)
    merged.update(own)
    return merged


class _Loader:
    """One pass over one file; raises ConfigError at the first problem (file order)."""

    def __init__(self, path: str, text: str, environ: Mapping[str, str],
                 node: str | None, hostname: str | None) -> None:
        self.path = path
        self.environ = environ
        self.requested, self.hostname = node, hostname
        self.nodes: tuple[str, ...] = ()
        self.node: str | None = None
        self.lines = LineIndex(text)
        self.digest = hashlib.sha256(text.encode()).hexdigest()
        self.warnings: list[str] = []
        self._passwords: dict[str, Password] = {}  # setting key -> the password it read
        self._sources: dict[str, str] = {}  # vip name -> origin of its password
        self._keys: dict[tuple[str, str], KeyAt] = {}  # (vip, key) -> where it is written

    # -- locations ---------------------------------------------------------------------------

    def error(self, key: str, reason: str) -> ConfigError:
        return ConfigError(self.path, self.lines.line_of(key), key, reason)

    def error_at(self, path: tuple[str, ...], reason: str) -> ConfigError:
        """`error` for a key path that holds names as written by anyone (a dot, a newline)."""
        return ConfigError(self.path, self.lines.line(path), ".".join(path), reason)

    def fail(self, setting: _Setting, reason: str) -> ConfigError:
        return ConfigError(self.path, setting.line, setting.key, reason)

    def fail_for(self, name: str, setting: _Setting, reason: str) -> ConfigError:
        """An error about a merged value, at the line where it is written."""
        if not setting.key.startswith(f"vip.{name}."):
            reason = f"{reason} (inherited by vip.{name})"
        return self.fail(setting, reason)

    def warn(self, setting: _Setting, text: str) -> None:
        message = _located(self.path, setting.line, setting.key, text)
        if message not in self.warnings:
            self.warnings.append(message)

    # -- tables ------------------------------------------------------------------------------

    def load(self, document: _Table) -> Config:
        self.check_top(document)
        carpd = self.table(document.get("carpd", {}), "carpd", CARPD_KEYS)
        self.choose_node(carpd)
        defaults = self.table(document.get("defaults", {}), "defaults", VIP_KEYS)
        self.warn_inline(defaults)
        vips = self.vips(document.get("vip"), defaults)
        daemon: dict[str, Any] = {spec.field: carpd[key].value if key in carpd else spec.default
                                  for key, spec in CARPD_KEYS.items()}
        return Config(path=self.path, vips=vips, warnings=tuple(self.warnings),
                      password_sources=dict(self._sources), keys=dict(self._keys),
                      node=self.node, digest=self.digest, **daemon)

    def choose_node(self, carpd: _Settings) -> None:
        """The node this load is for (carpd.config.nodes), before any per-node value."""
        setting = carpd.get("nodes")
        self.nodes = () if setting is None else setting.value
        try:
            self.node = select_node(self.nodes, self.requested, self.hostname)
        except BadValueError as err:
            raise (ConfigError(self.path, None, "", err.reason) if setting is None
                   else self.fail(setting, err.reason)) from None

    def check_top(self, document: _Table) -> None:
        for key, value in document.items():
            if key not in TOP_TABLES and key in VIP_KEYS:
                raise self.error(key, "per-VIP keys belong in [defaults] or [vip.NAME]")
            if key not in TOP_TABLES:
                raise self.error_at((key,), _unknown(key, TOP_TABLES, "table"))
            if not isinstance(value, dict):
                raise self.error(key, f"must be a table [{key}], not {type_name(value)}")

    def table(self, raw: _Table, where: str, keys: Mapping[str, KeySpec]) -> _Settings:
        """Check every key of one table on its own (types, ranges, exclusive groups)."""
        settings = {key: self.setting(where, key, value, keys) for key, value in raw.items()}
        for group in exclusive_groups(keys):
            present = sorted((settings[k] for k in group if k in settings),
                             key=lambda setting: setting.line or 0)
            if len(present) > 1:
                first, second = present[:2]
                raise self.fail(second, f"{first.name} and {second.name} are exclusive; use one")
        return settings

    def setting(self, where: str, key: str, value: object,
                keys: Mapping[str, KeySpec]) -> _Setting:
        dotted = f"{where}.{key}"
        if key not in keys:
            raise self.error_at((*split_key(where), key),
                                _misplaced(where, key, value, tuple(keys)))
        if keys is VIP_KEYS and isinstance(value, dict) and key not in TABLE_KEYS:
            return self.per_node_setting(where, key, value)
        try:
            checked = keys[key].validate(value)
        except BadValueError as err:
            raise self.error(dotted, err.reason) from None
        except BadCheckError as err:  # [[vip.NAME.check]]: located inside the array
            raise self.error(dotted + err.where, err.reason) from None
        return _Setting(checked, dotted, key, self.lines.line_of(dotted))

    def per_node_setting(self, where: str, key: str, table: _Table) -> _Setting:
        """A per-VIP key written as one value per node (carpd.config.nodes): every value is
        checked; the setting is this node's, located at its own key (`vip.web.advskew.web2`)."""
        path = (*split_key(where), key)
        try:
            values = per_node_values(key, table, self.nodes, VIP_KEYS[key].validate)
        except NodeValueError as err:
            raise self.error_at((*path, *err.path), err.reason) from None
        assert self.node is not None  # per_node_values refuses a file without nodes
        return _Setting(values[self.node], f"{where}.{key}.{self.node}", key,
                        self.lines.line((*path, self.node)))

    # -- VIPs --------------------------------------------------------------------------------

    def vips(self, raw: object, defaults: _Settings) -> tuple[VipParams, ...]:
        if not raw:
            raise ConfigError(self.path, None, "vip",
                              "no [vip.NAME] table: at least one VIP is required")
        assert isinstance(raw, dict)
        result: list[VipParams] = []
        for name, table in raw.items():
            result.append(self.vip(name, table, defaults, result))
        return tuple(result)

    def vip(self, name: str, table: object, defaults: _Settings,
            earlier: list[VipParams]) -> VipParams:
        where = f"vip.{name}"
        try:
            vip_name(name)
        except BadValueError as err:
            raise self.error_at(("vip", name), err.reason) from None
        if not isinstance(table, dict):
            raise self.error(where, f"must be a table [vip.{name}], not {type_name(table)}")
        own = self.table(table, where, VIP_KEYS)
        self.warn_inline(own)
        proto = self.protocol_of(own, defaults)
        merged = _merge(for_protocol(defaults, proto), own)
        fields: dict[str, Any] = {"name": name, "protocol": proto}
        self.fill_required(name, merged, fields)
        self.check_advbase(name, merged)
        self.check_scopes(name, merged)
        self.fill_optional(name, merged, fields)
        vip = VipParams(**fields)
        self.check_rules(name, vip, merged, earlier)
        self.record_keys(name, merged)
        return vip

    def protocol_of(self, own: _Settings, defaults: _Settings) -> str:
        """The VIP's protocol; a key of the other protocol in its own table is an error."""
        setting = own.get("protocol") or defaults.get("protocol")
        proto = str(setting.value) if setting is not None else "carp"
        wrong = misplaced_key(proto, own)
        if wrong is not None:
            raise self.fail(own[wrong[0]], wrong[1])
        return proto

    def fill_required(self, name: str, s: _Settings, fields: dict[str, Any]) -> None:
        """Fill the required fields in table order (VRRPv3 VIPs take no password)."""
        for keys in VIP_REQUIRED:
            group = tuple(k for k in keys if k in for_protocol(VIP_KEYS, fields["protocol"]))
            if not group:
                continue
            setting = self.require(name, s, group)
            fields[VIP_KEYS[setting.name].field] = self.value(name, setting)

    def fill_optional(self, name: str, s: _Settings, fields: dict[str, Any]) -> None:
        for group in VIP_OPTIONAL:
            setting = next((s[k] for k in group if k in s), None)
            spec = VIP_KEYS[group[0]]
            fields[spec.field] = (filled(spec, spec.default, name) if setting is None
                                  else self.value(name, setting))

    def value(self, name: str, setting: _Setting) -> Any:
        spec = VIP_KEYS[setting.name]
        if spec.fill is Fill.READ_PASSWORD:
            return self.password(name, setting)
        return filled(spec, setting.value, name)

    def require(self, name: str, s: _Settings, keys: tuple[str, ...]) -> _Setting:
        for key in keys:
            if key in s:
                return s[key]
        wanted = " or ".join(keys)
        raise ConfigError(self.path, self.lines.line(("vip", name)), f"vip.{name}.{keys[0]}",
                          f"{wanted} is required (here or in [defaults])")

    def check_advbase(self, name: str, s: _Settings) -> None:
        """advbase 0 only with advskew > 0 (as ucarp), and then with a warning."""
        advbase = s.get("advbase")
        if advbase is None or advbase.value != 0:
            return
        advskew = s["advskew"].value if "advskew" in s else VIP_KEYS["advskew"].default
        if advskew == 0:
            raise self.fail_for(name, advbase, "advbase 0 requires advskew > 0 (as ucarp)")
        self.warn(advbase, "advbase 0: the master-down interval is only advskew/256 s, "
                  "a single late advert causes a takeover")

    def check_rules(self, name: str, vip: VipParams, s: _Settings,
                    earlier: list[VipParams]) -> None:
        """rules.py's rules of one VIP, then between VIPs (named at the later VIP)."""
        try:
            check_vip(vip)
            check_between(vip, earlier)
        except RuleError as err:
            raise self.fail_for(name, self.setting_of(err.field, s), err.reason) from None

    def check_scopes(self, name: str, s: _Settings) -> None:
        interface = self.setting_of("interface", s).value
        for key in SCOPED_KEYS:
            if key in s:
                try:
                    check_scope(key, s[key].value, interface)
                except RuleError as err:
                    raise self.fail_for(name, s[key], err.reason) from None

    def setting_of(self, field_name: str, s: _Settings) -> _Setting:
        """The setting that filled `field_name` (a rule only blames a field that is set)."""
        return next(s[k] for k, spec in VIP_KEYS.items() if spec.field == field_name and k in s)

    def record_keys(self, name: str, s: _Settings) -> None:
        """Where each of the VIP's keys is written, for checks after loading (hostcheck)."""
        for key, setting in s.items():
            self._keys[(name, key)] = KeyAt(setting.line, setting.key)

    # -- passwords ---------------------------------------------------------------------------

    def warn_inline(self, settings: _Settings) -> None:
        if PasswordKind.INLINE.value in settings:
            self.warn(settings[PasswordKind.INLINE.value], INLINE_WARNING)

    def password(self, name: str, setting: _Setting) -> Secret:
        """The password `setting` designates, read once per setting (shared by the VIPs that
        inherit it); records its origin for `name`."""
        if setting.key not in self._passwords:
            try:
                read = read_password(PasswordKind(setting.name), setting.value, self.environ)
            except BadValueError as err:
                raise self.fail(setting, err.reason) from None
            for text in read.warnings:
                self.warn(setting, text)
            self._passwords[setting.key] = read
        self._sources[name] = self._passwords[setting.key].origin
        return self._passwords[setting.key].secret


def _misplaced(where: str, key: str, value: object, known: tuple[str, ...]) -> str:
    """Why `key` cannot be in [where]: a nested table, a VIP key in [carpd] or unknown."""
    if isinstance(value, dict):
        return f"unexpected table; [{where}] holds plain keys only"
    if where == "carpd" and key in VIP_KEYS:
        return "per-VIP keys belong in [defaults] or [vip.NAME], not [carpd]"
    return _unknown(key, known)


def load_config(path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None,
                node: str | None = None, hostname: str | None = None) -> Config:
    """Read and check the TOML file at `path`. `environ` (default os.environ) supplies
    CREDENTIALS_DIRECTORY for password_credential. A file with `[carpd] nodes` is loaded for
    `node` (`carpd --node`), else for the node named like `hostname` (default: this host's
    name). Raises ConfigError."""
    name = os.fspath(path)
    try:
        text, document = read_document(name)
    except FileRefused as err:
        raise ConfigError(name, err.line, err.key, err.reason) from None
    loader = _Loader(name, text, os.environ if environ is None else environ, node, hostname)
    return loader.load(document)
