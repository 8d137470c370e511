"""One keepalived vrrp_instance as one or two carpd `[vip.NAME]` tables (protocol "vrrp3").

Owns: `map_instance`, `Globals` (what global_defs says about every instance) and `Vip` (a
table being built, with its tracking, sync group and origin). The mapping:
interface, virtual_router_id -> vrid, priority (255 -> owner = true), advert_int ->
advert_interval, nopreempt -> preempt = false, preempt_delay, accept (carpd's only mode;
no_accept and vrrp_strict's implied no_accept are reported), unicast_src_ip/mcast_src_ip ->
source or source6, unicast_peer -> peers (with accept_source "peers" when keepalived checked the
source: check_unicast_src, min_ttl/max_ttl; "any" otherwise, as keepalived accepted any; and
accept_ttl from min_ttl, 1 without: keepalived skips the TTL check for unicast),
unicast_ttl -> peer_ttl, virtual_ipaddress -> address(es). A carpd VRRP VIP has one family (RFC
5798: one virtual router per family), so the family of the instance is its first
virtual_ipaddress; virtual_ipaddress_excluded addresses of that family join the VIP (they are
then in its adverts: reported), those of the other family become a second VIP `NAME-v6` /
`NAME-v4` with the same vrid, tied to the first by a sync group. An address keepalived itself
ignores (another family in virtual_ipaddress) is reported, not moved. IPv6 /128 VIPs are
deprecated by keepalived unless `preferred_lft forever`: deprecate_ipv6_vip follows.
VRRPv2 instances (keepalived's default for IPv4: no `vrrp_version 3`, no `version 3`) are not
translated, since carpd speaks VRRPv3 only, unless the converter is told to treat them as v3.
Must not: emit TOML (toml.py) or decide across instances (convert.py names VIPs and groups).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from carpd.app.keepalived.checks import TRACK_KINDS, Definitions, Tracked, resolve
from carpd.app.keepalived.conf import Statement
from carpd.app.keepalived.keywords import (
    ADDRESS_OPTIONS,
    DIFF,
    INSTANCE,
    NOTE,
    NT,
    Finding,
    unknown,
)
from carpd.app.keepalived.notify import NOTIFY, map_notify
from carpd.app.keepalived.toml import Table

Address = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IP = ipaddress.IPv4Address | ipaddress.IPv6Address
OPTION_ARGS = {"brd", "broadcast", "dev", "scope", "label", "peer", "preferred_lft",
               "track_group"}
SIMPLE = {"state", "interface", "virtual_router_id", "priority", "advert_int", "nopreempt",
          "preempt", "preempt_delay", "accept", "version", "unicast_src_ip",
          "mcast_src_ip", "unicast_ttl", "check_unicast_src", "authentication"}
ADDRESS_BLOCKS = ("virtual_ipaddress", "virtual_ipaddress_excluded")


@dataclass
class Globals:
    version: int = 2
    check_unicast_src: bool = False
    vrrp2_as_vrrp3: bool = False


@dataclass
class Vip:
    kname: str  # the keepalived instance name
    family: int
    table: Table
    origin: Statement
    tracked: list[Tracked] = field(default_factory=list)
    split_from: Vip | None = None  # the VIP of the instance's main family, for a split VIP


@dataclass
class _Gathered:
    simple: dict[str, Statement] = field(default_factory=dict)
    addresses: dict[str, list[Statement]] = field(default_factory=dict)
    peers: list[Statement] = field(default_factory=list)
    tracked: list[Tracked] = field(default_factory=list)
    notify: dict[str, Statement] = field(default_factory=dict)


def _gather(block: tuple[Statement, ...], defs: Definitions, findings: list[Finding]) -> _Gathered:
    got = _Gathered()
    for stmt in block:
        keyword = stmt.keyword
        if keyword in SIMPLE:
            got.simple[keyword] = stmt
        elif keyword in ADDRESS_BLOCKS:
            got.addresses.setdefault(keyword, []).extend(stmt.block or ())
        elif keyword == "unicast_peer":
            got.peers.extend(stmt.block or ())
        elif keyword in TRACK_KINDS:
            for line in stmt.block or ():
                tracked = resolve(keyword, line, defs, findings)
                if tracked is not None:
                    got.tracked.append(tracked)
        elif keyword in NOTIFY:
            got.notify[keyword] = stmt
        elif keyword in INSTANCE:
            severity, reason = INSTANCE[keyword]
            findings.append(Finding(stmt.where, keyword, severity, reason))
        else:
            findings.append(unknown(stmt.where, keyword, "vrrp_instance"))
    return got


def _int(stmt: Statement, low: int, high: int, findings: list[Finding]) -> int | None:
    try:
        value = int(stmt.args[0])
    except (IndexError, ValueError):
        value = -1
    if not low <= value <= high:
        findings.append(Finding(stmt.where, stmt.keyword, NT, f"needs an integer {low}..{high}"))
        return None
    return value


def _ip(text: str) -> IP | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def _version(kname: str, got: _Gathered, glob: Globals, family: int, *, where: Statement,
             findings: list[Finding]) -> bool:
    """True when the instance is (or may be treated as) VRRPv3."""
    stmt = got.simple.get("version")
    version = glob.version if stmt is None else (_int(stmt, 2, 3, findings) or glob.version)
    if family == 6 or version == 3:
        return True
    why = ("keepalived runs it as VRRPv2 (" + ("`version 2` here" if stmt is not None else
           "its default for IPv4; no `vrrp_version 3` in global_defs, no `version 3` here")
           + ") and carpd speaks VRRPv3 only")
    if glob.vrrp2_as_vrrp3:
        findings.append(Finding(where.where, f"vrrp_instance {kname}", DIFF, f"{why}: translated "
                                "as VRRPv3 (--vrrp2-as-vrrp3); its keepalived peers must be "
                                "switched to version 3 together with it"))
        return True
    findings.append(Finding(where.where, f"vrrp_instance {kname}", NT, f"{why}; switch the "
                            "keepalived pair to `vrrp_version 3` first, or convert with "
                            "--vrrp2-as-vrrp3"))
    return False


def _address(line: Statement, interface: str, findings: list[Finding]
             ) -> tuple[Address, bool] | None:
    """One virtual_ipaddress line -> (address, deprecated) or None (reported)."""
    try:
        address = ipaddress.ip_interface(line.keyword)
    except ValueError:
        findings.append(Finding(line.where, line.keyword, NT, "not an IP address"))
        return None
    if address.version == 6 and address.ip.is_link_local:
        findings.append(Finding(line.where, line.keyword, NT, "carpd refuses link-local VIPs "
                                "(docs/configuration.md); its adverts then list one address "
                                "fewer, which a keepalived peer that has it rejects"))
        return None
    deprecated = address.version == 6 and address.network.prefixlen == 128
    args = list(line.args)
    while args:
        option = args.pop(0)
        value = args.pop(0) if option in OPTION_ARGS and args else ""
        if option == "dev" and value != interface:
            findings.append(Finding(line.where, f"{line.keyword} dev {value}", NT, "carpd puts "
                                    f"a VIP on its own interface ({interface}): give {value} a "
                                    "VIP of its own"))
            return None
        if option == "preferred_lft":
            deprecated = value == "0"
        elif option in ADDRESS_OPTIONS:
            severity, reason = ADDRESS_OPTIONS[option]
            findings.append(Finding(line.where, f"{line.keyword} {option}", severity, reason))
        elif option != "dev":
            findings.append(unknown(line.where, f"{line.keyword} {option}",
                                    "virtual_ipaddress option"))
    return address, deprecated


def _addresses(got: _Gathered, interface: str, findings: list[Finding]
               ) -> tuple[list[tuple[Address, bool]], list[tuple[Address, bool]]]:
    """(the instance family's addresses, the other family's) in file order."""
    main: list[tuple[Address, bool]] = []
    other: list[tuple[Address, bool]] = []
    family = 0
    for block in ADDRESS_BLOCKS:
        for line in got.addresses.get(block, []):
            parsed = _address(line, interface, findings)
            if parsed is None:
                continue
            family = family or parsed[0].version
            if parsed[0].version == family:
                main.append(parsed)
                if block != ADDRESS_BLOCKS[0]:
                    findings.append(Finding(line.where, line.keyword, DIFF, "an excluded address "
                                            "of the VIP's family joins the VIP, so carpd lists it "
                                            "in its adverts; a keepalived peer without it rejects "
                                            "them (address count): convert both servers"))
            elif block == ADDRESS_BLOCKS[0]:
                findings.append(Finding(line.where, line.keyword, NT, "keepalived ignores an "
                                        "address of another family than the instance's first "
                                        "one; move it to virtual_ipaddress_excluded or to an "
                                        "instance of its own"))
            else:
                other.append(parsed)
    return main, other


def _put_addresses(table: Table, addresses: list[tuple[Address, bool]]) -> None:
    texts = [str(address) for address, _ in addresses]
    if len(texts) == 1:
        table.set("address", texts[0])
    else:
        table.set("addresses", texts)


def _deprecate(table: Table, addresses: list[tuple[Address, bool]], where: Statement,
               findings: list[Finding]) -> None:
    """deprecate_ipv6_vip as keepalived's preferred_lft rule has it (IPv6 only)."""
    if addresses[0][0].version != 6:
        return
    flags = {deprecated for _, deprecated in addresses}
    if flags == {True}:
        table.set("deprecate_ipv6_vip", True, "keepalived deprecates /128 VIPs "
                  "(preferred_lft 0)")
    elif len(flags) > 1:
        findings.append(Finding(where.where, "preferred_lft", DIFF, "keepalived deprecated "
                                "some IPv6 VIPs of this instance and not others; carpd's "
                                "deprecate_ipv6_vip is per VIP: left false"))


def _election(got: _Gathered, table: Table, glob: Globals, findings: list[Finding]) -> bool:
    """priority, owner, advert_interval, preempt, accept_mode; True for an address owner."""
    priority = 100
    if "priority" in got.simple:
        priority = _int(got.simple["priority"], 1, 255, findings) or 100
    table.set("priority", priority)
    owner = priority == 255
    if owner:
        table.set("owner", True, "keepalived's priority 255: the address owner")
    if "advert_int" in got.simple:
        _advert(got.simple["advert_int"], table, findings)
    if "nopreempt" in got.simple:
        table.set("preempt", False)
    if "preempt_delay" in got.simple:
        stmt = got.simple["preempt_delay"]
        try:
            table.set("preempt_delay", float(stmt.args[0]))
        except (IndexError, ValueError):
            findings.append(Finding(stmt.where, stmt.keyword, NT, "needs a number of seconds"))
    if "state" in got.simple:
        _state(got.simple["state"], owner, findings)
    return owner


def _advert(stmt: Statement, table: Table, findings: list[Finding]) -> None:
    try:
        seconds = float(stmt.args[0])
    except (IndexError, ValueError):
        findings.append(Finding(stmt.where, stmt.keyword, NT, "needs a number of seconds"))
        return
    rounded = round(seconds, 2)
    if rounded != seconds:
        findings.append(Finding(stmt.where, stmt.keyword, NOTE, f"{seconds:g} s rounded to "
                                f"{rounded:g} s (VRRPv3 counts centiseconds, as keepalived does)"))
    table.set("advert_interval", float(rounded))


def _state(stmt: Statement, owner: bool, findings: list[Finding]) -> None:
    how = ("with priority 255 keepalived takes over at once; carpd's owner does too"
           if owner and stmt.args[:1] == ("MASTER",) else
           "keepalived 2.2 starts every instance below priority 255 as BACKUP whatever this "
           "says, and so does carpd: the priority decides who becomes MASTER")
    findings.append(Finding(stmt.where, f"state {' '.join(stmt.args)}", NOTE,
                            f"carpd has no initial state key: {how}"))


def _unicast(got: _Gathered, family: int, table: Table, glob: Globals,
             findings: list[Finding]) -> None:
    """source/source6 and the peer keys of the VIP of `family`."""
    for keyword in ("mcast_src_ip", "unicast_src_ip"):
        stmt = got.simple.get(keyword)
        if stmt is None:
            continue
        ip = _ip(stmt.args[0]) if stmt.args else None
        if ip is None or ip.version != family:
            findings.append(Finding(stmt.where, keyword, NT, f"needs an IPv{family} address "
                                    "(the family of the instance's VIPs)"))
            continue
        table.set("source" if family == 4 else "source6", stmt.args[0])
    peers: list[str] = []
    min_ttls: list[int] = []
    checked = glob.check_unicast_src or "check_unicast_src" in got.simple
    for line in got.peers:
        ip = _ip(line.keyword)
        if ip is None or ip.version != family:
            findings.append(Finding(line.where, line.keyword, NT, f"not an IPv{family} address "
                                    "(the family of the instance's VIPs)"))
            continue
        peers.append(line.keyword)
        checked = _ttl_options(line, min_ttls, findings) or checked
    if not peers:
        return
    table.set("peers", peers)
    if "unicast_ttl" in got.simple:
        ttl = _int(got.simple["unicast_ttl"], 1, 255, findings)
        if ttl is not None:
            table.set("peer_ttl", ttl)
    _accept_keys(table, min_ttls, checked)


def _ttl_options(line: Statement, min_ttls: list[int], findings: list[Finding]) -> bool:
    """min_ttl/max_ttl of one peer; True when one was given (keepalived then checks sources)."""
    args = list(line.args)
    given = False
    while len(args) >= 2:
        option, value = args.pop(0), args.pop(0)
        given = True
        if option == "min_ttl" and value.isdigit():
            min_ttls.append(int(value))
        elif option == "max_ttl" and value.isdigit() and int(value) < 255:
            findings.append(Finding(line.where, f"{line.keyword} max_ttl", NT, "carpd has no "
                                    "upper TTL bound for peers"))
        elif option != "max_ttl":
            findings.append(unknown(line.where, f"{line.keyword} {option}", "unicast_peer option"))
    return given


def _accept_keys(table: Table, min_ttls: list[int], checked: bool) -> None:
    if min_ttls:
        table.set("accept_ttl", max(1, min(min_ttls)))
    else:
        table.set("accept_ttl", 1, "keepalived skips the TTL check for unicast peers")
    if checked:
        table.set("accept_source", "peers")
    else:
        table.set("accept_source", "any", "keepalived accepted any source (no check_unicast_src"
                  "); \"peers\" is safer")


def map_instance(stmt: Statement, glob: Globals, defs: Definitions,
                 findings: list[Finding]) -> list[Vip]:
    """The VIP(s) of one vrrp_instance, in order (main family first); [] when it cannot be
    translated (reported)."""
    kname = stmt.args[0] if stmt.args else "?"
    got = _gather(stmt.block or (), defs, findings)
    what = f"vrrp_instance {kname}"
    if "authentication" in got.simple:
        findings.append(Finding(got.simple["authentication"].where, "authentication", NT,
                                "VRRPv3 has no authentication (RFC 5798; keepalived ignores it "
                                "for version 3): carpd's VRRP VIPs take no password"))
    missing = [key for key in ("interface", "virtual_router_id") if key not in got.simple]
    if missing:
        findings.append(Finding(stmt.where, what, NT, f"needs {' and '.join(missing)}; carpd "
                                "runs every VIP on one interface"))
        return []
    interface = got.simple["interface"].args[0] if got.simple["interface"].args else ""
    main, other = _addresses(got, interface, findings)
    if not main:
        findings.append(Finding(stmt.where, what, NT, "has no usable virtual_ipaddress"))
        return []
    family = main[0][0].version
    if not _version(kname, got, glob, family, where=stmt, findings=findings):
        return []
    vrid = _int(got.simple["virtual_router_id"], 1, 255, findings)
    if vrid is None:
        return []
    instance = _Instance(kname, stmt, got, glob, interface, vrid)
    vips = [instance.vip(main, findings)]
    map_notify(got.notify, vips[0].table, findings)
    if other:
        vips.append(instance.vip(other, findings, split_from=vips[0]))
    return vips


@dataclass
class _Instance:
    kname: str
    stmt: Statement
    got: _Gathered
    glob: Globals
    interface: str
    vrid: int

    def vip(self, addresses: list[tuple[Address, bool]], findings: list[Finding],
            split_from: Vip | None = None) -> Vip:
        """The table of one family; a split VIP repeats the election keys (their findings were
        reported for the main one) and has no unicast keys (the peers are of the main family)."""
        family = addresses[0][0].version
        table = Table("vip.?")
        table.set("protocol", "vrrp3")
        table.set("interface", self.interface)
        table.set("vrid", self.vrid)
        _put_addresses(table, addresses)
        _election(self.got, table, self.glob, findings if split_from is None else [])
        if split_from is None:
            _unicast(self.got, family, table, self.glob, findings)
        _deprecate(table, addresses, self.stmt, findings)
        return Vip(self.kname, family, table, self.stmt, list(self.got.tracked), split_from)
