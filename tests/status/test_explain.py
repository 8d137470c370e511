"""The explain paragraph and the metrics text, from status-document fragments (pure)."""

from __future__ import annotations

import dataclasses
from typing import Any

from carpd.core.actions import CheckState, VhidState
from carpd.status.document import (
    CheckStatus,
    MaintenanceStatus,
    NodeInfo,
    StatusDocument,
    VipCounters,
    VipStatus,
)
from carpd.status.explain import explain, reason_text
from carpd.status.metrics import render

BASE = VipStatus(
    name="web", vhid=1, interface="eth0", addresses=("172.16.90.31/24",),
    state=VhidState.BACKUP, since="2026-11-25T01:00:00.000+00:00", since_at=0.0,
    reason="start", advbase=1, advskew=0, effective_advskew=0, preempt=True, master=None,
    source="172.16.90.101", source6=None, peers=(), groups=("224.0.0.18",), accept_ttl=255,
    demotions={},
    counters=VipCounters(adverts_sent=0, adverts_received=0, auth_failures=0, send_errors=0,
                         address_errors=0, transitions=0, drops={}),
    faults=(), hold_down=False, send_suppressed=False, master_advbase=None,
    master_advskew=None, operator_demotion=None, waiting_for=(), checks=(), anomalies={})


def vip(**kw: Any) -> VipStatus:
    if isinstance(kw.get("state"), str):
        kw["state"] = VhidState(kw["state"])
    return dataclasses.replace(BASE, **kw)


def check(**kw: Any) -> CheckStatus:
    kw["state"] = CheckState(kw["state"])
    return CheckStatus(**{"since": None, "results": 0, "failures": 0, "changes": 0,
                          "flapping": False, **kw})


def test_master_with_capped_demotions_and_maintenance() -> None:
    text = explain(vip(state="MASTER", reason="master_down_timer", advskew=100,
                       effective_advskew=254, demotions={"maintenance": 254, "operator": 20},
                       master="172.16.90.101"), maintenance=True, ago="3 min")
    assert text == (
        "web (vhid 1 on eth0) is MASTER since 2026-11-25 01:00:00 UTC (3 min ago), "
        "because no master was heard for a whole master-down interval. This node is the "
        "master and holds 172.16.90.31/24. Our effective advskew is 254 = 100 (advskew) + "
        "254 (maintenance) + 20 (operator) (capped at 254); preempt is on. Maintenance mode "
        "is on (carpctl maintenance off ends it).")


def test_fault_without_master_and_checks_in_every_state() -> None:
    checks = (
        check(name="db", type="exec", target="/bin/db", fatal=True, weight=0,
              state="failing", detail="exit status 2"),
        check(name="tcp-80", type="tcp", target="127.0.0.1:80", fatal=False,
              weight=10, state="unknown", detail=""))
    text = explain(vip(state="FAULT", reason="fault_check:db", checks=checks, hold_down=True))
    assert "is FAULT since 2026-11-25 01:00:00 UTC, because the fatal check db fails." \
        in text
    assert "still in its boot hold-down" in text
    assert "No master is known right now." in text
    assert text.endswith("Failing check: db (exec /bin/db, fatal): exit status 2. Passing: "
                         "tcp-80.")
    assert explain(vip(checks=checks[1:])).endswith("Checks: tcp-80 unknown.")
    ok = (dataclasses.replace(checks[1], state=CheckState.PASSING),)
    assert explain(vip(checks=ok)).endswith("All 1 checks pass.")


def test_reason_texts() -> None:
    assert reason_text("fault_operator") == "the fault operator is set"
    assert reason_text("something_new") == "something_new"
    assert reason_text("peer_bowed_out") == "the master bowed out (advbase 255/advskew 255)"


def test_metrics_escape_labels_and_group_families() -> None:
    doc = StatusDocument(node=NodeInfo(hostname="a", version="0", uptime_s=1.5),
                         maintenance=MaintenanceStatus(on=False, since=None),
                         vips=(vip(name='we"b\\'), vip(name="mail", vhid=2)),
                         interface_drops={"eth0": {"bad_ttl": 2}})
    text = render(doc)
    assert 'carpd_advskew{vip="we\\"b\\\\"} 0' in text
    assert "carpd_uptime_seconds 1.5" in text
    assert 'carpd_interface_drops_total{interface="eth0",reason="bad_ttl"} 2' in text
    names = [line.split("{")[0].split()[0] for line in text.splitlines()
             if not line.startswith("#")]
    assert names == sorted(names, key=names.index)  # each family's samples are contiguous
    seen: list[str] = []
    for name in names:
        if not seen or seen[-1] != name:
            assert name not in seen, f"{name} split"
            seen.append(name)


def test_unicast_and_ipv6_paths_are_explained() -> None:
    text = explain(vip(peers=("172.16.90.102",), groups=("ff02::12",), accept_ttl=64,
                       addresses=("172.16.90.31/24", "2001:db8::31/64")))
    assert ("Adverts go unicast to 172.16.90.102, accepting TTL 64 or more and to the group "
            "ff02::12.") in text
    on_link = explain(vip(peers=("172.16.90.102",), groups=()))
    assert "accepting TTL 255 only (on-link)." in on_link
    assert "Adverts go" not in explain(vip())  # the plain IPv4 group needs no words


def test_the_ipv6_timer_reason_is_explained() -> None:
    assert "IPv6 advert" in reason_text("master_down_timer_inet6")
