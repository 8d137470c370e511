"""`carpd convert keepalived FILE`: print the carpd.toml equivalent of a keepalived.conf.

Owns: the subcommand's arguments and exit codes (0 everything translated; 1 something was
left out or differs, the output still printed; 2 the file cannot be read or parsed, one line
`carpd convert: error: FILE:LINE: REASON`, no traceback), and the translation of a whole
configuration: global_defs (vrrp_version, vrrp_check_unicast_src, script_user; the rest reported),
the definitions the tracking refers to, vrrp_sync_group (-> sync_group, and its track_* on
every member), each vrrp_instance through carpd.app.keepalived.vips, the carpd names of
VIPs and groups (lowercase, invalid characters as '-', unique), the checks and the priority
boost of positive weights, and last a load of the output with carpd's own loader, whose
complaint (a missing upscript on this host, a value carpd refuses) is reported with the line
of the output. stdout gets only the TOML; every finding goes to stderr as
`carpd convert: FILE:LINE: KEYWORD: SEVERITY: REASON` (keywords.py). The keepalived side is
docs/migrating-from-keepalived.md.
Must not: write anything but stdout/stderr (the self-check's temporary file aside) or start
anything.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field

from carpd.app.keepalived.checks import (
    DEFINITION_KINDS,
    TRACK_KINDS,
    Definitions,
    Tracked,
    for_sync_group,
    resolve,
    to_table,
    weigh,
)
from carpd.app.keepalived.conf import ConfError, Parsed, Statement, Where, parse_config
from carpd.app.keepalived.keywords import (
    DIFF,
    NOTE,
    NT,
    SYNC_GROUP,
    TOP_LEVEL,
    Finding,
    Severity,
    global_entry,
    unknown,
)
from carpd.app.keepalived.toml import Table, render
from carpd.app.keepalived.vips import Globals, Vip, map_instance

EXIT_OK, EXIT_LEFT_OUT, EXIT_UNREADABLE = 0, 1, 2
NAME_MAX = 32
SYNC_NOTE = ("carpd's sync_group moves its members together by lending each other their "
             "demotions (docs/health.md); keepalived forces every member into one state")


@dataclass
class Group:
    name: str
    stmt: Statement
    members: list[str] = field(default_factory=list)
    tracked: list[Tracked] = field(default_factory=list)
    tracking_weight: bool = False


@dataclass
class Result:
    text: str
    findings: list[Finding]
    vips: int

    @property
    def exit_code(self) -> int:
        return EXIT_OK if all(f.severity is NOTE for f in self.findings) else EXIT_LEFT_OUT


def carpd_name(text: str, limit: int = NAME_MAX) -> str:
    """A carpd VIP or group name for a keepalived one: "VI_1" -> "vi_1"."""
    cleaned = re.sub(r"[^a-z0-9_-]", "-", text.lower()).lstrip("_-")
    return (cleaned or "vip")[:limit]


def _unique(name: str, taken: set[str]) -> str:
    candidate, counter = name, 2
    while candidate in taken:
        suffix = f"-{counter}"
        candidate = name[:NAME_MAX - len(suffix)] + suffix
        counter += 1
    taken.add(candidate)
    return candidate


class _Converter:
    def __init__(self, source: str, vrrp2_as_vrrp3: bool) -> None:
        self.source = source
        self.glob = Globals(vrrp2_as_vrrp3=vrrp2_as_vrrp3)
        self.defs = Definitions()
        self.findings: list[Finding] = []
        self.groups: list[Group] = []
        self.instances: list[Statement] = []
        self.all_vips: list[Vip] = []

    def sort(self, statements: Sequence[Statement]) -> None:
        for stmt in statements:
            keyword = stmt.keyword
            if keyword == "global_defs":
                self.global_defs(stmt.block or ())
            elif keyword in DEFINITION_KINDS and stmt.args:
                self.defs.blocks[(DEFINITION_KINDS[keyword], stmt.args[0])] = stmt
            elif keyword == "vrrp_sync_group" and stmt.args:
                self.groups.append(Group(stmt.args[0], stmt))
            elif keyword == "vrrp_instance":
                self.instances.append(stmt)
            elif keyword in TOP_LEVEL:
                severity, reason = TOP_LEVEL[keyword]
                self.findings.append(Finding(stmt.where, keyword, severity, reason))
            else:
                self.findings.append(unknown(stmt.where, keyword, "top-level"))

    def global_defs(self, block: tuple[Statement, ...]) -> None:
        for stmt in block:
            keyword = stmt.keyword
            if keyword == "vrrp_version" and stmt.args[:1] in (("2",), ("3",)):
                self.glob.version = int(stmt.args[0])
                continue
            if keyword == "vrrp_check_unicast_src":
                self.glob.check_unicast_src = True
                continue
            if keyword == "script_user":
                self.defs.script_user = stmt.args
            entry = global_entry(keyword)
            if entry is None:
                self.findings.append(unknown(stmt.where, keyword, "global_defs"))
            else:
                self.findings.append(Finding(stmt.where, keyword, *entry))

    def sync_groups(self) -> dict[str, Group]:
        """The group of each member instance, after reading every group's block."""
        member_of: dict[str, Group] = {}
        for group in self.groups:
            for stmt in group.stmt.block or ():
                self.group_line(group, stmt)
            self.findings.append(Finding(group.stmt.where, f"vrrp_sync_group {group.name}", NOTE,
                                         SYNC_NOTE))
            for member in group.members:
                member_of[member] = group
        return member_of

    def group_line(self, group: Group, stmt: Statement) -> None:
        keyword = stmt.keyword
        if keyword == "group":
            group.members.extend(word for line in stmt.block or () for word in line.words)
        elif keyword == "sync_group_tracking_weight":
            group.tracking_weight = True
        elif keyword in TRACK_KINDS:
            for line in stmt.block or ():
                tracked = resolve(keyword, line, self.defs, self.findings)
                if tracked is not None:
                    group.tracked.append(tracked)
        elif keyword in SYNC_GROUP:
            severity, reason = SYNC_GROUP[keyword]
            self.findings.append(Finding(stmt.where, keyword, severity, reason))
        else:
            self.findings.append(unknown(stmt.where, keyword, "vrrp_sync_group"))

    def tracking(self, vip: Vip, group: Group | None) -> list[Tracked]:
        """What keepalived tracks for this VIP's instance: its own lines (weights dropped or
        zeroed in a sync group or for an owner) and its group's."""
        owner = vip.table.get("owner") is True
        quiet: list[Finding] = [] if vip.split_from else self.findings
        own = vip.tracked
        if owner or (group is not None and not group.tracking_weight):
            own = [t for t in (for_sync_group(t, owner, quiet) for t in own) if t is not None]
        shared = group.tracked if group is not None else []
        if owner:
            shared = [t for t in (for_sync_group(t, True, quiet) for t in shared)
                      if t is not None]
        return own + shared

    def tables(self, vips: list[Vip], member_of: dict[str, Group]) -> list[Table]:
        names: set[str] = set()
        group_names: dict[str, str] = {}
        tables: list[Table] = []
        for vip in vips:
            group = member_of.get(vip.kname)
            base = carpd_name(vip.kname, NAME_MAX - 3)
            name = _unique(base if vip.split_from is None else f"{base}-v{vip.family}", names)
            vip.table.name = f"vip.{name}"
            vip.table.comments = [self.origin(vip)]
            self.sync_key(vip, group, group_names)
            tables.append(vip.table)
            tables.extend(self.checks(vip, name, self.tracking(vip, group)))
        return tables

    def origin(self, vip: Vip) -> str:
        text = f"vrrp_instance {vip.kname} ({vip.origin.where})"
        if vip.split_from is not None:
            text += f": its IPv{vip.family} addresses, a virtual router of their own"
        return text

    def sync_key(self, vip: Vip, group: Group | None, group_names: dict[str, str]) -> None:
        """sync_group: the instance's group, or for a split instance one named after it."""
        if vip.split_from is not None:
            self.findings.append(Finding(vip.origin.where, f"vrrp_instance {vip.kname}", DIFF,
                                         f"its IPv{vip.family} addresses become VIP "
                                         f"{vip.table.name[4:]} (same vrid, multicast, in one "
                                         "sync_group with the other family): a keepalived peer "
                                         "running this instance sends no adverts for them, so "
                                         "convert both servers together"))
        key = group.name if group is not None else None
        if key is None and (vip.split_from is not None or self.is_split(vip)):
            key = f"instance {vip.kname}"
        if key is None:
            return
        if key not in group_names:
            group_names[key] = _unique(carpd_name(key.removeprefix("instance ")),
                                       set(group_names.values()))
        vip.table.set("sync_group", group_names[key])

    def is_split(self, vip: Vip) -> bool:
        return any(other.split_from is vip for other in self.all_vips)

    def checks(self, vip: Vip, name: str, tracked: list[Tracked]) -> list[Table]:
        quiet: list[Finding] = [] if vip.split_from else self.findings
        keys, boost = weigh(tracked, quiet)
        if boost:
            self.boost(vip, boost, quiet)
        return [to_table(name, check, f"{item.what} ({item.where})") for check, item in keys]

    def boost(self, vip: Vip, boost: int, findings: list[Finding]) -> None:
        base = vip.table.get("priority")
        assert isinstance(base, int)
        priority = base + boost
        comment = f"keepalived's {base} plus {boost} from positive track weights"
        if priority > 254:
            findings.append(Finding(vip.origin.where, f"vrrp_instance {vip.kname}", DIFF,
                                    f"priority {base} plus the positive weights ({boost}) "
                                    "exceeds 254: set to 254, so a failing check lowers it "
                                    "from 254 where keepalived's capped sum may not move"))
            priority = 254
        vip.table.set("priority", priority, comment)

    def run(self, parsed: Parsed) -> list[Table]:
        self.findings.extend(Finding(where, "include", NOTE, text)
                             for where, text in parsed.notices)
        self.sort(parsed.statements)
        member_of = self.sync_groups()
        for stmt in self.instances:
            self.all_vips.extend(map_instance(stmt, self.glob, self.defs, self.findings))
        known = {vip.kname for vip in self.all_vips} | {
            s.args[0] for s in self.instances if s.args}
        for group in self.groups:
            for member in group.members:
                if member not in known:
                    self.findings.append(Finding(group.stmt.where, f"vrrp_sync_group "
                                                 f"{group.name}", NOTE, f"member {member!r} is "
                                                 "no vrrp_instance"))
        tables = self.tables(self.all_vips, member_of)
        self.unused()
        if not self.instances:
            self.findings.append(Finding(Where(self.source, 1), "vrrp_instance", NT,
                                         "the configuration has no vrrp_instance: nothing to "
                                         "convert"))
        return tables

    def unused(self) -> None:
        for (kind, name), block in self.defs.blocks.items():
            if (kind, name) not in self.defs.probes:
                self.findings.append(Finding(block.where, f"{block.keyword} {name}", NOTE,
                                             "tracked by no instance or group; keepalived does "
                                             "not run it either"))


def convert(parsed: Parsed, source: str, *, vrrp2_as_vrrp3: bool = False,
            self_check: bool = True) -> Result:
    converter = _Converter(source, vrrp2_as_vrrp3)
    tables = converter.run(parsed)
    header = [f"carpd.toml converted from {source} by `carpd convert keepalived`.",
              "Review it: what was not translated is listed on stderr, and the other server's "
              "file", "differs in its priorities (and unicast addresses)."]
    text = render(header, tables)
    vips = sum(1 for table in tables if not table.array)
    findings = sorted(converter.findings, key=lambda f: (f.where.file != source, f.where.file,
                                                         f.where.line))
    if self_check and vips:
        findings.extend(loader_findings(text))
    return Result(text, findings, vips)


def loader_findings(text: str) -> list[Finding]:
    """What carpd's loader says about `text`, located in the output ("<output>:LINE")."""
    from carpd.config.loader import ConfigError, load_config

    with tempfile.TemporaryDirectory(prefix="carpd-convert-") as folder:
        path = os.path.join(folder, "carpd.toml")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        try:
            config = load_config(path, environ={})
        except ConfigError as err:
            where = Where("<output>", err.line or 0)
            return [Finding(where, err.key or "carpd.toml", NT, f"carpd's loader refuses the "
                                                                 f"output: {err.reason}")]
    return [Finding(Where("<output>", 0), "carpd.toml", NOTE, warning)
            for warning in config.warnings]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="carpd convert", description="Print the carpd.toml equivalent of another VRRP "
        "daemon's configuration on stdout; what cannot be translated is listed on stderr "
        "(exit 0 all translated, 1 something left out, 2 unreadable or unparsable).")
    parser.add_argument("source", choices=["keepalived"], help="the other daemon")
    parser.add_argument("file", help="its configuration, e.g. /etc/keepalived/keepalived.conf")
    parser.add_argument("--config-id", metavar="ID",
                        default=socket.gethostname().split(".", 1)[0],
                        help="keepalived's config id for `@ID` lines (keepalived -i; default "
                             "this host's short name, as keepalived)")
    parser.add_argument("--vrrp2-as-vrrp3", action="store_true",
                        help="translate VRRPv2 instances as VRRPv3 (switch the keepalived peers "
                             "to vrrp_version 3 as well)")
    parser.add_argument("--no-self-check", action="store_true",
                        help="do not load the output with carpd's loader (e.g. converting for "
                             "another host, where the scripts exist)")
    return parser


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        parsed = parse_config(args.file, args.config_id)
    except ConfError as err:
        print(f"carpd convert: error: {err}", file=sys.stderr)
        return EXIT_UNREADABLE
    result = convert(parsed, args.file, vrrp2_as_vrrp3=args.vrrp2_as_vrrp3,
                     self_check=not args.no_self_check)
    sys.stdout.write(result.text)
    for finding in result.findings:
        print(f"carpd convert: {finding}", file=sys.stderr)
    left = sum(1 for f in result.findings if f.severity is not Severity.NOTE)
    summary = (f"{result.vips} VIP(s) written; "
               + (f"{left} finding(s) need review (exit 1)" if left else "all translated"))
    print(f"carpd convert: {summary}", file=sys.stderr)
    return result.exit_code
