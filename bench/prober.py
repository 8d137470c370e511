"""The client-side prober: runs INSIDE the client namespace as one long-lived process.

IPv4 (`--family 4`, the default): every `--period` seconds (default 5 ms) it sends, through
AF_PACKET sockets on the client's interface, one broadcast ARP request for the VIP and one
ICMP echo request for the VIP in an Ethernet broadcast frame (so whichever server holds the
VIP at the IP level answers, and the reply's source MAC says which).

IPv6 (`--family 6`): the same round as one Neighbour Solicitation for the VIP (to its
solicited-node group ff02::1:ffXX:XXXX / 33:33:ff:XX:XX:XX, from the client's own address
`--src`, hop limit 255, with a source link-layer address option, so the holder can answer
and reply to the echo without soliciting us first) and one ICMPv6 echo request for the VIP
in an Ethernet broadcast frame; the ICMPv6 checksums (IPv6 pseudo-header) are computed here.
A solicited NA (S flag) for the VIP counts as the ARP reply of IPv4, an unsolicited one
(S clear: a new master's announcement) as a gratuitous ARP.

It records, with CLOCK_MONOTONIC receive times (`time.monotonic()`, comparable with the bench
process on the same machine):

    S <seq> <t>                      probe round <seq> sent at t
    A <t> <mac>                      ARP reply / solicited NA for the VIP from <mac>
    I <t> <mac> <seq>                ICMP / ICMPv6 echo reply from <mac> to round <seq>
    G <t> <mac>                      gratuitous ARP / unsolicited NA for the VIP from <mac>
    V <t> <src> <ver> <vhid> <b2> <b5> <mac> <dst> <ttl>   a protocol-112 advert (IPv4/IPv6)
                                     (CARP: b2 = advskew, b5 = advbase;
                                      VRRPv2: b2 = priority, b5 = advert interval;
                                      VRRPv3: b2 = priority, b5 = low byte of the interval
                                      in centiseconds); <mac> = its Ethernet source,
                                      <dst> its destination, <ttl> its TTL / hop limit

Adverts sent unicast from one server to the other never reach the client (the bridge has
learnt the peer's port). With `--tap-netns NS --tap-ports P1,P2` the same process also opens
AF_PACKET sockets on those bridge ports inside the switch namespace (setns there to create
them, then straight back), filtered in the kernel to protocol 112, and records every advert a
server sends into the switch as a V line, on the same clock.

Lines go to `--out`; adverts are flushed at once (the bench times faults from them), the rest
at least every 20 ms. Stops on SIGTERM/SIGINT, after `--max-seconds`, or when its parent dies.
Stdlib only, so it runs with any Python 3.11.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
BROADCAST = b"\xff" * 6
ICMP_ID = 0xCA59
IPPROTO_ICMPV6 = 58
ND_NS, ND_NA, ECHO6_REQ, ECHO6_REP = 135, 136, 128, 129
NA_SOLICITED = 0x40
SO_ATTACH_FILTER = 26
CLONE_NEWNET = 0x40000000
# Classic BPF for the bridge-port taps: accept IPv4 protocol 112 and IPv6 next header 112.
ADVERT_BPF = (
    (0x28, 0, 0, 12),        # ldh [12]            ethertype
    (0x15, 0, 2, 0x0800),    # jeq IPv4 ? 2 : 4
    (0x30, 0, 0, 23),        # ldb [23]            IPv4 protocol
    (0x15, 3, 4, 112),       # jeq 112 ? accept : reject
    (0x15, 0, 3, 0x86DD),    # jeq IPv6 ? 5 : reject
    (0x30, 0, 0, 20),        # ldb [20]            IPv6 next header
    (0x15, 0, 1, 112),       # jeq 112 ? accept : reject
    (0x06, 0, 0, 0xFFFF),    # accept
    (0x06, 0, 0, 0),         # reject
)


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def arp_request(mac: bytes, src: bytes, vip: bytes) -> bytes:
    arp = struct.pack("!HHBBH6s4s6s4s", 1, ETH_P_IP, 6, 4, 1, mac, src, b"\0" * 6, vip)
    return BROADCAST + mac + struct.pack("!H", ETH_P_ARP) + arp


def icmp_echo(mac: bytes, src: bytes, vip: bytes, seq: int) -> bytes:
    payload = struct.pack("!d", time.monotonic())
    icmp = struct.pack("!BBHHH", 8, 0, 0, ICMP_ID, seq & 0xFFFF) + payload
    icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
    total = 20 + len(icmp)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, seq & 0xFFFF, 0, 64, 1, 0, src, vip)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return BROADCAST + mac + struct.pack("!H", ETH_P_IP) + ip + icmp


def icmp6_checksum(src: bytes, dst: bytes, msg: bytes) -> int:
    """RFC 4443 2.3: the Internet checksum over the IPv6 pseudo-header and the message."""
    pseudo = src + dst + struct.pack("!I3xB", len(msg), IPPROTO_ICMPV6)
    return checksum(pseudo + msg)


def ipv6_frame(dst_mac: bytes, mac: bytes, src: bytes, dst: bytes, hlim: int,  # noqa: PLR0917
               msg: bytes) -> bytes:
    """An Ethernet frame carrying `msg` (ICMPv6, checksum filled in here)."""
    msg = msg[:2] + struct.pack("!H", icmp6_checksum(src, dst, msg)) + msg[4:]
    ip6 = struct.pack("!IHBB16s16s", 6 << 28, len(msg), IPPROTO_ICMPV6, hlim, src, dst)
    return dst_mac + mac + struct.pack("!H", ETH_P_IPV6) + ip6 + msg


def solicited_node(vip: bytes) -> tuple[bytes, bytes]:
    """The VIP's solicited-node group ff02::1:ffXX:XXXX and its MAC 33:33:ff:XX:XX:XX."""
    group = bytes.fromhex("ff0200000000000000000001ff") + vip[13:]
    return group, b"\x33\x33" + group[12:]


def neighbour_solicitation(mac: bytes, src: bytes, vip: bytes) -> bytes:
    group, group_mac = solicited_node(vip)
    ns = struct.pack("!BBHI16sBB6s", ND_NS, 0, 0, 0, vip, 1, 1, mac)  # option 1: SLLA
    return ipv6_frame(group_mac, mac, src, group, 255, ns)


def icmp6_echo(mac: bytes, src: bytes, vip: bytes, seq: int) -> bytes:
    payload = struct.pack("!d", time.monotonic())
    echo = struct.pack("!BBHHH", ECHO6_REQ, 0, 0, ICMP_ID, seq & 0xFFFF) + payload
    return ipv6_frame(BROADCAST, mac, src, vip, 64, echo)


_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def open_taps(netns: str, ports: list[str]) -> list[socket.socket]:
    """AF_PACKET sockets on bridge ports of namespace `netns` (/run/netns/NAME), filtered in
    the kernel to protocol 112. A socket stays in the namespace it was created in; this
    thread returns to its own namespace before anything else runs (or the prober stops)."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    prog = b"".join(struct.pack("=HBBI", *ins) for ins in ADVERT_BPF)
    buf = ctypes.create_string_buffer(prog, len(prog))
    fprog = struct.pack("@HP", len(ADVERT_BPF), ctypes.addressof(buf))
    socks = []
    try:
        _setns(target)
        try:
            for port in ports:
                # ETH_P_ALL: on a bridge port only "all protocols" taps see the frames
                s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
                s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
                s.bind((port, ETH_P_ALL))
                socks.append(s)
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)
    return socks


def advert_line(t: float, frame: bytes) -> str | None:
    """A V line for a protocol-112 frame (IPv4 or IPv6, no extension headers), or None."""
    etype = frame[12:14]
    if etype == b"\x08\x00" and len(frame) >= 34 and frame[23] == 112:
        body = 14 + (frame[14] & 0x0F) * 4
        src, dst = socket.inet_ntoa(frame[26:30]), socket.inet_ntoa(frame[30:34])
        ttl = frame[22]
    elif etype == b"\x86\xdd" and len(frame) >= 54 and frame[20] == 112:
        body = 54
        src = socket.inet_ntop(socket.AF_INET6, frame[22:38])
        dst = socket.inet_ntop(socket.AF_INET6, frame[38:54])
        ttl = frame[21]
    else:
        return None
    b = frame[body:body + 6]
    if len(b) < 6:
        return None
    return (f"V {t:.6f} {src} {b[0] >> 4} {b[1]} {b[2]} {b[5]} {fmt_mac(frame[6:12])} "
            f"{dst} {ttl}\n")


def fmt_mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915 - one tight loop
    ap = argparse.ArgumentParser(prog="python -m bench.prober")
    ap.add_argument("--iface", default="eth0")
    ap.add_argument("--family", type=int, choices=(4, 6), default=4)
    ap.add_argument("--vip", required=True)
    ap.add_argument("--src", required=True, help="the client's own address (of --family)")
    ap.add_argument("--period", type=float, default=0.005)
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-seconds", type=float, default=3600.0)
    ap.add_argument("--tap-netns", help="switch namespace whose bridge ports to tap")
    ap.add_argument("--tap-ports", default="", help="comma-separated bridge port names")
    args = ap.parse_args(argv)

    stop = False

    def on_signal(_sig: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    parent = os.getppid()

    v6 = args.family == 6
    if v6:
        ipsock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IPV6))
        ipsock.bind((args.iface, ETH_P_IPV6))
        probe_socks = [ipsock]
        arp = None
        mac = ipsock.getsockname()[4]
        src = socket.inet_pton(socket.AF_INET6, args.src)
        vip = socket.inet_pton(socket.AF_INET6, args.vip)
        ns_frame = neighbour_solicitation(mac, src, vip)
    else:
        arp = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
        arp.bind((args.iface, ETH_P_ARP))
        ipsock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
        ipsock.bind((args.iface, ETH_P_IP))
        probe_socks = [arp, ipsock]
        mac = arp.getsockname()[4]
        src, vip = socket.inet_aton(args.src), socket.inet_aton(args.vip)
        arp_frame = arp_request(mac, src, vip)
    taps = open_taps(args.tap_netns, [p for p in args.tap_ports.split(",") if p]) \
        if args.tap_netns else []
    tapset = set(taps)
    for s in probe_socks + taps:
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    all_socks = probe_socks + taps

    out = open(args.out, "w", buffering=1 << 16)  # noqa: SIM115 - closed in finally
    start = time.monotonic()
    deadline = start + args.max_seconds
    next_send = start
    last_flush = start
    last_parent_check = start
    seq = 0
    try:
        out.write(f"H {start:.6f} {fmt_mac(mac)} {args.vip} {args.period}\n")
        while not stop:
            now = time.monotonic()
            if now >= deadline:
                break
            if now - last_parent_check > 0.5:
                last_parent_check = now
                if os.getppid() != parent:
                    break
            if now >= next_send:
                seq += 1
                t = time.monotonic()
                out.write(f"S {seq} {t:.6f}\n")
                try:
                    if v6:
                        ipsock.send(ns_frame)
                        ipsock.send(icmp6_echo(mac, src, vip, seq))
                    else:
                        arp.send(arp_frame)  # type: ignore[union-attr]
                        ipsock.send(icmp_echo(mac, src, vip, seq))
                except OSError:
                    pass  # e.g. ENOBUFS; the round shows up unanswered
                next_send += args.period
                if next_send < now:  # we fell behind (scheduling): do not burst to catch up
                    next_send = now + args.period
            flush_now = False
            timeout = max(0.0, min(next_send, deadline) - time.monotonic())
            try:
                ready, _, _ = select.select(all_socks, [], [], timeout)
            except InterruptedError:
                continue
            for sock in ready:
                while True:
                    try:
                        frame, addr = sock.recvfrom(2048)
                    except (BlockingIOError, InterruptedError):
                        break
                    t = time.monotonic()
                    if addr[2] == PACKET_OUTGOING:
                        continue
                    if sock in tapset:
                        line = advert_line(t, frame)
                        if line:
                            out.write(line)
                            flush_now = True
                        continue
                    if sock is arp:
                        if len(frame) < 42:
                            continue
                        op, sha, spa = struct.unpack_from("!6xH6s4s", frame, 14)
                        if spa != vip:
                            continue
                        if op == 2:
                            out.write(f"A {t:.6f} {fmt_mac(sha)}\n")
                        elif op == 1:
                            out.write(f"G {t:.6f} {fmt_mac(sha)}\n")
                        continue
                    if v6:
                        if len(frame) < 58:
                            continue
                        nh = frame[20]
                        if nh == IPPROTO_ICMPV6:
                            itype = frame[54]
                            if itype == ND_NA and len(frame) >= 78 and frame[62:78] == vip:
                                kind = "A" if frame[58] & NA_SOLICITED else "G"
                                out.write(f"{kind} {t:.6f} {fmt_mac(frame[6:12])}\n")
                            elif itype == ECHO6_REP and frame[22:38] == vip \
                                    and len(frame) >= 62:
                                ident, iseq = struct.unpack_from("!HH", frame, 58)
                                if ident == ICMP_ID:
                                    out.write(f"I {t:.6f} {fmt_mac(frame[6:12])} {iseq}\n")
                        elif nh == 112 and not taps:
                            line = advert_line(t, frame)
                            if line:
                                out.write(line)
                                flush_now = True
                        continue
                    if len(frame) < 34:
                        continue
                    ihl = (frame[14] & 0x0F) * 4
                    proto = frame[23]
                    ipsrc = frame[26:30]
                    body = 14 + ihl
                    if proto == 1 and ipsrc == vip and len(frame) >= body + 8:
                        itype, _code, _ck, ident, iseq = struct.unpack_from("!BBHHH", frame, body)
                        if itype == 0 and ident == ICMP_ID:
                            out.write(f"I {t:.6f} {fmt_mac(frame[6:12])} {iseq}\n")
                    elif proto == 112 and not taps:
                        line = advert_line(t, frame)
                        if line:
                            out.write(line)
                            flush_now = True
            now = time.monotonic()
            if flush_now or now - last_flush > 0.02:
                out.flush()
                last_flush = now
    finally:
        out.write(f"E {time.monotonic():.6f}\n")
        out.close()
        for s in all_socks:
            s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
