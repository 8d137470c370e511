"""Where the VIPs now live, told to the segment (ports.Announcer): gratuitous ARP for IPv4
addresses, unsolicited Neighbour Advertisements for IPv6 ones.

Owns: the bursts and their sockets, and the GARP frame. The GARP frame is exactly ucarp's
(CARP.md 4.1): Ethernet broadcast from the interface's real MAC, ARP *request* (op 1) with
sender MAC = target MAC = interface MAC and sender IP = target IP = VIP. The NA frame comes
from carpd.io.ndisc (O flag, R = `router` or, when None, the interface's IPv6 forwarding
setting read once per burst, target link-layer address = the interface MAC, hop limit 255,
to ff02::1). Both go out through the same AF_PACKET socket of the interface. The MAC is read
afresh for every round (SIOCGIFHWADDR), so a MAC change (bonding fail-over) is followed.
Must not: block the event loop (non-blocking AF_PACKET socket, asyncio.sleep between rounds).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import struct

from carpd.core.addresses import Address
from carpd.io.ndisc import build_na_frame, forwarding
from carpd.io.packet import BROADCAST_MAC, interface_mac, open_packet_socket

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ARPHRD_ETHER = 1
ARPOP_REQUEST = 1
GARP_FRAME_LEN = 42

_ARP = struct.Struct("!HHBBH6s4s6s4s")


def build_garp_frame(mac: bytes, ip: ipaddress.IPv4Address) -> bytes:
    """The 42-byte gratuitous ARP request frame announcing `ip` at `mac`."""
    if len(mac) != 6:
        raise ValueError(f"an Ethernet MAC has 6 bytes, got {len(mac)}")
    arp = _ARP.pack(ARPHRD_ETHER, ETH_P_IP, 6, 4, ARPOP_REQUEST, mac, ip.packed, mac,
                    ip.packed)
    return BROADCAST_MAC + mac + struct.pack("!H", ETH_P_ARP) + arp


def announcement_frames(mac: bytes, addresses: tuple[Address, ...], *,
                        router: bool) -> list[bytes]:
    """One frame per address, in order: GARP for IPv4, NA (R = `router`) for IPv6."""
    return [build_garp_frame(mac, a) if isinstance(a, ipaddress.IPv4Address)
            else build_na_frame(mac, a, router=router) for a in addresses]


class AddressAnnouncer:
    """ports.Announcer: `count` rounds, `interval` seconds apart, the first immediately;
    each round sends one frame per address. Raises OSError when the interface is unusable.
    One packet socket per interface is opened at the first burst and kept: opening and
    closing one per burst costs milliseconds each in the kernel (binding, and an RCU grace
    period on close), which with 255 VIPs promoted at once stalled the event loop for over
    a second. A socket that fails is closed and reopened by the next round."""

    def __init__(self) -> None:
        self._sockets: dict[str, socket.socket] = {}

    async def announce(self, interface: str, addresses: tuple[Address, ...],
                       count: int, interval: float, *, router: bool | None = None) -> None:
        """Announce `addresses` (either family); `router` is the NA's R flag, None: the
        interface's net.ipv6.conf.<interface>.forwarding."""
        if not addresses or count <= 0:
            return
        if router is None and any(a.version == 6 for a in addresses):
            router = forwarding(interface)
        for round_no in range(count):
            if round_no:
                await asyncio.sleep(interval)
            sock = self._socket(interface)
            try:
                self._send_round(sock, interface, addresses, bool(router))
            except OSError:
                self._forget(interface)
                raise

    def _socket(self, interface: str) -> socket.socket:
        sock = self._sockets.get(interface)
        if sock is None:
            sock = self._sockets[interface] = open_packet_socket(interface)
        return sock

    def _forget(self, interface: str) -> None:
        sock = self._sockets.pop(interface, None)
        if sock is not None:
            sock.close()

    def close(self) -> None:
        for interface in list(self._sockets):
            self._forget(interface)

    @staticmethod
    def _send_round(sock: socket.socket, interface: str, addresses: tuple[Address, ...],
                    router: bool) -> None:
        try:
            mac = interface_mac(sock, interface)
            for frame in announcement_frames(mac, addresses, router=router):
                sock.send(frame)
        except OSError as exc:
            kinds = sorted({"gratuitous ARP" if a.version == 4 else "neighbour advertisement"
                            for a in addresses})
            raise OSError(exc.errno, f"{' and '.join(kinds)} on {interface} failed: "
                                     f"{exc.strerror}") from exc
