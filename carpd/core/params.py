"""Frozen per-VIP parameters that the core needs, and the Secret wrapper for passwords.

Owns: `VipParams` (one VHID on one interface, fully resolved) and `Secret`.
Invariant: a `Secret` never shows its bytes in repr/str, so a password cannot leak through a
log line, a traceback or a status document by accident.
Must not: read files or the environment (config.py does that and builds these objects).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

IPv4 = ipaddress.IPv4Address
IPv4If = ipaddress.IPv4Interface

MAX_PASSWORD_BYTES = 19  # ucarp: strlen + NUL must fit a 20-byte key (CARP.md 2.1)
CARP_GROUP = IPv4("224.0.0.18")


class Secret:
    """Password bytes that refuse to print themselves."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        self._value = value

    def reveal(self) -> bytes:
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret is not picklable")


@dataclass(frozen=True, slots=True, kw_only=True)
class VipParams:
    """One VIP (= one VHID on one interface) as the core runs it."""

    name: str
    vhid: int
    interface: str
    addresses: tuple[IPv4If, ...]
    password: Secret = field(repr=False)
    advbase: int = 1
    advskew: int = 0
    deadratio: int = 3
    preempt: bool = True
    source: IPv4 | None = None  # None until the driver resolves "auto"
    multicast_group: IPv4 = CARP_GROUP
    l2_broadcast: bool = False
    garp_count: int = 3
    garp_interval: float = 1.0
    master_units: tuple[str, ...] = ()
    upscript: str | None = None
    downscript: str | None = None
    xparam: str | None = None

    @property
    def hosts(self) -> tuple[IPv4, ...]:
        """The bare addresses (no prefix length), in configured order."""
        return tuple(a.ip for a in self.addresses)
