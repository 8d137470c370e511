"""`carpd --cleanup`: after carpd exited, however it exited, no VIP of it stays anywhere.

Owns: removing every configured VIP address (IPv4 or IPv6) still present on its interface
that is carpd's (carrying carpd's mark: carpd.core.ownership), whatever its prefix length, and
queueing a stop of every master unit (`systemctl --no-block stop`), then saying what it did.
systemd runs it as the service's `ExecStopPost=`, so a SIGKILLed, crashed or watchdog-killed
daemon leaves no stale VIP answering ARP (ucarp and keepalived do, measured) and no service
that follows a VIP still running without it. After a clean stop it finds nothing to do.
Invariants: idempotent; quick (one netlink dump per interface); never needs the password: when
the file no longer validates (a missing key file, a bad value written since the start), the
VIPs are read from the raw TOML instead, so the cleanup still happens.
A routed VIP's addresses are looked for on its `routed_interface` (docs/routed.md), where
they live; the dummy link itself stays.
Must not: touch an address that is not a configured VIP, or a copy of one that carpd did not
add (an operator's address equal to a VIP is reported and left alone).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import subprocess
from dataclasses import dataclass

from carpd.config.loader import DEFAULT_MASTER_UNITS, ConfigError, load_config
from carpd.config.nodes import short_hostname
from carpd.config.reading import FileRefused, read_document
from carpd.core.addresses import AddressWithPrefix
from carpd.core.ownership import foreign_copy_text, survey
from carpd.core.params import DEFAULT_ROUTED_INTERFACE, Placement, address_label
from carpd.driver.ports import EventLog
from carpd.io.netlink import NetlinkAddresses
from carpd.io.systemd import make_event_log
from carpd.io.units import systemd_running
from carpd.status import messages as msg

SYSTEMCTL_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    interface: str
    addresses: tuple[AddressWithPrefix, ...]
    units: tuple[str, ...]

    @property
    def label(self) -> str:
        return address_label(self.interface, self.name)


def targets(path: str, node: str | None = None) -> list[Target]:
    """The VIPs of the file for `node` (`carpd --node`, else this host's name): validated when
    possible, else a best-effort raw read (which raises OSError or TOMLDecodeError when the
    file cannot be read at all)."""
    try:
        config = load_config(path, node=node)
    except ConfigError:
        return _raw_targets(path, node or short_hostname(socket.gethostname()))
    return [Target(p.name, p.address_interface, p.addresses, p.master_units)
            for p in config.vips]


def _raw_targets(path: str, node: str) -> list[Target]:
    """Raises OSError or FileRefused when the file cannot be read at all (the loader's
    bounds: a regular file, size, nesting; never a FIFO that blocks ExecStopPost=). A table
    of per-node values gives `node`'s value (carpd.config.nodes)."""
    _text, doc = read_document(path)
    defaults = doc.get("defaults", {})
    found = []
    for name, table in (doc.get("vip") or {}).items():
        if not isinstance(table, dict):
            continue
        merged = {**defaults, **table} if isinstance(defaults, dict) else table
        merged = {k: v.get(node) if isinstance(v, dict) else v for k, v in merged.items()}
        raw = merged.get("addresses", [merged.get("address")])
        try:
            addresses = tuple(ipaddress.ip_interface(a) for a in raw if isinstance(a, str))
            units = tuple(str(u).format(name=name)
                          for u in merged.get("master_units", DEFAULT_MASTER_UNITS))
        except (ValueError, TypeError, KeyError, IndexError):
            continue
        iface = (merged.get("routed_interface", DEFAULT_ROUTED_INTERFACE)
                 if merged.get("placement") == Placement.ROUTED.value else merged.get("interface"))
        if isinstance(iface, str) and addresses:
            found.append(Target(name, iface, addresses, units))
    return found


async def _remove_addresses(found: list[Target], log: EventLog) -> int:
    netlink = NetlinkAddresses()
    removed = 0
    try:
        for t in found:
            try:
                copies = survey(t.addresses, t.label, await netlink.listing(t.interface))
                stale = await netlink.remove(t.interface, copies.ours, label=t.label) \
                    if copies.ours else ()
            except OSError as exc:  # e.g. the interface is gone: nothing of ours is on it
                log.record(msg.INFO, f"cleanup: vip {t.name}: {exc}", CARP_NAME=t.name)
                continue
            for addr in copies.foreign:
                log.record(msg.WARNING, f"cleanup: vip {t.name}: "
                           f"{foreign_copy_text(addr, t.interface)}; left in place",
                           MESSAGE_ID=msg.VIP_RECONCILED, CARP_NAME=t.name,
                           CARP_INTERFACE=t.interface)
            if stale:
                removed += len(stale)
                log.record(msg.WARNING, f"cleanup: removed stale VIP {', '.join(map(str, stale))}"
                           f" of vip {t.name} from {t.interface} (carpd did not release it)",
                           MESSAGE_ID=msg.VIP_RECONCILED, CARP_NAME=t.name,
                           CARP_INTERFACE=t.interface)
    finally:
        await netlink.close()
    return removed


def _stop_units(found: list[Target], log: EventLog) -> None:
    units = list(dict.fromkeys(u for t in found for u in t.units))
    if not units or not systemd_running():
        return
    try:
        proc = subprocess.run(["systemctl", "--no-block", "stop", *units], check=False,
                              capture_output=True, text=True, timeout=SYSTEMCTL_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.record(msg.ERR, f"cleanup: cannot stop {' '.join(units)}: {exc}",
                   MESSAGE_ID=msg.IO_FAILURE)
        return
    if proc.returncode != 0:
        log.record(msg.ERR, f"cleanup: systemctl stop {' '.join(units)} failed: "
                   f"{proc.stderr.strip()}", MESSAGE_ID=msg.IO_FAILURE)


def cleanup(path: str, node: str | None = None) -> int:
    """Exit status 0 (also when there was nothing to do), 1 when the file cannot be read."""
    log = make_event_log()
    try:
        found = targets(path, node)
    except (OSError, FileRefused) as exc:
        why = exc.reason if isinstance(exc, FileRefused) else str(exc)
        log.record(msg.ERR, f"cleanup: cannot read the VIPs of {path} ({why}); nothing "
                   "removed: check the interfaces by hand", MESSAGE_ID=msg.IO_FAILURE)
        return 1
    if not found:
        log.record(msg.INFO, f"cleanup: no VIP configured in {path}; nothing to remove")
        return 0
    removed = asyncio.run(_remove_addresses(found, log))
    _stop_units(found, log)
    if not removed:
        log.record(msg.INFO, f"cleanup: no VIP of {path} left on any interface")
    return 0
