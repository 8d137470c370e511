"""The keys a file would write for a running VIP: `VipParams` back to (key, value) pairs.

Owns: `written_keys(vip)`, the inverse of the schema's fill for `carpctl config`: for each
field the VIP's protocol takes (carpd.config.protocols), in the schema's order, the key of
that field (the one named like the field when a group has several: `addresses`, `vhid`; a
VRRPv3 VIP's id is `vrid`) with the running value as the key takes it: advert_interval in
seconds (the field keeps centiseconds), None as "auto" for the keys that take "auto", and
left out for the others (a file leaves them out). Not written: the password keys (only the
password's origin may be shown, and the caller writes it) and `check` (tables of their own).
Invariant: loading the pairs back (with the password and checks) gives the same VIP.
Must not: read files, or see the password's bytes.
"""

from __future__ import annotations

from collections.abc import Callable

from carpd.config.protocols import for_protocol
from carpd.config.schema import VIP_KEYS, Fill, KeySpec
from carpd.core.params import VipParams

AUTO_KEYS = frozenset({"source", "source6", "na_router"})  # None is written "auto"
_AS_WRITTEN: dict[str, Callable[[object], object]] = {
    "advert_interval": lambda cs: int(cs) / 100 if isinstance(cs, int) else cs,
}


def written_keys(vip: VipParams) -> tuple[tuple[str, object], ...]:
    out: list[tuple[str, object]] = []
    for key, spec in _keys_of(vip.protocol).items():
        value = getattr(vip, spec.field)
        if value is None and key in AUTO_KEYS:
            value = "auto"
        if value is not None:
            out.append((key, _AS_WRITTEN[key](value) if key in _AS_WRITTEN else value))
    return tuple(out)


def _keys_of(protocol: str) -> dict[str, KeySpec]:
    """One key per field the protocol takes, password and checks left out."""
    keys = for_protocol(VIP_KEYS, protocol)
    chosen: dict[str, str] = {}  # field -> key
    for key, spec in keys.items():
        if spec.fill is Fill.READ_PASSWORD or key == "check":
            continue
        if spec.field not in chosen or key == spec.field:
            chosen[spec.field] = key
    return {key: keys[key] for key in keys if key in chosen.values()}
