"""The transport per interface: opening it for the VIPs there, and following the device.

Owns: which groups and sources each interface's receive and send sockets need (from the
running VIPs), and re-opening them when the device behind the name changes. Raw sockets
stay bound to the device they were opened on: after `ip link del eth0` and a new `eth0`,
they receive nothing and every send fails with ENODEV, so both servers would stay MASTER.

How it works: the address port reports presence (carpd.io.netwatch): on a deletion the
transport and the announcer forget the interface's sockets (the VIPs go INIT through the
LinkChanged(down) that follows, which the core handles as link loss); on an appearance
(created, moved into the namespace, renamed to the name) they forget them and the transport
is opened again for the device now carrying the name, joined to the groups anew, before the
LinkChanged(up) that brings the VIPs to BACKUP. An open that fails leaves the interface
*unbound*: the next carrier-up on it, or a send failure, tries again. A send failing with
ENODEV or ENXIO (a deletion whose event was lost) also rebinds, never per packet: at most
once per REBIND_RETRY_INTERVAL_S per interface, the interval doubling (up to
REBIND_RETRY_MAX_INTERVAL_S) while sends keep failing, and back to the start at the first
send that works or when the interface appears.
Must not: decide anything about the election (link state reaches the core as LinkChanged
from the driver), or block: opening raw sockets is a handful of system calls.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterable

from carpd.core.addresses import Family
from carpd.core.events import Event
from carpd.core.params import VipParams
from carpd.driver.ports import Ports
from carpd.status import messages as msg

REBIND_RETRY_INTERVAL_S = 1.0
REBIND_RETRY_MAX_INTERVAL_S = 30.0
DEVICE_GONE = frozenset({errno.ENODEV, errno.ENXIO})


class Interfaces:
    """The transport's sockets per interface, kept bound to the device that has the name."""

    def __init__(self, ports: Ports, post: Callable[[Event], None],
                 vips: Callable[[], Iterable[VipParams]], now: Callable[[], float]) -> None:
        self._ports = ports
        self._post = post
        self._vips = vips  # the VIPs the core runs now
        self._now = now
        self._unbound: set[str] = set()  # interfaces whose sockets could not be opened
        self._last_attempt: dict[str, float] = {}
        self._retry_interval: dict[str, float] = {}  # only while sends fail with ENODEV
        self._warned: set[str] = set()  # failed re-opens logged once until one works
        self.rebinds = 0  # successful re-opens since start (status, tests)

    def open(self, iface: str, vips: Iterable[VipParams]) -> None:
        """Receive on `iface` in every family its VIPs use, joined to exactly the groups
        they need (none for a family whose VIPs all have unicast peers), and prepare
        sending from each of their sources. Raises OSError."""
        on_iface = [p for p in vips if p.interface == iface]
        for family in Family:
            users = [p for p in on_iface if family in p.families]
            groups = frozenset(g for p in users for g in p.groups(family))
            for source in dict.fromkeys(p.source_for(family) for p in users):
                assert source is not None, "sources are resolved before the transport opens"
                self._ports.transport.open(iface, source, groups, self._post)

    def unbound(self, iface: str) -> bool:
        return iface in self._unbound

    # -- what the address port and the advert path report ---------------------------------

    def presence(self, iface: str, present: bool) -> None:
        """A device named `iface` was deleted (False) or appeared (True)."""
        if not self._used(iface):
            return
        self._retry_interval.pop(iface, None)
        if present:
            self._log(msg.NOTICE, f"interface {iface} appeared; re-opening its sockets",
                      CARP_INTERFACE=iface)
            self.rebind(iface)
            return
        self._forget(iface)
        self._unbound.add(iface)
        self._log(msg.WARNING, f"interface {iface} was deleted; its VIPs wait for it to come "
                  "back", CARP_INTERFACE=iface)

    def link_up(self, iface: str) -> None:
        """Carrier came up: an interface left unbound is opened now."""
        if iface in self._unbound:
            self.rebind(iface)

    def send_failed(self, iface: str, code: int | None) -> None:
        """A send failed: a missing device means our sockets are stale; try a rebind (at
        most once per REBIND_RETRY_INTERVAL_S)."""
        if code not in DEVICE_GONE or not self._used(iface):
            return
        last = self._last_attempt.get(iface)
        interval = self._retry_interval.get(iface, REBIND_RETRY_INTERVAL_S)
        if last is not None and self._now() - last < interval:
            return
        if iface in self._retry_interval:
            self._retry_interval[iface] = min(interval * 2, REBIND_RETRY_MAX_INTERVAL_S)
        else:
            self._retry_interval[iface] = REBIND_RETRY_INTERVAL_S
        self.rebind(iface)

    def send_ok(self, iface: str) -> None:
        """A send worked: the back-off of send-triggered rebinds starts over."""
        if self._retry_interval:
            self._retry_interval.pop(iface, None)

    # -- rebinding -------------------------------------------------------------------------

    def rebind(self, iface: str) -> bool:
        """Close the interface's sockets and open them again for the device carrying the
        name now. False (and the interface unbound) when that fails."""
        self._last_attempt[iface] = self._now()
        self._forget(iface)
        try:
            self.open(iface, tuple(self._vips()))
        except OSError as exc:
            if iface not in self._warned:
                self._warned.add(iface)
                self._log(msg.WARNING, f"cannot re-open the sockets on {iface}: {exc}; "
                          "trying again when it comes back", MESSAGE_ID=msg.IO_FAILURE,
                          CARP_INTERFACE=iface)
            self._forget(iface)
            self._unbound.add(iface)
            return False
        self._unbound.discard(iface)
        self._warned.discard(iface)
        self.rebinds += 1
        self._log(msg.NOTICE, f"re-opened the sockets on {iface} and joined its groups again",
                  CARP_INTERFACE=iface)
        return True

    def _forget(self, iface: str) -> None:
        self._ports.transport.forget(iface)
        self._ports.announcer.forget(iface)

    def _used(self, iface: str) -> bool:
        return any(p.interface == iface for p in self._vips())

    def _log(self, priority: int, message: str, **fields: object) -> None:
        fields.setdefault("MESSAGE_ID", msg.DAEMON_LIFECYCLE)
        self._ports.log.record(priority, message, **fields)
