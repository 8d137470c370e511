"""A deterministic discrete-event simulator of CARP and VRRPv3 hosts on fake Ethernet segments.

Owns: a fake clock, segments (latency, seeded loss, partitions), hosts (each one real
`carpd.core.node.Node`), fault injection (kill, restart with or without resuming, link
down/up, demotion, shutdown, partition, heal), and the invariants checked after every step.
A kill leaves an exact resume record (each MASTER VIP's last advert); `restart(resume=True)`
gives it to the new node as carpd's driver does (Resume before Start).

How time moves: the clock jumps to the earliest of (in-flight packet deliveries, host
deadlines, scheduled scenario steps). At one instant the order is: packet deliveries, then
host timers (hosts in creation order), then scheduled steps; imperative faults called by a test
after `run_until(t)` therefore happen after everything due at `t`, like a scheduled step.
Adverts travel as real bytes: the 36-byte payload the sender's core encoded, delivered as the
datagram a raw socket would report (source, group, hop limit 255), decoded by the receiving
node. Each family's advert travels on its own (a dual-stack VIP sends two per interval); an
advert to unicast peers reaches only the hosts that own one of those addresses (as an advert
source: `source`/`source6` of one of their VIPs). A packet already on the wire is delivered
even if its sender dies or loses its link meanwhile; the receiver must be alive, link-up and
(at delivery time) in the same partition component as the sender. Loss is drawn per receiver
at send time from a seeded RNG. Every SendAdvert is fed back at once as `SendResult`: ok,
unless the host's transmit path is broken (`break_tx`), in which case nothing leaves and
ok=False.

Invariants (AssertionError with the fault schedule and the recent events when broken):
1. a host holds a VIP's addresses iff its machine for that VIP is MASTER; a killed host
   holds nothing; the StateChanged log agrees with every machine's state;
2. no deadline reported by `next_deadline()` is earlier than the clock, and each machine has
   exactly the timer its state needs (MASTER: advert; BACKUP: master-down; INIT and FAULT:
   none), so no
   machine can get stuck without a future event;
3. a host whose link is down sends nothing (the core is INIT there);
4. settled single master: once no fault has been injected and no segment has had loss for
   longer than `settle_window`, every group of eligible machines (alive, link up, started,
   transmit path working, no fault set; same segment, partition component, VHID and
   password) has exactly
   one MASTER and no machine in INIT. See `settle_window` for why its length suffices.

CARP times are dyadic rationals (latency 1/128 s, advskew/256 s), so the float arithmetic is
exact and tests assert CARP takeover instants with `==`. VRRPv3 hosts (`protocol="vrrp3"`)
run the same engine; their intervals are centiseconds and their timers whole microseconds
(the profile's exact integers, converted to seconds once), so VRRP instants are asserted
to the microsecond. Groups for the single-master invariant are per protocol: a CARP vhid and
a VRRP VRID with the same number are two groups on one segment.
"""

from __future__ import annotations

import heapq
import ipaddress
import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from carpd.core.actions import (
    Action,
    AddAddresses,
    Announce,
    PacketDropped,
    RemoveAddresses,
    SendAdvert,
    StateChanged,
    VhidState,
)
from carpd.core.carp import election, wire
from carpd.core.events import (
    Event,
    LinkChanged,
    PacketReceived,
    Resume,
    SendResult,
    SetDemotion,
    Shutdown,
    Start,
    TimerFired,
)
from carpd.core.node import Node
from carpd.core.params import Secret, VipParams
from carpd.core.vrrp3 import election as vrrp3_election
from carpd.core.vrrp3 import wire as vrrp3_wire

LATENCY = 1 / 128  # 7.8125 ms: dyadic, so every instant is an exact float
IFACE = "eth0"
LAN = "lan"
PASSWORD = b"s3cret"
MASTER, BACKUP, INIT, FAULT = (VhidState.MASTER, VhidState.BACKUP, VhidState.INIT,
                               VhidState.FAULT)

_DELIVER, _TIMER, _STEP = 0, 1, 2  # order of kinds at one instant
# (advert timer armed, master-down timer armed) per state: anything else is a stuck machine
_TIMERS = {MASTER: (True, False), BACKUP: (False, True), INIT: (False, False),
           FAULT: (False, False)}
TRACE_TAIL = 60


def vip(name: str, vhid: int, address: str, *, source: str, advskew: int = 0,
        password: bytes = PASSWORD, preempt: bool = True, interface: str = IFACE,
        advbase: int = 1, deadratio: int = 3, address6: str | None = None,
        source6: str | None = None, peers: tuple[str, ...] = (), protocol: str = "carp",
        priority: int = 100, advert_interval_cs: int = 100) -> VipParams:
    """VipParams for one host. `address` may carry a prefix ("172.16.90.31/24"); an IPv6
    `address6` (with `source6`) makes the VIP dual-stack; `peers` makes it unicast;
    `protocol="vrrp3"` makes it a VRRPv3 router (`priority`, `advert_interval_cs`)."""
    if "/" not in address:
        address += "/24"
    addresses: list[ipaddress.IPv4Interface | ipaddress.IPv6Interface] = [
        ipaddress.IPv4Interface(address)]
    if address6 is not None:
        addresses.append(ipaddress.IPv6Interface(address6 if "/" in address6
                                                 else address6 + "/64"))
    return VipParams(
        name=name, vhid=vhid, interface=interface,
        addresses=tuple(addresses), password=Secret(password),
        advbase=advbase, advskew=advskew, deadratio=deadratio, preempt=preempt,
        source=ipaddress.IPv4Address(source),
        source6=None if source6 is None else ipaddress.IPv6Address(source6),
        peers=tuple(ipaddress.ip_address(a) for a in peers), protocol=protocol,
        priority=priority, advert_interval_cs=advert_interval_cs,
    )


def master_down(advskew: int, advbase: int = 1, deadratio: int = 3) -> float:
    return election.master_down_interval(advbase, deadratio, advskew)


@dataclass(frozen=True, slots=True)
class Transition:
    at: float
    host: str
    name: str
    old: VhidState
    new: VhidState
    reason: str


@dataclass(frozen=True, slots=True)
class Announcement:
    at: float
    host: str
    name: str
    address: ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Sent:
    at: float
    host: str
    name: str
    rank: int  # CARP: the advertised advskew; VRRPv3: the advertised priority
    bow_out: bool


@dataclass
class Segment:
    name: str
    latency: float
    rng: random.Random
    loss: float = 0.0
    component: dict[str, int] = field(default_factory=dict)  # host -> partition component

    def connected(self, a: str, b: str) -> bool:
        return self.component.get(a, 0) == self.component.get(b, 0)


@dataclass
class Host:
    name: str
    vips: tuple[VipParams, ...]
    segments: dict[str, str]  # interface -> segment name
    node: Node | None = None
    generation: int = 0
    link_up: dict[str, bool] = field(default_factory=dict)
    enabled: set[str] = field(default_factory=set)  # started, not shut down
    held: dict[str, tuple[ipaddress.IPv4Interface | ipaddress.IPv6Interface, ...]] = field(
        default_factory=dict)
    states: dict[str, VhidState] = field(default_factory=dict)  # from the StateChanged log
    deadline: float | None = None
    tx_broken: bool = False  # link up, but every send fails (and nothing leaves)
    drops: list[tuple[float, PacketDropped]] = field(default_factory=list)
    # the resume record a killed host leaves: VIP -> its last advert as MASTER
    record: dict[str, float] = field(default_factory=dict)
    other_actions: list[tuple[float, Action]] = field(default_factory=list)

    @property
    def alive(self) -> bool:
        return self.node is not None

    def vip(self, name: str) -> VipParams:
        return next(p for p in self.vips if p.name == name)


class Simulation:
    """N hosts on fake segments. See the module docstring."""

    def __init__(self, *, seed: int = 0, latency: float = LATENCY,
                 settle_window: float | None = None) -> None:
        self.seed = seed
        self.now = 0.0
        self.default_latency = latency
        self.hosts: dict[str, Host] = {}
        self.segments: dict[str, Segment] = {}
        self.transitions: list[Transition] = []
        self.announcements: list[Announcement] = []
        self.sent: list[Sent] = []
        self.lost = 0
        self.schedule_log: list[str] = []
        self.recent: deque[str] = deque(maxlen=TRACE_TAIL)
        self._queue: list[tuple[float, int, int, object]] = []
        self._seq = 0
        self._stable_since = 0.0
        self._settle_override = settle_window
        self._settled_clean = False  # settled check passed and nothing changed since

    # -- building ------------------------------------------------------------------------

    def add_segment(self, name: str = LAN, *, latency: float | None = None) -> Segment:
        seg = Segment(name, self.default_latency if latency is None else latency,
                      random.Random(f"{self.seed}:segment:{name}"))
        self.segments[name] = seg
        return seg

    def add_host(self, name: str, vips: Iterable[VipParams], *,
                 segments: dict[str, str] | None = None, start: bool = True) -> Host:
        vips = tuple(vips)
        ifaces = segments or {p.interface: LAN for p in vips}
        for seg in ifaces.values():
            if seg not in self.segments:
                self.add_segment(seg)
        host = Host(name, vips, dict(ifaces), link_up=dict.fromkeys(ifaces, True))
        self.hosts[name] = host
        self._boot(host, start=start)
        return host

    # -- running -------------------------------------------------------------------------

    def run_until(self, t: float) -> None:
        """Process everything due at or before `t`, then set the clock to `t`."""
        if t < self.now:
            raise ValueError(f"cannot run backwards: now {self.now}, asked {t}")
        while (nxt := self._next()) is not None and nxt[0] <= t:
            self._step(nxt)
        self.now = t
        self._check_settled()

    def run_for(self, duration: float) -> None:
        self.run_until(self.now + duration)

    def settle(self) -> None:
        """Run for one settle window past now (so the settled check applies afterwards)."""
        self.run_for(self.settle_window + 1)

    def schedule(self, at: float, label: str, fn: Callable[[], None]) -> None:
        self._push(at, _STEP, (label, fn))

    # -- faults (each one resets the settle clock) -----------------------------------------

    def kill(self, name: str) -> None:
        """The daemon dies (and systemd's cleanup removes its VIPs): it leaves a resume record
        (each MASTER VIP's last advert) for `restart(name, resume=True)`."""
        host = self.hosts[name]
        self._fault(f"kill {name}")
        if host.node is not None:
            host.record = {n: max((s.at for s in self.sent if s.host == name
                                   and s.name == n and not s.bow_out), default=-1e9)
                           for n, state in host.node.states() if state is MASTER}
        host.node, host.deadline = None, None
        host.held.clear()
        host.enabled.clear()
        host.states = dict.fromkeys(host.states, INIT)
        self._check_host(host)

    def restart(self, name: str, *, resume: bool = False) -> None:
        """Boot a killed host. `resume`: as carpd does with its resume record, each VIP that
        was MASTER at the kill gets Resume with its last advert before Start (the core decides
        whether that is recent enough)."""
        host = self.hosts[name]
        if host.alive:
            raise ValueError(f"host {name} is alive; kill it first")
        self._fault(f"restart {name}{' resume' if resume else ''}")
        self._boot(host, start=True, resume=host.record if resume else {})

    def link(self, name: str, up: bool, interface: str = IFACE) -> None:
        host = self.hosts[name]
        self._fault(f"link {name}:{interface} {'up' if up else 'down'}")
        host.link_up[interface] = up
        if host.alive:
            self._deliver_event(host, LinkChanged(interface=interface, up=up))

    def break_tx(self, name: str, broken: bool = True) -> None:
        """The NIC keeps receiving but every send fails: SendResult(ok=False) comes back."""
        self._fault(f"tx {name} {'broken' if broken else 'repaired'}")
        self.hosts[name].tx_broken = broken

    def partition(self, *groups: Iterable[str], segment: str = LAN) -> None:
        """Hosts in different groups cannot hear each other; unlisted hosts form one more."""
        seg = self.segments[segment]
        groups_t = [tuple(g) for g in groups]
        self._fault(f"partition {segment} {groups_t}")
        seg.component = {h: i + 1 for i, g in enumerate(groups_t) for h in g}

    def heal(self, segment: str = LAN) -> None:
        self._fault(f"heal {segment}")
        self.segments[segment].component = {}

    def set_loss(self, loss: float, segment: str = LAN) -> None:
        self._fault(f"loss {segment} {loss}")
        self.segments[segment].loss = loss

    def demote(self, name: str, amount: int, vip_name: str | None = None,
               source: str = "sim") -> None:
        self._fault(f"demote {name} {vip_name or '*'} {source}={amount}")
        self.inject(name, SetDemotion(name=vip_name, source=source, amount=amount))

    def shutdown(self, name: str, vip_name: str | None = None) -> None:
        host = self.hosts[name]
        self._fault(f"shutdown {name} {vip_name or '*'}")
        host.enabled -= {p.name for p in host.vips if vip_name in (None, p.name)}
        self.inject(name, Shutdown(name=vip_name))

    def start(self, name: str, vip_name: str | None = None) -> None:
        host = self.hosts[name]
        self._fault(f"start {name} {vip_name or '*'}")
        host.enabled |= {p.name for p in host.vips if vip_name in (None, p.name)}
        self.inject(name, Start(name=vip_name))

    def health(self, name: str, event: Event) -> None:
        """A health event (CheckResult, SetFault, SetHoldDown): a fault for the settle clock."""
        self._fault(f"health {name} {event}")
        self.inject(name, event)

    def inject(self, name: str, event: Event) -> None:
        """Feed any event to a live host now (demotion, shutdown and friends use this)."""
        host = self.hosts[name]
        if host.alive:
            self._deliver_event(host, event)

    # -- queries -------------------------------------------------------------------------

    def state(self, host: str, vip_name: str) -> VhidState:
        node = self.hosts[host].node
        return INIT if node is None else node.machine(vip_name).state

    def masters(self, vip_name: str) -> list[str]:
        return [h for h in self.hosts if self._has(h, vip_name)
                and self.state(h, vip_name) is MASTER]

    def holders(self, vip_name: str) -> list[str]:
        return [h.name for h in self.hosts.values() if vip_name in h.held]

    def became(self, host: str, vip_name: str, new: VhidState,
               after: float = 0.0) -> list[float]:
        """Instants (strictly after `after`; the start at t=0 is skipped by default) at which
        `host` entered state `new` for `vip_name`."""
        return [t.at for t in self.transitions
                if t.host == host and t.name == vip_name and t.new is new and t.at > after]

    def last_sent(self, host: str, vip_name: str, before: float) -> float:
        return max(s.at for s in self.sent
                   if s.host == host and s.name == vip_name and s.at <= before)

    def next_sent(self, host: str, vip_name: str, after: float) -> float:
        return min(s.at for s in self.sent
                   if s.host == host and s.name == vip_name and s.at > after)

    def last_announcer(self, vip_name: str) -> Announcement:
        return next(a for a in reversed(self.announcements) if a.name == vip_name)

    @property
    def settle_window(self) -> float:
        """2 x the longest master-down interval any machine can have + the longest latency.

        The longest master-down interval assumes the largest effective advskew (254, reached
        by demotion). Why it suffices: after the last fault every machine of a group is, at
        worst, a BACKUP whose timer was restarted just before the fault, so within one
        master-down interval some machine is MASTER (or keeps hearing one); two masters of a
        group hear each other's next advert within one advert interval (< one master-down
        interval) plus one latency, and the loser steps down at once. In-flight packets from
        before the fault land within one latency.
        """
        if self._settle_override is not None:
            return self._settle_override
        longest = max((_longest_master_down(p, self._longest_vrrp_interval())
                       for h in self.hosts.values() for p in h.vips), default=0.0)
        latency = max((s.latency for s in self.segments.values()), default=0.0)
        return 2 * longest + latency

    def _longest_vrrp_interval(self) -> int:
        """A VRRP backup adopts its master's interval: the longest any host advertises."""
        return max((p.advert_interval_cs for h in self.hosts.values() for p in h.vips
                    if p.protocol == "vrrp3"), default=0)

    @property
    def settled(self) -> bool:
        return (all(s.loss == 0 for s in self.segments.values())
                and self.now - self._stable_since > self.settle_window)

    def check_all(self) -> None:
        for host in self.hosts.values():
            self._check_host(host)
        self._check_settled()

    # -- engine internals --------------------------------------------------------------------

    def _boot(self, host: Host, *, start: bool, resume: dict[str, float] | None = None) -> None:
        host.generation += 1
        rng = random.Random(f"{self.seed}:counter:{host.name}:{host.generation}")
        host.node = Node(host.vips, counter_source=lambda _name: rng.getrandbits(64),
                         now=self.now)
        host.held.clear()
        host.states = {p.name: INIT for p in host.vips}
        for iface, up in host.link_up.items():
            if not up:
                self._deliver_event(host, LinkChanged(interface=iface, up=False))
        if start:
            host.enabled = {p.name for p in host.vips}
            for vip_name, advert_at in (resume or {}).items():
                self._deliver_event(host, Resume(name=vip_name, advert_at=advert_at))
            self._deliver_event(host, Start())
        else:
            self._refresh(host)

    def _has(self, host: str, vip_name: str) -> bool:
        return any(p.name == vip_name for p in self.hosts[host].vips)

    def _push(self, at: float, kind: int, payload: object) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (at, kind, self._seq, payload))

    def _next(self) -> tuple[float, int, object] | None:
        best: tuple[float, int, object] | None = None
        if self._queue:
            at, kind, _seq, payload = self._queue[0]
            best = (at, kind, payload)
        for host in self.hosts.values():
            d = host.deadline
            if d is not None and (best is None or (d, _TIMER) < best[:2]):
                best = (d, _TIMER, host)
        return best

    def _step(self, nxt: tuple[float, int, object]) -> None:
        at, kind, payload = nxt
        self.now = max(self.now, at)
        if kind == _TIMER:
            assert isinstance(payload, Host)
            self._deliver_event(payload, TimerFired())
        else:
            heapq.heappop(self._queue)
            if kind == _DELIVER:
                self._deliver_packet(*payload)  # type: ignore[misc]
            else:
                label, fn = payload  # type: ignore[misc]
                self.recent.append(f"t={self.now:.7f} STEP {label}")
                fn()
        self._check_settled()

    def _deliver_packet(self, seg: Segment, sender: str, receiver: str,
                        packet: PacketReceived) -> None:
        host = self.hosts[receiver]
        if not (host.alive and host.link_up[packet.interface] and seg.connected(sender, receiver)):
            return
        self._deliver_event(host, packet)

    def _deliver_event(self, host: Host, event: Event) -> None:
        assert host.node is not None
        results = self._execute(host, host.node.handle(event, self.now))
        for result in results:  # the outcome of each send, fed back in order
            self._execute(host, host.node.handle(result, self.now))
        self._refresh(host)

    def _refresh(self, host: Host) -> None:
        host.deadline = host.node.next_deadline() if host.node is not None else None
        self._check_host(host)

    def _execute(self, host: Host, actions: list[Action]) -> list[SendResult]:
        results: list[SendResult] = []
        for a in actions:
            match a:
                case StateChanged():
                    self._record_transition(host, a)
                case AddAddresses():
                    host.held[a.name] = a.addresses
                case RemoveAddresses():
                    host.held.pop(a.name, None)
                case Announce():
                    self.announcements += [Announcement(self.now, host.name, a.name, ip)
                                           for ip in a.addresses]
                case SendAdvert():
                    results.append(self._send(host, a))
                case PacketDropped():
                    host.drops.append((self.now, a))
                case _:
                    host.other_actions.append((self.now, a))
        return results

    def _record_transition(self, host: Host, a: StateChanged) -> None:
        if host.states.get(a.name) is not a.old:
            self._fail(f"{host.name}/{a.name}: StateChanged old={a.old.name} but the log "
                       f"says {host.states.get(a.name)}")
        host.states[a.name] = a.new
        self._settled_clean = False
        self.transitions.append(Transition(self.now, host.name, a.name, a.old, a.new,
                                           a.reason))
        self.recent.append(f"t={self.now:.7f} {host.name}/{a.name} {a.old.name}->"
                           f"{a.new.name} ({a.reason})")

    def _send(self, host: Host, a: SendAdvert) -> SendResult:
        if not host.link_up.get(a.interface, False):
            self._fail(f"{host.name} sent an advert for {a.name} on {a.interface} while its "
                       "link is down")
        if host.vip(a.name).protocol == "vrrp3":
            rank = vrrp3_wire.decode_vrrp3(a.payload, a.family).priority
        else:
            rank = wire.decode_carp_header(a.payload).advskew
        self.sent.append(Sent(self.now, host.name, a.name, rank, a.bow_out))
        if host.tx_broken:
            return SendResult(name=a.name, ok=False, error="ENOBUFS")
        seg = self.segments[host.segments[a.interface]]
        for destination in a.destinations:
            for other in self.hosts.values():
                iface = next((i for i, s in other.segments.items() if s == seg.name), None)
                if other is host or iface is None:
                    continue
                if not destination.is_multicast and destination not in _sources(other):
                    continue  # unicast: only the owner of the address receives it
                if seg.loss and seg.rng.random() < seg.loss:
                    self.lost += 1
                    continue
                packet = PacketReceived(interface=iface, family=a.family, source=a.source,
                                        destination=destination, hop_limit=a.hop_limit,
                                        payload=a.payload)
                self._push(self.now + seg.latency, _DELIVER,
                           (seg, host.name, other.name, packet))
        return SendResult(name=a.name, ok=True)

    def _fault(self, label: str) -> None:
        self._stable_since = self.now
        self._settled_clean = False
        line = f"t={self.now:.7f} FAULT {label}"
        self.schedule_log.append(line)
        self.recent.append(line)

    # -- invariants ------------------------------------------------------------------------

    def _check_host(self, host: Host) -> None:
        node = host.node
        if node is None:
            if host.held:
                self._fail(f"killed host {host.name} holds {sorted(host.held)}")
            return
        for name in node.names:
            state = node.machine(name).state
            if (name in host.held) != (state is MASTER):
                self._fail(f"{host.name}/{name}: state {state.name} but addresses "
                           f"{'held' if name in host.held else 'not held'}")
            machine = node.machine(name)
            timers = (machine.advert_due_at is not None, machine.master_down_at is not None)
            if timers != _TIMERS[state]:
                self._fail(f"{host.name}/{name}: {state.name} with advert_due_at="
                           f"{machine.advert_due_at} master_down_at={machine.master_down_at}")
            if host.states.get(name) is not state:
                self._fail(f"{host.name}/{name}: machine is {state.name}, StateChanged log "
                           f"says {host.states.get(name)}")
        if host.deadline is not None and host.deadline < self.now:
            self._fail(f"{host.name}: next_deadline {host.deadline!r} is before now "
                       f"{self.now!r}")

    def _check_settled(self) -> None:
        """Equivalent to checking after every step: states only change with transitions."""
        if not self.settled:
            self._settled_clean = False
            return
        if self._settled_clean:
            return
        for key, members in self._groups().items():
            masters = [h for h, s in members if s is MASTER]
            inits = [h for h, s in members if s is INIT]
            if len(masters) != 1 or inits:
                seg, comp, _proto, vhid, _pw = key
                self._fail(f"settled (stable since t={self._stable_since:.7f}, window "
                           f"{self.settle_window}) but segment {seg} component {comp} vhid "
                           f"{vhid} has masters {masters}, INIT {inits}, members {members}")
        self._settled_clean = True

    def _groups(self) -> dict[tuple[str, int, str, int, bytes],
                              list[tuple[str, VhidState]]]:
        groups: dict[tuple[str, int, str, int, bytes], list[tuple[str, VhidState]]] = {}
        for host in self.hosts.values():
            if host.node is None:
                continue
            for p in host.vips:
                seg = self.segments[host.segments[p.interface]]
                # A host that cannot send is not eligible: nobody can hear it, so a peer
                # whose skew exceeds its send-error skew (240) legitimately stays MASTER too.
                # A FAULT machine bowed out on purpose and takes no part until it clears.
                if (not host.link_up[p.interface] or p.name not in host.enabled
                        or host.tx_broken or host.node.machine(p.name).faulted):
                    continue
                key = (seg.name, seg.component.get(host.name, 0), p.protocol, p.vhid,
                       p.password.reveal())
                groups.setdefault(key, []).append(
                    (host.name, host.node.machine(p.name).state))
        return groups

    def _fail(self, message: str) -> None:
        states = "\n".join(
            f"  {h.name}: " + (", ".join(f"{n}={self.state(h.name, n).name}"
                                        for n in (p.name for p in h.vips))
                               if h.alive else "killed")
            for h in self.hosts.values())
        raise AssertionError(
            f"invariant broken at t={self.now!r} (seed {self.seed}): {message}\n"
            f"fault schedule:\n  " + "\n  ".join(self.schedule_log or ["(none)"]) +
            "\nrecent events:\n  " + "\n  ".join(self.recent) + f"\nstates:\n{states}")


def _longest_master_down(p: VipParams, vrrp_interval_cs: int) -> float:
    """The longest master-down interval `p` can have: CARP with the largest effective advskew
    (254, by demotion); VRRPv3 with priority 1 and the longest interval a master advertises."""
    if p.protocol == "vrrp3":
        return vrrp3_election.master_down_usec(1, vrrp_interval_cs) / 1e6
    return p.advbase * p.deadratio + election.MAX_ADVSKEW / election.SKEW_DEN


def _sources(host: Host) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses a host's adverts come from: where unicast adverts to it are sent."""
    return {a for p in host.vips for a in (p.source, p.source6) if a is not None}
