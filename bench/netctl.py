"""Fault injection on links with a precise CLOCK_MONOTONIC stamp.

`ip link set ...` through a subprocess costs milliseconds of fork/exec before the change
happens, which would blur a 20 ms target. Instead the bench opens, once per lab namespace, a
NETLINK_ROUTE socket *inside* that namespace (setns(2) on this thread, socket(), setns back:
a socket stays in the namespace it was created in) and sends RTM_NEWLINK / RTM_SETLINK
itself, stamping time.monotonic() immediately before the send.

Only namespaces under /run/netns that the bench created are ever entered; the thread returns
to its original namespace before anything else runs (an error there aborts the bench).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import struct
import time
from collections.abc import Iterator

CLONE_NEWNET = 0x40000000
NETLINK_ROUTE = 0
RTM_NEWLINK = 16
RTM_SETLINK = 19
NLMSG_ERROR = 2
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
IFF_UP = 0x1
AF_BRIDGE = 7
IFLA_PROTINFO = 12
IFLA_BRPORT_STATE = 1
NLA_F_NESTED = 0x8000
BR_STATE_DISABLED = 0
BR_STATE_FORWARDING = 3

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


@contextlib.contextmanager
def in_netns(name: str) -> Iterator[None]:
    """Run the body with this thread inside network namespace `name` (always comes back)."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(home)  # if this fails, the OSError propagates and the bench stops
    finally:
        os.close(target)
        os.close(home)


def _nla(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * ((4 - length % 4) % 4)


class LinkControl:
    """A netlink socket living in one namespace; set links up/down and bridge port states."""

    def __init__(self, netns: str) -> None:
        with in_netns(netns):
            self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
            self._sock.bind((0, 0))
            self._indexes: dict[str, int] = {}
            for _idx, name in socket.if_nameindex():
                self._indexes[name] = _idx
        self._sock.settimeout(5.0)
        self._seq = 0
        self.netns = netns

    def close(self) -> None:
        self._sock.close()

    def _request(self, msg_type: int, body: bytes) -> float:
        """Send one request; return the monotonic time just before the send."""
        self._seq += 1
        header = struct.pack("=IHHII", 16 + len(body), msg_type, NLM_F_REQUEST | NLM_F_ACK,
                             self._seq, 0)
        t = time.monotonic()
        self._sock.send(header + body)
        while True:
            data = self._sock.recv(65536)
            off = 0
            while off + 16 <= len(data):
                length, kind, _flags, seq, _pid = struct.unpack_from("=IHHII", data, off)
                if kind == NLMSG_ERROR and seq == self._seq:
                    (error,) = struct.unpack_from("=i", data, off + 16)
                    if error:
                        raise OSError(-error, os.strerror(-error))
                    return t
                off += max(16, (length + 3) & ~3)

    def set_link(self, ifname: str, up: bool) -> float:
        """Like `ip link set IFNAME up|down`; returns the stamp taken right before it."""
        ifi = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, self._indexes[ifname],
                          IFF_UP if up else 0, IFF_UP)
        return self._request(RTM_NEWLINK, ifi)

    def set_bridge_port(self, port: str, forwarding: bool) -> float:
        """Like `bridge link set dev PORT state 3|0` (the host keeps its carrier)."""
        ifi = struct.pack("=BxHiII", AF_BRIDGE, 0, self._indexes[port], 0, 0)
        state = BR_STATE_FORWARDING if forwarding else BR_STATE_DISABLED
        protinfo = _nla(IFLA_PROTINFO | NLA_F_NESTED,
                        _nla(IFLA_BRPORT_STATE, struct.pack("=B", state)))
        return self._request(RTM_SETLINK, ifi + protinfo)
