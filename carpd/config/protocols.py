"""Which keys belong to which election protocol, and the VRRPv3 value validators.

Owns: `PROTOCOLS`, the keys only CARP VIPs take (`CARP_KEYS`: advbase, advskew, deadratio,
the password keys, multicast_group, l2_broadcast, vhid) and the keys only VRRPv3 VIPs take
(`VRRP_KEYS`: vrid, priority, advert_interval, vrrp_checksum, accept_mode, preempt_delay,
owner); `misplaced_key(protocol, settings)`, the first key of a VIP table that belongs to the
other protocol (an error: nothing is ignored silently); `for_protocol(defaults, protocol)`,
the [defaults] keys a VIP of `protocol` inherits (a [defaults] key applies to the VIPs of the
protocol it belongs to, so one [defaults] serves a mixed file); and the validators of the
VRRP values (`protocol`, `advert_interval` -> centiseconds, `vrrp_checksum`,
`preempt_delay`, `priority`).
Rules from INTERFACE.md ("Keys for the next protocols") and IPV6-UNICAST-VRRP3.md 3.8.
Must not: read files or know lines (the loader locates errors).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from carpd.config.values import BadValueError, integer, nonempty_string, type_name

PROTOCOLS = ("carp", "vrrp3")
CHECKSUM_MODES = ("rfc5798", "rfc9568", "accept-both")
MAX_PREEMPT_DELAY_S = 3600
CARP_KEYS = frozenset({"vhid", "advbase", "advskew", "deadratio", "password_file",
                       "password_credential", "password", "multicast_group", "l2_broadcast"})
VRRP_KEYS = frozenset({"vrid", "priority", "advert_interval", "vrrp_checksum", "accept_mode",
                       "preempt_delay", "owner"})
_OTHER = {"carp": VRRP_KEYS, "vrrp3": CARP_KEYS}
_WHY = {"carp": "a VRRPv3 key; this VIP speaks CARP (set protocol = \"vrrp3\" to use it)",
        "vrrp3": "a CARP key; this VIP speaks VRRPv3, which has no authentication and "
                 "counts priority (higher wins) and advert_interval instead"}
S = TypeVar("S")


def protocol(value: object) -> str:
    text = nonempty_string(value)
    if text not in PROTOCOLS:
        raise BadValueError(f"{text!r} is not one of: {', '.join(PROTOCOLS)}")
    return text


def misplaced_key(proto: str, keys: Mapping[str, object]) -> tuple[str, str] | None:
    """(key, why) for the first key in `keys` that `proto` VIPs do not take."""
    for key in keys:
        if key in _OTHER[proto]:
            return key, _why(proto, key)
    return None


def _why(proto: str, key: str) -> str:
    if proto == "vrrp3" and key.startswith("password"):
        return ("VRRPv3 has no authentication (RFC 5798 removed it); remove the password "
                "key from this VIP")
    if proto == "vrrp3" and key == "vhid":
        return "a VRRPv3 VIP names its id `vrid`"
    return _WHY[proto]


def for_protocol(defaults: Mapping[str, S], proto: str) -> dict[str, S]:
    """The [defaults] settings a VIP of `proto` inherits."""
    return {k: v for k, v in defaults.items() if k not in _OTHER[proto]}


def advert_interval(value: object) -> int:
    """Seconds 0.01..40.95 in steps of 0.01 -> centiseconds 1..4095 (the wire's unit)."""
    wanted = "a number of seconds 0.01..40.95 in steps of 0.01 (centiseconds on the wire)"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadValueError(f"must be {wanted}, not {type_name(value)}")
    try:
        cs = Decimal(str(value)) * 100
    except InvalidOperation:
        raise BadValueError(f"must be {wanted}") from None
    if cs != cs.to_integral_value():
        raise BadValueError(f"{value} is not a whole number of centiseconds: must be {wanted}")
    if not 1 <= cs <= 4095:
        raise BadValueError(f"{value} is out of range: must be {wanted}")
    return int(cs)


def vrrp_checksum(value: object) -> str:
    text = nonempty_string(value)
    if text not in CHECKSUM_MODES:
        raise BadValueError(f"{text!r} is not one of: {', '.join(CHECKSUM_MODES)} (rfc5798 is "
                            "what keepalived and FRR accept)")
    return text


def priority(value: object) -> int:
    return integer(value, 1, 255, "an integer 1..254 (255 only with owner = true)")


def preempt_delay(value: object) -> float:
    wanted = f"a number of seconds 0..{MAX_PREEMPT_DELAY_S}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadValueError(f"must be {wanted}, not {type_name(value)}")
    if not 0 <= value <= MAX_PREEMPT_DELAY_S:
        raise BadValueError(f"{value} is out of range: must be {wanted}")
    return float(value)
