"""The rtnetlink address messages carpd builds and reads itself, and the mark it puts on VIPs.

Owns: `CARPD_ADDRESS_PROTO`, the IFA_PROTO value of every address carpd adds; the messages:
`encode_new_address` (RTM_NEWADDR for a VIP: IPv4 with its label; IPv6 without DAD and, when
asked, deprecated; both with IFA_PROTO), `encode_del_address` (RTM_DELADDR for exactly one
listed entry: IPv4 with the entry's label, so the kernel deletes that one and not another copy
of the IP), `encode_dump_request` (RTM_GETADDR, one family or both) and `decode_addresses`
(the RTM_NEWADDR entries of a dump as `AddressState`s: flags, scope, lifetimes, label,
protocol); and `RtnlSocket`, a plain rtnetlink socket that sends one request and waits for
its acknowledgement, or collects one dump.
The mark: IFA_PROTO (attribute 11, u8) is an address's origin, stored and reported by the
kernel for both families since Linux 6.1 (Debian 12's kernel has it); 0-3 are the kernel's
(IFAPROT_UNSPEC, _KERNEL_LO, _KERNEL_RA, _KERNEL_LL), other values belong to user space.
carpd uses 0xCA (202, "CArp"); the kernel only reports it when non-zero. An older kernel
ignores the attribute: carpd's IPv4 VIPs are then still known by their label, IPv6 ones not at
all (carpd.core.ownership has the rule).
Why by hand: pyroute2 0.7.2 (Debian 12) and 0.9.x differ in how `IPRoute.addr` handles flags,
lifetimes and protocols, and 0.7.2 may not know IFA_PROTO; these few messages are the same on
every kernel and library version.
Must not: decide what is carpd's (the rule is in core), or be used from the event loop (the
socket blocks; carpd.io.netlink uses it in its worker thread), except for
`NetlinkAddresses.add_now`/`remove_now` (a socket of their own, a 50 ms bound on the wait
for answers the kernel queued before the send returned).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from dataclasses import dataclass

from carpd.core.addresses import AddressWithPrefix
from carpd.core.ownership import InterfaceAddress

CARPD_ADDRESS_PROTO = 0xCA
IFA_F_SECONDARY, IFA_F_NODAD, IFA_F_DADFAILED = 0x01, 0x02, 0x08
IFA_F_DEPRECATED, IFA_F_TENTATIVE = 0x20, 0x40
RT_SCOPE_UNIVERSE = 0
INFINITY_LIFE_TIME = 0xFFFFFFFF
NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLM_F_EXCL, NLM_F_CREATE = 0x200, 0x400
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_CACHEINFO, IFA_FLAGS, IFA_PROTO = 1, 2, 3, 6, 8, 11
REQUEST_TIMEOUT = 5.0

_NLMSGHDR = struct.Struct("=IHHII")
_IFADDRMSG = struct.Struct("=BBBBI")
_RTATTR = struct.Struct("=HH")
_CACHEINFO = struct.Struct("=IIII")
_AF = {4: socket.AF_INET, 6: socket.AF_INET6}
_VERSION = {socket.AF_INET: 4, socket.AF_INET6: 6}

Message = tuple[int, int, bytes]  # (message type, extra nlmsg flags, body)


@dataclass(frozen=True, slots=True)
class AddressState:
    """One address of an interface as the kernel reports it (`ip addr` shows the same)."""

    address: AddressWithPrefix
    flags: int  # IFA_F_* (IFA_FLAGS when present, else the 8-bit ifa_flags)
    scope: int  # RT_SCOPE_*: 0 universe (global, ULA included), 253 link, 254 host
    preferred_lft: int | None = None  # seconds; INFINITY_LIFE_TIME = forever
    valid_lft: int | None = None
    label: str | None = None  # IPv4 only
    proto: int = 0  # IFA_PROTO; CARPD_ADDRESS_PROTO on what carpd added
    index: int = 0  # the interface index

    @property
    def tentative(self) -> bool:
        return bool(self.flags & IFA_F_TENTATIVE)

    @property
    def dadfailed(self) -> bool:
        return bool(self.flags & IFA_F_DADFAILED)

    @property
    def deprecated(self) -> bool:
        return bool(self.flags & IFA_F_DEPRECATED)

    @property
    def nodad(self) -> bool:
        return bool(self.flags & IFA_F_NODAD)

    @property
    def usable_source(self) -> bool:
        """The kernel would pick it as a source: neither tentative, dadfailed nor
        deprecated."""
        return not self.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED | IFA_F_DEPRECATED)

    @property
    def marked(self) -> bool:
        """It carries carpd's mark (IFA_PROTO)."""
        return self.proto == CARPD_ADDRESS_PROTO

    def listed(self) -> InterfaceAddress:
        return InterfaceAddress(self.address, marked=self.marked, label=self.label)


def _rtattr(kind: int, value: bytes) -> bytes:
    raw = _RTATTR.pack(_RTATTR.size + len(value), kind) + value
    return raw + b"\0" * (-len(raw) % 4)


def encode_new_address(index: int, addr: AddressWithPrefix, *, label: str,
                       deprecate: bool = False) -> Message:
    """RTM_NEWADDR for a VIP, with carpd's mark. IPv4: IFA_LOCAL and IFA_ADDRESS, the
    label (at most 15 bytes). IPv6: no DAD (in ifa_flags and IFA_FLAGS); deprecated
    (IFA_CACHEINFO preferred 0, valid forever) when asked, else the kernel's default
    lifetimes (both forever); `label` is not used (IPv6 has none)."""
    family, prefixlen, packed = _AF[addr.version], addr.network.prefixlen, addr.ip.packed
    mark = _rtattr(IFA_PROTO, bytes([CARPD_ADDRESS_PROTO]))
    if addr.version == 4:
        body = _IFADDRMSG.pack(family, prefixlen, 0, RT_SCOPE_UNIVERSE, index)
        body += (_rtattr(IFA_LOCAL, packed) + _rtattr(IFA_ADDRESS, packed)
                 + _rtattr(IFA_LABEL, label.encode()[:15] + b"\0") + mark)
        return RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body
    body = _IFADDRMSG.pack(family, prefixlen, IFA_F_NODAD, RT_SCOPE_UNIVERSE, index)
    body += _rtattr(IFA_ADDRESS, packed) + _rtattr(IFA_FLAGS, struct.pack("=I", IFA_F_NODAD))
    if deprecate:
        body += _rtattr(IFA_CACHEINFO, _CACHEINFO.pack(0, INFINITY_LIFE_TIME, 0, 0))
    return RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body + mark


def encode_del_address(index: int, entry: AddressState) -> Message:
    """RTM_DELADDR for exactly `entry` (address and prefix length; IPv4 also its label,
    which the kernel compares, so another copy of the IP with another label stays)."""
    addr = entry.address
    body = _IFADDRMSG.pack(_AF[addr.version], addr.network.prefixlen, 0, 0, index)
    if addr.version == 4:
        body += _rtattr(IFA_LOCAL, addr.ip.packed) + _rtattr(IFA_ADDRESS, addr.ip.packed)
        if entry.label is not None:
            body += _rtattr(IFA_LABEL, entry.label.encode() + b"\0")
    else:
        body += _rtattr(IFA_ADDRESS, addr.ip.packed)
    return RTM_DELADDR, 0, body


def encode_dump_request(version: int | None = None) -> Message:
    """RTM_GETADDR dump of every interface's addresses in one family (None: both)."""
    family = socket.AF_UNSPEC if version is None else _AF[version]
    return RTM_GETADDR, NLM_F_DUMP, _IFADDRMSG.pack(family, 0, 0, 0, 0)


def decode_addresses(data: bytes) -> tuple[list[AddressState], bool]:
    """The RTM_NEWADDR entries in one datagram of a dump, and whether NLMSG_DONE ended it.
    An error message raises OSError with its errno."""
    found: list[AddressState] = []
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, kind, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size:
            break
        start, end = offset + _NLMSGHDR.size, offset + length
        if kind == NLMSG_DONE:
            return found, True
        if kind == NLMSG_ERROR:
            (code,) = struct.unpack_from("=i", data, start)
            if code:
                raise OSError(-code, os.strerror(-code))
        elif kind == RTM_NEWADDR:
            state = _decode_one(data[start:end])
            if state is not None:
                found.append(state)
        offset += (length + 3) & ~3
    return found, False


def _attributes(raw: bytes) -> dict[int, bytes]:
    attrs: dict[int, bytes] = {}
    offset = 0
    while offset + _RTATTR.size <= len(raw):
        length, kind = _RTATTR.unpack_from(raw, offset)
        if length < _RTATTR.size:
            break
        attrs[kind & 0x3FFF] = raw[offset + _RTATTR.size:offset + length]
        offset += (length + 3) & ~3
    return attrs


def _decode_one(body: bytes) -> AddressState | None:
    if len(body) < _IFADDRMSG.size:
        return None
    family, prefixlen, flags, scope, index = _IFADDRMSG.unpack_from(body)
    version = _VERSION.get(family)
    attrs = _attributes(body[_IFADDRMSG.size:])
    local = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
    if version is None or local is None or len(local) != (4 if version == 4 else 16):
        return None
    cache = attrs.get(IFA_CACHEINFO)
    preferred, valid = _CACHEINFO.unpack(cache)[:2] if cache and len(cache) >= 16 \
        else (None, None)
    label = attrs.get(IFA_LABEL)
    return AddressState(
        address=ipaddress.ip_interface((ipaddress.ip_address(local), prefixlen)),
        flags=struct.unpack("=I", attrs[IFA_FLAGS][:4])[0] if len(attrs.get(IFA_FLAGS, b""))
        >= 4 else flags, scope=scope, preferred_lft=preferred, valid_lft=valid,
        label=label.split(b"\0", 1)[0].decode(errors="replace") if label else None,
        proto=attrs[IFA_PROTO][0] if attrs.get(IFA_PROTO) else 0, index=index)


class RtnlSocket:
    """A plain rtnetlink socket for one thread: `request` (acknowledged), `dump`. The kernel
    handles an rtnetlink request inside the sendmsg that carries it, so its acknowledgement
    is queued when the send returns; the receive timeout only bounds the unexpected."""

    def __init__(self, timeout: float = REQUEST_TIMEOUT) -> None:
        self._sock: socket.socket | None = None
        self._seq = 0
        self._timeout = timeout

    def _socket(self) -> socket.socket:
        if self._sock is None:
            self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
            self._sock.bind((0, 0))
            self._sock.settimeout(self._timeout)
        return self._sock

    def _send(self, message: Message, flags: int) -> int:
        kind, extra, body = message
        self._seq += 1
        self._socket().send(_NLMSGHDR.pack(_NLMSGHDR.size + len(body), kind,
                                           NLM_F_REQUEST | flags | extra, self._seq, 0) + body)
        return self._seq

    def request(self, message: Message) -> None:
        """Send one request and wait for its acknowledgement; a negative one raises OSError
        with its errno."""
        seq = self._send(message, NLM_F_ACK)
        while True:
            data = self._socket().recv(1 << 16)
            offset = 0
            while offset + _NLMSGHDR.size + 4 <= len(data):
                length, kind, _f, got, _pid = _NLMSGHDR.unpack_from(data, offset)
                if kind == NLMSG_ERROR and got == seq:
                    (code,) = struct.unpack_from("=i", data, offset + _NLMSGHDR.size)
                    if code:
                        raise OSError(-code, os.strerror(-code))
                    return
                offset += max((length + 3) & ~3, _NLMSGHDR.size)

    def dump(self, version: int | None = None) -> list[AddressState]:
        """Every address of every interface in `version`'s family (None: both), in kernel
        order."""
        self._send(encode_dump_request(version), 0)
        found: list[AddressState] = []
        done = False
        while not done:
            entries, done = decode_addresses(self._socket().recv(1 << 16))
            found += entries
        return found

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
