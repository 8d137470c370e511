"""The doctor's checks: from the daemon's status document and a snapshot of the host, one
`Finding` per check and VIP, each OK, WARN or FAIL with the fix.

Owns: `Finding`, `Level`, `Facts` (what carpd.doctor.host read: links, joined groups,
sysctls, firewall rule sets, routes to the known peers, other VRRP/CARP daemons, and what
could not be read) and `diagnose(status, facts)`. The checks, per VIP:
- interface: present, administratively up, carrier (LOWER_UP), MULTICAST when a group is used;
- firewall: every advert the VIP receives or sends (carpd.doctor.firewall probes, per family,
  group or each unicast peer) passes every base chain; a sure drop is FAIL naming the rule
  and how to delete it or let protocol 112 in, an undecidable rule is WARN;
- multicast: the group is joined on the interface (/proc/net/igmp, /proc/net/igmp6);
- rp_filter: strict reverse-path filtering (1) drops adverts whose source is not routed via
  the interface: FAIL for a known peer (a unicast peer, the master heard) routed elsewhere,
  WARN when no peer is known; loose (2) and off (0) are OK;
- arp: arp_ignore 8 never answers ARP (FAIL); arp_ignore 0 with another interface in the
  VIP's subnet answers for the VIP there too (ARP flux, WARN);
- other_cluster: adverts for our VHID that fail our HMAC, and dual-master anomalies, from the
  daemon's counters (since it started);
- duplicate_vip: the VIP on another interface of this host, a copy carpd did not add on its
  own interface (the daemon's foreign_address fault), keepalived or ucarp serving it here.
Without the daemon (not reachable) only host-wide facts are checked, and the first line
says so as a FAIL.
Must not: read the host or talk to the daemon (its inputs are given); import carpd beyond
carpd.control and carpd.doctor.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from carpd.doctor.firewall import Probe, Ruleset, evaluate
from carpd.doctor.parsers import Link

GROUPS = {"ip": "224.0.0.18", "ip6": "ff02::12"}
SYSCTL_FIX = "sysctl -w net.ipv4.conf.{scope}.{key}={value} (and in /etc/sysctl.d/)"


class Level(enum.IntEnum):
    OK = 0
    WARN = 1
    FAIL = 2


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    subject: str  # a VIP name, or "host"
    level: Level
    text: str
    fix: str = ""

    def line(self) -> str:
        fix = f" -> fix: {self.fix}" if self.fix else ""
        return f"{self.level.name:<4} {self.check:<13} {self.subject}: {self.text}{fix}"

    def as_json(self) -> dict[str, str]:
        return {"check": self.check, "subject": self.subject, "level": self.level.name,
                "text": self.text, "fix": self.fix}


@dataclass(frozen=True, slots=True)
class OtherDaemon:
    pid: int
    program: str  # keepalived, ucarp, ...
    addresses: frozenset[str]
    note: str = ""  # what could not be read about it


@dataclass(slots=True)
class Facts:
    links: list[Link] | None = None  # None: `ip` could not be run (see problems)
    igmp: dict[str, set[str]] | None = None
    igmp6: dict[str, set[str]] | None = None
    sysctls: dict[str, str] = field(default_factory=dict)  # "net.ipv4.conf.eth0.rp_filter"
    rulesets: list[Ruleset] = field(default_factory=list)
    routes: dict[str, str | None] = field(default_factory=dict)  # peer address -> device
    daemons: list[OtherDaemon] = field(default_factory=list)
    problems: dict[str, list[str]] = field(default_factory=dict)  # check -> could not read

    def link(self, name: str) -> Link | None:
        return next((k for k in self.links or [] if k.name == name), None)


@dataclass(frozen=True, slots=True)
class Vip:
    """The part of a VIP's status entry the checks read."""

    name: str
    vhid: int
    interface: str
    addresses: tuple[str, ...]
    peers: tuple[str, ...]
    sources: dict[str, str]  # family -> our advert source
    master: str | None
    groups: dict[str, str]
    status: dict[str, Any]

    @classmethod
    def of(cls, v: dict[str, Any]) -> Vip:
        addrs = tuple(str(a).split("/")[0] for a in v.get("addresses", []))
        sources = {f: str(v[k]) for f, k in (("ip", "source"), ("ip6", "source6")) if v.get(k)}
        families = {_family(a) for a in addrs}
        peers = tuple(str(p) for p in v.get("peers", []))
        groups = {f: g for f, g in GROUPS.items()
                  if f in families and not any(_family(p) == f for p in peers)}
        for g in v.get("groups", []):
            if _family(g) in groups:
                groups[_family(g)] = str(g)
        return cls(name=str(v.get("name")), vhid=int(v.get("vhid", 0)),
                   interface=str(v.get("interface")), addresses=addrs, peers=peers,
                   sources=sources, master=v.get("master"), groups=groups, status=v)

    @property
    def families(self) -> list[str]:
        return sorted({_family(a) for a in self.addresses})

    @property
    def id_word(self) -> str:
        """CARP's word for the VIP's id, or VRRP's."""
        return "vrid" if str(self.status.get("protocol", "carp")).startswith("vrrp") else "vhid"

    def known_peers(self, family: str) -> list[str]:
        """Unicast peers, else the master we hear (if it is not us)."""
        peers = [p for p in self.peers if _family(p) == family]
        own = set(self.sources.values())
        if not peers and self.master and self.master not in own and _family(self.master) == family:
            peers = [self.master]
        return peers


def _family(address: str) -> str:
    try:
        return "ip6" if ipaddress.ip_address(address.split("/", 1)[0]).version == 6 else "ip"
    except ValueError:
        return "?"


def diagnose(status: dict[str, Any] | None, facts: Facts, *, unreachable: str = ""
             ) -> list[Finding]:
    findings = []
    if status is None:
        findings.append(Finding("daemon", "host", Level.FAIL, f"carpd is not reachable: "
                                f"{unreachable}; only the host-wide checks ran",
                                "systemctl status carpd; journalctl -u carpd"))
    vips = [Vip.of(v) for v in (status or {}).get("vips", [])]
    if status is not None and not vips:
        findings.append(Finding("daemon", "host", Level.WARN, "carpd runs no VIP"))
    findings += _problems(facts)
    elsewhere = _other_namespace(vips, facts)
    if elsewhere is not None:
        return [*findings, elsewhere]
    for vip in vips:
        for check in (check_interface, check_firewall, check_multicast, check_rp_filter,
                      check_arp, check_other_cluster, check_duplicate):
            findings += check(vip, facts)
    if not vips:
        findings += _host_firewall(facts)
    return findings


def _other_namespace(vips: list[Vip], facts: Facts) -> Finding | None:
    """A FAIL when none of the daemon's advert sources is an address of its interface
    here: doctor runs in another network namespace (or on another host) than carpd, so
    every host check would describe the wrong network. None when one matches or nothing
    can tell (no links read, no resolved source)."""
    if facts.links is None:
        return None
    pairs = [(v.interface, s) for v in vips for s in v.sources.values()]
    if not pairs:
        return None
    local = {(k.name, a) for k in facts.links for a, _ in k.addresses}
    if any(pair in local for pair in pairs):
        return None
    iface, source = pairs[0]
    return Finding("namespace", "host", Level.FAIL,
                   f"carpd advertises from {source} on {iface}, which this shell does not "
                   "have: doctor runs in another network namespace than carpd, so the host "
                   "checks were skipped",
                   "run it where carpd runs: `ip netns exec NAME carpctl doctor` or "
                   "`nsenter -t $(pidof -s carpd) -n carpctl doctor`")


def _problems(facts: Facts) -> list[Finding]:
    return [Finding(check, "host", Level.WARN, f"could not check: {text}")
            for check, texts in facts.problems.items() for text in texts]


# -- interface ------------------------------------------------------------------------------

def check_interface(vip: Vip, facts: Facts) -> list[Finding]:
    if facts.links is None:
        return []
    link = facts.link(vip.interface)
    name = vip.interface
    if link is None:
        return [_fail("interface", vip, f"{name} does not exist",
                      f"create {name} or set the VIP's interface to the right one")]
    if "UP" not in link.flags:
        return [_fail("interface", vip, f"{name} is administratively down",
                      f"ip link set {name} up")]
    if "LOWER_UP" not in link.flags:
        return [_fail("interface", vip, f"{name} has no carrier (operstate "
                      f"{link.operstate.lower()})", "check the cable, the switch port or the "
                      "hypervisor's link")]
    if vip.groups and "MULTICAST" not in link.flags:
        return [_fail("interface", vip, f"{name} has multicast off, adverts to "
                      f"{', '.join(vip.groups.values())} cannot flow",
                      f"ip link set {name} multicast on, or use unicast peers")]
    return [_ok("interface", vip, f"{name} up, carrier on"
                + (", multicast on" if vip.groups else ""))]


# -- firewall -------------------------------------------------------------------------------

def probes(vip: Vip) -> list[tuple[str, Probe]]:
    """(what, probe) for every advert the VIP receives and sends."""
    found = []
    for fam in vip.families:
        source = vip.sources.get(fam, GROUPS[fam])
        group = vip.groups.get(fam)
        if group is not None:
            peers = vip.known_peers(fam)
            found.append((f"adverts to {group}", Probe(fam, True, vip.interface,
                                                       peers[0] if peers else None, group,
                                                       True)))
            found.append((f"our adverts to {group}", Probe(fam, False, vip.interface, source,
                                                           group, True)))
        for peer in (p for p in vip.peers if _family(p) == fam):
            found.append((f"adverts from {peer}", Probe(fam, True, vip.interface, peer,
                                                        source, False)))
            found.append((f"our adverts to {peer}", Probe(fam, False, vip.interface, source,
                                                          peer, False)))
    return found


def check_firewall(vip: Vip, facts: Facts) -> list[Finding]:
    if not facts.rulesets:
        return []
    findings: list[Finding] = []
    doubts: list[str] = []
    for ruleset in facts.rulesets:
        for what, probe in probes(vip):
            verdicts = evaluate(ruleset, probe)
            for rule in verdicts.dropped:
                fix = f"{rule.delete}, or accept protocol 112 before it" if rule.delete else (
                    _accept_fix(ruleset.source, probe))
                findings.append(_fail("firewall", vip, f"{ruleset.source} drops {what} on "
                                      f"{vip.interface}: {rule.text}", fix))
            doubts += verdicts.doubts
    for doubt in dict.fromkeys(doubts):
        findings.append(Finding("firewall", vip.name, Level.WARN,
                                f"a rule may drop protocol 112: {doubt}",
                                "make sure it does not match CARP adverts, or accept "
                                "protocol 112 before it"))
    if not findings:
        sources = " and ".join(r.source for r in facts.rulesets)
        findings.append(_ok("firewall", vip, f"{sources}: protocol 112 passes both ways "
                            f"on {vip.interface}"))
    return _dedupe(findings)


def _accept_fix(source: str, probe: Probe) -> str:
    chain = "input" if probe.inbound else "output"
    proto = "ip protocol" if probe.family == "ip" else "ip6 nexthdr"
    if source == "nftables":
        return (f"nft insert rule <family> <table> {chain} {proto} vrrp accept "
                "(or make the policy accept)")
    tool = "iptables" if probe.family == "ip" else "ip6tables"
    return f"{tool} -I {chain.upper()} -p 112 -j ACCEPT"


def _host_firewall(facts: Facts) -> list[Finding]:
    """Without VIPs: does the ruleset drop protocol 112 to the IPv4 group at all?"""
    probe = Probe("ip", True, "", None, GROUPS["ip"], True)
    found = []
    for ruleset in facts.rulesets:
        for rule in evaluate(ruleset, probe).dropped:
            found.append(Finding("firewall", "host", Level.FAIL, f"{ruleset.source} drops "
                                 f"adverts to 224.0.0.18: {rule.text}", rule.delete or ""))
    return found


def _dedupe(findings: Iterable[Finding]) -> list[Finding]:
    return list(dict.fromkeys(findings))


# -- multicast membership -------------------------------------------------------------------

def check_multicast(vip: Vip, facts: Facts) -> list[Finding]:
    findings = []
    for fam, group in sorted(vip.groups.items()):
        table = facts.igmp if fam == "ip" else facts.igmp6
        if table is None:
            continue
        path = "/proc/net/igmp" if fam == "ip" else "/proc/net/igmp6"
        if group in table.get(vip.interface, set()):
            findings.append(_ok("multicast", vip, f"{group} joined on {vip.interface}"))
        else:
            findings.append(_fail("multicast", vip, f"{group} is not joined on {vip.interface} "
                                  f"({path}): adverts to it are not delivered",
                                  "restart carpd and read its journal; check that nothing "
                                  "(an IGMP proxy, a `ip maddr del`) leaves the group"))
    return findings


# -- sysctls --------------------------------------------------------------------------------

def _sysctl(facts: Facts, iface: str, key: str, ipv: str = "ipv4") -> tuple[int, int] | None:
    """(all, interface) values, None when one could not be read."""
    try:
        return (int(facts.sysctls[f"net.{ipv}.conf.all.{key}"]),
                int(facts.sysctls[f"net.{ipv}.conf.{iface}.{key}"]))
    except (KeyError, ValueError):
        return None


def check_rp_filter(vip: Vip, facts: Facts) -> list[Finding]:
    if "ip" not in vip.families:
        return []
    values = _sysctl(facts, vip.interface, "rp_filter")
    if values is None:
        return []
    effective = max(values)
    shown = f"rp_filter {effective} (all {values[0]}, {vip.interface} {values[1]})"
    if effective != 1:
        return [_ok("rp_filter", vip, f"{shown}: {'loose' if effective else 'off'}")]
    fix = (f"{SYSCTL_FIX.format(scope='all', key='rp_filter', value=2)} and "
           f"net.ipv4.conf.{vip.interface}.rp_filter=2 (loose)")
    peers = vip.known_peers("ip")
    elsewhere = {p: facts.routes.get(p) for p in peers
                 if facts.routes.get(p) not in (vip.interface, None)}
    if elsewhere:
        via = ", ".join(f"{p} via {d}" for p, d in elsewhere.items())
        return [_fail("rp_filter", vip, f"{shown} is strict and the route back to the peer "
                      f"leaves by another interface ({via}): the kernel drops its adverts "
                      "silently", f"{fix}, or route the peer via {vip.interface}")]
    if peers:
        return [_ok("rp_filter", vip, f"{shown}: strict, the peer {', '.join(peers)} is "
                    f"routed via {vip.interface}")]
    return [Finding("rp_filter", vip.name, Level.WARN, f"{shown} is strict: adverts from a "
                    f"peer whose address is not routed via {vip.interface} are dropped "
                    "silently (no peer known yet to verify)", fix)]


def check_arp(vip: Vip, facts: Facts) -> list[Finding]:
    if "ip" not in vip.families:
        return []
    ignore = _sysctl(facts, vip.interface, "arp_ignore")
    announce = _sysctl(facts, vip.interface, "arp_announce")
    if ignore is None or announce is None:
        return []
    ign, ann = max(ignore), max(announce)
    shown = f"arp_ignore {ign}, arp_announce {ann}"
    if ign == 8:
        return [_fail("arp", vip, f"{shown}: {vip.interface} answers no ARP request, so "
                      "clients cannot find the VIP", SYSCTL_FIX.format(
                          scope=vip.interface, key="arp_ignore", value=1))]
    flux = _same_subnet(vip, facts)
    if ign == 0 and flux:
        return [Finding("arp", vip.name, Level.WARN, f"{shown}: another interface in "
                        f"{vip.interface}'s subnet ({', '.join(flux)}) answers ARP for the "
                        "VIP too (ARP flux)",
                        SYSCTL_FIX.format(scope="all", key="arp_ignore", value=1)
                        + " and arp_announce=2")]
    return [_ok("arp", vip, shown)]


def _same_subnet(vip: Vip, facts: Facts) -> list[str]:
    own = facts.link(vip.interface)
    if own is None:
        return []
    nets = {ipaddress.ip_interface(f"{a}/{n}").network for a, n in own.addresses
            if _family(a) == "ip"}
    others = []
    for link in facts.links or []:
        if link.name in (vip.interface, "lo") or "UP" not in link.flags:
            continue
        if any(_family(a) == "ip" and any(ipaddress.ip_address(a) in net for net in nets)
               for a, _ in link.addresses):
            others.append(link.name)
    return others


# -- other clusters, duplicates --------------------------------------------------------------

def check_other_cluster(vip: Vip, facts: Facts) -> list[Finding]:
    anomalies = vip.status.get("anomalies", {})
    counters = vip.status.get("counters", {})
    bad = max(int(counters.get("auth_failures", 0)), int(anomalies.get("foreign_advert", 0)))
    found = []
    if bad:
        adverts = f"{bad} advert{'s' if bad > 1 else ''}"
        found.append(_fail("other_cluster", vip, f"{adverts} for {vip.id_word} {vip.vhid} on "
                           f"{vip.interface} failed our HMAC since carpd started: another "
                           f"cluster uses this {vip.id_word} here, or a peer has another "
                           "password or address set", f"give one cluster another "
                           f"{vip.id_word}, or make password "
                           "and addresses agree on every node (carpctl watch names the "
                           "sender)"))
    if int(anomalies.get("dual_master", 0)):
        found.append(_fail("other_cluster", vip, f"{anomalies['dual_master']} dual-master "
                           "reports: another node advertised as master at the same time",
                           "find why the nodes do not hear each other (firewall, multicast "
                           "on both nodes, the switch's IGMP snooping)"))
    return found or [_ok("other_cluster", vip, f"no foreign adverts for {vip.id_word} "
                         f"{vip.vhid}")]


def check_duplicate(vip: Vip, facts: Facts) -> list[Finding]:
    found = []
    for link in facts.links or []:
        for address, prefix in link.addresses:
            if address in vip.addresses and link.name != vip.interface:
                found.append(_fail("duplicate_vip", vip, f"{link.name} also holds "
                                   f"{address}/{prefix}", f"ip addr del {address}/{prefix} "
                                   f"dev {link.name}"))
    if "foreign_address" in vip.status.get("faults", []):
        found.append(_fail("duplicate_vip", vip, f"a copy of the VIP that carpd did not add "
                           f"is on {vip.interface} (the VIP is FAULT until it goes)",
                           f"ip addr show dev {vip.interface}; delete the copy carpd did not "
                           "add (carpd never removes it)"))
    for d in facts.daemons:
        same = sorted(d.addresses & set(vip.addresses))
        if same:
            found.append(_fail("duplicate_vip", vip, f"{d.program} (pid {d.pid}) also serves "
                               f"{', '.join(same)}", f"stop {d.program} or remove the VIP "
                               "from one of them"))
        elif d.note:
            found.append(Finding("duplicate_vip", vip.name, Level.WARN, f"{d.program} (pid "
                                 f"{d.pid}) runs here: {d.note}"))
    return found or [_ok("duplicate_vip", vip, "no other interface or daemon holds "
                         f"{', '.join(vip.addresses)}")]


def _ok(check: str, vip: Vip, text: str) -> Finding:
    return Finding(check, vip.name, Level.OK, text)


def _fail(check: str, vip: Vip, text: str, fix: str) -> Finding:
    return Finding(check, vip.name, Level.FAIL, text, fix)
