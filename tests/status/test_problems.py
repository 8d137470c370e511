"""The problems' rules on their own: an anomaly is current for RECENT_S or three advert
intervals (CARP's advbase, or VRRPv3's advert_interval_cs), a dual master only while we are
MASTER, and the formatters write the zone."""

from __future__ import annotations

import dataclasses

from carpd.core.actions import AnomalyKind, VhidState
from carpd.status.document import AnomalyPeerStatus, StatusDocument, VipStatus, build_document
from carpd.status.problems import RECENT_S, ProblemKind, ago, clock, current, problems
from tests.status.test_document import INFO, at, node

PEER = AnomalyPeerStatus(kind=AnomalyKind.DUAL_MASTER, peer="10.0.0.9", rank="advbase 1 advskew 9",
                         first_seen="2027-01-15T08:00:00.000+00:00",
                         last_seen="2027-01-15T08:00:05.000+00:00", last_seen_at=50.0, count=3,
                         detail="d")


def web_status() -> tuple[StatusDocument, VipStatus]:
    doc = build_document(node().statistics(), node=INFO, wall_iso=at)
    web = doc.vip("web")
    assert web is not None and web.state is VhidState.MASTER and web.advbase == 1
    return doc, web


def test_carp_window_is_recent_s_for_a_short_advbase() -> None:
    _, web = web_status()
    assert current(web, PEER, 50.0 + RECENT_S)
    assert not current(web, PEER, 50.0 + RECENT_S + 0.001)
    slow = dataclasses.replace(web, advbase=5)
    assert current(slow, PEER, 50.0 + 15.0) and not current(slow, PEER, 50.0 + 15.001)


def test_vrrp_window_reads_the_advert_interval_in_centiseconds() -> None:
    _, web = web_status()
    vrrp = dataclasses.replace(web, protocol="vrrp3", advbase=None,
                               election={"advert_interval_cs": 500})
    assert current(vrrp, PEER, 50.0 + 15.0) and not current(vrrp, PEER, 50.0 + 15.001)
    no_figures = dataclasses.replace(vrrp, election={})
    assert current(no_figures, PEER, 50.0 + RECENT_S)


def test_a_dual_master_is_a_problem_only_while_we_are_master() -> None:
    doc, web = web_status()
    master = dataclasses.replace(doc, vips=(dataclasses.replace(web, anomaly_peers=(PEER,)),))
    kinds = [p.kind for p in problems(master, 51.0)]
    assert ProblemKind.DUAL_MASTER in kinds
    backup = dataclasses.replace(doc, vips=(dataclasses.replace(
        web, state=VhidState.BACKUP, master="10.0.0.9", anomaly_peers=(PEER,)),))
    assert ProblemKind.DUAL_MASTER not in [p.kind for p in problems(backup, 51.0)]


def test_formatters() -> None:
    assert clock("2027-01-15T08:00:05.000+00:00") == "2027-01-15 08:00:05 UTC"
    assert clock(None) == "an unknown time"
    assert [ago(s) for s in (0.4, 119, 120, 7199, 7200, 172800, float("nan"))] == [
        "0s", "1m 59s", "2m", "1h 59m", "2h", "2d", "an unknown time"]
