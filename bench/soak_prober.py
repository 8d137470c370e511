"""The soak's client-side prober: one process in the client namespace covering many VIPs.

Like bench/prober.py (whose frame builders it reuses), but one round probes every VIP: every
`--period` seconds (default 20 ms) one broadcast ARP request and one ICMP echo request in an
Ethernet broadcast frame per VIP, so whoever holds a VIP at the IP level answers and the
reply's source MAC says who. Lines, with CLOCK_MONOTONIC times (comparable with the soak
process on the same machine):

    H <t> <client mac> <period> <vip>,<vip>,...
    S <seq> <t>                          round <seq> sent at t (all VIPs)
    A <t> <mac> <vip>                    ARP reply for <vip> from <mac>
    I <t> <mac> <vip> <seq>              ICMP echo reply from <vip> (answering <mac>), round
    V <t> <src> <vhid> <advskew> <advbase>   a CARP advert seen by the client
    E <t>                                end

Stops on SIGTERM/SIGINT, after `--max-seconds`, or when its parent dies. Stdlib only.
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

from bench.prober import (
    ETH_P_ARP,
    ETH_P_IP,
    ICMP_ID,
    PACKET_OUTGOING,
    arp_request,
    fmt_mac,
    icmp_echo,
)


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915 - one tight loop
    ap = argparse.ArgumentParser(prog="python -m bench.soak_prober")
    ap.add_argument("--iface", default="eth0")
    ap.add_argument("--vips", required=True, help="comma-separated IPv4 VIPs")
    ap.add_argument("--src", required=True, help="the client's own IPv4 address")
    ap.add_argument("--period", type=float, default=0.02)
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
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    mac = arp.getsockname()[4]
    src = socket.inet_aton(args.src)
    vips = [v.strip() for v in args.vips.split(",") if v.strip()]
    raw = {socket.inet_aton(v): v for v in vips}
    arp_frames = [arp_request(mac, src, socket.inet_aton(v)) for v in vips]

    out = open(args.out, "w", buffering=1 << 16)  # noqa: SIM115 - closed in finally
    start = time.monotonic()
    deadline = start + args.max_seconds
    next_send = start
    last_flush = last_parent_check = start
    seq = 0
    try:
        out.write(f"H {start:.6f} {fmt_mac(mac)} {args.period} {','.join(vips)}\n")
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
                out.write(f"S {seq} {time.monotonic():.6f}\n")
                for v, frame in zip(raw, arp_frames, strict=True):
                    try:
                        arp.send(frame)
                        ipsock.send(icmp_echo(mac, src, v, seq))
                    except OSError:
                        pass  # e.g. ENOBUFS; shows up as an unanswered round
                next_send += args.period
                if next_send < now:  # fell behind (scheduling): no burst to catch up
                    next_send = now + args.period
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
                        if op == 2 and spa in raw:
                            out.write(f"A {t:.6f} {fmt_mac(sha)} {raw[spa]}\n")
                        continue
                    if len(frame) < 34:
                        continue
                    ihl = (frame[14] & 0x0F) * 4
                    proto, ipsrc, body = frame[23], frame[26:30], 14 + ihl
                    if proto == 1 and ipsrc in raw and len(frame) >= body + 8:
                        itype, _c, _k, ident, iseq = struct.unpack_from("!BBHHH", frame, body)
                        if itype == 0 and ident == ICMP_ID:
                            out.write(f"I {t:.6f} {fmt_mac(frame[6:12])} {raw[ipsrc]} "
                                      f"{iseq}\n")
                    elif proto == 112 and len(frame) >= body + 6:
                        b = frame[body:body + 6]
                        out.write(f"V {t:.6f} {socket.inet_ntoa(ipsrc)} {b[1]} {b[2]} "
                                  f"{b[5]}\n")
            now = time.monotonic()
            if now - last_flush > 0.1:
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
