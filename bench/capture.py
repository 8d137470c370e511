"""Advert capture on bridge ports: runs INSIDE the switch namespace for a bounded time.

Binds one AF_PACKET socket per named bridge port and records every protocol-112 frame that a
server sends into the switch (the packet tap runs before the bridge, so the port's state does
not matter), with the kernel's receive timestamp (SO_TIMESTAMPNS; only differences between
timestamps are used). Prints one JSON document at the end:
{"adverts": [[t, port, src, vhid, b2, b5], ...], "dropped": N}. Stdlib only.
"""

from __future__ import annotations

import argparse
import json
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SO_TIMESTAMPNS = 35
SO_RCVBUF = socket.SO_RCVBUF


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.capture")
    ap.add_argument("--ports", required=True, help="comma-separated bridge port names")
    ap.add_argument("--seconds", type=float, required=True)
    args = ap.parse_args(argv)
    socks: dict[socket.socket, str] = {}
    for port in args.ports.split(","):
        # ETH_P_ALL: on a bridge port only the "all protocols" taps run before the bridge
        # takes the frame; a per-protocol packet socket would see nothing.
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((port, ETH_P_ALL))
        s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUF, 1 << 22)
        s.setblocking(False)
        socks[s] = port
    print("ready", flush=True)
    records: list[list[object]] = []
    deadline = time.monotonic() + min(args.seconds, 600.0)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select(list(socks), [], [], left)
        for s in ready:
            while True:
                try:
                    frame, anc, _flags, addr = s.recvmsg(256, socket.CMSG_SPACE(16))
                except (BlockingIOError, InterruptedError):
                    break
                if (addr[2] == PACKET_OUTGOING or len(frame) < 40 or frame[12:14] != b"\x08\x00"
                        or frame[23] != 112):
                    continue
                ts = None
                for level, kind, data in anc:
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                        sec, nsec = struct.unpack("=qq", data[:16])
                        ts = sec + nsec / 1e9
                if ts is None:
                    ts = time.time()
                ihl = (frame[14] & 0x0F) * 4
                b = frame[14 + ihl:14 + ihl + 6]
                if len(b) < 6:
                    continue
                records.append([round(ts, 7), socks[s], socket.inet_ntoa(frame[26:30]), b[1],
                                b[2], b[5]])
    print(json.dumps({"adverts": records}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
