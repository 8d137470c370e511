"""The soak's faults: a seeded random schedule, and how each fault is done and undone.

A schedule is a list of `Fault`s (kind, target, start offset, duration, parameters). Kinds
are dealt from a shuffled deck (every kind once per round of the deck, in a seeded order),
each with a seeded random target and duration, one at a time with `recovery` seconds of
quiet between them; with probability `overlap` a second, single-host fault on another host
starts while the first is active (never a partition or loss on top of another fault, so the
client always keeps at least one healthy server on its side).

Everything is done from outside carpd, inside the lab's namespaces only: signals to the
daemons' PIDs, links through bench/netctl.py (netlink opened inside the namespace), eth0
deleted and re-created as tests/integration/test_interface_recreate.py does, and nftables
tables in the *switch* namespace for partitions and loss (a bridge-family forward chain;
`numgen random mod 100 < N drop` since this kernel has no netem).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from bench.netctl import LinkControl
from tests.integration.netns import Lab

KINDS = ("sigkill", "freeze-short", "freeze-long", "cable", "port", "partition", "reload",
         "recreate", "loss")
TITLE = {
    "sigkill": "daemon SIGKILL, restarted after the pause",
    "freeze-short": "SIGSTOP/SIGCONT shorter than the master-down interval",
    "freeze-long": "SIGSTOP/SIGCONT longer than the master-down interval",
    "cable": "cable pulled (host's eth0 down/up)",
    "port": "switch port disabled/enabled (bridge port state)",
    "partition": "partition and heal (nftables in the switch)",
    "reload": "SIGHUP with a changed advskew, then back",
    "recreate": "host's veth deleted and re-created",
    "loss": "packet loss on the bridge (nftables numgen)",
}
# How long each kind lasts (seconds, uniform). Short freezes stay under the master-down
# interval minus one advert interval (3 s - 1 s), long ones well over it.
DURATION = {
    "sigkill": (1.0, 7.0), "freeze-short": (0.4, 1.8), "freeze-long": (4.5, 9.0),
    "cable": (1.5, 8.0), "port": (1.5, 8.0), "partition": (4.0, 10.0),
    "reload": (4.0, 10.0), "recreate": (0.0, 4.0), "loss": (8.0, 15.0),
}
SINGLE_HOST = ("sigkill", "freeze-short", "freeze-long", "cable", "port", "reload",
               "recreate")
LOSS_PERCENT = (10, 20, 30)
NFT_TABLE = "carpdsoak"


@dataclass
class Fault:
    n: int
    kind: str
    host: str | None
    start: float      # offset from the start of the soak
    duration: float
    params: dict[str, Any] = field(default_factory=dict)
    overlaps: int | None = None  # n of the fault this one overlaps
    t_start: float | None = None  # monotonic stamps, filled in when done
    t_end: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def end(self) -> float:
        return self.start + self.duration

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _one(rng: random.Random, n: int, kind: str, hosts: list[str],  # noqa: PLR0917
         start: float, exclude: str | None = None) -> Fault:
    lo, hi = DURATION[kind]
    candidates = [h for h in hosts if h != exclude]
    f = Fault(n, kind, None, round(start, 3), round(rng.uniform(lo, hi), 3))
    if kind == "partition":
        k = rng.choice((1, len(hosts) - 1)) if len(hosts) > 2 else 1
        side = sorted(rng.sample(hosts, k))
        f.params = {"with_client": side, "other": sorted(set(hosts) - set(side))}
    elif kind == "loss":
        f.params = {"percent": rng.choice(LOSS_PERCENT)}
    else:
        f.host = rng.choice(candidates)
    return f


def schedule(seed: int, duration: float, hosts: list[str], *, recovery: float = 6.0,
             overlap: float = 0.15, kinds: tuple[str, ...] = KINDS, warmup: float = 2.0
             ) -> list[Fault]:
    """The faults of one soak, all ending by `duration` (seconds from the start)."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible schedule
    faults: list[Fault] = []
    deck: list[str] = []
    t = warmup
    while True:
        if not deck:
            deck = list(kinds)
            rng.shuffle(deck)
        kind = deck.pop()
        f = _one(rng, len(faults), kind, hosts, t)
        end = f.end
        second = None
        singles = [k for k in kinds if k in SINGLE_HOST]
        if kind in SINGLE_HOST and rng.random() < overlap and len(hosts) > 1:
            k2 = rng.choice(singles)
            second = _one(rng, len(faults) + 1, k2, hosts,
                          t + rng.uniform(0.2, max(0.3, f.duration * 0.8)), exclude=f.host)
            second.overlaps = f.n
            end = max(end, second.end)
        if end + recovery > duration:
            break
        faults.append(f)
        if second is not None:
            faults.append(second)
        t = end + recovery
    return faults


class Servers(Protocol):
    def crash(self, host: str) -> float: ...
    def restart(self, host: str) -> float: ...
    def pid(self, host: str) -> int | None: ...
    def reload(self, host: str, demote: bool) -> float: ...


class Injector:
    """Does and undoes faults on a lab; every action returns its CLOCK_MONOTONIC stamp
    (taken right before the action)."""

    def __init__(self, lab: Lab, servers: Servers) -> None:
        self.lab, self.servers = lab, servers

    # -- helpers --------------------------------------------------------------------------

    def _nft(self, script: str) -> None:
        self.lab.run("switch", "nft", "-f", "-", input=script)

    def _nft_table(self, rules: list[str]) -> float:
        body = "\n".join(f"    {r}" for r in rules)
        script = (f"table bridge {NFT_TABLE} {{\n  chain filt {{\n"
                  "    type filter hook forward priority 0; policy accept;\n"
                  f"{body}\n  }}\n}}\n")
        t = time.monotonic()
        self._nft(script)
        return t

    def _nft_clear(self) -> float:
        t = time.monotonic()
        self.lab.run("switch", "nft", "delete", "table", "bridge", NFT_TABLE, check=False)
        return t

    def _signal(self, host: str, sig: signal.Signals) -> float:
        pid = self.servers.pid(host)
        t = time.monotonic()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        return t

    def _set_link(self, host: str, up: bool) -> float:
        ctl = LinkControl(self.lab.ns(host))  # fresh: eth0's index changes on re-creation
        try:
            return ctl.set_link("eth0", up)
        finally:
            ctl.close()

    def _set_port(self, host: str, up: bool) -> float:
        ctl = LinkControl(self.lab.switch)
        try:
            return ctl.set_bridge_port(self.lab.hosts[host].port, up)
        finally:
            ctl.close()

    def _delete_eth0(self, host: str) -> float:
        t = time.monotonic()
        self.lab.run(host, "ip", "link", "del", "eth0")
        return t

    def _create_eth0(self, host: str) -> float:
        """A new veth pair from the switch side, its host end moved in as eth0, then the
        same MAC, rp_filter, address and up (as test_interface_recreate.create_eth0)."""
        h = self.lab.hosts[host]
        t = time.monotonic()
        self.lab.run("switch", "ip", "link", "add", h.port, "type", "veth", "peer", "name",
                     "eth0", "netns", h.ns)
        self.lab.run("switch", "ip", "link", "set", h.port, "master", "br0")
        self.lab.run("switch", "ip", "link", "set", h.port, "up")
        self.lab.run(host, "ip", "link", "set", "eth0", "address", h.mac)
        self.lab.sysctl(host, "net.ipv4.conf.eth0.rp_filter", "0")
        self.lab.run(host, "ip", "addr", "add", h.ip_cidr, "dev", "eth0")
        self.lab.run(host, "ip", "link", "set", "eth0", "up")
        return t

    def _partition_rules(self, f: Fault) -> list[str]:
        client_side = [self.lab.hosts[h].port for h in f.params["with_client"]]
        client_side.append(self.lab.hosts["client"].port)
        other = [self.lab.hosts[h].port for h in f.params["other"]]

        def names(ports: list[str]) -> str:
            return "{ " + ", ".join(f'"{p}"' for p in ports) + " }"

        a, b = names(client_side), names(other)
        return [f"iifname {a} oifname {b} drop", f"iifname {b} oifname {a} drop"]

    # -- faults ---------------------------------------------------------------------------

    def do(self, f: Fault) -> float:
        actions: dict[str, Callable[[], float]] = {
            "sigkill": lambda: self.servers.crash(str(f.host)),
            "freeze-short": lambda: self._signal(str(f.host), signal.SIGSTOP),
            "freeze-long": lambda: self._signal(str(f.host), signal.SIGSTOP),
            "cable": lambda: self._set_link(str(f.host), False),
            "port": lambda: self._set_port(str(f.host), False),
            "partition": lambda: self._nft_table(self._partition_rules(f)),
            "reload": lambda: self.servers.reload(str(f.host), True),
            "recreate": lambda: self._delete_eth0(str(f.host)),
            "loss": lambda: self._nft_table([f"numgen random mod 100 < {f.params['percent']} "
                                             "drop"]),
        }
        return actions[f.kind]()

    def undo(self, f: Fault) -> float:
        actions: dict[str, Callable[[], float]] = {
            "sigkill": lambda: self.servers.restart(str(f.host)),
            "freeze-short": lambda: self._signal(str(f.host), signal.SIGCONT),
            "freeze-long": lambda: self._signal(str(f.host), signal.SIGCONT),
            "cable": lambda: self._set_link(str(f.host), True),
            "port": lambda: self._set_port(str(f.host), True),
            "partition": self._nft_clear,
            "reload": lambda: self.servers.reload(str(f.host), False),
            "recreate": lambda: self._create_eth0(str(f.host)),
            "loss": self._nft_clear,
        }
        return actions[f.kind]()

    def cleanup(self) -> None:
        """Best effort at the end: nothing frozen, no nftables table."""
        self._nft_clear()
