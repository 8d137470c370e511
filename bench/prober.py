"""The client-side prober: runs INSIDE the client namespace as one long-lived process.

Every `--period` seconds (default 5 ms) it sends, through AF_PACKET sockets on the client's
interface, one broadcast ARP request for the VIP and one ICMP echo request for the VIP in an
Ethernet broadcast frame (so whichever server holds the VIP at the IP level answers, and the
reply's source MAC says which). It records, with CLOCK_MONOTONIC receive times
(`time.monotonic()`, comparable with the bench process on the same machine):

    S <seq> <t>                      probe round <seq> sent at t
    A <t> <mac>                      ARP reply for the VIP from <mac>
    I <t> <mac> <seq>                ICMP echo reply from <mac> to round <seq>
    G <t> <mac>                      gratuitous ARP for the VIP from <mac>
    V <t> <src> <ver> <vhid> <b2> <b5>   a protocol-112 advert seen by the client
                                     (CARP: b2 = advskew, b5 = advbase;
                                      VRRPv2: b2 = priority, b5 = advert interval)

Lines go to `--out`; adverts are flushed at once (the bench times faults from them), the rest
at least every 20 ms. Stops on SIGTERM/SIGINT, after `--max-seconds`, or when its parent dies.
Stdlib only, so it runs with any Python 3.11.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
PACKET_OUTGOING = 4
BROADCAST = b"\xff" * 6
ICMP_ID = 0xCA59


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


def fmt_mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915 - one tight loop
    ap = argparse.ArgumentParser(prog="python -m bench.prober")
    ap.add_argument("--iface", default="eth0")
    ap.add_argument("--vip", required=True)
    ap.add_argument("--src", required=True, help="the client's own IPv4 address")
    ap.add_argument("--period", type=float, default=0.005)
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-seconds", type=float, default=3600.0)
    args = ap.parse_args(argv)

    stop = False

    def on_signal(_sig: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    parent = os.getppid()

    arp = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    arp.bind((args.iface, ETH_P_ARP))
    ipsock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
    ipsock.bind((args.iface, ETH_P_IP))
    for s in (arp, ipsock):
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    mac = arp.getsockname()[4]
    src, vip = socket.inet_aton(args.src), socket.inet_aton(args.vip)
    arp_frame = arp_request(mac, src, vip)

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
                    arp.send(arp_frame)
                    ipsock.send(icmp_echo(mac, src, vip, seq))
                except OSError:
                    pass  # e.g. ENOBUFS; the round shows up unanswered
                next_send += args.period
                if next_send < now:  # we fell behind (scheduling): do not burst to catch up
                    next_send = now + args.period
            flush_now = False
            timeout = max(0.0, min(next_send, deadline) - time.monotonic())
            try:
                ready, _, _ = select.select([arp, ipsock], [], [], timeout)
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
                    elif proto == 112 and len(frame) >= body + 6:
                        b = frame[body:body + 6]
                        out.write(f"V {t:.6f} {socket.inet_ntoa(ipsrc)} {b[0] >> 4} {b[1]} "
                                  f"{b[2]} {b[5]}\n")
                        flush_now = True
            now = time.monotonic()
            if flush_now or now - last_flush > 0.02:
                out.flush()
                last_flush = now
    finally:
        out.write(f"E {time.monotonic():.6f}\n")
        out.close()
        arp.close()
        ipsock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
