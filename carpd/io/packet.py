"""AF_PACKET helpers shared by the GARP announcer and the L2-broadcast advert sender.

Owns: opening a send-only packet socket on an interface (protocol 0: it receives nothing)
and reading the interface's current MAC (SIOCGIFHWADDR, on every call, so a MAC change such
as a bonding fail-over is followed).
"""

from __future__ import annotations

import fcntl
import socket
import struct

SIOCGIFHWADDR = 0x8927
BROADCAST_MAC = b"\xff" * 6


def interface_mac(sock: socket.socket, interface: str) -> bytes:
    req = struct.pack("256s", interface.encode()[:15])
    return fcntl.ioctl(sock.fileno(), SIOCGIFHWADDR, req)[18:24]


def open_packet_socket(interface: str) -> socket.socket:
    """A non-blocking AF_PACKET socket bound to `interface` for sending whole frames."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    try:
        sock.bind((interface, 0))
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot open a packet socket on {interface}: "
                                 f"{exc.strerror}") from exc
    return sock
