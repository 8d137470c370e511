"""Reading this host for the doctor: the one impure module of carpd.doctor.

Owns: `gather(status) -> Facts`: `ip -j addr show` (links, flags, addresses), /proc/net/igmp
and /proc/net/igmp6, the sysctls the checks read (rp_filter, arp_ignore, arp_announce of
"all" and of each VIP's interface), `nft -j list ruleset`, `iptables-save` and
`ip6tables-save` where installed, `ip -j route get PEER` for every known IPv4 peer, and the
keepalived/ucarp processes in this network namespace (their argv, keepalived's
configuration file). Everything runs in the caller's network namespace (`ip netns exec NS
carpctl doctor` inspects NS). Whatever cannot be read (a tool missing, no permission, a
timeout) is recorded in `Facts.problems` under the check it would have served, never raised.
Must not: change anything on the host; take long (each command has TOOL_TIMEOUT_S).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from carpd.doctor.checks import Facts, OtherDaemon, Vip
from carpd.doctor.iptables import parse_iptables_save
from carpd.doctor.nftables import parse_nft_json
from carpd.doctor.parsers import (
    keepalived_addresses,
    keepalived_config_path,
    parse_igmp,
    parse_igmp6,
    parse_ip_addr,
    parse_route_dev,
    ucarp_addresses,
)

TOOL_TIMEOUT_S = 5.0
OTHER_DAEMONS = frozenset({"keepalived", "ucarp", "vrrpd", "uvrrpd"})


def gather(status: dict[str, Any] | None, *, proc: Path = Path("/proc")) -> Facts:
    vips = [Vip.of(v) for v in (status or {}).get("vips", [])]
    facts = Facts()
    out = _run(facts, "interface", ["ip", "-j", "addr", "show"])
    facts.links = None if out is None else parse_ip_addr(out)
    facts.igmp = _read_proc(facts, proc / "net/igmp", lambda t: parse_igmp(t, sys.byteorder))
    facts.igmp6 = _read_proc(facts, proc / "net/igmp6", parse_igmp6)
    facts.sysctls = _sysctls(proc, {v.interface for v in vips})
    _firewall(facts)
    for peer in sorted({p for v in vips for p in v.known_peers("ip")}):
        route = _run(facts, "rp_filter", ["ip", "-j", "route", "get", peer])
        facts.routes[peer] = None if route is None else parse_route_dev(route)
    facts.daemons = list(_daemons(proc))
    return facts


def _run(facts: Facts, check: str, argv: list[str], *, optional: bool = False) -> str | None:
    if shutil.which(argv[0]) is None:
        if not optional:
            facts.problems.setdefault(check, []).append(f"{argv[0]} is not installed")
        return None
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S,
                              check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        facts.problems.setdefault(check, []).append(f"{' '.join(argv)}: {exc}")
        return None
    if done.returncode != 0:
        why = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        facts.problems.setdefault(check, []).append(f"{' '.join(argv)}: {why[0]}")
        return None
    return done.stdout


def _read_proc(facts: Facts, path: Path, parse: Any) -> Any:
    try:
        return parse(path.read_text())
    except OSError as exc:
        facts.problems.setdefault("multicast", []).append(f"{path}: {exc.strerror}")
        return None


def _sysctls(proc: Path, interfaces: Iterable[str]) -> dict[str, str]:
    values = {}
    for scope in ("all", *sorted(interfaces)):
        for key in ("rp_filter", "arp_ignore", "arp_announce"):
            path = proc / "sys/net/ipv4/conf" / scope / key
            try:
                values[f"net.ipv4.conf.{scope}.{key}"] = path.read_text().strip()
            except OSError:
                continue
    return values


def _firewall(facts: Facts) -> None:
    nft = _run(facts, "firewall", ["nft", "-j", "list", "ruleset"],
               optional=shutil.which("iptables-save") is not None)
    if nft is not None:
        facts.rulesets.append(parse_nft_json(nft))
    for tool, family in (("iptables-save", "iptables"), ("ip6tables-save", "ip6tables")):
        text = _run(facts, "firewall", [tool], optional=True)
        if text is not None:
            facts.rulesets.append(parse_iptables_save(text, family))
    for ruleset in facts.rulesets:
        facts.problems.setdefault("firewall", []).extend(ruleset.problems)
    if not facts.problems.get("firewall"):
        facts.problems.pop("firewall", None)


def _daemons(proc: Path) -> Iterable[OtherDaemon]:
    own_ns = _netns(proc / "self")
    seen: set[tuple[str, frozenset[str]]] = set()
    for entry in sorted(proc.glob("[0-9]*"), key=lambda p: int(p.name)):
        try:
            program = (entry / "comm").read_text().strip()
            if program not in OTHER_DAEMONS:
                continue
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
        except OSError:
            continue
        ns = _netns(entry)
        if ns is not None and own_ns is not None and ns != own_ns:
            continue  # another network namespace: not this host's network
        daemon = _describe(int(entry.name), program, argv)
        if ns is None:
            daemon = OtherDaemon(daemon.pid, program, daemon.addresses,
                                 "cannot tell its network namespace (run as root)")
        key = (program, daemon.addresses)
        if key not in seen:
            seen.add(key)
            yield daemon


def _netns(entry: Path) -> str | None:
    try:
        return os.readlink(entry / "ns/net")
    except OSError:
        return None


def _describe(pid: int, program: str, argv: list[str]) -> OtherDaemon:
    if program == "ucarp":
        return OtherDaemon(pid, program, frozenset(ucarp_addresses(argv)))
    if program == "keepalived":
        path = keepalived_config_path(argv)
        try:
            text = Path(path).read_text()
        except OSError as exc:
            return OtherDaemon(pid, program, frozenset(), f"cannot read {path}: {exc.strerror}")
        return OtherDaemon(pid, program, frozenset(keepalived_addresses(text)))
    return OtherDaemon(pid, program, frozenset(), "its addresses are not read")
