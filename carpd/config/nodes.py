"""Per-node values: one carpd.toml deployed unchanged on every node of a cluster.

Owns: the `[carpd] nodes` list (`node_names`), which node a load is for (`select_node`: the
one named by `carpd --node NAME`, else the one named like this host's short host name, in
any case),
the keys that may not differ between nodes (`SHARED_KEYS`) and `per_node_values`, which
checks one per-node table.
How it works: any per-VIP key (in [defaults] or [vip.NAME]) may be written as a table keyed by
node name instead of a plain value, inline (`advskew = { web1 = 0, web2 = 100 }`) or as a
`[vip.web.advskew]` table; no per-VIP key but `check` (`TABLE_KEYS`, whose tables its own
validator judges) takes a table as its value, so a table anywhere else means "one value per
node". The table must name every node of `[carpd] nodes` and nothing
else; each value is checked with the key's own validator (so a mistake in another node's value
fails `--check` here too), and the loader takes the value of the node it loads for. The keys
that identify the virtual host on the wire (the protocol, vhid or vrid, addresses, password,
multicast group, L2 broadcast) and the check tables cannot differ: the nodes would not
recognise each other.
Nothing here knows a protocol: a VRRPv3 `priority` is per-node like CARP's `advskew`.
Invariants: node names are short host names (a letter or digit, then letters, digits, `_`,
`-`; at most 63), listed once; a load of a file without `nodes` has no node, and a per-node
table in it is an error that says to declare the nodes.
Must not: read files or the environment, or locate errors (it raises `NodeValueError` with
the key path below the table; the loader locates it).
"""

from __future__ import annotations

import difflib
import re
import socket
from collections.abc import Callable, Mapping

from carpd.config.values import BadValueError, type_name

NODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
TABLE_KEYS = frozenset({"check"})  # take tables themselves: a table is never per-node there
SHARED_KEYS = frozenset({"protocol", "vhid", "vrid", "address", "addresses", "password",
                         "password_file", "password_credential", "multicast_group",
                         "l2_broadcast", "check"})


class NodeValueError(Exception):
    """A per-node table is wrong: `reason`, at `path` below the key (() = the key itself)."""

    def __init__(self, path: tuple[str, ...], reason: str) -> None:
        super().__init__(path, reason)
        self.path, self.reason = path, reason


def node_names(value: object) -> tuple[str, ...]:
    """The `[carpd] nodes` list: at least one short host name, no repeats."""
    if not isinstance(value, list) or not value:
        raise BadValueError(f"must be a non-empty array of node names, not {type_name(value)}")
    names: list[str] = []
    for name in value:
        if not isinstance(name, str) or not NODE_RE.fullmatch(name):
            raise BadValueError(f"invalid node name {name!r}: a short host name (a letter or "
                                "digit, then letters, digits, '_' or '-'; at most 63)")
        if name in names:
            raise BadValueError(f"node {name!r} is listed twice")
        names.append(name)
    return tuple(names)


def short_hostname(hostname: str) -> str:
    """`web1.example.com` -> `web1` (node names are short host names)."""
    return hostname.split(".", 1)[0]


def select_node(nodes: tuple[str, ...], requested: str | None,
                hostname: str | None = None) -> str | None:
    """The node a load is for, None for a file without nodes; BadValueError says why none.
    `hostname` defaults to this host's name."""
    if not nodes:
        if requested is not None:
            raise BadValueError(f"--node {requested}: this file names no nodes (add [carpd] "
                                f"nodes = [...] to give keys per-node values)")
        return None
    if requested is not None:
        if requested not in nodes:
            raise BadValueError(f"--node {requested}: {_not_a_node(requested, nodes)}")
        return requested
    short = short_hostname(socket.gethostname() if hostname is None else hostname)
    match = [n for n in nodes if n.lower() == short.lower()]  # host names ignore case
    if match:
        return match[0]
    raise BadValueError(f"this host is {short!r}, which is none of the nodes "
                        f"({', '.join(nodes)}): start carpd with --node NAME")


def per_node_values(key: str, table: Mapping[str, object], nodes: tuple[str, ...],
                    validate: Callable[[object], object]) -> dict[str, object]:
    """Every node's checked value of `key`, in the order of `nodes`."""
    if key in SHARED_KEYS:
        raise NodeValueError((), f"{key} is the same on every node: it cannot have per-node "
                             "values (a table here means one value per node)")
    if not nodes:
        raise NodeValueError((), "a table of per-node values needs [carpd] nodes = [...] "
                             "naming the nodes (no per-VIP key takes a table)")
    for name in table:
        if name not in nodes:
            raise NodeValueError((name,), _not_a_node(name, nodes))
    missing = [n for n in nodes if n not in table]
    if missing:
        raise NodeValueError((), f"no value for node{'s' if len(missing) > 1 else ''} "
                             f"{', '.join(missing)} (every node of [carpd] nodes needs one)")
    values: dict[str, object] = {}
    for name in nodes:
        try:
            values[name] = validate(table[name])
        except BadValueError as err:
            raise NodeValueError((name,), err.reason) from None
    return values


def _not_a_node(name: str, nodes: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, nodes, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"not a node of [carpd] nodes ({', '.join(nodes)}){hint}"
