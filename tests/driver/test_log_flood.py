"""Spoofed bad-HMAC adverts through the real Daemon (issue 13, item 7): the journal gets a
bounded number of lines and an exact summary per interval, and the counters count them all."""

from __future__ import annotations

import ipaddress
import re

from carpd.core.carp import auth, wire
from carpd.core.loglimit import PER_KIND_LINES
from carpd.io.ipv4 import encode_ipv4_header
from carpd.status import messages as msg
from tests.driver.fakes import FakeClockLoop, Harness
from tests.driver.test_daemon import WEB, run, until

GROUP = ipaddress.IPv4Address("224.0.0.18")
SUMMARY = re.compile(r"^(\d+) more foreign adverts from (\d+) sources suppressed in the last "
                     r"60 s")


def spoofed_advert(i: int) -> bytes:
    digest = auth.compute_digest(b"not ours", 1, (WEB.ip,), 7)
    payload = wire.encode_carp_header(wire.CarpHeader(vhid=1, advbase=1, advskew=0, counter=7,
                                                      digest=digest))
    source = ipaddress.IPv4Address("10.200.0.0") + i
    return encode_ipv4_header(source=source, destination=GROUP, payload_length=36) + payload


def test_spoofed_sources_give_bounded_journal_lines_and_exact_summaries() -> None:
    sources, rate = 3000, 20.0  # 150 s of distinct spoofed senders
    seen: dict[str, object] = {}

    async def scenario(d: Harness, loop: FakeClockLoop) -> None:
        start = loop.time() + 5
        for i in range(sources):
            await until(loop, start + i / rate)
            d.ports.transport.on_packet("eth0", spoofed_advert(i))  # type: ignore[attr-defined]
        await until(loop, start + sources / rate + 61)  # past the last window
        seen["state"] = d.status_document()["vips"][0]["state"]
        stats = d.node.statistics() if d.node else None
        assert stats is not None
        seen["counted"] = stats.anomalies["web"]["foreign_advert"]

    rc, ports, _ = run(scenario)
    assert rc == 0 and seen == {"state": "MASTER", "counted": sources}
    records = ports.log.records  # type: ignore[attr-defined]
    anomalies = [m for _, m, f in records if f.get("MESSAGE_ID") == msg.ANOMALY]
    summaries = [SUMMARY.match(m) for m in anomalies if SUMMARY.match(m)]
    warnings = [m for m in anomalies if "fails our HMAC" in m]
    windows = 3  # 150 s of flood: windows opening at +0, +60, +120
    assert len(warnings) == windows * PER_KIND_LINES
    assert len(summaries) == windows
    held = [(int(m.group(1)), int(m.group(2))) for m in summaries if m]
    assert held == [(1200 - PER_KIND_LINES,) * 2, (1200 - PER_KIND_LINES,) * 2,
                    (600 - PER_KIND_LINES,) * 2]
    assert sum(n for n, _ in held) + len(warnings) == sources  # exact
    drops = [m for m in ports.log.messages() if "dropped CARP packet" in m]  # type: ignore[attr-defined]
    assert len(drops) == windows  # one (eth0, bad_hmac) line per interval, as before
