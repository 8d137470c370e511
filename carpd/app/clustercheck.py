"""`carpd --check` for a file with per-node values: every node's view, and the cluster's.

Owns: `check_cluster(config)`, which loads the file once more for every other node of
`[carpd] nodes` (so a mistake that only another node's values make, say a per-node interface
that breaks a rule, fails `--check` here too), and returns the lines `--check` prints (which
node it checked, who is preferred for each VIP) with carpd.config.nodecheck's warnings, and
`is_this_host`: whether the node checked is the host `--check` runs on (only then are the
host's interfaces and addresses the node's).
Must not: print, or touch the network.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

from carpd.config.loader import Config, ConfigError, load_config
from carpd.config.nodecheck import cluster_warnings, preference_of, preferred_order
from carpd.config.nodes import short_hostname


@dataclass(frozen=True, slots=True)
class ClusterReport:
    lines: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = field(default=())


def check_cluster(config: Config) -> ClusterReport:
    """Nothing for a file without nodes; else the report of the module docstring."""
    if config.node is None:
        return ClusterReport()
    configs: dict[str, Config] = {}
    for node in config.nodes:
        try:
            configs[node] = config if node == config.node else load_config(
                config.path, node=node)
        except ConfigError as err:
            return ClusterReport(errors=(f"{err} (as node {node})",))
    lines = [f"node {config.node} (nodes: {', '.join(config.nodes)})"]
    lines += [_preferred(vip.name, configs) for vip in config.vips]
    return ClusterReport(lines=tuple(lines), warnings=tuple(cluster_warnings(configs)))


def _preferred(name: str, configs: dict[str, Config]) -> str:
    order = preferred_order(name, configs)
    pref = preference_of(order[0][1]) if order else None
    if pref is None:
        return f"{name}: its protocol's preference is not compared here"
    ranks = ", ".join(f"{node} ({pref.words(vip, 0)})" for node, vip in order)
    tie = len(order) > 1 and pref.rank(order[0][1], 0) == pref.rank(order[1][1], 0)
    return f"{name}: preferred in this order: {ranks}{' (a tie: none is preferred)' if tie else ''}"


def is_this_host(named: str | None) -> bool:
    """Whether the node checked is this host: yes unless `named` on the command line
    (`--node`; $CARPD_NODE says what this host is) as another host's name."""
    return named is None or named.lower() == short_hostname(socket.gethostname()).lower()
