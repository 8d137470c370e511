"""What the VRRPv3 interop tests see and send on the wire (IPV6-UNICAST-VRRP3.md section 4).

How it works:
* `start_capture` runs a small AF_PACKET recorder in an observer host: every protocol-112
  frame arriving at its eth0 (both families) with its Ethernet source, addresses, TTL/hop
  limit, TOS/class and VRRP bytes; `frames` collects them as `Frame`s when the recorder
  ends, `first_advert` picks one sender's first advert (wall-clock seconds, `time.time()`).
* `inject` sends hand-built VRRPv3 adverts (`vrrp3_message`: own encoder, RFC 5798
  pseudo-header checksum by `inet_checksum`) from any IPv4 address (raw socket with the
  header included) or from an IPv6 address of the sending host.

`inet_checksum` and `vrrp3_message` knowingly repeat carpd.core.checksum.internet_checksum and
carpd.core.vrrp3.wire.encode_vrrp3: they are an independent oracle. The tests compare carpd's
frames byte for byte with `vrrp3_message` and feed its adverts to carpd; built with carpd's
own encoder, a wrong field or pseudo-header in that encoder would match itself and pass.
"""

from __future__ import annotations

import ipaddress
import subprocess
import textwrap
from dataclasses import dataclass

from tests.integration.netns import Lab
from tests.integration.vrrp_peers import VRID


@dataclass(frozen=True)
class Frame:
    t: float
    mac: str  # Ethernet source
    family: int
    src: str
    dst: str
    ttl: int  # TTL / hop limit
    tos: int  # TOS / traffic class
    vrrp: bytes  # the VRRP message

    @property
    def version(self) -> int:
        return self.vrrp[0] >> 4

    @property
    def vrid(self) -> int:
        return self.vrrp[1]

    @property
    def priority(self) -> int:
        return self.vrrp[2]

    @property
    def interval_cs(self) -> int:
        return int.from_bytes(self.vrrp[4:6], "big") & 0x0FFF


_CAPTURE = textwrap.dedent(r"""
    import json, os, socket, time
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.bind(("eth0", 0))
    deadline = time.monotonic() + float(os.environ["DURATION"])
    out = []
    print("ready", flush=True)
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            f, addr = s.recvfrom(4096)
        except socket.timeout:
            break
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        t, kind, ip = time.time(), f[12:14], f[14:]
        if kind == b"\x08\x00" and ip[9] == 112:
            hl = (ip[0] & 15) * 4
            row = (4, socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20]), ip[8], ip[1],
                   ip[hl:int.from_bytes(ip[2:4], "big")])
        elif kind == b"\x86\xdd" and ip[6] == 112:
            row = (6, socket.inet_ntop(socket.AF_INET6, ip[8:24]),
                   socket.inet_ntop(socket.AF_INET6, ip[24:40]), ip[7],
                   ((ip[0] & 15) << 4) | (ip[1] >> 4), ip[40:40 + int.from_bytes(ip[4:6], "big")])
        else:
            continue
        out.append([t, f[6:12].hex(":"), *row[:5], row[5].hex()])
    print(json.dumps(out))
""")


def first_advert(seen: list[Frame], mac: str, family: int, after: float) -> Frame | None:
    """The first advert (priority > 0) from Ethernet source `mac` in `family` after `after`."""
    hits = [f for f in seen if f.mac == mac and f.family == family and f.t >= after
            and f.priority > 0]
    return min(hits, key=lambda f: f.t) if hits else None


def start_capture(lab: Lab, host: str, duration: float) -> subprocess.Popen[bytes]:
    """Record protocol-112 frames arriving at `host`'s eth0 for `duration` s (`frames`)."""
    proc = lab.python_bg(host, _CAPTURE, env={"DURATION": str(duration)})
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    return proc


def frames(proc: subprocess.Popen[bytes], timeout: float = 60.0) -> list[Frame]:
    rows = Lab.collect(proc, timeout=timeout)
    assert isinstance(rows, list)
    return [Frame(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bytes.fromhex(r[7])) for r in rows]


def inet_checksum(data: bytes) -> int:
    """RFC 1071 sum, kept apart from carpd's (an independent oracle, see the module doc)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def vrrp3_message(src: str, dst: str, vrid: int, priority: int, interval_cs: int,
                  vips: list[str]) -> bytes:
    """An RFC 5798 advert with the pseudo-header checksum (IPv4 as keepalived/FRR do it)."""
    addrs = b"".join(ipaddress.ip_address(v).packed for v in vips)
    body = bytes([0x31, vrid, priority, len(vips)]) + interval_cs.to_bytes(2, "big")
    msg = body + b"\0\0" + addrs
    s, d = ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed
    if len(s) == 4:
        pseudo = s + d + b"\0\x70" + len(msg).to_bytes(2, "big")
    else:
        pseudo = s + d + len(msg).to_bytes(4, "big") + b"\0\0\0\x70"
    return body + inet_checksum(pseudo + msg).to_bytes(2, "big") + addrs


_INJECT = textwrap.dedent(r"""
    import json, os, socket, time
    src, dst, ttl = os.environ["SRC"], os.environ["DST"], int(os.environ["TTL"])
    msg = bytes.fromhex(os.environ["MSG"])
    count, gap = int(os.environ["COUNT"]), float(os.environ["GAP"])
    if ":" in src:
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 112)
        s.bind((src, 0, 0, socket.if_nametoindex("eth0")))
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, ttl)
        target, data = (dst, 0, 0, socket.if_nametoindex("eth0")), msg
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
        hdr = bytes([0x45, 0xC0]) + (20 + len(msg)).to_bytes(2, "big") + bytes(4)
        hdr += bytes([ttl, 112, 0, 0]) + socket.inet_aton(src) + socket.inet_aton(dst)
        target, data = (dst, 0), hdr + msg
    sent = []
    for _ in range(count):
        sent.append(time.time())
        s.sendto(data, target)
        time.sleep(gap)
    print(json.dumps(sent))
""")


def inject(lab: Lab, host: str, *, src: str, dst: str, priority: int, vips: list[str],
           vrid: int = VRID, interval_cs: int = 100, ttl: int = 255, count: int = 10,
           gap: float = 0.05) -> list[float]:
    """Send `count` hand-built VRRPv3 adverts from `host` with source `src` (IPv4: any
    address, header included; IPv6: an address of `host`); their send times."""
    msg = vrrp3_message(src, dst, vrid, priority, interval_cs, vips)
    sent = lab.python(host, _INJECT, timeout=count * gap + 15, env={
        "SRC": src, "DST": dst, "TTL": str(ttl), "MSG": msg.hex(), "COUNT": str(count),
        "GAP": str(gap)})
    assert isinstance(sent, list)
    return [float(t) for t in sent]
