"""Random fault schedules on a 3-host, 2-VHID simulation (Hypothesis stateful testing).

Rules advance time, partition/heal the segment, kill/restart hosts (also a crash and a restart
with the resume record after 0-3 s), take links down/up,
break/repair a host's transmit path, shut VIPs down/start them, demote/undemote, set/clear a
fatal check's fault (FAULT: bow out, stay out), and switch 20% loss on/off. The simulator checks
its invariants after every step inside each rule (VIP held iff MASTER, no deadline in the past,
no send on a down link, one master per group once settled); the `quiet` rule advances past
the settle window and additionally checks that, with preempt, the settled master is a most
preferred eligible machine (lowest effective advskew; a FAULT machine is not eligible).
web: vhid 1, advskew A 0 / B 100 / C 200, preempt on.
mail: vhid 2, advskew A 50 / B 50 / C 0, preempt off (ties broken by the x86 address rule).
Runs derandomized with no example database, so CI sees the same schedules every time.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from carpd.core.events import SetFault
from tests.carp_words import effective_advskew
from tests.sim.sim import MASTER, Simulation, vip

HOSTS = {"A": "172.16.90.101", "B": "172.16.90.102", "C": "172.16.90.103"}
WEB_SKEW = {"A": 0, "B": 100, "C": 200}
MAIL_SKEW = {"A": 50, "B": 50, "C": 0}
SPLITS = [(("A",), ("B", "C")), (("A", "B"), ("C",)), (("A", "C"), ("B",)),
          (("A",), ("B",), ("C",))]
host_names = st.sampled_from(sorted(HOSTS))
vip_names = st.sampled_from(["web", "mail"])


class CarpSchedules(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.sim = Simulation(seed=7)
        for h, ip in HOSTS.items():
            self.sim.add_host(h, [
                vip("web", 1, "172.16.90.31/24", source=ip, advskew=WEB_SKEW[h]),
                vip("mail", 2, "172.16.90.32/24", source=ip, advskew=MAIL_SKEW[h],
                    preempt=False),
            ])

    @rule(ticks=st.integers(min_value=1, max_value=640))
    def advance(self, ticks: int) -> None:
        """Up to 5 s in steps of 1/128 s, so timers and deliveries often coincide."""
        self.sim.run_for(ticks / 128)

    @rule(extra=st.integers(min_value=0, max_value=3))
    def quiet(self, extra: int) -> None:
        self.sim.run_for(self.sim.settle_window + 0.25 + extra)
        if self.sim.settled:
            self._check_preferred_master("web")

    @rule(split=st.sampled_from(SPLITS))
    def partition(self, split: tuple[tuple[str, ...], ...]) -> None:
        self.sim.partition(*split)

    @rule()
    def heal(self) -> None:
        self.sim.heal()

    @rule(host=host_names)
    def kill_or_restart(self, host: str) -> None:
        if self.sim.hosts[host].alive:
            self.sim.kill(host)
        else:
            self.sim.restart(host)

    @rule(host=host_names, ticks=st.integers(min_value=0, max_value=384))
    def crash_and_resume(self, host: str, ticks: int) -> None:
        """carpd crashes and comes back up to 3 s later with its resume record: the VIPs it
        was MASTER of resume if the record is fresh enough, the rest start as BACKUP."""
        if self.sim.hosts[host].alive:
            self.sim.kill(host)
        self.sim.run_for(ticks / 128)
        self.sim.restart(host, resume=True)

    @rule(host=host_names)
    def toggle_link(self, host: str) -> None:
        self.sim.link(host, up=not self.sim.hosts[host].link_up["eth0"])

    @rule(host=host_names)
    def toggle_tx(self, host: str) -> None:
        self.sim.break_tx(host, not self.sim.hosts[host].tx_broken)

    @rule(host=host_names, name=vip_names)
    def shutdown_or_start(self, host: str, name: str) -> None:
        if not self.sim.hosts[host].alive:
            return
        if name in self.sim.hosts[host].enabled:
            self.sim.shutdown(host, name)
        else:
            self.sim.start(host, name)

    @rule(host=host_names, name=vip_names, amount=st.sampled_from([0, 0, 30, 120, 254]))
    def demote(self, host: str, name: str, amount: int) -> None:
        self.sim.demote(host, amount, name)

    @rule(host=host_names, name=vip_names, failing=st.booleans())
    def fault(self, host: str, name: str, failing: bool) -> None:
        """A fatal check fails or passes (the VIP goes FAULT or back to BACKUP)."""
        self.sim.health(host, SetFault(name=name, source="check:app", failing=failing))

    @rule(on=st.booleans())
    def loss(self, on: bool) -> None:
        self.sim.set_loss(0.2 if on else 0.0)

    @invariant()
    def invariants_hold(self) -> None:
        self.sim.check_all()

    def _check_preferred_master(self, name: str) -> None:
        sim = self.sim
        eligible = [h for h in sim.hosts.values() if h.alive and h.link_up["eth0"]
                    and name in h.enabled and not h.tx_broken
                    and not h.node.machine(name).faulted]  # type: ignore[union-attr]
        components: dict[int, list[str]] = {}
        for h in eligible:
            components.setdefault(sim.segments["lan"].component.get(h.name, 0), []).append(
                h.name)
        for members in components.values():
            skews = {h: effective_advskew(sim.hosts[h].node.machine(name)) for h in members}
            masters = [h for h in members if sim.state(h, name) is MASTER]
            assert len(masters) == 1, (members, masters)
            assert skews[masters[0]] == min(skews.values()), (
                f"{name}: settled master {masters[0]} is not preferred: {skews}\n"
                + "\n".join(sim.schedule_log))


CarpSchedules.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None, derandomize=True, database=None,
)
TestCarpSchedules = CarpSchedules.TestCase


class DualStackUnicastSchedules(CarpSchedules):
    """The same rules on the families and modes of IPV6-UNICAST-VRRP3.md: web is dual-stack
    (an advert per family per interval, a master-down timer per family, either takes over),
    mail sends unicast to the two other hosts (no group at all). The invariants and the
    preferred-master check are the same: neither must cost a second master or a stuck one."""

    def __init__(self) -> None:
        RuleBasedStateMachine.__init__(self)
        self.sim = Simulation(seed=11)
        for i, (h, ip) in enumerate(HOSTS.items(), start=1):
            others = tuple(o for o in HOSTS.values() if o != ip)
            self.sim.add_host(h, [
                vip("web", 1, "172.16.90.31/24", source=ip, advskew=WEB_SKEW[h],
                    address6="2001:db8:90::31/64", source6=f"fe80::{i}"),
                vip("mail", 2, "172.16.90.32/24", source=ip, advskew=MAIL_SKEW[h],
                    preempt=False, peers=others),
            ])


DualStackUnicastSchedules.TestCase.settings = settings(
    max_examples=100, stateful_step_count=40, deadline=None, derandomize=True, database=None,
)
TestDualStackUnicastSchedules = DualStackUnicastSchedules.TestCase


class VrrpMixedSchedules(CarpSchedules):
    """The same rules with web as a VRRPv3 router (VRID 1, priority A 200 / B 150 / C 100,
    preempt on, 0.5 s adverts) beside mail as CARP with vhid 1 (the same number: the version
    nibble tells them apart). With preempt the settled VRRP master must have the highest
    effective priority among the eligible machines (equal priorities: whichever is master
    keeps it, as RFC 5798 says a backup follows an equal master)."""

    def __init__(self) -> None:
        RuleBasedStateMachine.__init__(self)
        self.sim = Simulation(seed=13)
        for h, ip in HOSTS.items():
            self.sim.add_host(h, [
                vip("web", 1, "172.16.90.31/24", source=ip, protocol="vrrp3",
                    priority=VRRP_PRIORITY[h], advert_interval_cs=50),
                vip("mail", 1, "172.16.90.32/24", source=ip, advskew=MAIL_SKEW[h],
                    preempt=False),
            ])

    def _check_preferred_master(self, name: str) -> None:
        sim = self.sim
        eligible = [h for h in sim.hosts.values() if h.alive and h.link_up["eth0"]
                    and name in h.enabled and not h.tx_broken
                    and not h.node.machine(name).faulted]  # type: ignore[union-attr]
        components: dict[int, list[str]] = {}
        for h in eligible:
            components.setdefault(sim.segments["lan"].component.get(h.name, 0), []).append(
                h.name)
        for members in components.values():
            prio = {h: dict(sim.hosts[h].node.machine(name).statistics()  # type: ignore[union-attr]
                            .election.own)["effective_priority"] for h in members}
            masters = [h for h in members if sim.state(h, name) is MASTER]
            assert len(masters) == 1, (members, masters)
            assert prio[masters[0]] == max(prio.values()), (
                f"{name}: settled master {masters[0]} is not preferred: {prio}\n"
                + "\n".join(sim.schedule_log))


VRRP_PRIORITY = {"A": 200, "B": 150, "C": 100}
VrrpMixedSchedules.TestCase.settings = settings(
    max_examples=100, stateful_step_count=40, deadline=None, derandomize=True, database=None,
)
TestVrrpMixedSchedules = VrrpMixedSchedules.TestCase
