"""The VRRPv3 bench's observer: one process in the client namespace that watches everything.

It records, all on CLOCK_MONOTONIC (comparable with the bench process on the same machine):

* **on the wire, kernel-stamped**: AF_PACKET taps on the servers' bridge ports, opened inside
  the switch namespace (setns there, create, straight back), filtered in the kernel (classic
  BPF) to IPv4 protocol 112 and ARP. Each frame carries the kernel's receive timestamp
  (SO_TIMESTAMPNS, CLOCK_REALTIME), converted to CLOCK_MONOTONIC with an offset measured
  here (the narrowest of several realtime/monotonic samples, refreshed every second). A
  frame entering the switch from a server's veth is stamped right after the server sent it,
  so these are the servers' send times.
* **the addresses**: a NETLINK_ROUTE socket per server namespace (made the same way) joined to
  RTMGRP_IPV4_IFADDR; every RTM_NEWADDR / RTM_DELADDR of a watched VIP, stamped on receive.
* **the client's view**: every `--period` s a broadcast ARP request per VIP from the client's
  eth0; the replies for a VIP, kernel-stamped, with the answering MAC.

Lines (to `--out`, flushed at least every 10 ms and at once after an advert):

    H <t> <realtime - monotonic> <period> <vip>,<vip>,...
    V <t> <port> <mac> <version> <vrid> <priority> <interval cs> <src>   an advert
    G <t> <port> <mac> <vip>          gratuitous ARP for a watched VIP (sender = target)
    N <t> <host> <+|-> <addr>         the VIP was added to / removed from <host>'s interfaces
    A <t> <mac> <vip>                 ARP reply for <vip> seen by the client
    E <t>

Stops on SIGTERM/SIGINT, after `--max-seconds`, or when its parent dies. Stdlib only.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import select
import signal
import socket
import struct
import sys
import time

from bench.prober import (
    ETH_P_ALL,
    ETH_P_ARP,
    PACKET_OUTGOING,
    SO_ATTACH_FILTER,
    _setns,
    arp_request,
    fmt_mac,
)

SO_TIMESTAMPNS = 35
RTMGRP_IPV4_IFADDR = 0x10
RTM_NEWADDR, RTM_DELADDR = 20, 21
IFA_ADDRESS, IFA_LOCAL = 1, 2
# accept ARP, and IPv4 with protocol 112; reject the rest
TAP_BPF = (
    (0x28, 0, 0, 12),        # ldh [12]
    (0x15, 3, 0, 0x0806),    # ARP -> accept
    (0x15, 0, 3, 0x0800),    # not IPv4 -> reject
    (0x30, 0, 0, 23),        # ldb [23] protocol
    (0x15, 0, 1, 112),       # 112 -> accept
    (0x06, 0, 0, 0xFFFF),    # accept
    (0x06, 0, 0, 0),         # reject
)


def in_namespace(netns: str, make: object) -> object:
    """Call `make()` with this thread inside /run/netns/NETNS, then return home (always)."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        _setns(target)
        try:
            return make()  # type: ignore[operator]
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)


def open_tap(port: str) -> socket.socket:
    prog = b"".join(struct.pack("=HBBI", *ins) for ins in TAP_BPF)
    buf = ctypes.create_string_buffer(prog, len(prog))
    fprog = struct.pack("@HP", len(TAP_BPF), ctypes.addressof(buf))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.bind((port, ETH_P_ALL))
    return s


def open_addr_watch() -> socket.socket:
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    s.bind((0, RTMGRP_IPV4_IFADDR))
    return s


def clock_offset(samples: int = 5) -> float:
    """realtime - monotonic, from the sample with the narrowest monotonic bracket."""
    best = (float("inf"), 0.0)
    for _ in range(samples):
        m0 = time.monotonic()
        r = time.time()
        m1 = time.monotonic()
        best = min(best, (m1 - m0, r - (m0 + m1) / 2))
    return best[1]


def kernel_time(anc: list[tuple[int, int, bytes]], offset: float) -> float:
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("=qq", data[:16])
            return sec + nsec / 1e9 - offset
    return time.monotonic()


def tap_line(t: float, port: str, frame: bytes, vips: set[bytes]) -> str | None:
    """A V or G line for a frame a server sent into the switch, or None."""
    mac = fmt_mac(frame[6:12])
    if frame[12:14] == b"\x08\x06" and len(frame) >= 42:
        spa, tpa = frame[28:32], frame[38:42]
        if spa == tpa and spa in vips:
            return f"G {t:.6f} {port} {mac} {socket.inet_ntoa(spa)}\n"
        return None
    if frame[12:14] != b"\x08\x00" or len(frame) < 34 or frame[23] != 112:
        return None
    body = frame[14 + (frame[14] & 0x0F) * 4:]
    if len(body) < 8:
        return None
    version = body[0] >> 4
    interval = ((body[4] & 0x0F) << 8 | body[5]) if version == 3 else body[5]
    return (f"V {t:.6f} {port} {mac} {version} {body[1]} {body[2]} {interval} "
            f"{socket.inet_ntoa(frame[26:30])}\n")


def addr_lines(t: float, host: str, data: bytes, vips: set[bytes]) -> list[str]:
    out = []
    off = 0
    while off + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, off)
        if length < 16:
            break
        if kind in (RTM_NEWADDR, RTM_DELADDR) and length >= 24:
            family = data[off + 16]
            a = off + 24
            found = None
            while family == socket.AF_INET and a + 4 <= off + length:
                alen, atype = struct.unpack_from("=HH", data, a)
                if alen < 4:
                    break
                if atype in (IFA_LOCAL, IFA_ADDRESS) and alen >= 8:
                    found = data[a + 4:a + 8]
                    if atype == IFA_LOCAL:
                        break
                a += (alen + 3) & ~3
            if found in vips:
                sign = "+" if kind == RTM_NEWADDR else "-"
                out.append(f"N {t:.6f} {host} {sign} {socket.inet_ntoa(found)}\n")
        off += (length + 3) & ~3
    return out


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.vrrp_watch")
    ap.add_argument("--vips", required=True, help="comma-separated IPv4 VIPs")
    ap.add_argument("--src", required=True, help="the client's own IPv4 address")
    ap.add_argument("--period", type=float, default=0.001)
    ap.add_argument("--switch", required=True, help="the switch namespace")
    ap.add_argument("--ports", required=True, help="port=label,... bridge ports to tap")
    ap.add_argument("--hosts", required=True, help="netns=label,... namespaces to watch")
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-seconds", type=float, default=7200.0)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915 - one tight loop
    args = parse(argv)
    stop = False

    def on_signal(_sig: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    parent = os.getppid()
    vip_list = [socket.inet_aton(v) for v in args.vips.split(",")]
    vips = set(vip_list)
    taps: dict[socket.socket, str] = {}
    for item in args.ports.split(","):
        port, label = item.split("=")
        taps[in_namespace(args.switch, lambda p=port: open_tap(p))] = label  # type: ignore[misc]
    watches: dict[socket.socket, str] = {}
    for item in args.hosts.split(","):
        ns, label = item.split("=")
        watches[in_namespace(ns, open_addr_watch)] = label  # type: ignore[index]
    arp = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    arp.bind(("eth0", ETH_P_ARP))
    arp.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    mac = arp.getsockname()[4]
    src = socket.inet_aton(args.src)
    requests = [arp_request(mac, src, v) for v in vip_list]
    every = list(taps) + list(watches) + [arp]
    for s in every:
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    offset = clock_offset()
    out = open(args.out, "w", buffering=1 << 16)  # noqa: SIM115 - closed in finally
    start = time.monotonic()
    next_send, last_flush, last_check = start, start, start
    try:
        out.write(f"H {start:.6f} {offset:.9f} {args.period} {args.vips}\n")
        while not stop:
            now = time.monotonic()
            if now - start > args.max_seconds:
                break
            if now - last_check > 1.0:
                last_check = now
                offset = clock_offset()
                if os.getppid() != parent:
                    break
            if now >= next_send:
                for req in requests:
                    with contextlib.suppress(OSError):  # ENOBUFS: that round goes unanswered
                        arp.send(req)
                next_send += args.period
                if next_send < now:
                    next_send = now + args.period
            urgent = False
            try:
                ready, _, _ = select.select(every, [], [],
                                            max(0.0, next_send - time.monotonic()))
            except InterruptedError:
                continue
            for s in ready:
                while True:
                    try:
                        data, anc, _fl, addr = s.recvmsg(2048, socket.CMSG_SPACE(16))
                    except (BlockingIOError, InterruptedError):
                        break
                    if s in watches:
                        out.writelines(addr_lines(time.monotonic(), watches[s], data, vips))
                        urgent = True
                        continue
                    if addr[2] == PACKET_OUTGOING:
                        continue
                    t = kernel_time(anc, offset)
                    if s in taps:
                        line = tap_line(t, taps[s], data, vips)
                        if line:
                            out.write(line)
                            urgent = urgent or line[0] == "V"
                        continue
                    if len(data) >= 42 and data[20:22] == b"\x00\x02" and data[28:32] in vips:
                        out.write(f"A {t:.6f} {fmt_mac(data[22:28])} "
                                  f"{socket.inet_ntoa(data[28:32])}\n")
            now = time.monotonic()
            if urgent or now - last_flush > 0.01:
                out.flush()
                last_flush = now
    finally:
        out.write(f"E {time.monotonic():.6f}\n")
        out.close()
        for s in every:
            s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
