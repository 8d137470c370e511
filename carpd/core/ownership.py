"""Which addresses on an interface are carpd's, and what a VIP's addresses find there.

Owns: `InterfaceAddress` (one address as the address port lists it: with or without carpd's
mark, and its IPv4 label), `owns` (the one rule), `survey` (a VIP's addresses against an
interface's listing: `Found.ours` and `Found.foreign`), the operator-facing words for a
foreign copy (`foreign_copy_text`, used alike by `carpd --check`, start-up and the reconcile
pass) and `FOREIGN_ADDRESS`, the fault source of a VIP whose address is on its interface
without being carpd's.
The rule: an address is carpd's when it carries carpd's mark, which the address adapter sets
on every address it adds and reports as `marked` (the kernel's IFA_PROTO with carpd's value,
carpd.io.ifaddr), or, IPv4 only, when its label is the one carpd gives the VIP's addresses
("eth0:web", `core.params.address_label`; that also recognises VIPs added by a carpd without
the mark or on a kernel that ignores IFA_PROTO). IPv6 addresses have no label: the mark is
all there is. `survey` matches by IP, whatever the prefix length: a copy of the address with
another prefix is still that address.
Invariants: carpd removes only what `owns` says is its own (the stale cleanup at start, the
reconcile pass, every release, `carpd --cleanup`); an address equal to a VIP that is not
carpd's is never removed, changed or taken: at start the daemon refuses it, while running
the VIP is FAULT (`FOREIGN_ADDRESS`) until that address is gone.
Must not: know how the mark is encoded (carpd.io.ifaddr does), or do I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from carpd.core.addresses import AddressWithPrefix

FOREIGN_ADDRESS = "foreign_address"  # SetFault source: a VIP address carpd did not add


@dataclass(frozen=True, slots=True)
class InterfaceAddress:
    """One address of an interface: `marked` when it carries carpd's mark, `label` its
    IPv4 label (None for IPv6)."""

    address: AddressWithPrefix
    marked: bool = False
    label: str | None = None


@dataclass(frozen=True, slots=True)
class Found:
    """A VIP's addresses on its interface: `ours` carry carpd's mark (what an earlier run
    left, or what this one holds), `foreign` are equal to a VIP address but not carpd's."""

    ours: tuple[AddressWithPrefix, ...] = ()
    foreign: tuple[AddressWithPrefix, ...] = ()


def owns(entry: InterfaceAddress, label: str) -> bool:
    """`entry` is carpd's, for a VIP whose IPv4 addresses carry `label`."""
    return entry.marked or (entry.address.version == 4 and entry.label == label)


def survey(addresses: Iterable[AddressWithPrefix], label: str,
           listing: Iterable[InterfaceAddress]) -> Found:
    """The entries of `listing` whose IP is one of `addresses`, split by `owns`."""
    wanted = {a.ip for a in addresses}
    ours: list[AddressWithPrefix] = []
    foreign: list[AddressWithPrefix] = []
    for entry in listing:
        if entry.address.ip in wanted:
            (ours if owns(entry, label) else foreign).append(entry.address)
    return Found(tuple(ours), tuple(foreign))


def foreign_copy_text(address: AddressWithPrefix, interface: str) -> str:
    """What is wrong with a VIP address that is already on its interface and not carpd's."""
    return (f"{address} is already on {interface} and was not added by carpd (it has no "
            "carpd mark); carpd never takes or removes an address it did not add: use "
            f"another VIP address or remove {address} from {interface}")
