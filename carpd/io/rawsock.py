"""Protocol-112 advertisement transport over raw IPv4 sockets (ports.AdvertTransport).

Receives datagrams and hands the core `PacketReceived` events with the IPv4 header parsed
off (carpd.io.ipv4: TTL as hop limit, destination, source); an IPv6 source is refused at
`open` (raw IPv6 sockets come with IPv6 VIPs).

Owns: per interface one *receive* socket (AF_INET/SOCK_RAW/112, SO_BINDTODEVICE, groups
joined by interface index, left unbound so it sees every CARP/VRRP datagram addressed to the
joined groups, including ucarp ``--nomcast`` frames sent to the Ethernet broadcast address),
per (interface, source) one *send* socket bound to the configured source address (TTL 255,
multicast TTL 255, TOS 0x10, no multicast loop, multicast interface by index) and, lazily,
one AF_PACKET socket per interface for L2-broadcast sends (CARP.md 1.1, 3.8).

Why two IP sockets: a raw socket bound to an address only receives datagrams whose
destination is that address, so the bound send socket cannot also receive the group. The
send socket carries a drop-all BPF filter so nothing accumulates in its receive queue.

Sends each SendAdvert to every destination it lists, with TTL 255 and the advert's traffic
class as IP_TOS (set on the socket when it changes).
Must not: interpret payloads (the core validates TTL, checksum, HMAC...) or block the loop.
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
from dataclasses import dataclass, field

from carpd.core.actions import SendAdvert
from carpd.core.addresses import Address
from carpd.driver.ports import DatagramCallback
from carpd.io.ipv4 import ADVERT_TTL, IPPROTO_VRRP, encode_ipv4_header, parse_datagram
from carpd.io.packet import BROADCAST_MAC, interface_mac, open_packet_socket

log = logging.getLogger(__name__)

SOL_SOCKET = socket.SOL_SOCKET
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)
SO_ATTACH_FILTER = getattr(socket, "SO_ATTACH_FILTER", 26)
ETH_P_IP = 0x0800
MAX_DATAGRAM = 4096
DRAIN_LIMIT = 64  # datagrams handled per readable event; the loop calls us again if more



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
    groups: set[ipaddress.IPv4Address] = field(default_factory=set)
    on_datagram: DatagramCallback | None = None


class RawSocketTransport:
    """ports.AdvertTransport over raw sockets; must be used from one asyncio event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop
        self._receivers: dict[str, _Receiver] = {}
        self._senders: dict[tuple[str, ipaddress.IPv4Address], socket.socket] = {}
        self._tos: dict[int, int] = {}  # send socket fd -> IP_TOS set on it
        self._packet: dict[str, socket.socket] = {}

    # -- receive --------------------------------------------------------------------------

    def open(self, interface: str, source: Address, groups: frozenset[Address],
             on_datagram: DatagramCallback) -> None:
        """Start receiving on `interface` and prepare a send socket bound to `source`.
        Calling it again for the same interface joins further groups and replaces the
        callback. Raises OSError for an IPv6 source or group (not supported yet)."""
        source4 = _ipv4(source, interface)
        groups4 = frozenset(_ipv4(g, interface) for g in groups)
        rx = self._receivers.get(interface)
        created = rx is None
        if rx is None:
            rx = self._open_receiver(interface)
        try:
            for group in sorted(groups4 - rx.groups):
                self._join(rx, interface, group)
            self._sender(interface, source4)
        except OSError:
            if created:
                self._close_receiver(interface)
            raise
        rx.on_datagram = on_datagram

    def _open_receiver(self, interface: str) -> _Receiver:
        ifindex = socket.if_nametoindex(interface)
        sock = self._ip_socket(interface)
        try:
            sock.setblocking(False)
            rx = _Receiver(sock=sock, ifindex=ifindex)
            self._get_loop().add_reader(sock.fileno(), self._readable, interface)
        except BaseException:
            sock.close()
            raise
        self._receivers[interface] = rx
        return rx

    @staticmethod
    def _join(rx: _Receiver, interface: str, group: ipaddress.IPv4Address) -> None:
        try:
            rx.sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                               ip_mreqn(group, rx.ifindex))
        except OSError as exc:
            raise OSError(exc.errno, f"cannot join {group} on {interface}: {exc.strerror}") \
                from exc
        rx.groups.add(group)

    def _readable(self, interface: str) -> None:
        rx = self._receivers.get(interface)
        if rx is None:
            return
        for _ in range(DRAIN_LIMIT):
            try:
                data = rx.sock.recv(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ENETDOWN; the link watcher reports the cause
                log.debug("receive on %s failed: %s", interface, exc)
                return
            if rx.on_datagram is not None:
                rx.on_datagram(parse_datagram(interface, data))

    # -- send -----------------------------------------------------------------------------

    def send(self, action: SendAdvert) -> None:
        """Send one advert now (non-blocking). Raises OSError on failure."""
        if action.l2_broadcast:
            self._send_l2(action)
            return
        sock = self._sender(action.interface, _ipv4(action.source, action.interface))
        self._set_tos(sock, action.traffic_class)
        for destination in action.destinations:
            try:
                sock.sendto(action.payload, (str(destination), 0))
            except OSError as exc:
                raise OSError(exc.errno, f"send to {destination} on {action.interface} "
                                         f"failed: {exc.strerror}") from exc

    def _set_tos(self, sock: socket.socket, tos: int) -> None:
        if self._tos.get(sock.fileno()) != tos:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, tos)
            self._tos[sock.fileno()] = tos

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

    def _sender(self, interface: str, source: ipaddress.IPv4Address) -> socket.socket:
        key = (interface, source)
        sock = self._senders.get(key)
        if sock is not None:
            return sock
        sock = self._ip_socket(interface)
        try:
            ifindex = socket.if_nametoindex(interface)
            sock.setsockopt(SOL_SOCKET, SO_ATTACH_FILTER, _DROP_ALL_FPROG)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                            ip_mreqn(ipaddress.IPv4Address(0), ifindex))
            sock.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
            sock.bind((str(source), 0))
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise OSError(exc.errno, f"cannot prepare sending from {source} on {interface}: "
                                     f"{exc.strerror}") from exc
        self._senders[key] = sock
        return sock

    @staticmethod
    def _ip_socket(interface: str) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_VRRP)
        try:
            sock.setsockopt(SOL_SOCKET, SO_BINDTODEVICE, interface.encode())
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ADVERT_TTL)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ADVERT_TTL)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        except OSError as exc:
            sock.close()
            raise OSError(exc.errno, f"cannot set up a raw socket on {interface}: "
                                     f"{exc.strerror}") from exc
        return sock

    def _packet_socket(self, interface: str) -> socket.socket:
        sock = open_packet_socket(interface)
        self._packet[interface] = sock
        return sock

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Remove the readers and close every socket (idempotent)."""
        for interface in list(self._receivers):
            self._close_receiver(interface)
        for sock in (*self._senders.values(), *self._packet.values()):
            sock.close()
        self._senders.clear()
        self._tos.clear()
        self._packet.clear()

    def _close_receiver(self, interface: str) -> None:
        rx = self._receivers.pop(interface)
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(rx.sock.fileno())
        rx.sock.close()

    def _get_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop



def _ipv4(address: Address, interface: str) -> ipaddress.IPv4Address:
    if not isinstance(address, ipaddress.IPv4Address):
        raise OSError(errno.EAFNOSUPPORT, f"{address} on {interface}: IPv6 adverts are not "
                      "supported by this transport")
    return address
