"""Protocol-112 advertisement transport over raw IPv4 and IPv6 sockets (ports.AdvertTransport).

Receives datagrams and hands the core `PacketReceived` events with the IP header parsed off:
carpd.io.ipv4 parses the header a raw IPv4 socket returns (TTL as hop limit, destination,
source); carpd.io.ipv6 reads the ancillary data a raw IPv6 socket returns instead of a header
(hop limit, destination from IPV6_PKTINFO; the source without its scope).

Owns, per (interface, family), one *receive* socket: SOL_SOCKET/SO_BINDTODEVICE, left unbound
so it sees every protocol-112 datagram addressed to the host on that interface (unicast
adverts) or to a group it joined (by interface index), and never those to groups only other
sockets of the host joined. For IPv4 the kernel filters (IP_MULTICAST_ALL off); for IPv6
IPV6_MULTICAST_ALL is set off too, but Linux only consults a raw IPv6 socket's memberships
when the socket is bound to an address, so the transport itself discards datagrams to a
group the socket has not joined (measured: without that, ff02::12 adverts reached a socket in
unicast mode as soon as any other socket had joined the group). IPv4 ones
also see ucarp ``--nomcast`` frames (Ethernet broadcast, IP destination the group; CARP.md
3.8); IPv6 ones ask for IPV6_HOPLIMIT and IPV6_PKTINFO with every datagram. `open` makes the
joined groups exactly the ones asked for (joining new ones, leaving dropped ones; a failed
join leaves the set as it was). Per (interface, source) one *send* socket bound to that
source (IPv6: with the interface as scope, so a link-local source works; a global one for
unicast peers works the same), multicast interface by index, no multicast loop, hop limit
(IP_TTL + IP_MULTICAST_TTL / IPV6_UNICAST_HOPS + IPV6_MULTICAST_HOPS) and traffic class
(IP_TOS / IPV6_TCLASS) from each SendAdvert, set on the socket only when they change (255
and nothing at first). IPV6_CHECKSUM is never set: CARP's checksum covers its 36 bytes only,
and a kernel-checked pseudo-header sum would drop every genuine advert
(IPV6-UNICAST-VRRP3.md 1.2, 1.8). Lazily, one AF_PACKET socket per interface for IPv4
L2-broadcast sends (CARP.md 1.1, 3.8); IPv6 has no such mode and refuses it.

Why two IP sockets: a raw socket bound to an address only receives datagrams whose
destination is that address, so the bound send socket cannot also receive the group. The
send socket carries a drop-all BPF filter so nothing accumulates in its receive queue.

Must not: interpret payloads (the core validates hop limit, checksum, HMAC...) or block the
loop.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import ipaddress
import logging
import random
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from carpd.core.actions import SendAdvert
from carpd.core.addresses import Address, Family, family_of
from carpd.core.events import DatagramMalformed, PacketReceived
from carpd.driver.ports import DatagramCallback
from carpd.io import ipv6
from carpd.io.ipv4 import ADVERT_TTL, IPPROTO_VRRP, encode_ipv4_header, parse_datagram
from carpd.io.packet import BROADCAST_MAC, interface_mac, open_packet_socket

log = logging.getLogger(__name__)

SOL_SOCKET = socket.SOL_SOCKET
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)
IP_MULTICAST_ALL = 49  # not in Python's socket module
SO_ATTACH_FILTER = getattr(socket, "SO_ATTACH_FILTER", 26)
ETH_P_IP = 0x0800
MAX_DATAGRAM = 4096
DRAIN_LIMIT = 64  # datagrams handled per readable event; the loop calls us again if more

_AF = {Family.IPV4: socket.AF_INET, Family.IPV6: socket.AF_INET6}
_V6 = socket.IPPROTO_IPV6


def ip_mreqn(group: ipaddress.IPv4Address, ifindex: int) -> bytes:
    """struct ip_mreqn {imr_multiaddr, imr_address = 0, imr_ifindex}."""
    return struct.pack("=4s4si", group.packed, b"\0\0\0\0", ifindex)


# A classic-BPF program `ret #0` (keeps no received packet) and its struct sock_fprog; the
# kernel copies the program during setsockopt, the buffer only has to outlive that call.
_DROP_ALL_PROGRAM = ctypes.create_string_buffer(struct.pack("=HBBI", 0x06, 0, 0, 0))
_DROP_ALL_FPROG = struct.pack("HL", 1, ctypes.addressof(_DROP_ALL_PROGRAM))


def ethernet_frame(mac: bytes, ip_datagram: bytes) -> bytes:
    """Broadcast Ethernet II frame carrying an IPv4 datagram."""
    return BROADCAST_MAC + mac + struct.pack("!H", ETH_P_IP) + ip_datagram


@dataclass
class _Receiver:
    sock: socket.socket
    ifindex: int
    family: Family
    groups: set[Address] = field(default_factory=set)
    on_datagram: DatagramCallback | None = None


@dataclass
class _Sender:
    sock: socket.socket
    ifindex: int
    traffic_class: int | None = None  # None: never set (the kernel's default)
    hop_limit: int = ADVERT_TTL


SocketFactory = Callable[[int, int, int], socket.socket]


class RawSocketTransport:
    """ports.AdvertTransport over raw sockets; must be used from one asyncio event loop.
    `new_socket` and `ifindex` are the system calls it makes (tests pass fakes)."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None, *,
                 new_socket: SocketFactory = socket.socket,
                 ifindex: Callable[[str], int] = socket.if_nametoindex) -> None:
        self._loop = loop
        self._new_socket, self._ifindex = new_socket, ifindex
        self._receivers: dict[tuple[str, Family], _Receiver] = {}
        self._senders: dict[tuple[str, Address], _Sender] = {}
        self._packet: dict[str, socket.socket] = {}

    # -- receive --------------------------------------------------------------------------

    def open(self, interface: str, source: Address, groups: frozenset[Address],
             on_datagram: DatagramCallback) -> None:
        """Start receiving on `interface` in `source`'s family with exactly `groups` joined
        and prepare a send socket bound to `source`; the callback replaces an earlier one.
        Raises OSError (a group of another family, a failed join or bind)."""
        family = family_of(source)
        source = _unscoped(source)
        for group in groups:
            _check_family(group, family, interface)
        key = (interface, family)
        rx = self._receivers.get(key)
        created = rx is None
        if rx is None:
            rx = self._open_receiver(interface, family)
        try:
            self._sender(interface, source)
            self._set_groups(rx, interface, {_unscoped(g) for g in groups})
        except OSError:
            if created:
                self._close_receiver(key)
            raise
        rx.on_datagram = on_datagram

    def joined(self, interface: str, family: Family) -> frozenset[Address]:
        """The groups the receive socket of (interface, family) has joined now."""
        rx = self._receivers.get((interface, family))
        return frozenset(rx.groups) if rx is not None else frozenset()

    def _open_receiver(self, interface: str, family: Family) -> _Receiver:
        ifindex = self._ifindex(interface)
        sock = (self._ip_socket(interface) if family is Family.IPV4
                else self._ipv6_socket(interface))
        try:
            if family is Family.IPV4:
                sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
            else:
                for option in (socket.IPV6_RECVHOPLIMIT, socket.IPV6_RECVPKTINFO):
                    sock.setsockopt(_V6, option, 1)
                sock.setsockopt(_V6, ipv6.IPV6_MULTICAST_ALL, 0)
            sock.setblocking(False)
            rx = _Receiver(sock=sock, ifindex=ifindex, family=family)
            self._get_loop().add_reader(sock.fileno(), self._readable, (interface, family))
        except OSError as exc:
            sock.close()
            raise OSError(exc.errno, f"cannot set up an {family.label} receive socket on "
                                     f"{interface}: {exc.strerror}") from exc
        except BaseException:
            sock.close()
            raise
        self._receivers[(interface, family)] = rx
        return rx

    def _set_groups(self, rx: _Receiver, interface: str, wanted: set[Address]) -> None:
        joined: list[Address] = []
        try:
            for group in sorted(wanted - rx.groups, key=str):
                self._membership(rx, group, join=True, interface=interface)
                joined.append(group)
        except OSError:
            for group in joined:
                self._leave_quietly(rx, group, interface)
            raise
        for group in sorted(rx.groups - wanted, key=str):
            self._leave_quietly(rx, group, interface)

    def _leave_quietly(self, rx: _Receiver, group: Address, interface: str) -> None:
        """Leave a group; a failure (the interface is gone, and the membership with it)
        is only logged: the group is not joined any more either way."""
        try:
            self._membership(rx, group, join=False, interface=interface)
        except OSError as exc:
            log.debug("%s", exc)
            rx.groups.discard(group)

    @staticmethod
    def _membership(rx: _Receiver, group: Address, *, join: bool, interface: str) -> None:
        if isinstance(group, ipaddress.IPv4Address):
            level, request = socket.IPPROTO_IP, ip_mreqn(group, rx.ifindex)
            option = socket.IP_ADD_MEMBERSHIP if join else socket.IP_DROP_MEMBERSHIP
        else:
            level, request = _V6, ipv6.ipv6_mreq(group, rx.ifindex)
            option = socket.IPV6_JOIN_GROUP if join else socket.IPV6_LEAVE_GROUP
        try:
            rx.sock.setsockopt(level, option, request)
        except OSError as exc:
            verb = "join" if join else "leave"
            raise OSError(exc.errno, f"cannot {verb} {group} on {interface}: "
                                     f"{exc.strerror}") from exc
        if join:
            rx.groups.add(group)
        else:
            rx.groups.discard(group)

    def _readable(self, key: tuple[str, Family]) -> None:
        rx = self._receivers.get(key)
        if rx is None:
            return
        interface = key[0]
        for _ in range(DRAIN_LIMIT):
            try:
                if rx.family is Family.IPV4:
                    event = parse_datagram(interface, rx.sock.recv(MAX_DATAGRAM))
                else:
                    data, ancillary, _flags, peer = rx.sock.recvmsg(MAX_DATAGRAM,
                                                                     ipv6.ANCILLARY_SPACE)
                    event = ipv6.parse_message(interface, data, ancillary, peer)
                    if _not_joined(event, rx.groups):
                        continue
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ENETDOWN; the link watcher reports the cause
                log.debug("receive on %s failed: %s", interface, exc)
                return
            if rx.on_datagram is not None:
                rx.on_datagram(event)

    # -- send -----------------------------------------------------------------------------

    def send(self, action: SendAdvert) -> None:
        """Send one advert now (non-blocking). Raises OSError on failure."""
        family, interface = family_of(action.source), action.interface
        if action.l2_broadcast:
            if family is not Family.IPV4:
                raise OSError(errno.EAFNOSUPPORT, f"L2 broadcast adverts on {interface} are "
                              f"IPv4 only; {action.source} is IPv6")
            self._send_l2(action)
            return
        for destination in action.destinations:
            _check_family(destination, family, interface)
        sender = self._sender(interface, _unscoped(action.source))
        self._tune(sender, family, action.traffic_class, action.hop_limit)
        for destination in action.destinations:
            address: tuple[str, int] | tuple[str, int, int, int] = (
                (str(destination), 0) if isinstance(destination, ipaddress.IPv4Address)
                else ipv6.sockaddr(destination, sender.ifindex))
            try:
                sender.sock.sendto(action.payload, address)
            except OSError as exc:
                raise OSError(exc.errno, f"send to {destination} on {interface} "
                                         f"failed: {exc.strerror}") from exc

    @staticmethod
    def _tune(sender: _Sender, family: Family, traffic_class: int, hop_limit: int) -> None:
        sock = sender.sock
        if sender.traffic_class != traffic_class:
            if family is Family.IPV4:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, traffic_class)
            else:
                sock.setsockopt(_V6, socket.IPV6_TCLASS, traffic_class)
            sender.traffic_class = traffic_class
        if sender.hop_limit != hop_limit:
            _set_hop_limit(sock, family, hop_limit)
            sender.hop_limit = hop_limit

    def _send_l2(self, action: SendAdvert) -> None:
        sock = self._packet.get(action.interface)
        if sock is None:
            sock = self._packet_socket(action.interface)
        source = _ipv4(action.source, action.interface)
        try:
            mac = interface_mac(sock, action.interface)
            for destination in action.destinations:
                header = encode_ipv4_header(
                    source=source, destination=_ipv4(destination, action.interface),
                    payload_length=len(action.payload), ident=random.getrandbits(16),
                    tos=action.traffic_class)
                sock.send(ethernet_frame(mac, header + action.payload))
        except OSError as exc:
            raise OSError(exc.errno, f"L2 broadcast send on {action.interface} failed: "
                                     f"{exc.strerror}") from exc

    def _sender(self, interface: str, source: Address) -> _Sender:
        key = (interface, source)
        sender = self._senders.get(key)
        if sender is not None:
            return sender
        sock = (self._ip_socket(interface) if isinstance(source, ipaddress.IPv4Address)
                else self._ipv6_socket(interface))
        try:
            ifindex = self._ifindex(interface)
            sock.setsockopt(SOL_SOCKET, SO_ATTACH_FILTER, _DROP_ALL_FPROG)
            if isinstance(source, ipaddress.IPv4Address):
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                                ip_mreqn(ipaddress.IPv4Address(0), ifindex))
                sock.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
                sock.bind((str(source), 0))
            else:
                sock.setsockopt(_V6, socket.IPV6_MULTICAST_IF, ifindex)
                _set_hop_limit(sock, Family.IPV6, ADVERT_TTL)
                sock.setsockopt(_V6, socket.IPV6_MULTICAST_LOOP, 0)
                sock.setsockopt(_V6, ipv6.IPV6_FREEBIND, 1)
                sock.bind(ipv6.sockaddr(source, ifindex))
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise OSError(exc.errno, f"cannot prepare sending from {source} on {interface}: "
                                     f"{exc.strerror}") from exc
        sender = self._senders[key] = _Sender(sock=sock, ifindex=ifindex)
        return sender

    def _ip_socket(self, interface: str) -> socket.socket:
        sock = self._new_socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_VRRP)
        try:
            sock.setsockopt(SOL_SOCKET, SO_BINDTODEVICE, interface.encode())
            _set_hop_limit(sock, Family.IPV4, ADVERT_TTL)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        except OSError as exc:
            sock.close()
            raise OSError(exc.errno, f"cannot set up a raw socket on {interface}: "
                                     f"{exc.strerror}") from exc
        return sock

    def _ipv6_socket(self, interface: str) -> socket.socket:
        sock = self._new_socket(socket.AF_INET6, socket.SOCK_RAW, IPPROTO_VRRP)
        try:
            sock.setsockopt(SOL_SOCKET, SO_BINDTODEVICE, interface.encode())
        except OSError as exc:
            sock.close()
            raise OSError(exc.errno, f"cannot set up a raw IPv6 socket on {interface}: "
                                     f"{exc.strerror}") from exc
        return sock

    def _packet_socket(self, interface: str) -> socket.socket:
        sock = open_packet_socket(interface)
        self._packet[interface] = sock
        return sock

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Remove the readers and close every socket (idempotent)."""
        for key in list(self._receivers):
            self._close_receiver(key)
        for sock in (*(s.sock for s in self._senders.values()), *self._packet.values()):
            sock.close()
        self._senders.clear()
        self._packet.clear()

    def _close_receiver(self, key: tuple[str, Family]) -> None:
        rx = self._receivers.pop(key)
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(rx.sock.fileno())
        rx.sock.close()

    def _get_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop


def _set_hop_limit(sock: socket.socket, family: Family, hop_limit: int) -> None:
    """Unicast and multicast hop limit (IPv4 TTL) together: a SendAdvert has one."""
    if family is Family.IPV4:
        options = ((socket.IPPROTO_IP, socket.IP_TTL), (socket.IPPROTO_IP,
                                                        socket.IP_MULTICAST_TTL))
    else:
        options = ((_V6, socket.IPV6_UNICAST_HOPS), (_V6, socket.IPV6_MULTICAST_HOPS))
    for level, option in options:
        sock.setsockopt(level, option, hop_limit)


def _not_joined(event: PacketReceived | DatagramMalformed, groups: set[Address]) -> bool:
    """A datagram to a multicast group this receiver has not joined (IPv6: the kernel
    delivers those to unbound raw sockets)."""
    return (isinstance(event, PacketReceived) and event.destination.is_multicast
            and event.destination not in groups)


def _unscoped(address: Address) -> Address:
    return ipv6.unscoped(address) if isinstance(address, ipaddress.IPv6Address) else address


def _check_family(address: Address, family: Family, interface: str) -> None:
    if family_of(address) is not family:
        raise OSError(errno.EAFNOSUPPORT, f"{address} on {interface}: not an {family.label} "
                      "address like the source")


def _ipv4(address: Address, interface: str) -> ipaddress.IPv4Address:
    if not isinstance(address, ipaddress.IPv4Address):
        raise OSError(errno.EAFNOSUPPORT, f"{address} on {interface}: L2 broadcast adverts "
                      "are IPv4 only")
    return address
